"""Reproducible reports: two ``fediscope process`` runs over the same lake into two fresh stores give byte-identical
report JSON, text and PNG charts, and the report says what computed its numbers (``provenance``), so two reports of
other inputs or settings can be told apart."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from cli_run import clean_env, run
from engine_data import settings_for

from fediscope import __version__
from fediscope.engine.manifest import load_manifest
from fediscope.engine.provenance import inputs_fingerprint
from fediscope.lake.key_check import check_landing_key
from fediscope.lake.local import LocalLake

REPO = Path(__file__).resolve().parents[2]


def fediscope(cwd: Path, lake: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``fediscope ARGS`` in its own process, in ``cwd``, on ``lake``, with no FEDISCOPE_* of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(lake), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "fediscope", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return done


def png_text(data: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (where matplotlib writes its metadata)."""
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return chunks


def test_two_runs_over_the_same_lake_give_identical_reports_that_say_what_computed_them(corpus_lake: Path,
                                                                                       tmp_path: Path) -> None:
    # landed with the privacy policy (tests/engine/conftest.py), its key check recorded as a collection records it
    assert check_landing_key(settings_for(corpus_lake), LocalLake(corpus_lake), warn=False)
    outputs = {}
    for run_name in ("first", "second"):  # two fresh stores, each in its own directory, named alike
        where = tmp_path / run_name
        where.mkdir()
        fediscope(where, corpus_lake, "process", "--store", "sqlite:///store.db", "--no-progress")
        report = fediscope(where, corpus_lake, "report", "--store", "sqlite:///store.db", "--format", "json",
                           "--out", "charts").stdout
        text = fediscope(where, corpus_lake, "report", "--store", "sqlite:///store.db", "--no-charts").stdout
        charts = {p.name: p.read_bytes() for p in sorted((where / "charts").glob("*.png"))}
        outputs[run_name] = (report, text, charts)
    first, second = outputs["first"], outputs["second"]
    assert first[0] == second[0]
    assert first[1] == second[1]
    assert len(first[2]) == 6 and first[2] == second[2]

    provenance = json.loads(first[0])["provenance"]
    manifest = load_manifest(LocalLake(corpus_lake))
    (only,) = provenance["runs"]  # every metric computed by one run
    assert only["run"] == {"fediscope_version": __version__, "engine": "duckdb",
                           "inputs": inputs_fingerprint(manifest), "raw_files": len(manifest.files),
                           "curation_rules": manifest.rules, "retention_curated_days": 0,
                           "curated_from_day": None, "window": {"since": None, "until": None},
                           "privacy": "pseudonymised"}
    assert sorted(only["metrics"]) == sorted(json.loads(first[0])["metrics"])
    assert provenance["unrecorded"] == [] and provenance["report"] == {"fediscope_version": __version__, "top": 10}
    assert all(m["own"] is False and len(m["sql"]) == 16 for m in provenance["metrics"].values())
    assert f"Computed by: fediscope {__version__} (duckdb engine) over inputs {inputs_fingerprint(manifest)}" in (
        first[1].decode())
    assert "every curated day kept, landed pseudonymised\n" in first[1].decode()
    software = png_text(first[2]["languages.png"])["Software"]
    assert software.startswith(f"fediscope {__version__} (matplotlib ")


def test_reports_of_other_inputs_settings_or_metrics_say_so(corpus_lake: Path, tmp_path: Path, capsys,
                                                           monkeypatch) -> None:
    days = sorted(p.name.removeprefix("dt=") for p in (corpus_lake / "raw").rglob("dt=*"))
    window_lake = tmp_path / "window-lake"
    shutil.copytree(corpus_lake, window_lake)
    own = tmp_path / "own-metrics"
    own.mkdir()
    (own / "tag_count.sql").write_text("-- question: How many tags?\n-- key: n\nSELECT count(*) AS n FROM hashtags\n")

    reports = {}
    for name, lake, extra in (("whole", corpus_lake, {"FEDISCOPE_METRICS_DIR": str(own)}),
                              ("window", window_lake, {"FEDISCOPE_RETENTION_CURATED_DAYS": "36500"})):
        clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake), FEDISCOPE_STORE=f"sqlite:///{tmp_path / name}.db",
                  **extra)
        args = ["--until", days[0]] if name == "window" else []
        code, _, err = run(capsys, "process", "--no-progress", *args)
        assert code == 0, err
        code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
        assert code == 0, err
        reports[name] = json.loads(out)["provenance"]

    whole, window = reports["whole"]["runs"][0]["run"], reports["window"]["runs"][0]["run"]
    assert whole["inputs"] != window["inputs"] and window["raw_files"] < whole["raw_files"]
    assert window["window"] == {"since": None, "until": days[0]} and whole["window"]["until"] is None
    assert window["retention_curated_days"] == 36500 and window["curated_from_day"] is not None
    assert reports["whole"]["metrics"]["tag_count"]["own"] is True
    assert reports["whole"]["metrics"]["languages"]["own"] is False


def test_a_store_written_without_provenance_is_said_to_be_unrecorded(tmp_path: Path, capsys, monkeypatch,
                                                                     sample_metric_rows) -> None:
    from fediscope import analysis
    from fediscope.store.port import open_store

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url)
    for name, rows in sample_metric_rows.items():  # as a fediscope that recorded no provenance wrote them
        store.write(analysis.metric(name), rows)
    store.close()
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=url)
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    provenance = json.loads(out)["provenance"]
    assert provenance["runs"] == [] and provenance["unrecorded"] == sorted(sample_metric_rows)
    code, out, _ = run(capsys, "report", "--no-charts")
    assert "Computed by: not recorded (an older fediscope; `fediscope process` records it): " in out

