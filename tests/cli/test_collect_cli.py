"""``fediscope collect`` and ``fediscope lake ls`` from the command line: output, exit codes, errors."""

from __future__ import annotations

import errno
import json
import os

import pytest
from cli_run import clean_env, run
from privacy_skips import opt_out_one_author_and_erase_another

KEY = "cli-test-pseudonym-key-2b8e4f0a6c1d9e3f7a5b"  # a strong one: a weak key is warned about on stderr


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """A clean environment: no FEDISCOPE_* from the caller, a lake under tmp_path, cwd without fediscope.toml."""
    return clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
                     FEDISCOPE_PAGE_LIMIT="20", FEDISCOPE_RETRY_BACKOFF="0.01", FEDISCOPE_MAX_RETRIES="1")


@pytest.mark.parametrize("args", [("collect", "--help"), ("lake", "--help"), ("lake", "ls", "--help")])
def test_help(capsys, args) -> None:
    code, out, _err = run(capsys, *args)
    assert code == 0 and "Usage:" in out
    if args[0] == "collect":
        for option in ("--instance", "--timeline", "--max-pages", "--json", "tag:NAME", "account:ACCT"):
            assert option in out


@pytest.mark.parametrize(("args", "message"), [
    (("--instance", "http://127.0.0.1:1", "--timeline", "bogus"), "unknown source 'bogus'"),
    (("--instance", "http://127.0.0.1:1", "--timeline", "tag:no spaces"), "invalid hashtag"),
    (("--instance", "http://127.0.0.1:1", "--timeline", "account:@@x"), "invalid account"),
    (("--instance", "http://127.0.0.1:1", "--timeline", "public:extra"), "takes no argument"),
    (("--instance", "ftp://mastodon.social"), "scheme must be http or https"),
    (("--instance", "http://127.0.0.1:99999"), "not an instance address"),
    (("--instance", "http://127.0.0.1:abc"), "not an instance address"),
    (("--instance", "http://[::1"), "not an instance address"),
    (("--instance", "not a url"), "not an instance address"),
    (("--timeline", "public"), "--timeline needs at least one --instance"),
    ((), "nothing to collect"),
    (("--instance", "http://127.0.0.1:1", "--max-pages", "0"), "--max-pages"),
    (("--instance", "http://127.0.0.1:1", "--nope"), "No such option"),
])
def test_bad_arguments_give_one_clear_line_and_exit_2(cli_env, capsys, args, message) -> None:
    code, out, err = run(capsys, "collect", *args)
    assert code == 2
    assert message in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize("command", ["collect", "stream"])
def test_missing_pseudonym_key_is_refused(cli_env, capsys, monkeypatch, mastodon_server, command) -> None:
    """Nothing fetched, and (was: an empty lake left behind, which `process` then called empty, not missing) no
    lake created."""
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, _out, err = run(capsys, command, "--instance", mastodon_server.url)
    assert code == 2 and "FEDISCOPE_PSEUDONYM_KEY" in err and "FEDISCOPE_PRIVACY=off" in err
    assert mastodon_server.log == []
    assert not (cli_env / "lake").exists()


def test_one_line_summary(cli_env, capsys, mastodon_server) -> None:
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url)
    assert code == 0, err
    line = out.strip()
    assert "\n" not in line
    for part in ("fetched 100", "landed 100", "skipped by privacy policy 0", "quarantined 0", " s:"):
        assert part in line
    assert err == ""  # not a terminal: no progress output


