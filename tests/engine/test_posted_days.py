"""The report's period is the posted days of every curated status (``posted_days``), not of the toots with hashtags.

Input: REAL recorded timelines (every status posted on 2026-08-01, the tagged ones too) fetched at ``T0``, plus
variants of a recorded toot without hashtags, derived from it: one posted days before, one the next day (fetched
that afternoon), and a copy fetched from a second instance in between. The first walk of the recorded instance was
cut on the first day. Processed through the real pipeline (``run_process``) into each store.
"""

from __future__ import annotations

from pathlib import Path

from engine_data import INSTANCE, at, federated_copy, land, policy, settings_for, statuses, variant

from fediscope.analysis import PERIOD_METRIC, metric, run_analyses
from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake
from fediscope.lake.state import save_walk_start
from fediscope.store.port import store_from_settings

REMOTE = "remote.example"
FIRST, REMOTE_DAY, RECORDED_DAY, LAST = "2026-07-28", "2026-07-30", "2026-08-01", "2026-08-02"


def land_days_without_hashtags(lake: LocalLake) -> None:
    """The recorded timelines, and untagged toots posted on ``FIRST``, ``LAST`` and (from ``REMOTE``)
    ``REMOTE_DAY``."""
    recorded = statuses("test_public_tl.json") + statuses("test_hashtag_tl.json")
    base = next(s for s in recorded if not s.get("tags") and not s.get("reblog"))
    land(lake, "statuses", [*recorded, variant(base, "1", created_at=f"{FIRST}T09:00:00.000Z")], at(0), policy())
    land(lake, "statuses", [federated_copy(variant(base, "3", created_at=f"{REMOTE_DAY}T12:00:00.000Z"), "9990003")],
         at(1), policy(), instance=REMOTE)
    land(lake, "statuses", [variant(base, "2", created_at=f"{LAST}T10:00:00.000Z")], at(24 * 60), policy())
    save_walk_start(lake, INSTANCE, "public", "cut", f"{FIRST}T09:00:00.000Z")


def test_the_period_is_the_days_of_every_status_when_the_first_and_last_have_no_hashtags(
        lake: LocalLake, settings_on_every_store: Settings) -> None:
    """Was: the period was read from hashtags per day, so a lake whose first and last days have no toot with a
    hashtag was said to cover the tagged day alone (2026-08-01 to 2026-08-01). Now it is the curated statuses'
    first and last posted day, its first marked partial as the cut walk's record says, its last as the day of the
    latest fetch; ``posted_days`` gives each instance's too."""
    land_days_without_hashtags(lake)
    run_process(settings_on_every_store, progress=False)
    store = store_from_settings(settings_on_every_store, read_only=True)
    try:
        run = run_analyses(store)
        rows = {row["instance"]: row for row in store.all(metric(PERIOD_METRIC))}
    finally:
        store.close()

    hashtag_days = [row["day"] for row in run.get("hashtags_per_day").rows]
    assert hashtag_days == [RECORDED_DAY]  # the first and last days hold no hashtag: the test is about them
    assert run.period.to_dict() == {"first_day": FIRST, "last_day": LAST, "first_day_partial": True,
                                    "last_day_partial": True, "latest_fetch_day": LAST, "days": 6,
                                    "metric": "posted_days"}
    assert run.period.describe() == (f"statuses posted {FIRST} (partial) to {LAST} (partial), UTC days; "
                                     f"latest fetch on {LAST}")
    assert rows[REMOTE] == {"instance": REMOTE, "first_day": REMOTE_DAY, "last_day": REMOTE_DAY, "days": 1,
                            "statuses": 1, "latest_fetch_day": "2026-08-01", "first_day_partial": None}
    assert (rows[INSTANCE]["first_day"], rows[INSTANCE]["last_day"], rows[INSTANCE]["first_day_partial"]) == (
        FIRST, LAST, True)
    assert rows["*"]["statuses"] == rows[INSTANCE]["statuses"] + 1 and set(rows) == {"*", INSTANCE, REMOTE}


def test_a_lake_without_hashtags_has_a_period(lake: LocalLake, lake_dir: Path) -> None:
    """Was: "not known: the store holds no toot with a hashtag", though the store held a day of toots."""

    land(lake, "statuses", statuses("test_public_tl.json"), at(0), policy())  # recorded: none has a hashtag
    settings = settings_for(lake_dir)
    run_process(settings, progress=False)
    store = store_from_settings(settings, read_only=True)
    try:
        run = run_analyses(store)
    finally:
        store.close()
    assert not any(s.get("tags") for s in statuses("test_public_tl.json"))
    assert (run.period.first_day, run.period.last_day, run.period.days) == (RECORDED_DAY, RECORDED_DAY, 1)
    assert run.period.describe() == (f"statuses posted {RECORDED_DAY} (partial?) to {RECORDED_DAY} (partial), UTC "
                                     f"days; latest fetch on {RECORDED_DAY}")  # no record of where it began
