"""Which snapshot of an account the curated ``accounts`` row keeps when several servers showed the account: the
snapshot its home server gave (the newest of those, also one hiding a count) over the copies other servers cache,
and of those never a hidden (-1) count over a known one.

Input: a REAL recorded status (``test_public_tl.json``, posted on the recorded server ``localhost:3000``), landed as
its home server gave it and as other servers show it (:func:`engine_data.federated_copy`: their own id of the
status, the author's ``acct`` with its domain); only the author's counts (:func:`engine_data.author_counts`), the
fetch time and the server it was fetched from change.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from engine_data import (
    INSTANCE,
    at,
    author_counts,
    curated_both_ways,
    federated_copy,
    land,
    policy,
    read_table,
    settings_for,
    statuses,
    strip_column,
)

from fediscope.engine.base import open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.lake.backend import LakeBackend
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy

#: The home server's counts of the author, a remote server's stale copy of them, and a remote server's copy of an
#: account that hides its network (followers and follows -1).
HOME, STALE, HIDDEN = (120, 80, 40), (100, 70, 35), (-1, -1, 40)
REMOTE, OTHER = "remote.example", "other.example"


def _post() -> dict[str, Any]:
    return statuses("test_public_tl.json", method="POST")[0]


def _counts(row: dict[str, Any]) -> tuple[int, int, int]:
    return row["followers_count"], row["following_count"], row["statuses_count"]


def _only_account(lake_dir: Path) -> dict[str, Any]:
    (row,) = read_table(lake_dir, "accounts")
    return row


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _lander(status: dict[str, Any], counts: tuple[int, int, int], minutes: float, instance: str = INSTANCE,
            privacy: PrivacyPolicy | None = None) -> Any:
    """A function landing ``status`` with its author's ``counts``, fetched from ``instance`` at ``at(minutes)``."""
    def land_it(lake: LakeBackend) -> None:
        land(lake, "statuses", [author_counts(status, *counts)], at(minutes), privacy, instance=instance)
    return land_it


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy on", "privacy off"])
@pytest.mark.parametrize("remote_first", [False, True], ids=["home landed first", "remote landed first"])
@pytest.mark.parametrize("remote_counts", [STALE, HIDDEN], ids=["stale", "hidden"])
def test_the_home_servers_snapshot_wins_over_a_newer_remote_one(remote_counts: tuple[int, int, int],
                                                                remote_first: bool, privacy_on: bool,
                                                                tmp_path: Path) -> None:
    """A remote server's copy of the author, fetched later (stale counts, or followers and follows hidden), does not
    replace the home server's, in one run or run after run, whichever batch was landed first. Was: the newest fetch
    won, so the remote server's -1 or stale count replaced the home server's."""
    post, privacy = _post(), policy() if privacy_on else None
    home = _lander(post, HOME, 1, privacy=privacy)
    remote = _lander(federated_copy(post, "8880001"), remote_counts, 2, REMOTE, privacy)
    for lake_dir in curated_both_ways(tmp_path, [remote, home] if remote_first else [home, remote]):
        row = _only_account(lake_dir)
        assert _counts(row) == HOME
        assert (row["fetched_from"], row["fetched_at"], row["instance"]) == (INSTANCE, _naive(at(1)), INSTANCE)


def test_the_newest_of_the_home_servers_snapshots_wins(tmp_path: Path) -> None:
    """Among the home server's snapshots the newest wins, whatever remote servers showed before or after it."""
    post = _post()
    copy = federated_copy(post, "8880001")
    lands = [_lander(post, STALE, 1, privacy=policy()), _lander(copy, (90, 60, 30), 2, REMOTE, policy()),
             _lander(post, HOME, 3, privacy=policy()), _lander(copy, (130, 85, 41), 4, OTHER, policy())]
    for lake_dir in curated_both_ways(tmp_path, lands):
        row = _only_account(lake_dir)
        assert (_counts(row), row["fetched_from"], row["fetched_at"]) == (HOME, INSTANCE, _naive(at(3)))