def test_the_summary_adds_up_when_statuses_fall_outside_the_walk(cli_env, capsys, mastodon_server,
                                                                  monkeypatch) -> None:
    """Was: statuses fetched but older than FEDISCOPE_BACKFILL_SINCE (or at the checkpoint, or not old enough to
    settle) were in no count of the line and of the JSON totals (only per source): fetched 240, landed 225."""
    from datetime import timedelta

    mastodon_server.spacing = timedelta(days=2)
    added = mastodon_server.add_statuses(3)  # two days apart, after the recorded ones
    since = added[1]["created_at"][:10]
    monkeypatch.setenv("FEDISCOPE_BACKFILL_SINCE", since)
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["out_of_range"] > 0 and summary["out_of_range"] == summary["sources"][0]["out_of_range"]
    assert summary["fetched"] == (summary["landed"] + summary["skipped_by_privacy"] + summary["quarantined"]
                                  + summary["out_of_range"])
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public")
    assert code == 0, err
    assert ", 0 already collected or outside the window" not in out  # the second run: nothing fetched below
    code, out, err = run(capsys, "collect", "--lake", str(cli_env / "lake2"), "--instance", mastodon_server.url,
                         "--timeline", "public")
    assert f", {summary['out_of_range']} already collected or outside the window" in out, out


def test_json_summary_and_max_pages(cli_env, capsys, mastodon_server) -> None:
    code, out, _err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                          "--timeline", "instance", "--max-pages", "2", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["ok"] is True and summary["landed"] == 41 and summary["pages"] == 3
    assert {s["source"] for s in summary["sources"]} == {"public", "instance"}
    public = next(s for s in summary["sources"] if s["source"] == "public")
    assert public["caught_up"] is False and public["pages"] == 2
    for key in ("fetched", "landed", "skipped_by_privacy", "quarantined", "seconds"):
        assert key in summary


def test_the_text_summary_names_the_timeline_walks_the_page_budget_stopped(cli_env, capsys, mastodon_server,
                                                                         monkeypatch) -> None:
    """Was: only the directory and trending tags walks were said to be cut in the text summary; a timeline walk
    stopped by --max-pages (``"caught_up": false`` in --json) was not, so a user could not tell from the line that
    the next run goes on. The walk that the next run resumes, and cuts at FEDISCOPE_BACKFILL_PAGES, says that."""
    monkeypatch.setenv("FEDISCOPE_BACKFILL_PAGES", "3")  # 20 statuses a page, 100 served
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                         "--timeline", "instance", "--max-pages", "2")
    assert code == 0, err
    assert out.strip().endswith(
        "; the timeline walk stopped at its page budget (--max-pages) on 1 source "
        f"({mastodon_server.domain} public), more statuses to fetch: the next run resumes there"), out
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public")
    assert code == 0, err
    assert "landed 20," in out and "first run stopped at FEDISCOPE_BACKFILL_PAGES on 1 source" in out
    assert "page budget" not in out


def test_a_failed_source_exits_1_after_the_summary(cli_env, capsys, mastodon_server) -> None:
    mastodon_server.fail(500, times=100, path="/api/v1/timelines/tag/")
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "tag:hoot",
                         "--timeline", "public")
    assert code == 1
    assert "(1 failed)" in out and "landed 100" in out
    assert "failed:" in err and "tag:hoot" in err and "HTTP 500" in err


def test_several_instances(cli_env, capsys) -> None:
    from doubles.mastodon_server import MastodonDouble

    with MastodonDouble(statuses=10) as one, MastodonDouble(statuses=15) as two:
        code, out, _err = run(capsys, "collect", "--instance", one.url, "--instance", two.url, "--json")
    assert code == 0 and json.loads(out)["landed"] == 25


def test_configured_sources_are_collected_without_instance(cli_env, capsys, mastodon_server) -> None:
    (cli_env / "fediscope.toml").write_text(
        f'[[sources]]\ninstance = "{mastodon_server.url}"\ntimelines = ["public", "instance_peers"]\n')
    code, out, _err = run(capsys, "collect", "--json")
    assert code == 0
    assert {s["source"] for s in json.loads(out)["sources"]} == {"public", "instance_peers"}


