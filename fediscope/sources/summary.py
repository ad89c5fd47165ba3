"""What a collection run did, per source and in total: the one-line summary and the ``--json`` document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fediscope.config import Settings
from fediscope.lake.state import text_for_logs
from fediscope.sources.spec import OFFSET_PAGED, parse_source
from fediscope.wording import count, some_of

#: How ``fediscope collect``'s user sets a run's page budget; an Airflow task's sets it in the Variable instead
#: (:data:`fediscope.orchestration.MAX_PAGES_NAMED`), which :func:`fediscope.sources.collector.run_collection` is
#: told (``max_pages_named``), so that the summary and the log lines name what that user can raise.
MAX_PAGES_OPTION = "--max-pages"

#: The settings the summary's notes tell the user to raise or set (besides the run's page budget).
ADVISED_SETTINGS = ("backfill_pages", "backfill_since", "settle_max_pages")


def advised_settings(settings: Settings) -> dict[str, str]:
    """How the summary's notes name each setting they tell the user to change: where its value was set (the
    variable, the config file's key, the Airflow Variable's key, the Python argument), or both the variable and
    the file's key for one set nowhere (:meth:`~fediscope.config.Settings.origin` with ``advice``). Was: always
    the variable, which a user who configures fediscope in ``fediscope.toml`` or the Airflow Variable does not
    set (or sets in vain: the Variable wins over it)."""
    return {name: settings.origin(name, advice=True) for name in ADVISED_SETTINGS}


def opted_out_note(opted_out: int) -> str:
    """`` (1 opted out)``, said after a count of what the privacy policy skipped (nothing when none opted out): the
    records skipped because their own account opted out, told apart from the rest (non-public statuses, erased
    accounts, boosts of either), so opt-outs can be seen. ``collect`` and ``stream`` say it alike."""
    return f" ({opted_out} opted out)" if opted_out else ""


@dataclass
class SourceResult:
    """Counts for one (instance, source) in one run. ``status`` is ``ok``, ``failed`` (with ``error``),
    ``skipped`` (with ``reason``: not collected, nothing asked of the instance, and not a failure: an ``account:``
    source naming an erased account), or ``interrupted``: the run was stopped (Ctrl-C, SIGTERM) while it collected
    this source, whose counts are what it landed until then (kept; a timeline's walk resumes there at the next
    run)."""

    instance: str
    source: str
    status: str = "ok"
    error: str | None = None
    reason: str | None = None  # why a ``skipped`` source was not collected (never naming the account)
    pages: int = 0
    fetched: int = 0  # items received from upstream
    landed: int = 0  # records of newly collected items written to the raw lake
    refreshed: int = 0  # records of already collected statuses landed again by the refresh pass
    settled: int = 0  # records of already collected statuses landed again by the settle pass
    refresh_error: str | None = None  # the refresh or settle pass failed (best effort: the source is still ``ok``)
    #: the settle pass stopped at its page budget with more statuses waiting: how many hours past ``settle_hours``
    #: the oldest of them is, about (None: it caught up, or did not run)
    settle_behind_hours: float | None = None
    skipped: int = 0  # dropped by the privacy policy (opt-outs, suppression list, not public)
    #: of ``skipped``: records whose own account opted out (a count only: which accounts is never said)
    opted_out: int = 0
    quarantined: int = 0  # malformed items and bodies written to <lake>/quarantine/
    out_of_range: int = 0  # outside the walk (before backfill_since, at/below the checkpoint) or refresh window,
    #                        or not yet old enough for the settle pass
    #: the run reached the checkpoint (or the backfill depth), or at least its page budget cut no walk short: False
    #: only when the budget left a full page's next page unfetched (a short last page is resumed next run, unsaid)
    caught_up: bool = False
    #: a first run stopped at ``backfill_pages`` with older statuses below it, which no later run collects
    #: (later runs walk down to the checkpoint, the newest status)
    backfill_cut: bool = False
    checkpoint: str | None = None  # newest id covered after the run
    batches: list[str] = field(default_factory=list)


@dataclass
class CollectSummary:
    sources: list[SourceResult]
    seconds: float = 0.0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    retries: int = 0
    requests: int = 0
    #: the run was stopped (Ctrl-C, SIGTERM) before its last source: the counts are what it did so far
    interrupted: bool = False
    #: how many sources the run was to collect (None: those in ``sources``); an interrupted run did not start them all
    planned: int | None = None
    #: how the line names the run's page budget where it says to raise it (:data:`MAX_PAGES_OPTION` by default)
    max_pages_named: str = MAX_PAGES_OPTION
    #: how the notes name the settings they tell to change (:func:`advised_settings`; by default, those of
    #: settings set nowhere)
    settings_named: dict[str, str] = field(default_factory=lambda: advised_settings(Settings()))
    #: how the line (logged too), and the failure lines ``fediscope collect`` prints, name a source naming an
    #: account while privacy is on: by its digest (``account:3f9a…``, see the collector's ``_Context.named``),
    #: not the handle; a source not in it as it is written. ``--json`` keeps the sources as written
    #: (:meth:`to_dict`), unless asked for the names shown (an Airflow task's returned summary)
    shown_as: dict[str, str] = field(default_factory=dict)
    #: instance domain → the handle domain its accounts are named by (``example.test`` of an instance served from
    #: ``social.example.test``), as learned this run while privacy is on: :meth:`said` hides a handle without a
    #: domain written with it too. Not part of the document
    handle_domains: dict[str, str] = field(default_factory=dict)

    def shown(self, source: str) -> str:
        """``source`` (a :attr:`SourceResult.source`) as the line names it (:attr:`shown_as`)."""
        return self.shown_as.get(source, source)

    def said(self, text: str | None, source: str, instance: str | None = None) -> str | None:
        """``text`` (an error about ``source``, collected from ``instance``: a :attr:`SourceResult.instance`) naming
        the source, and its handle, as the line names it: an error, or an instance's answer it quotes, may hold the
        handle, also as written with the instance's domain or its handle domain (:attr:`handle_domains`;
        :func:`~fediscope.lake.state.text_for_logs`)."""
        if text is None:
            return None
        handle_domain = self.handle_domains.get(instance) if instance is not None else None
        return text_for_logs(text, source, self.shown(source), (instance, handle_domain) if handle_domain else instance)

    def _total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources)

    @property
    def fetched(self) -> int:
        return self._total("fetched")

    @property
    def landed(self) -> int:
        return self._total("landed")

    @property
    def refreshed(self) -> int:
        return self._total("refreshed")

    @property
    def settled(self) -> int:
        return self._total("settled")

    @property
    def skipped(self) -> int:
        return self._total("skipped")

    @property
    def opted_out(self) -> int:
        return self._total("opted_out")

    @property
    def quarantined(self) -> int:
        return self._total("quarantined")

    @property
    def out_of_range(self) -> int:
        return self._total("out_of_range")

    @property
    def pages(self) -> int:
        return self._total("pages")

    @property
    def failed(self) -> list[SourceResult]:
        return [s for s in self.sources if s.status == "failed"]

    @property
    def skipped_sources(self) -> list[SourceResult]:
        """The sources not collected on purpose (status ``skipped``): the run does not fail for them."""
        return [s for s in self.sources if s.status == "skipped"]

    @property
    def finished(self) -> int:
        """How many sources were collected to their end (``ok`` or ``failed``): not the one a stop cut short."""
        return sum(s.status != "interrupted" for s in self.sources)

    @property
    def interrupted_in(self) -> SourceResult | None:
        """The source the run was stopped in (None: not stopped, or stopped between two sources)."""
        return next((s for s in self.sources if s.status == "interrupted"), None)

    def _stop(self, name: Callable[[str], str]) -> dict[str, Any]:
        """Where an interrupted run stopped, for ``--json`` (nothing for a run that was not stopped), the source
        named by ``name``."""
        if not self.interrupted:
            return {}
        stopped_in = self.interrupted_in
        return {"interrupted": True,
                "interrupted_in": f"{stopped_in.instance} {name(stopped_in.source)}" if stopped_in else None,
                "sources_finished": self.finished,
                "sources_planned": len(self.sources) if self.planned is None else self.planned}

    @property
    def refresh_failed(self) -> list[SourceResult]:
        return [s for s in self.sources if s.refresh_error]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self, *, shown: bool = False) -> dict[str, Any]:
        """The ``--json`` document; ``refreshed`` and ``settled`` (here and per source) only when the refresh or
        settle pass landed any, ``refresh_failed`` and a source's ``refresh_error`` only when one of them failed,
        ``interrupted`` (and ``ok`` false) only for a run that was stopped, with ``interrupted_in`` (``<instance>
        <source>`` of the source it was stopped in, its ``status`` ``interrupted``; null when stopped between two),
        ``sources_finished`` and ``sources_planned``. A source not collected on purpose has ``"status": "skipped"``
        and its ``reason`` (the others have no ``reason``), and is listed under ``skipped_sources``.

        ``shown``: each source, and its errors, named as the line names them (:attr:`shown_as`: an account's source
        by its digest while privacy is on), for a document kept where logs are (an Airflow task's returned
        summary, in its XCom); by default as written, as ``--json`` gives them to the user who configured them."""
        def shown_name(source: str) -> str:
            return self.shown(source) if shown else source

        def shown_text(text: str | None, source: str, instance: str) -> str | None:
            return self.said(text, source, instance) if shown else text

        refresh: dict[str, Any] = {"refreshed": self.refreshed} if self.refreshed else {}
        if self.settled:
            refresh["settled"] = self.settled
        if self.refresh_failed:
            refresh["refresh_failed"] = [
                f"{s.instance} {shown_name(s.source)}: {shown_text(s.refresh_error, s.source, s.instance)}"
                for s in self.refresh_failed]
        sources = [asdict(s) for s in self.sources]
        for source in sources:
            written = source["source"]
            source.update(source=shown_name(written), error=shown_text(source["error"], written, source["instance"]),
                          refresh_error=shown_text(source["refresh_error"], written, source["instance"]))
            for name in ("refreshed", "settled", "refresh_error", "settle_behind_hours", "backfill_cut", "reason"):
                if not source[name]:
                    del source[name]
        return {
            "ok": self.ok and not self.interrupted, **self._stop(shown_name),
            "seconds": round(self.seconds, 3), "fetched": self.fetched, "landed": self.landed,
            **refresh, "skipped_by_privacy": self.skipped, "skipped_opted_out": self.opted_out,
            "quarantined": self.quarantined,
            "out_of_range": self.out_of_range, "pages": self.pages,
            "requests": self.requests, "retries": self.retries, "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "failed": [f"{s.instance} {shown_name(s.source)}: {shown_text(s.error, s.source, s.instance)}"
                       for s in self.failed],
            "skipped_sources": [f"{s.instance} {shown_name(s.source)}: {s.reason}" for s in self.skipped_sources],
            "sources": sources,
        }

    def _skipped_note(self) -> str:
        """Says which sources were not collected on purpose, and why (``; 1 source skipped: names an erased account
        …``), by count and reason only: this line is also logged, and the source of an erased account names it
        (the warning logged for it names it by a digest)."""
        reasons: dict[str, int] = {}
        for source in self.skipped_sources:
            reasons[source.reason or "skipped"] = reasons.get(source.reason or "skipped", 0) + 1
        return "".join(f"; {count(n, 'source')} skipped, not collected: {reason}" for reason, n in reasons.items())

    def _backfill_cut_note(self) -> str:
        """Says that a first run stopped at the backfill depth: its older statuses are never collected by a later
        run, which a summary counting only what was landed would leave unsaid."""
        cut = sum(s.backfill_cut for s in self.sources)
        if not cut:
            return ""
        return (f"; first run stopped at {self.settings_named['backfill_pages']} on {count(cut, 'source')}: older "
                f"statuses are not collected, by this run or a later one; raise it or set "
                f"{self.settings_named['backfill_since']} before a source's first run")

    def _walk_cut_note(self) -> str:
        """Says which timeline walks the page budget (``--max-pages``) stopped with more statuses to fetch: unlike a
        walk by offset, each resumes at the next run where this one stopped (only the progress line and ``--json``'s
        ``caught_up`` said so). A source with no page walked (an erased account's, not collected) is none of them."""
        cut = [f"{s.instance} {self.shown(s.source)}" for s in self.sources
               if s.status == "ok" and not s.caught_up and s.pages and parse_source(s.source).paged]
        if not cut:
            return ""
        return (f"; the timeline walk stopped at its page budget ({self.max_pages_named}) on "
                f"{count(len(cut), 'source')} ({some_of(cut)}), more statuses to fetch: the next run resumes there")

    def _offset_cut_notes(self) -> str:
        """Says that a walk by offset (the directory, the trending tags) stopped at its page budget with more
        listed: each run takes the list anew from its first page, so a later run does not take the rest either
        (only the progress line and ``--json``'s ``caught_up`` said so)."""
        notes = []
        for kind, walk in OFFSET_PAGED.items():
            cut = [s for s in self.sources if s.source == kind and s.status == "ok" and not s.caught_up]
            if cut:
                notes.append(f"; the {walk.walk} walk stopped at its page budget on {count(len(cut), 'instance')}, "
                             f"more {walk.items} listed: raise {self._budget_or_backfill()} to take them")
        return "".join(notes)

    def _budget_or_backfill(self) -> str:
        """What sets a walk by offset's depth: ``--max-pages``, or without it ``backfill_pages`` (named where it was
        set); an Airflow task always passes its ``max_pages``, so there only that."""
        if self.max_pages_named != MAX_PAGES_OPTION:
            return self.max_pages_named
        return f"{MAX_PAGES_OPTION} or, without it, {self.settings_named['backfill_pages']}"

    def line(self) -> str:
        """``collected 3 sources in 2.1 s: fetched 240, landed 236, skipped by privacy policy 2 (1 opted out), …``:
        the records skipped because their account opted out are told apart from the rest of the privacy policy's
        (non-public statuses, erased accounts, boosts of either), so opt-outs can be seen. A stopped run says where
        it stopped and how many sources it finished: ``interrupted in mastodon.social local (1 of 2 sources
        finished) after 2.1 s: fetched …`` (the source it stopped in is no walk its page budget cut: what it landed
        is kept, and its walk resumes next run). A source skipped on purpose is counted (``collected 2 sources (1
        skipped)``) and its reason said (:meth:`_skipped_note`): it is no failure, but not collected either. The
        line is logged too: a source naming an account is named by its digest while privacy is on (:attr:`shown_as`)."""
        if self.interrupted:
            stopped_in = self.interrupted_in
            where = f" in {stopped_in.instance} {self.shown(stopped_in.source)}" if stopped_in else ""
            planned = len(self.sources) if self.planned is None else self.planned
            failed = "".join(f", {n} {what}" for n, what in self._not_collected() if n)
            return (f"interrupted{where} ({self.finished} of {count(planned, 'source')} finished{failed}) after "
                    f"{self.seconds:.1f} s: {self._counts()}{self._skipped_note()}{self._backfill_cut_note()}")
        failed = ", ".join(f"{n} {what}" for n, what in self._not_collected() if n)
        return (f"collected {count(len(self.sources), 'source')}{f' ({failed})' if failed else ''} in "
                f"{self.seconds:.1f} s: {self._counts()}{self._skipped_note()}{self._backfill_cut_note()}"
                f"{self._walk_cut_note()}{self._offset_cut_notes()}")

    def _not_collected(self) -> list[tuple[int, str]]:
        """How many sources were skipped and how many failed, for the line's ``(1 skipped, 1 failed)``."""
        return [(len(self.skipped_sources), "skipped"), (len(self.failed), "failed")]

    def _counts(self) -> str:
        waits = (f", rate-limit waits {self.rate_limit_waits} ({self.rate_limit_wait_seconds:.1f} s)"
                 if self.rate_limit_waits else "")
        refreshed = f", refreshed {self.refreshed}" if self.refreshed else ""
        refreshed += f", settled {self.settled}" if self.settled else ""
        behind = [s.settle_behind_hours for s in self.sources if s.settle_behind_hours]
        if behind:
            refreshed += (f" (settle pass behind on {count(len(behind), 'source')}, up to "
                          f"{max(behind):.1f} h: raise {self.settings_named['settle_max_pages']}, or "
                          f"{self.max_pages_named})")
        if self.refresh_failed:
            refreshed += f" (refresh failed for {len(self.refresh_failed)})"
        # what was fetched but is none of the above, so the counts add up to `fetched`
        outside = f", {self.out_of_range} already collected or outside the window" if self.out_of_range else ""
        return (f"fetched {self.fetched}, landed {self.landed}{refreshed}, skipped by privacy "
                f"policy {self.skipped}{opted_out_note(self.opted_out)}, quarantined {self.quarantined}{outside}"
                f"{waits}")
