"""The GDPR commands on a lake whose last ``fediscope process`` was killed outright (SIGKILL, OOM, reboot) while it
staged its curated output.

A curation writes its new partitions under ``curated/_staging/<run>/`` and renames them into place; killed while
DuckDB writes them, it leaves that directory behind, with whole files (the account's rows among everyone's) and one
cut short. The next curation removes it, but ``fediscope gdpr erase`` and ``fediscope gdpr export`` read every
Parquet file below ``curated/`` as curated data: on the file cut short they stopped with a pyarrow traceback
(``InternalError``, exit 1), run after run, until somebody ran ``fediscope process``. ``fediscope gdpr retention``
listed the staged partitions as expired curated days of a table.

The lake is landed from real recordings and curated by the real DuckDB curation; the staging directory is the one a
run killed while staging leaves (the walk in the crash-walk report made it with a real SIGKILL of ``fediscope
process`` on a 40,000-status sample lake).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from gdpr_lake import SUBJECT, files_holding, land_recordings

from fediscope.engine.base import open_engine
from fediscope.engine.curation import run_curation
from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.suppression import SUPPRESSED_PATH

TODAY = date(2026, 11, 23)
#: The parquet writer's first bytes, and no footer: a file DuckDB was writing when the run was killed.
CUT_SHORT = b"PAR1\x15\x04\x15\x80\x01"


def _curate(env) -> None:  # noqa: ANN001
    engine = open_engine(env.settings)
    try:
        assert not run_curation(engine).noop
    finally:
        engine.close()


def _staging(lake_dir: Path) -> Path:
    return lake_dir / "curated" / "_staging"


def _leave_a_killed_runs_staging(lake_dir: Path) -> Path:
    """What a curation killed while staging leaves: each curated statuses partition staged whole again (as the run
    had merged it, the subject's rows among them) and one more file cut short."""
    run = _staging(lake_dir) / "1a8d2901dd52"
    shutil.copytree(lake_dir / "curated" / "statuses", run / "statuses")
    partial = run / "accounts" / "data_0.parquet"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(CUT_SHORT)
    return run


@pytest.fixture()
def killed(env):  # noqa: ANN001, ANN201
    """A lake landed and curated, then left as a curation killed while staging leaves it."""
    land_recordings(env.lake, env.policy, fetched_at=datetime(2026, 11, 20, 12, tzinfo=UTC))
    _curate(env)
    _leave_a_killed_runs_staging(env.lake_dir)
    return env


def test_an_erasure_after_a_killed_curation_succeeds_and_takes_the_staged_rows_too(killed, run_cli) -> None:  # noqa: ANN001
    key = killed.key(SUBJECT)
    assert any("/_staging/" in path for path in files_holding([killed.lake_dir], [key]))

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")

    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert json.loads(result.out)["curated"]["rows_removed"] > 0
    assert not _staging(killed.lake_dir).exists()  # the killed run's output, the account's rows with it
    assert set(files_holding([killed.lake_dir], [key])) == {  # only where the pseudonym stays by design
        str(killed.lake_dir / AUDIT_PATH), str(killed.lake_dir / SUPPRESSED_PATH)}


def test_an_export_after_a_killed_curation_answers_from_the_curated_tables(killed, run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(tmp_path / "killed.json"))
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    shutil.rmtree(_staging(killed.lake_dir))  # as the next curation does
    assert run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(tmp_path / "tidy.json")).code == 0

    def answer(name: str) -> dict:
        document = json.loads((tmp_path / name).read_text())
        document.pop("generated_at")
        return document

    assert answer("killed.json") == answer("tidy.json")  # the unpublished copies are not the account's rows twice


def test_retention_after_a_killed_curation_deletes_only_curated_days(killed, run_cli) -> None:  # noqa: ANN001
    from fediscope.gdpr.retention import apply_retention

    settings = killed.settings.replace(retention_curated_days=1)
    dry = apply_retention(settings, dry_run=True, today=TODAY)
    real = apply_retention(settings, today=TODAY)

    assert dry.deleted and [p.path for p in real.deleted] == [p.path for p in dry.deleted]
    assert not [p.path for p in real.deleted if "_staging" in p.path]
    assert {p.path.split("/")[1] for p in real.deleted if p.layer == "curated"} <= {"statuses", "hashtags"}
    assert not _staging(killed.lake_dir).exists()