def test_lake_ls_lists_partitions_and_batches(cli_env, capsys, mastodon_server) -> None:
    assert run(capsys, "collect", "--instance", mastodon_server.url)[0] == 0
    code, out, _err = run(capsys, "lake", "ls")
    assert code == 0 and "raw/" in out and "_state/" in out
    partition = f"raw/mastodon/statuses/instance={mastodon_server.domain}"
    code, out, _err = run(capsys, "lake", "ls", partition, "--json")
    rows = json.loads(out)["entries"]
    assert code == 0 and len(rows) == 1 and rows[0]["type"] == "dir" and rows[0]["files"] == 5
    code, out, _err = run(capsys, "lake", "ls", rows[0]["path"], "--json", "--records")
    batches = json.loads(out)["entries"]
    assert sum(b["records"] for b in batches) == 100 and all(b["bytes"] > 0 for b in batches)
    code, out, _err = run(capsys, "lake", "ls", rows[0]["path"], "--records")
    assert "20 records" in out
    code, out, _err = run(capsys, "lake", "ls", rows[0]["path"])  # without --records: sizes only, and a hint
    assert "records" not in out.splitlines()[0] and "add --records" in out


@pytest.mark.parametrize(("timeline", "meant"), [("publc", "public"), ("LOACL", "local"), ("tags:python", "tag:python"),
                                               ("acount:alice", "account:alice"), ("tga", "tag:NAME"),
                                               ("directry", "directory"), ("bogus", None), ("home", None)])
def test_a_mistyped_source_gets_a_did_you_mean(cli_env, capsys, timeline, meant) -> None:
    """Was: ``unknown source 'publc'; expected one of …`` and no word of which one was meant."""
    code, out, err = run(capsys, "collect", "--instance", "http://127.0.0.1:1", "--timeline", timeline)
    assert code == 2 and out == "" and "Traceback" not in err
    hint = f" (did you mean {meant!r}?)" if meant else ""
    assert f"unknown source {timeline!r}{hint}; expected one of public, local," in err, err
    assert meant or "did you mean" not in err


@pytest.mark.parametrize(("timeline", "meant"), [("publik", "public"), ("tags:rust", "tag:rust"), ("home", None),
                                               ("instance", None)])
def test_stream_suggests_only_what_it_streams(cli_env, capsys, timeline, meant) -> None:
    """``instance`` (a source ``stream`` has no stream for) is not suggested to a typo, nor to ``home``."""
    code, _out, err = run(capsys, "stream", "--instance", "http://127.0.0.1:9", "--timeline", timeline,
                          "--duration", "1")
    assert code == 2 and err.strip().endswith("stream public, local or tag:NAME"), err
    assert (f"(did you mean {meant!r}?)" in err) if meant else "did you mean" not in err, err


def test_lake_ls_of_a_missing_path_is_an_error(cli_env, capsys) -> None:
    code, _out, err = run(capsys, "lake", "ls", "raw/nothing-here")
    assert code == 1 and "does not exist" in err and "Traceback" not in err


@pytest.mark.parametrize("timeline", ["home", "publik", "user", "instance", "account:alice"])
def test_stream_answers_a_wrong_timeline_with_what_it_streams(cli_env, capsys, timeline) -> None:
    """Was: a typo (``publik``) or ``home`` was answered with the collector's list of sources (``instance``,
    ``account:ACCT``, ``trends_tags``, …), which ``stream`` then refused one by one."""
    code, out, err = run(capsys, "stream", "--instance", "http://127.0.0.1:9", "--timeline", timeline,
                         "--duration", "1")
    assert code == 2 and out == "", err
    assert err.strip().endswith("stream public, local or tag:NAME"), err
    assert "account:ACCT" not in err and "trends_tags" not in err and "Traceback" not in err
    assert not (cli_env / "lake").exists()


