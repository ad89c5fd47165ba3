"""A caught-up collection reads every source's state files without asking the lake first whether they are there.

Every run, every timeline source loads its checkpoint and, with the settle pass on, its settle mark. Was: each load
asked the lake whether the file was there first (GETFILESTATUS on a WebHDFS lake, one HTTP request to the namenode
each), unless an account source of the same instance had listed the instance's state folder earlier in the run
(and never for the settle mark). Now the instance's state folder is listed once a run, whatever its sources, and a
file it shows is read straight away (its settle folder listed once, when the first settle mark is loaded).

Against the sample instance over real HTTP, collecting into the WebHDFS double, which records every request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from fediscope.config import Settings
from fediscope.lake.backend import open_lake
from fediscope.lake.layout import state_path
from fediscope.lake.state import SETTLE_PASS, checkpoint_source
from fediscope.privacy import policy_from_settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

KEY = "state-requests-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(300, seed=5), rate_limit=100_000) as running:
        yield running


@pytest.mark.parametrize("accounts", [0, 3])
def test_a_caught_up_run_reads_each_sources_checkpoint_and_settle_mark_without_asking_whether_they_are_there(
        server: SampleServer, webhdfs_server, accounts: int) -> None:
    """The public timeline and two tags (collected first: no account source has listed the state folder before
    them), and some account sources: per source a caught-up run with the settle pass on opens its checkpoint and its
    settle mark, and asks nothing else about them. Was, for the instance's 6 sources: 14 GETFILESTATUS of
    checkpoints and marks (3 + 3 with no account source)."""
    domain = server.url.split("//", 1)[1]
    settings = Settings(lake=webhdfs_server.lake_url(), pseudonym_key=KEY, retry_backoff=0.01, page_limit=40,
                        backfill_pages=3, settle_hours=2)
    policy = policy_from_settings(settings)
    tags = [t["name"] for t in server.instance.trending_tags()][:2]
    names = ["public", *(f"tag:{t}" for t in tags),
             *(f"account:{a['acct']}" for a in server.instance.directory(local=True)[:accounts])]
    targets = [(server.url, parse_source(name)) for name in names]
    files = {state_path(domain, checkpoint_source(name, policy), collection_pass)
             for name in names for collection_pass in (None, SETTLE_PASS)}
    first = run_collection(settings, targets, progress=False)
    assert first.ok and first.landed > 0, first.line()
    lake = open_lake(settings.lake)
    assert {path for path in files if lake.exists(path)} == files  # settle marks saved too
    webhdfs_server.requests.clear()

    again = run_collection(settings, targets, progress=False)

    assert again.ok and again.landed == 0 and len(again.sources) == len(names), again.line()
    asked = [(op, unquote(path).removeprefix("/lake/")) for role, _method, op, path, _user
             in webhdfs_server.requests if role == "namenode"]
    reads = Counter(each for each in asked if each[1] in files and each[0] != "CREATE")
    assert reads == Counter(("OPEN", path) for path in files), reads
    listed = Counter(path for op, path in asked if op == "LISTSTATUS")
    folder = f"_state/{domain}"
    # a listing is one LISTSTATUS, without a GETFILESTATUS of the folder first
    assert [each for each in asked if each[0] == "GETFILESTATUS" and each[1].startswith(folder)] == []
    assert listed[folder] == 1 and listed[f"{folder}/{SETTLE_PASS}"] == 1, listed
    # the walk start's folder is for account sources' spellings only
    assert sum(listed.values()) == (3 if accounts else 2), listed
