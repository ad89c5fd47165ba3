"""What computed a metric's stored rows: recorded with the metric in the store's catalog by ``fediscope process``
and by ``spark_jobs/metrics.py`` (the batch DAG's Spark job), and given by ``fediscope report`` (``"provenance"`` in
``--format json``), so two reports can be told apart by what made them, not by when.

A metric's provenance holds nothing of the time of the run: two runs over the same lake with the same fediscope and
settings record the same provenance, and their reports are byte for byte the same. What changes the numbers is in it:

* ``fediscope_version`` and ``engine`` (``duckdb`` or ``spark``) of the run that computed the rows;
* ``inputs``: a fingerprint of what is curated (every raw file the curation manifest lists, with its size, and the
  curation rules), the same for two copies of one lake, whatever the curation's random ``generation``; with
  ``raw_files`` (how many) and ``curation_rules``;
* ``retention_curated_days`` and ``curated_from_day``: curation leaves out what is older than that day, which moves
  with the day the run is made (``null`` when every day is kept);
* ``window``: that run's ``--since``/``--until`` (the raw files it curated; the curated tables keep what earlier runs
  curated, which ``inputs`` says); ``null`` for a run that curated nothing: ``spark_jobs/metrics.py``, whose
  curation is ``spark_jobs/curate.py``'s run (the batch DAG passes its window to that job only);
* ``privacy``: how the lake's raw files were landed, as the lake records it (:func:`landed_privacy`), not the
  processing run's ``FEDISCOPE_PRIVACY``: the privacy policy is applied at landing, and it decides what the numbers
  are over (account keys that are pseudonyms or ``user@domain``);
* per metric, ``sql``: a fingerprint of its SQL (and, for a metric that reads them, of the lake's records of where each
  collection began), and ``own``: whether it is one of the ``metrics_dir`` files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fediscope import __version__
from fediscope.config import Settings
from fediscope.engine.manifest import Manifest
from fediscope.engine.metrics import Metric

if TYPE_CHECKING:
    from fediscope.lake.backend import LakeBackend
    from fediscope.lake.state import CollectionStart

log = logging.getLogger(__name__)

#: a run's curation window: its ``--since`` and ``--until``, or None for a run that curated nothing
Window = tuple[date | None, date | None] | None

#: the fields of a metric's provenance that are its own, not its run's (:func:`run_fields`)
METRIC_FIELDS = ("sql", "own")

#: :func:`landed_privacy`'s answers: the lake's key check holds a pseudonym key's check, says privacy off, or is
#: missing (or damaged)
LANDED_PSEUDONYMISED, LANDED_OFF, LANDED_UNKNOWN = "pseudonymised", "off", "unknown"


def inputs_fingerprint(manifest: Manifest) -> str:
    """``sha256:`` and 16 hex digits over the curated raw files (path and size, in path order) and the curation
    rules: what the curated tables were made from, equal for two copies of one lake."""
    body = json.dumps({"files": sorted(manifest.files.items()), "rules": manifest.rules}, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:16]


def landed_privacy(lake: LakeBackend) -> str:
    """How the lake's raw files were landed, as its key check (:mod:`fediscope.lake.key_check`) records it:
    :data:`LANDED_PSEUDONYMISED` (privacy on: account identifiers are keyed pseudonyms), :data:`LANDED_OFF`
    (``FEDISCOPE_PRIVACY=off``: names in clear), or :data:`LANDED_UNKNOWN` when the lake holds no check (landed by a
    fediscope from before the check, or not landed yet) or a damaged one. Not the processing run's setting: the
    policy is applied at landing, and every landing since the check was recorded was held to its mode (one of the
    other mode is refused). Records landed before it was recorded (by an older fediscope, or before the check was
    deleted to change the mode on purpose) may have been landed the other way: the lake does not say.

    Nothing of the key is given, not even the check's value: it is a keyed digest of a fixed label, and a report or
    an API answer reaches readers who never see the lake, to whom it would offer a test of guessed keys."""
    from fediscope.lake.key_check import PRIVACY_OFF, DamagedKeyCheck, read_key_check

    try:
        recorded = read_key_check(lake)
    except DamagedKeyCheck as exc:  # `fediscope doctor` FAILs it; computing metrics does not need it
        log.warning("the provenance records privacy at landing as %s: %s", LANDED_UNKNOWN, exc)
        return LANDED_UNKNOWN
    if recorded is None:
        return LANDED_UNKNOWN
    return LANDED_OFF if recorded == PRIVACY_OFF else LANDED_PSEUDONYMISED


def run_provenance(settings: Settings, engine: str, manifest: Manifest, window: Window,
                   curated_from: date | None, privacy: str) -> dict[str, Any]:
    """The part of every metric's provenance that its run sets (see the module docstring); ``privacy`` is
    :func:`landed_privacy` of the lake."""
    return {"fediscope_version": __version__, "engine": engine, "inputs": inputs_fingerprint(manifest),
            "raw_files": len(manifest.files), "curation_rules": manifest.rules,
            "retention_curated_days": settings.retention_curated_days,
            "curated_from_day": curated_from.isoformat() if curated_from else None,
            "window": None if window is None else {"since": _day(window[0]), "until": _day(window[1])},
            "privacy": privacy}


def lake_run_provenance(settings: Settings, engine: str, lake: LakeBackend, window: Window,
                        privacy: str | None = None) -> dict[str, Any]:
    """:func:`run_provenance` of a run over ``lake`` as its curated tables are now (their manifest, the curated
    retention's first day as of today, how its raw files were landed: :func:`landed_privacy`): what ``fediscope
    process`` and ``spark_jobs/metrics.py`` record, once their metrics are computed, under the lake lock; ``privacy``
    when the caller has read it already (``fediscope process`` compares it with the records first)."""
    from fediscope.engine.manifest import load_manifest
    from fediscope.gdpr.retention import curated_cutoff

    return run_provenance(settings, engine, load_manifest(lake), window, curated_cutoff(settings),
                          landed_privacy(lake) if privacy is None else privacy)


def input_fingerprint(metric: Metric, starts: list[CollectionStart]) -> str:
    """What a metric's rows are computed from besides the curated tables: its SQL, and for a metric reading
    ``collection_starts`` those records too (a first walk can end, or an erasure delete its record, without
    changing the curated tables). ``fediscope process`` keeps results current for it
    (:mod:`fediscope.engine.metric_state`); its first 16 hex digits are the provenance's ``sql``."""
    from fediscope.engine.metric_state import sql_fingerprint
    from fediscope.engine.schema import COLLECTION_STARTS

    if COLLECTION_STARTS.name not in metric.sql:
        return sql_fingerprint(metric.sql)
    return sql_fingerprint(metric.sql + "\n" + json.dumps([[s.instance, s.ended, str(s.oldest_day)] for s in starts]))


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def metric_provenance(run: dict[str, Any], metric: Metric, fingerprint: str, own_dir: Path | None) -> dict[str, Any]:
    """``run`` with the metric's own fields: ``sql`` (16 hex digits of ``fingerprint``, what its kept results are
    current for) and ``own`` (its file is in ``own_dir``, the ``metrics_dir`` setting)."""
    own = own_dir is not None and metric.source is not None and Path(metric.source).parent == own_dir
    return {**run, "sql": fingerprint[:16], "own": own}


def run_fields(provenance: dict[str, Any]) -> dict[str, Any]:
    """A metric's provenance without its own fields: what its run recorded."""
    return {k: v for k, v in provenance.items() if k not in METRIC_FIELDS}