@pytest.mark.parametrize("timeline", ["account:nosuchuser", "account_lookup:nosuchuser"])
def test_an_account_the_instance_does_not_have_is_named_with_the_instance(cli_env, capsys, mastodon_server,
                                                                           timeline) -> None:
    """Was: ``…/api/v1/accounts/lookup: not found (HTTP 404): Record not found``; the scraping API says the same
    404 as "account nosuchuser was not found on <instance>", and the collector now does too (in ``--json``; on
    stderr, privacy on, the handle is said by its digest: see the test below)."""
    from fediscope.config import Settings
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", timeline,
                         "--timeline", "public", "--json")
    assert code == 1, err
    failed = [s for s in json.loads(out)["sources"] if s["source"] == timeline]
    assert failed[0]["error"] == f"account nosuchuser was not found on {mastodon_server.domain}", failed
    digest = source_for_logs(timeline, policy_from_settings(Settings(pseudonym_key=KEY))).partition(":")[2]
    assert f"failed: account {digest} was not found on {mastodon_server.domain}" in err and "Traceback" not in err


def test_stderr_names_a_bare_handle_quoted_with_the_instances_domain_by_its_digest(
        cli_env, capsys, mastodon_server, monkeypatch) -> None:
    """Was: for ``account:mastodonpy_test_2`` (no domain), an instance's error quoting it as
    ``mastodonpy_test_2@<the instance>``, the same account, reached the log line, the progress line and the
    ``failed:`` line as it was; only the handle written alone was said by its digest."""
    from fediscope.config import Settings
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    monkeypatch.setenv("FEDISCOPE_LOG_LEVEL", "INFO")
    domain, source = mastodon_server.domain, "account:mastodonpy_test_2"
    mastodon_server.fail(422, path="/api/v1/accounts/lookup", error=f"mastodonpy_test_2@{domain} is not listed")
    code, _out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", source, "--progress")
    assert code == 1 and "Traceback" not in err, err
    named = source_for_logs(source, policy_from_settings(Settings(pseudonym_key=KEY)))
    said = f"{domain}/api/v1/accounts/lookup: HTTP 422: {named.partition(':')[2]} is not listed"
    assert f"{domain} {named}: failed: {said}" in err, err  # the progress line
    assert f"  failed: {domain} {named}: {said}" in err, err
    assert "mastodonpy_test" not in err, err

@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_stderr_and_the_summary_line_name_an_accounts_source_by_its_digest_while_privacy_is_on(
        cli_env, capsys, mastodon_server, monkeypatch, as_json) -> None:
    """Was: privacy on, ``collect`` named an ``account:`` source by its handle in its log lines, progress lines,
    ``failed:`` lines and summary line (the walks its page budget cut), and so did an instance's "not found" it
    quoted, though the checkpoint and the Airflow task name it by a keyed digest: stderr goes to journald, cron
    mail, ``2> collect.log``. Named by that digest now; the ``--json`` document keeps the sources as written (data
    for the user's scripts, matched against their configuration). Privacy off, the handle as before."""
    from fediscope.config import Settings
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    monkeypatch.setenv("FEDISCOPE_LOG_LEVEL", "INFO")
    sources = ["account:mastodonpy_test_2", "account:NoSuchUser", "account_lookup:mastodonpy_test"]
    args = ["collect", "--instance", mastodon_server.url, "--max-pages", "1", "--progress"]
    args += [arg for source in sources for arg in ("--timeline", source)] + (["--json"] if as_json else [])
    code, out, err = run(capsys, *args)
    assert code == 1 and "Traceback" not in err, err
    named = {s: source_for_logs(s, policy_from_settings(Settings(pseudonym_key=KEY))) for s in sources}
    domain = mastodon_server.domain
    said = err if as_json else err + out
    assert "mastodonpy_test" not in said.lower() and "nosuchuser" not in said.lower(), said
    for source in sources:  # each source's progress line
        assert f"{domain} {named[source]}: " in err, err
    digest = named["account:NoSuchUser"].partition(":")[2]
    assert f"source {domain} {named['account:NoSuchUser']} failed: account {digest} was not found" in err, err
    cut = f"on 1 source ({domain} {named['account:mastodonpy_test_2']}), more statuses to fetch"
    assert cut in err  # the summary line, as logged
    if as_json:
        document = json.loads(out)
        assert [s["source"] for s in document["sources"]] == sources
        assert document["failed"] == [f"{domain} account:NoSuchUser: account NoSuchUser was not found on {domain}"]
    else:
        assert cut in out and f"  failed: {domain} {named['account:NoSuchUser']}: account {digest} was " in err

    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env / "lake-without-privacy"))
    code, out, err = run(capsys, *args)
    assert code == 1 and f"{domain} account:NoSuchUser: failed: account NoSuchUser was not found" in err, err
    assert f"({domain} account:mastodonpy_test_2), more statuses to fetch" in err


