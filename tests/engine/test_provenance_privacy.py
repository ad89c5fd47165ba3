"""A metric's provenance says how the lake's raw files were landed (``privacy``): pseudonymised, with privacy off,
or not known, as the lake's key check records it (:func:`fediscope.engine.provenance.landed_privacy`), whatever the
processing run's own ``FEDISCOPE_PRIVACY``. Was: the provenance did not say, so two reports over lakes landed each
way (account keys that are pseudonyms or names in clear, opted-out accounts left out or not) looked alike."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cli_run import clean_env, run
from engine_data import KEY, at, land, policy, settings_for, statuses
from report_text import unwrapped

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.key_check import KEY_CHECK_PATH, check_landing_key, key_check_value
from fediscope.lake.local import LocalLake
from fediscope.store.port import open_store

METRICS = {name: metric for name, metric in load_metrics().items() if name in ("languages", "top_toots")}
#: how the lake is landed (with the privacy policy or as collected; its key check recorded as a landing records
#: it, or none, or a damaged one), the processing run's own privacy setting (the other way, where it has one), and
#: what the provenance and the text report's "Computed by" line say
CASES = {
    "pseudonymised": (True, "recorded", False, "pseudonymised", ", landed pseudonymised"),
    "off": (False, "recorded", True, "off", ", landed with privacy off"),
    "no key check": (True, None, True, "unknown", ", privacy at landing not recorded"),
    "damaged key check": (True, "damaged", True, "unknown", ", privacy at landing not recorded"),
}


def _landed(lake_dir: Path, pseudonymised: bool, check: str | None) -> None:
    lake = LocalLake(lake_dir)
    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
        land(lake, "statuses", statuses(name), at(i), policy() if pseudonymised else None)
    if check == "recorded":  # as `fediscope collect`, `stream` and `serve-api` record it at their first landing
        landing = settings_for(lake_dir, privacy=pseudonymised, pseudonym_key=KEY.decode() if pseudonymised else None)
        assert check_landing_key(landing, lake, warn=False)
    elif check == "damaged":
        (lake_dir / KEY_CHECK_PATH).parent.mkdir(parents=True, exist_ok=True)
        (lake_dir / KEY_CHECK_PATH).write_text("{not json")


@pytest.mark.parametrize("case", CASES)
def test_the_provenance_says_how_the_lake_was_landed_not_how_it_is_processed(
        case: str, lake_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    pseudonymised, check, processed_with, recorded, said = CASES[case]
    _landed(lake_dir, pseudonymised, check)
    settings = settings_for(lake_dir, privacy=processed_with, pseudonym_key=KEY.decode() if processed_with else None)
    with caplog.at_level(logging.WARNING, logger="fediscope.engine.provenance"):
        run_process(settings, metrics=METRICS, progress=False)  # a damaged check does not stop it
    assert caplog.text.count("records privacy at landing as unknown") == (check == "damaged")  # said once

    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=settings.store)
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    (only,) = json.loads(out)["provenance"]["runs"]
    assert only["run"]["privacy"] == recorded and sorted(only["metrics"]) == sorted(METRICS)
    assert key_check_value(KEY.decode()) not in out  # nothing of the key, not even its check
    code, text, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    (line,) = [line for line in unwrapped(text).splitlines() if line.startswith("Computed by: ")]
    assert line.endswith(said), line



def test_metrics_whose_record_says_another_privacy_at_landing_are_recomputed_once(lake_dir: Path) -> None:
    """A lake whose key check is recorded after its metrics were computed (``serve-api`` records one on a lake an
    older fediscope landed, with no new raw file), or a store whose records are from before ``privacy`` was: the
    metrics are current, but their record says another ``privacy`` than the lake's, so the next run recomputes
    them once (their rows unchanged) and records it; the run after that reuses them. Was: the old record stayed for
    as long as nothing new was curated."""
    _landed(lake_dir, True, None)
    settings = settings_for(lake_dir, privacy=True, pseudonym_key=KEY.decode())
    first = run_process(settings, metrics=METRICS, progress=False)
    assert not first.metrics_skipped
    assert run_process(settings, metrics=METRICS, progress=False).metrics_skipped  # current, its record too

    assert check_landing_key(settings, LocalLake(lake_dir), warn=False)  # the key check, recorded now
    again = run_process(settings, metrics=METRICS, progress=False)

    assert not again.metrics_skipped and not any(result.reused for result in again.metrics.values())
    assert all(result.stored == 0 for result in again.metrics.values())  # the same rows: none rewritten
    store = open_store(settings.store)
    try:
        assert {name: p["privacy"] for name, p in store.provenances().items() if p} == dict.fromkeys(
            METRICS, "pseudonymised")
    finally:
        store.close()
    assert run_process(settings, metrics=METRICS, progress=False).metrics_skipped
