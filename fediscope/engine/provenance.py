"""What computed a metric's stored rows: recorded with the metric in the store's catalog by ``fediscope process``
and given by ``fediscope report`` (``"provenance"`` in ``--format json``), so two reports can be told apart by what
made them, not by when.

A metric's provenance holds nothing of the time of the run: two runs over the same lake with the same fediscope and
settings record the same provenance, and their reports are byte for byte the same. What changes the numbers is in it:

* ``fediscope_version`` and ``engine`` (``duckdb`` or ``spark``) of the run that computed the rows;
* ``inputs``: a fingerprint of what is curated (every raw file the curation manifest lists, with its size, and the
  curation rules), the same for two copies of one lake, whatever the curation's random ``generation``; with
  ``raw_files`` (how many) and ``curation_rules``;
* ``retention_curated_days`` and ``curated_from_day``: curation leaves out what is older than that day, which moves
  with the day the run is made (``null`` when every day is kept);
* ``window``: that run's ``--since``/``--until`` (the raw files it curated; the curated tables keep what earlier runs
  curated, which ``inputs`` says);
* per metric, ``sql``: a fingerprint of its SQL (and, for a metric that reads them, of the lake's records of where each
  collection began), and ``own``: whether it is one of the ``metrics_dir`` files.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from fediscope import __version__
from fediscope.config import Settings
from fediscope.engine.manifest import Manifest
from fediscope.engine.metrics import Metric

#: the fields of a metric's provenance that are its own, not its run's (:func:`run_fields`)
METRIC_FIELDS = ("sql", "own")


def inputs_fingerprint(manifest: Manifest) -> str:
    """``sha256:`` and 16 hex digits over the curated raw files (path and size, in path order) and the curation
    rules: what the curated tables were made from, equal for two copies of one lake."""
    body = json.dumps({"files": sorted(manifest.files.items()), "rules": manifest.rules}, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:16]


def run_provenance(settings: Settings, engine: str, manifest: Manifest, since: date | None, until: date | None,
                   curated_from: date | None) -> dict[str, Any]:
    """The part of every metric's provenance that its run sets (see the module docstring)."""
    return {"fediscope_version": __version__, "engine": engine, "inputs": inputs_fingerprint(manifest),
            "raw_files": len(manifest.files), "curation_rules": manifest.rules,
            "retention_curated_days": settings.retention_curated_days,
            "curated_from_day": curated_from.isoformat() if curated_from else None,
            "window": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}}


def metric_provenance(run: dict[str, Any], metric: Metric, fingerprint: str, own_dir: Path | None) -> dict[str, Any]:
    """``run`` with the metric's own fields: ``sql`` (16 hex digits of ``fingerprint``, what its kept results are
    current for) and ``own`` (its file is in ``own_dir``, the ``metrics_dir`` setting)."""
    own = own_dir is not None and metric.source is not None and Path(metric.source).parent == own_dir
    return {**run, "sql": fingerprint[:16], "own": own}


def run_fields(provenance: dict[str, Any]) -> dict[str, Any]:
    """A metric's provenance without its own fields: what its run recorded."""
    return {k: v for k, v in provenance.items() if k not in METRIC_FIELDS}