def test_the_summary_tells_opt_outs_apart_from_the_rest_of_the_privacy_policy(cli_env, capsys,
                                                                               mastodon_server) -> None:
    """Was: "skipped by privacy policy N" mixed the statuses of accounts that opted out with those of erased
    accounts (and non-public ones): opt-outs could not be seen. Counted apart now, never naming the accounts."""
    from fediscope.config import Settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings

    policy = policy_from_settings(Settings(pseudonym_key=KEY))
    skips = opt_out_one_author_and_erase_another(mastodon_server, open_lake(str(cli_env / "lake")), policy)
    opted, opted_statuses = skips.opted, skips.opted_statuses

    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["skipped_opted_out"] == summary["sources"][0]["opted_out"] == opted_statuses
    assert summary["skipped_by_privacy"] > summary["skipped_opted_out"]  # the erased account's too
    code, out, err = run(capsys, "collect", "--lake", str(cli_env / "lake2"), "--instance", mastodon_server.url,
                         "--timeline", "public")
    assert code == 0, err
    assert f"skipped by privacy policy {opted_statuses} ({opted_statuses} opted out)" in out, out
    for text in (out, err):
        assert opted not in text and policy.account_key(opted, mastodon_server.domain) not in text


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_source_naming_an_erased_account_is_said_skipped_not_collected(cli_env, capsys, mastodon_server,
                                                                         as_json) -> None:
    """Was: ``collected 2 sources`` and ``"status": "ok"`` for an ``account:`` source the run did not collect (its
    account was erased): only a warning on stderr said so. Said skipped now, with why, and not as a failure (exit
    0); the text line, which is also logged, still never names the account."""
    from fediscope.config import Settings
    from fediscope.gdpr.suppression import add_suppressed
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings

    erased = mastodon_server.public_statuses()[0]["account"]["acct"]
    policy = policy_from_settings(Settings(pseudonym_key=KEY))
    add_suppressed(open_lake(str(cli_env / "lake")), policy.account_key(erased, mastodon_server.domain))
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", f"account:{erased}",
                         "--timeline", "local", *(["--json"] if as_json else []))
    assert code == 0, err
    assert "Traceback" not in err and "names an erased account" in err  # the warning stays
    if as_json:
        summary = json.loads(out)
        assert summary["ok"] is True and summary["failed"] == []
        skipped, local = summary["sources"]
        assert (skipped["status"], skipped["pages"]) == ("skipped", 0)
        assert skipped["reason"] == "names an erased account (on the suppression list): remove it from the sources"
        assert summary["skipped_sources"] == [f"{mastodon_server.domain} account:{erased}: {skipped['reason']}"]
        assert local["status"] == "ok" and "reason" not in local and local["pages"] > 0
    else:
        assert out.startswith("collected 2 sources (1 skipped) in "), out
        assert ("; 1 source skipped, not collected: names an erased account (on the suppression list): remove it "
                "from the sources") in out, out
        assert erased not in out


