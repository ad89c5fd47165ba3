"""The demo: isolated settings, the demo key, steps that are missing or failing, and a real run."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from fediscope.demo import KEY_FILE, STEPS, DemoContext, Step, demo_key, demo_settings, fresh_start, run_demo
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.local import LocalLake


def test_demo_key_is_generated_once_and_private(tmp_path: Path) -> None:
    key = demo_key(tmp_path / "demo-lake")
    assert len(key) == 64 and demo_key(tmp_path / "demo-lake") == key
    mode = (tmp_path / "demo-lake" / KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_fresh_start_keeps_the_key(tmp_path: Path) -> None:
    ctx = DemoContext(base=tmp_path)
    key = demo_key(ctx.lake_dir)
    (ctx.lake_dir / "raw").mkdir()
    (ctx.out_dir).mkdir()
    fresh_start(ctx)
    assert not (ctx.lake_dir / "raw").exists() and not ctx.out_dir.exists()
    assert demo_key(ctx.lake_dir) == key


def test_settings_ignore_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDISCOPE_LAKE", "/somewhere/else")
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fediscope.toml").write_text('[fediscope]\nstore = "sqlite:///other.db"\n')
    settings = demo_settings(DemoContext(base=tmp_path), "http://127.0.0.1:1234", "python")
    assert settings.lake == str(tmp_path / "demo-lake") and settings.privacy is True
    assert settings.store == f"sqlite:///{tmp_path / 'demo-out' / 'demo.db'}" and settings.engine == "duckdb"
    assert settings.allow_private_addresses and settings.pseudonym_key
    assert "tag:python" in settings.sources[0].timelines


def test_missing_modules_are_reported_and_failures_stop(tmp_path: Path) -> None:
    ran: list[str] = []

    def ok(ctx: DemoContext) -> str:
        ran.append("ok")
        return "fine"

    def boom(ctx: DemoContext) -> str:
        raise RuntimeError("broken on purpose")

    steps = [Step("first", ("json",), ok), Step("later", ("fediscope.not_written_yet",), ok),
             Step("failing", (), boom), Step("after", (), ok)]
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), steps, out) == 1
    text = out.getvalue()
    assert "[2/4] later: not yet available (fediscope.not_written_yet" in text
    assert "[3/4] failing: FAILED: RuntimeError: broken on purpose" in text
    assert ran == ["ok"] and "Outputs:" in text and str(tmp_path / "demo-lake") in text


def test_sample_instance_and_collection_steps(tmp_path: Path) -> None:
    collect_step = next(s for s in STEPS if s.name == "collect")
    if collect_step.available() is not None:
        pytest.skip("the collector is not in this checkout")
    ctx = DemoContext(base=tmp_path, n_statuses=200, port=0, new_statuses=5)
    out = io.StringIO()
    assert run_demo(ctx, STEPS[:2], out) == 0, out.getvalue()
    assert "[2/2] collect: collected" in out.getvalue()
    lake = LocalLake(ctx.lake_dir)
    files = raw_batch_files(lake, "statuses")
    assert files
    raw = b"".join(lake.read(p) for p in raw_batch_files(lake))
    assert b"sample.social/@" not in raw  # privacy on: no profile URL of the corpus survives landing
    assert all(r["meta"]["instance"].startswith("127.0.0.1:") for p in files for r in read_batch(lake, p))


@pytest.mark.slow
def test_whole_demo_runs(tmp_path: Path) -> None:
    if any(step.available() for step in STEPS):
        pytest.skip("a part of the pipeline is not in this checkout")
    ctx = DemoContext(base=tmp_path, n_statuses=600, port=0)
    out = io.StringIO()
    assert run_demo(ctx, out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert "not yet available" not in text and "FAILED" not in text
    assert (ctx.out_dir / "demo.db").exists() and (ctx.out_dir / "report.txt").read_text().strip()
    assert list((ctx.out_dir / "charts").glob("*.png"))