def test_without_a_home_snapshot_the_newest_remote_one_with_known_counts_wins(tmp_path: Path) -> None:
    """The home server never showed the account: the newest remote snapshot wins, but not one that hides a count the
    others know."""
    post = _post()
    copy = federated_copy(post, "8880001")
    lands = [_lander(copy, STALE, 1, OTHER, policy()), _lander(copy, HOME, 2, REMOTE, policy()),
             _lander(copy, HIDDEN, 3, OTHER, policy())]
    for lake_dir in curated_both_ways(tmp_path, lands):
        row = _only_account(lake_dir)
        assert (_counts(row), row["fetched_from"], row["fetched_at"]) == (HOME, REMOTE, _naive(at(2)))


def test_a_count_the_home_server_hides_stays_hidden_and_counts_as_unknown(lake: LocalLake, lake_dir: Path,
                                                                         duckdb_engine) -> None:
    """A home server that hides the counts (glitch-soc sends -1 for its own accounts: the account's choice) is not
    overruled by a count another server cached, maybe from before the account hid it; the newest home snapshot wins
    also over an older home one that showed them. The curated row keeps the -1 the server sent, which the metrics
    count as 0 (unknown)."""
    post = _post()
    _lander(post, HOME, 1, privacy=policy())(lake)
    _lander(federated_copy(post, "8880001"), STALE, 2, REMOTE, policy())(lake)
    _lander(post, HIDDEN, 3, privacy=policy())(lake)
    _lander(federated_copy(post, "8880001"), STALE, 4, OTHER, policy())(lake)
    with open_engine(settings_for(lake_dir), "duckdb") as engine:
        engine.curate()
        (top,) = engine.run_metric(load_metrics()["top_accounts_by_followers"])
    row = _only_account(lake_dir)
    assert (_counts(row), row["fetched_from"], row["fetched_at"]) == (HIDDEN, INSTANCE, _naive(at(3)))
    assert (top["followers_count"], top["following_count"], top["statuses_count"]) == (0, 0, 40)


def test_a_snapshot_missing_a_count_never_wins_over_one_that_has_it(lake: LocalLake, lake_dir: Path,
                                                                   duckdb_engine) -> None:
    """A record without a count (a malformed or truncated copy, even the home server's newest) does not replace a
    snapshot that has all of them."""
    post = _post()
    _lander(federated_copy(post, "8880001"), STALE, 1, REMOTE, policy())(lake)
    missing = author_counts(post, *HOME)
    del missing["account"]["followers_count"]
    land(lake, "statuses", [missing], at(2), policy(), instance=INSTANCE)
    duckdb_engine().curate()
    row = _only_account(lake_dir)
    assert (_counts(row), row["fetched_from"]) == (STALE, REMOTE)


def test_a_server_serving_a_handle_domain_is_the_home_of_its_accounts(tmp_path: Path) -> None:
    """A server at ``social.example.com`` handing out handles of ``example.com`` (its instance document says so):
    its local accounts are keyed ``user@example.com``, as every other server names them, and it is their home
    server."""
    served, handles = "social.example.com", "example.com"
    privacy = policy()
    assert privacy.use_handle_domain(served, handles) == handles
    post = _post()
    lands = [_lander(post, HOME, 1, served, privacy),
             _lander(federated_copy(post, "8880001", home=handles), HIDDEN, 2, REMOTE, privacy)]
    for lake_dir in curated_both_ways(tmp_path, lands):
        row = _only_account(lake_dir)
        assert (_counts(row), row["fetched_from"], row["instance"]) == (HOME, served, handles)


def test_accounts_curated_before_fetched_from_existed_are_read_and_merged(lake: LocalLake, lake_dir: Path,
                                                                          duckdb_engine) -> None:
    """Files of the accounts table written before it had ``fetched_from`` are read with it NULL (not known to be the
    home server's), and a later snapshot still does not replace their known counts with hidden ones."""
    post = _post()
    _lander(post, HOME, 1, privacy=policy())(lake)
    duckdb_engine().curate()
    assert strip_column(lake_dir / "curated" / "accounts", "fetched_from") >= 1
    _lander(federated_copy(post, "8880001"), HIDDEN, 2, REMOTE, policy())(lake)
    duckdb_engine().curate()
    row = _only_account(lake_dir)
    assert (_counts(row), row["fetched_from"], row["fetched_at"]) == (HOME, None, _naive(at(1)))