def test_a_second_collect_of_a_source_being_walked_fails_that_source_at_once(cli_env, capsys, mastodon_server,
                                                                             tmp_path) -> None:
    """Was: two collects of one source in one lake ran together, sharing its rate-limit budget (the second went
    silent for minutes) and racing on its checkpoint."""
    from fediscope.lake.backend import open_lake
    from fediscope.sources.walk_lock import source_walk_lock

    lake_dir = tmp_path / "lake"
    with source_walk_lock(open_lake(str(lake_dir)), mastodon_server.domain, "public", "public"):
        code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public")
    assert code == 1
    assert "(1 failed)" in out and "landed 0" in out
    assert f"another fediscope collect is walking {mastodon_server.domain} public in this lake (pid {os.getpid()})" \
        in err
    assert not list(lake_dir.glob("raw/**/*.jsonl*"))  # nothing landed for it
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public")
    assert code == 0 and "landed 100" in out, err  # released: the next collect walks it


def test_progress_on_a_pipe_has_no_line_per_paced_request(cli_env, capsys, mastodon_server, monkeypatch) -> None:
    """Was: ``collect --progress 2> log`` wrote a ``waiting … for pacing requests`` line before nearly every
    request once a rate-limit window ran low, flooding the log the README says gets a page line every 30 s at
    most. The waits are still made and counted (not slept here: the client's sleep is replaced)."""
    from fediscope.sources.client import MastodonClient

    slept: list[float] = []
    original = MastodonClient.from_settings.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(MastodonClient, "from_settings", classmethod(
        lambda cls, settings, instance, **kw: original(cls, settings, instance, sleep=slept.append, **kw)))
    mastodon_server.ratelimit_limit, mastodon_server._window_used = 100, 85  # below a fifth of it left: paced
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                         "--progress")
    assert code == 0, err
    assert len(slept) >= 5 and "rate-limit waits" in out
    assert "pacing requests" not in err and "waiting" not in err, err
    assert err.splitlines()[-1].startswith(f"{mastodon_server.domain} public: ")


def test_a_failed_source_is_said_once_at_the_default_log_level(cli_env, capsys) -> None:
    """Was: a WARNING log line of the collector and the ``failed:`` line both gave the reason."""
    code, out, err = run(capsys, "collect", "--instance", "http://127.0.0.1:1")
    assert code == 1 and "(1 failed)" in out
    assert err.count("127.0.0.1:1 public") == 1 and err.startswith("  failed: 127.0.0.1:1 public: "), err


def test_with_json_a_failed_source_is_still_warned_about_on_stderr(cli_env, capsys) -> None:
    """--json prints no ``failed:`` line (the document holds the reason): the log's warning stays."""
    code, out, err = run(capsys, "collect", "--instance", "http://127.0.0.1:1", "--json")
    assert code == 1 and json.loads(out)["failed"]
    assert "WARNING" in err and "127.0.0.1:1 public failed" in err, err


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_interrupted_collect_prints_what_it_did_so_far(cli_env, capsys, mastodon_server, monkeypatch,
                                                          as_json) -> None:
    """Was: Ctrl-C printed only ``fediscope: interrupted`` (exit 130), stdout empty, though what was landed is
    kept and the README promises a summary ending every run."""
    from fediscope.sources.progress import Progress

    pages: list[int] = []

    def page(self, label, number, *args, **kwargs) -> None:
        pages.append(number)
        if len(pages) == 2:
            raise KeyboardInterrupt  # as Ctrl-C does, between two pages

    monkeypatch.setattr(Progress, "page", page)
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                         *(["--json"] if as_json else []))
    assert code == 130 and err.strip().endswith("fediscope: interrupted"), err
    if as_json:
        summary = json.loads(out)
        assert summary["interrupted"] is True and summary["ok"] is False
        assert summary["landed"] == 40 and summary["pages"] == 2
    else:
        assert out.startswith(f"interrupted in {mastodon_server.domain} public (0 of 1 source finished) after "), out
        assert "landed 40," in out and "page budget" not in out and out.count("\n") == 1, out


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_interrupted_collect_does_not_count_the_source_it_stopped_in_as_collected(
        cli_env, capsys, mastodon_server, monkeypatch, as_json) -> None:
    """Was: stopped in the first of two sources, before the second started, it said ``interrupted: collected 1
    source so far`` and its --json document listed that source as ``"status": "ok"``, though none finished."""
    from fediscope.sources.progress import Progress

    pages: list[int] = []

    def page(self, label, number, *args, **kwargs) -> None:
        pages.append(number)
        if len(pages) == 2:
            raise KeyboardInterrupt  # between two pages of the first source, public

    monkeypatch.setattr(Progress, "page", page)
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                         "--timeline", "local", *(["--json"] if as_json else []))
    assert code == 130 and err.strip().endswith("fediscope: interrupted"), err
    assert not [r for r in mastodon_server.requests_to("/api/v1/timelines/public") if r.params.get("local")]
    if as_json:
        summary = json.loads(out)
        assert summary["ok"] is False and summary["interrupted"] is True
        assert summary["interrupted_in"] == f"{mastodon_server.domain} public"
        assert (summary["sources_finished"], summary["sources_planned"]) == (0, 2)
        assert [s["status"] for s in summary["sources"]] == ["interrupted"] and summary["failed"] == []
        assert summary["landed"] == 40
    else:
        assert out.startswith(f"interrupted in {mastodon_server.domain} public (0 of 2 sources finished) after "), out
        assert "collected" not in out and "landed 40," in out, out


