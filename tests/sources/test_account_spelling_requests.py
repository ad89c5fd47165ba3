"""A caught-up collection does not ask the lake about every account source's other spellings, file by file.

Every run, before it collects an ``account:`` source, the collector looks for state an earlier fediscope kept under
another spelling of it (``account:alice@<domain>``, another case: :func:`~fediscope.lake.state.adopt_spelling`).
Was: it listed ``_state/<instance>/`` and asked whether each of some ten files existed (the checkpoint of the
source, and each spelling's checkpoint and pass files, under the keyed digest and the handle), for every account
source at every run; on a WebHDFS lake each question is an HTTP request to the namenode. Now the instance's state
folder is listed once a run, and a spelling it shows no file of is not asked about.

Against the sample instance over real HTTP, collecting into the WebHDFS double, which records every request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from fediscope.config import Settings
from fediscope.lake.layout import state_path
from fediscope.lake.state import SOURCE_PASSES, checkpoint_source
from fediscope.privacy import policy_from_settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

KEY = "spelling-requests-test-key-0123456789abcdef"
ACCOUNTS = 6  # account sources per instance


@pytest.fixture(scope="module")
def instances() -> Iterator[list[SampleServer]]:
    with (SampleServer(SampleInstance.generate(300, seed=5), rate_limit=100_000) as first,
          SampleServer(SampleInstance.generate(300, seed=6), rate_limit=100_000) as second):
        yield [first, second]


def _domain(server: SampleServer) -> str:
    return server.url.split("//", 1)[1]


@pytest.mark.parametrize("privacy", [True, False])
def test_a_caught_up_run_lists_each_instances_state_once_whatever_its_account_sources(
        instances: list[SampleServer], webhdfs_server, privacy: bool) -> None:
    settings = Settings(lake=webhdfs_server.lake_url(), pseudonym_key=KEY if privacy else None, privacy=privacy,
                        retry_backoff=0.01, page_limit=40, backfill_pages=3)
    policy = policy_from_settings(settings) if privacy else None
    targets, spelling_files = [], set()
    for server in instances:
        names = [a["acct"] for a in server.instance.directory(local=True)][:ACCOUNTS]
        assert len(names) == ACCOUNTS
        for name in names:
            targets.append((server.url, parse_source(f"account:{name}")))
            spelling = f"account:{name}@{_domain(server)}"  # an earlier fediscope may have kept its state under it
            spelling_files |= {state_path(_domain(server), each, collection_pass)
                               for each in {spelling, checkpoint_source(spelling, policy)}
                               for collection_pass in (*SOURCE_PASSES, None)}
    first = run_collection(settings, targets, progress=False)
    assert first.ok and first.landed > 0, first.line()
    webhdfs_server.requests.clear()

    again = run_collection(settings, targets, progress=False)

    assert again.ok and again.landed == 0 and len(again.sources) == 2 * ACCOUNTS, again.line()
    asked = [(op, unquote(path).removeprefix("/lake/")) for _server, _method, op, path, _user
             in webhdfs_server.requests]
    # no spelling's file is asked about: none is there (was: 4 or 8 questions per account source)
    assert [each for each in asked if each[1] in spelling_files] == []
    # each instance's state folder (and the pass folders in it) is listed once, not once per account source
    listed = Counter(path for op, path in asked if op == "LISTSTATUS" and path.startswith("_state/"))
    for server in instances:
        folder = f"_state/{_domain(server)}"
        assert listed[folder] == 1, listed
        assert sum(n for path, n in listed.items() if path.startswith(folder + "/")) <= len(SOURCE_PASSES)
    assert sum(listed.values()) <= len(instances) * (1 + len(SOURCE_PASSES))


@pytest.mark.parametrize("privacy", [True, False])
def test_a_checkpoint_is_read_and_saved_without_asking_the_lake_whether_its_files_are_there(
        instances: list[SampleServer], webhdfs_server, privacy: bool) -> None:
    """Per account source a caught-up run reads its checkpoint (one OPEN) and saves it; it does not ask first whether
    the checkpoint is there (the state folder listed once a run shows it) nor, at the load and at every save, whether
    the file an older fediscope named after the handle is (the listing shows none). Was: five requests to the
    namenode per source and run (GETFILESTATUS, OPEN, CREATE, RENAME, GETFILESTATUS of the handle's file), and a
    question about the handle's file at every page a first walk saved."""
    settings = Settings(lake=webhdfs_server.lake_url(), pseudonym_key=KEY if privacy else None, privacy=privacy,
                        retry_backoff=0.01, page_limit=5, backfill_pages=3)
    policy = policy_from_settings(settings) if privacy else None
    targets, checkpoints, handles = [], set(), set()
    for server in instances:
        for name in [a["acct"] for a in server.instance.directory(local=True)][:ACCOUNTS]:
            source = f"account:{name}"
            targets.append((server.url, parse_source(source)))
            checkpoints.add(state_path(_domain(server), checkpoint_source(source, policy)))
            handles.add(state_path(_domain(server), source))

    def asked() -> list[tuple[str, str]]:
        return [(op, unquote(path).removeprefix("/lake/")) for role, _method, op, path, _user
                in webhdfs_server.requests if role == "namenode"]

    first = run_collection(settings, targets, progress=False)
    assert first.ok and first.landed > 0 and first.pages > len(targets), first.line()  # several pages saved
    assert [each for each in asked() if each[1] in handles - checkpoints] == []
    webhdfs_server.requests.clear()

    again = run_collection(settings, targets, progress=False)

    assert again.ok and again.landed == 0, again.line()
    about = Counter(each for each in asked() if each[1] in checkpoints | handles)
    assert about == Counter(("OPEN", path) for path in checkpoints), about