class _Resource:
    """Something a library (DuckDB, tempfile) cleans up with a finalizer."""


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # "Exception ignored … Traceback"
def test_ctrl_c_raised_in_a_finalizer_stops_the_collect_before_its_next_page(cli_env, capsys, mastodon_server,
                                                                             monkeypatch) -> None:
    """Python cannot raise KeyboardInterrupt out of a finalizer: it printed "Exception ignored … Traceback" and went
    on. Was: every later page was collected, and the run said it collected the source, exit 0."""
    import gc
    import signal
    import weakref

    from fediscope.sources.progress import Progress

    pages: list[int] = []

    def page(self, label, number, *args, **kwargs) -> None:
        pages.append(number)
        if len(pages) == 2:
            resource = _Resource()
            weakref.finalize(resource, signal.raise_signal, signal.SIGINT)  # Ctrl-C while the finalizer runs
            del resource
            gc.collect()

    monkeypatch.setattr(Progress, "page", page)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public")
    finally:
        signal.signal(signal.SIGINT, before)
    assert code == 130 and err.strip().endswith("fediscope: interrupted"), err
    assert "Traceback" not in err, err
    assert out.startswith(f"interrupted in {mastodon_server.domain} public (0 of 1 source finished) after "), out
    assert "landed 40," in out and len(pages) == 2, out


def test_an_interrupted_collect_counts_the_sources_it_finished(cli_env, capsys, mastodon_server,
                                                               monkeypatch) -> None:
    """Stopped in the second of three sources: the first is counted as finished, the third as not started."""
    from fediscope.sources.progress import Progress

    labels: list[str] = []

    def page(self, label, number, *args, **kwargs) -> None:
        labels.append(label)
        if label.endswith(" local"):
            raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "page", page)
    code, out, _err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                          "--timeline", "local", "--timeline", "tag:python", "--max-pages", "1", "--json")
    summary = json.loads(out)
    assert code == 130 and summary["interrupted_in"] == f"{mastodon_server.domain} local", out
    assert (summary["sources_finished"], summary["sources_planned"]) == (1, 3)
    assert [s["status"] for s in summary["sources"]] == ["ok", "interrupted"]


@pytest.mark.parametrize(("error", "said"), [
    (errno.EROFS, "is on a read-only file system"),
    (errno.EACCES, "is not writable by this user (Permission denied)"),
])
def test_a_lake_that_cannot_be_written_says_why(cli_env, capsys, mastodon_server, monkeypatch, error,
                                                said) -> None:
    """Was: a lake on a read-only mount was said to be "not writable by this user", blaming permissions."""
    from fediscope.lake import backend

    def refuse(root) -> None:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(backend, "_probe_write", refuse)
    lake = cli_env / "lake"
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--lake", str(lake))
    assert code != 0 and out == "" and "Traceback" not in err
    assert f"the lake directory {lake} {said}; point --lake" in err, err
    assert mastodon_server.log == []


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_source_failed_by_a_bug_is_summarised_masked_and_on_one_line(cli_env, capsys, mastodon_server,
                                                                       monkeypatch, as_json) -> None:
    """Was: a source failed by an exception fediscope did not expect (a bug) was summarised as ``internal error:
    TYPE: message`` with the message as it was raised: the secrets it quoted (the pseudonym key, an instance's
    token) and its line breaks went to stdout (``--json``) and the ``failed:`` line, which no log handler masks.
    The bug is planted: fetching a page of ``tag:hoot`` raises (``public``, collected in the same run, is not)."""
    from fediscope.config import token_env_name
    from fediscope.sources import collector

    token = "instance-token-q7Xv2LmZ9pRt4Wk"
    monkeypatch.setenv(token_env_name(mastodon_server.url), token)
    real = collector.fetch_page

    def fetch_page(client, source, **kwargs):
        if source.kind == "tag":
            raise RuntimeError(f"planted bug\nwith key {KEY} and token={token}, also {token} alone")
        return real(client, source, **kwargs)

    monkeypatch.setattr(collector, "fetch_page", fetch_page)
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "tag:hoot",
                         "--timeline", "public", *(["--json"] if as_json else []))
    assert code == 1
    said = (f"{mastodon_server.domain} tag:hoot: internal error: RuntimeError: planted bug with key *** and "
            "token=***, also *** alone")
    if as_json:
        summary = json.loads(out)
        assert summary["failed"] == [said] and summary["landed"] == 100
        (failed,) = (s for s in summary["sources"] if s["status"] == "failed")
        assert f"{failed['instance']} {failed['source']}: {failed['error']}" == said
    else:
        assert "(1 failed)" in out and "landed 100" in out and out.count("\n") == 1
        assert f"  failed: {said}\n" in err, err
    assert "failed unexpectedly" in err and "Traceback (most recent call last)" in err  # the log has the traceback
    assert KEY not in out + err and token not in out + err


@pytest.mark.parametrize(("call", "error"), [("pwrite", errno.ENOSPC), ("open", errno.EROFS)],
                         ids=["disk-full", "read-only"])
def test_a_walk_lock_that_cannot_be_written_fails_its_source_in_one_line(cli_env, capsys, mastodon_server,
                                                                          monkeypatch, call, error) -> None:
    """Was: a lake whose disk filled up (or went read-only) after the lake check failed each source with
    ``internal error: OSError: [Errno 28] No space left on device`` and a traceback per source, as a bug, when
    its walk lock (``_state/<domain>/collect-<source>.lock``) could not be written."""
    from fediscope.sources import walk_lock

    real = getattr(walk_lock.os, call)

    def refuse(*args, **kwargs):
        if call == "open" and not str(args[0]).endswith(".lock"):
            return real(*args, **kwargs)
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(walk_lock.os, call, refuse)
    lock = cli_env / "lake" / "_state" / mastodon_server.domain / "collect-public.lock"
    code, out, err = run(capsys, "collect", "--instance", mastodon_server.url, "--timeline", "public")
    assert code == 1 and "(1 failed)" in out and "landed 0" in out, out
    assert "Traceback" not in err and "internal error" not in err, err
    assert f"failed: {mastodon_server.domain} public: cannot write {lock}: {os.strerror(error)}\n" in err, err
    assert mastodon_server.log == []  # nothing asked of the instance for a source that cannot be walked
