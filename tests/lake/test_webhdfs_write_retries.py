"""WebHDFS writes retried after failures that heal: a write lands exactly once, whole, with no temporary file left.

A write is CREATE of a hidden temporary file (namenode redirect, then datanode PUT), then RENAME into place. The
WebHDFS double breaks one step at a time, as a cluster does: a datanode dying mid-upload, a gateway answering 503
while the namenode restarts, a RENAME done whose answer is lost (connection dropped, or too late for the client).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
import requests
import urllib3
from doubles.webhdfs_server import WebHDFSDouble
from requests.adapters import HTTPAdapter

from fediscope.errors import LakeError
from fediscope.lake import webhdfs as webhdfs_module
from fediscope.lake.webhdfs import WebHDFSLake

DATA = b'{"id": "1"}\n' * 300
TARGET = "raw/mastodon/statuses/b.jsonl"


@pytest.fixture(autouse=True)
def short_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhdfs_module, "WRITE_RETRY_DELAYS", (0.01, 0.01))
    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.01, 0.01))


def count(double: WebHDFSDouble, op: str, server: str = "namenode") -> int:
    return sum(1 for s, _method, o, _path, _user in double.requests if (s, o) == (server, op))


def files_on_disk(double: WebHDFSDouble, directory: str = "/lake/raw/mastodon/statuses") -> list[str]:
    """Every name in the directory, temporary files included."""
    return sorted(p.name for p in double.local(directory).iterdir())


def attempts() -> int:
    return 1 + len(webhdfs_module.WRITE_RETRY_DELAYS)


# -- failures that heal: retried, the file lands once ---------------------------------------------------------


def test_an_upload_the_datanode_drops_once_is_written_again(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next_write(after_bytes=100)
    lake.write_atomic(TARGET, DATA)
    assert lake.read(TARGET) == DATA
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]  # the half-written temporary file is gone
    assert count(webhdfs_server, "CREATE", "datanode") == 2 and count(webhdfs_server, "RENAME") == 1


@pytest.mark.parametrize("op", ["CREATE", "RENAME"])
def test_a_503_from_the_namenode_is_retried(webhdfs_server: WebHDFSDouble, op: str) -> None:
    """What a gateway (Knox, HttpFS, a load balancer) answers while the namenode behind it restarts."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.unavailable_next(op)
    lake.write_atomic(TARGET, DATA)
    assert lake.read(TARGET) == DATA
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]
    assert count(webhdfs_server, op) == 2


def test_a_namenode_leaving_safe_mode_is_retried(webhdfs_server: WebHDFSDouble) -> None:
    """An active namenode still in its startup safe mode answers RetriableException: ask again shortly."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next("CREATE", "RetriableException", "Name node is in safe mode. The reported blocks ...")
    assert lake.create_exclusive("_state/x.lock", b"mine") is True
    assert lake.read("_state/x.lock") == b"mine"
    assert files_on_disk(webhdfs_server, "/lake/_state") == ["x.lock"]


@pytest.mark.parametrize("existing", [None, b"the old version, longer than the new one" * 200])
def test_a_rename_whose_answer_is_lost_is_checked_not_repeated(webhdfs_server: WebHDFSDouble,
                                                               existing: bytes | None) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    if existing is not None:
        lake.write_atomic(TARGET, existing)
        webhdfs_server.requests.clear()
    webhdfs_server.drop_next("RENAME", after=True)  # the namenode renames, then the connection drops
    lake.write_atomic(TARGET, DATA)
    assert lake.read(TARGET) == DATA
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]
    assert count(webhdfs_server, "RENAME") == 1 and count(webhdfs_server, "GETFILESTATUS") >= 1


def test_a_rename_dropped_before_it_happened_is_sent_again(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.drop_next("RENAME")
    lake.write_atomic(TARGET, DATA)
    assert lake.read(TARGET) == DATA
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]
    assert count(webhdfs_server, "RENAME") == 2 and count(webhdfs_server, "CREATE", "datanode") == 1


def test_a_rename_answered_too_late_lands_once(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url(), timeout=0.5)
    webhdfs_server.stall_next("RENAME", seconds=1.5)  # done at once, answered after the client gave up
    lake.write_atomic(TARGET, DATA)
    assert lake.read(TARGET) == DATA
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]
    assert count(webhdfs_server, "RENAME") == 1


# -- create-if-absent: our lost answer is a success, someone else's file is never taken ---------------------------


def test_create_exclusive_whose_rename_answer_is_lost_reports_it_created(webhdfs_server: WebHDFSDouble) -> None:
    """Was the dangerous case: a retried RENAME would find the file there ("already exists") and report that
    someone else holds the lock, which we hold ourselves."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.drop_next("RENAME", after=True)
    assert lake.create_exclusive("_state/x.lock", b"mine") is True
    assert lake.read("_state/x.lock") == b"mine"
    assert files_on_disk(webhdfs_server, "/lake/_state") == ["x.lock"]
    assert count(webhdfs_server, "RENAME") == 1


def test_create_exclusive_sent_again_after_a_lost_answer_and_a_failed_check(webhdfs_server: WebHDFSDouble) -> None:
    """The RENAME happened, its answer was lost, and the check failed too: the RENAME sent again finds its source
    gone, which the second check explains."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.drop_next("RENAME", after=True)
    webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "namenode hiccup")
    assert lake.create_exclusive("_state/x.lock", b"mine") is True
    assert lake.read("_state/x.lock") == b"mine"
    assert files_on_disk(webhdfs_server, "/lake/_state") == ["x.lock"]
    assert count(webhdfs_server, "RENAME") == 2


def test_create_exclusive_never_takes_a_file_someone_else_created(webhdfs_server: WebHDFSDouble) -> None:
    """Someone else's lock file, even of our data's length, is not mistaken for ours when our RENAME is lost."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("_state/x.lock", b"them")
    webhdfs_server.drop_next("RENAME")  # dropped before it happened: our temporary file is still there
    assert lake.create_exclusive("_state/x.lock", b"mine") is False
    assert lake.read("_state/x.lock") == b"them"
    assert files_on_disk(webhdfs_server, "/lake/_state") == ["x.lock"]


# -- failures that do not heal: at once -----------------------------------------------------------------------


@pytest.mark.parametrize("exception", ["AccessControlException", "DSQuotaExceededException", "SafeModeException"])
def test_a_refused_rename_is_not_retried(webhdfs_server: WebHDFSDouble, exception: str) -> None:
    """The upload heals from a dropped connection, then the namenode refuses the RENAME: that is the error."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next_write(after_bytes=10)
    webhdfs_server.fail_next("RENAME", exception, "refused for the test")
    with pytest.raises(LakeError, match=f"{exception}: refused for the test"):
        lake.write_atomic(TARGET, DATA)
    assert count(webhdfs_server, "RENAME") == 1
    assert files_on_disk(webhdfs_server) == []  # both temporary files removed


def test_a_403_from_the_datanode_is_not_retried(webhdfs_server: WebHDFSDouble) -> None:
    webhdfs_server.deny_users.add("guest")
    lake = WebHDFSLake(webhdfs_server.lake_url(user="guest"))
    webhdfs_server.drop_next("CREATE")  # heals: asked again
    with pytest.raises(LakeError, match="AccessControlException") as info:
        lake.write_atomic(TARGET, DATA)
    assert "?user=" in str(info.value)
    assert count(webhdfs_server, "CREATE", "namenode") == 2 and count(webhdfs_server, "CREATE", "datanode") == 1


def test_a_503_on_every_attempt_says_so_and_leaves_nothing(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    for _ in range(attempts()):
        webhdfs_server.unavailable_next("RENAME")
    with pytest.raises(LakeError, match=r"cannot write .*: the namenode http://127\.0\.0\.1:\d+ answered 503") as info:
        lake.write_atomic(TARGET, DATA)
    assert "try again" in str(info.value) and "did not answer like a WebHDFS namenode" not in str(info.value)
    assert count(webhdfs_server, "RENAME") == attempts()
    assert files_on_disk(webhdfs_server) == []
    assert not lake.exists(TARGET)


def test_a_503_on_a_read_only_call_is_retried(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic(TARGET, DATA)
    webhdfs_server.unavailable_next("GETFILESTATUS")
    assert lake.exists(TARGET)


# -- no secret in what is said --------------------------------------------------------------------------------


def test_retries_and_the_final_error_never_show_the_delegation_token(webhdfs_server: WebHDFSDouble,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A secure namenode puts a delegation token in its redirect to the datanode; it reaches neither the log lines
    of the retries nor the error."""
    token = "HAAEZXRsAARldGwAihoken-s3cret-0123456789"
    webhdfs_server.redirect_params = {"delegation": token}
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next_write(after_bytes=10, times=attempts())
    with caplog.at_level(logging.DEBUG, logger="fediscope"), pytest.raises(LakeError) as info:
        lake.write_atomic(TARGET, DATA)
    assert f"retrying CREATE of {lake.url}/{TARGET} in" in caplog.text
    assert token not in caplog.text and token not in str(info.value)
    assert "broke off" in str(info.value)
    assert files_on_disk(webhdfs_server) == []


# -- removing the temporary file after a failure ----------------------------------------------------------------


class _Urllib3Errors(HTTPAdapter):
    """requests' own transport, except that a broken connection reaches the caller as the urllib3 error it is
    (``ProtocolError``), unwrapped, as it does from a streamed body, which requests does not read itself."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, *args, **kwargs)
        except requests.ConnectionError as exc:
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, urllib3.exceptions.HTTPError):
                raise cause from None
            raise


@pytest.mark.parametrize("transport", ["requests", "urllib3"])
def test_a_failed_clean_up_never_replaces_the_write_error(webhdfs_server: WebHDFSDouble, transport: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Was: a DELETE of the temporary file whose connection dropped with urllib3's ProtocolError replaced the
    refusal that failed the write (reported as a transfer that broke off)."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    if transport == "urllib3":
        lake._client._session.mount("http://", _Urllib3Errors())
    webhdfs_server.fail_next("RENAME", "AccessControlException", "refused for the test")
    webhdfs_server.drop_next("DELETE")
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.webhdfs"), \
            pytest.raises(LakeError, match="AccessControlException: refused for the test") as info:
        lake.write_atomic(TARGET, DATA)
    assert "broke off" not in str(info.value) and count(webhdfs_server, "DELETE") == 1
    assert "could not remove temporary file" in caplog.text and "RemoteDisconnected" in caplog.text
    [left] = files_on_disk(webhdfs_server)  # the DELETE never happened: the file stays, hidden from listings
    # the lake's URL and the path below it (the URL's own path was shown twice: …/lake/lake/raw/…)
    assert f"temporary file {lake.url}/raw/mastodon/statuses/{left} after" in caplog.text
    assert left.startswith(".b.jsonl.") and lake.list("raw/mastodon/statuses") == []


def test_writes_that_leave_nothing_behind_warn_about_no_temporary_file(webhdfs_server: WebHDFSDouble,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Was: a write whose CREATE was refused (here the user may not write) never made its temporary file, yet the
    clean-up's DELETE, refused as well, warned that it "could not remove temporary file …"; so did a write to a
    namenode that cannot be reached. Now the warning comes only when the file is really there."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.deny_users = {"bob"}
    bob = WebHDFSLake(webhdfs_server.lake_url(user="bob"))
    with caplog.at_level(logging.WARNING, logger="fediscope"):
        lake.write_atomic(TARGET, DATA)  # a normal write, and one replacing a file
        lake.write_atomic(TARGET, DATA + DATA)
        assert lake.create_exclusive(TARGET, DATA) is False  # create-if-absent finding the file: not a failure
        with pytest.raises(LakeError, match="AccessControlException"):
            bob.write_atomic("raw/mastodon/statuses/c.jsonl", DATA)
        with pytest.raises(LakeError, match="unreachable"):
            WebHDFSLake("webhdfs://127.0.0.1:9/lake").write_atomic(TARGET, DATA)
    assert count(webhdfs_server, "DELETE") == 2  # create_exclusive's temporary file, and bob's (refused)
    # fediscope's own lines only: another library's INFO lines (hdfs.client's "Instantiated …") pass too when an
    # earlier test in the same worker left the root logger at INFO
    assert [r.getMessage() for r in caplog.records if r.name.partition(".")[0] == "fediscope"] == []
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]


def test_a_temporary_file_really_left_behind_is_warned_about(webhdfs_server: WebHDFSDouble,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next("RENAME", "AccessControlException", "refused for the test")
    webhdfs_server.fail_next("DELETE", "AccessControlException", "refused for the test")
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.webhdfs"), pytest.raises(LakeError):
        lake.write_atomic(TARGET, DATA)
    [left] = files_on_disk(webhdfs_server)
    assert f"could not remove temporary file {lake.url}/raw/mastodon/statuses/{left} after" in caplog.text
    assert "AccessControlException" in caplog.text and left.startswith(".b.jsonl.")
    assert "it is left behind, hidden from listings; `fediscope gdpr retention` removes such files" in caplog.text


def test_a_temporary_file_that_cannot_be_checked_either_is_warned_about(webhdfs_server: WebHDFSDouble,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next("RENAME", "AccessControlException", "refused for the test")
    webhdfs_server.drop_next("DELETE")
    webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "broken for the test")
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.webhdfs"), pytest.raises(LakeError):
        lake.write_atomic(TARGET, DATA)
    [left] = files_on_disk(webhdfs_server)
    assert f"could not remove temporary file {lake.url}/raw/mastodon/statuses/{left} after" in caplog.text
    assert "nor check whether it is there (RuntimeException): it may be left behind" in caplog.text


def test_a_namenode_failing_mid_write_warns_once_about_what_its_attempts_left(webhdfs_server: WebHDFSDouble,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Was: one WARNING per attempt. The datanode drops every upload (each attempt leaves a half-written temporary
    file), then the namenode fails every clean-up request: one warning names the three files and what removes them."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next_write(after_bytes=100, times=attempts())
    for _ in range(attempts()):
        webhdfs_server.drop_next("DELETE")
        webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "namenode going down")
    with caplog.at_level(logging.WARNING, logger="fediscope"), pytest.raises(LakeError, match="broke off"):
        lake.write_atomic(TARGET, DATA)
    left = files_on_disk(webhdfs_server)
    assert len(left) == attempts() and count(webhdfs_server, "DELETE") == attempts()  # each one was tried
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "could not remove 3 temporary files" in warning and "may be left behind" in warning
    assert all(f"{lake.url}/raw/mastodon/statuses/{name}" in warning for name in left)
    assert "`fediscope gdpr retention` removes such files once they are a day old" in warning


def test_a_namenode_that_never_answers_a_create_leaves_no_clean_up_to_wait_out(
        caplog: pytest.LogCaptureFixture) -> None:
    """Was: each timed-out CREATE (the namenode took the connection and never answered) counted as a temporary file
    that might be there, so after the three attempts the clean-up sent a DELETE and a GETFILESTATUS for each, every
    one waiting out the timeout again (`fediscope doctor` took 5.5 minutes against such a namenode, with the default
    30 s), and then warned that 3 temporary files "may be left behind". The namenode's step of CREATE only redirects
    to a datanode, which makes the file: nothing was made, so nothing is sent after the attempts."""
    with socket.socket() as silent:  # listens, never reads nor answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        lake = WebHDFSLake(f"webhdfs://127.0.0.1:{silent.getsockname()[1]}/lake", timeout=0.2)
        sent: list[str] = []
        request = lake._client._request
        lake._client._request = lambda method, url, **kw: sent.append(method) or request(method, url, **kw)
        with caplog.at_level(logging.WARNING, logger="fediscope"), pytest.raises(LakeError, match="timed out"):
            lake.write_atomic(TARGET, DATA)
    assert sent == ["PUT"] * attempts()  # the three CREATEs, no DELETE nor GETFILESTATUS after them
    assert [r.getMessage() for r in caplog.records if r.name.partition(".")[0] == "fediscope"] == []


def test_a_namenode_gone_after_redirecting_a_create_to_itself_warns_of_no_temporary_file(
        webhdfs_server: WebHDFSDouble, caplog: pytest.LogCaptureFixture) -> None:
    """An HttpFS gateway (or a namenode behind one address) redirects CREATE to its own address, where the upload
    makes the file. Was: the namenode gone before the upload could connect, the write's clean-up sent a DELETE and a
    GETFILESTATUS to it, both refused, and warned that the temporary file "may be left behind"; but an upload that
    never connected made no file, so there is nothing to remove, nor to warn of (as when the namenode never
    redirected at all)."""
    webhdfs_server.datanode_address = webhdfs_server.namenode_address  # the redirect names the namenode itself
    lake = WebHDFSLake(webhdfs_server.lake_url())
    sent: list[str] = []
    create, request = lake._client._create, lake._client._request

    def create_then_go_away(*args: Any, **kwargs: Any) -> requests.Response:
        response = create(*args, **kwargs)
        assert response.headers["location"].startswith(webhdfs_server.http_url)  # to itself
        webhdfs_server.stop()  # the namenode goes away: the upload's connection is refused
        lake._client._session.close()  # and the kept-alive connection dies with it (the double's handler lives on)
        return response

    lake._client._create = create_then_go_away
    lake._client._request = lambda method, url, **kw: sent.append(method) or request(method, url, **kw)
    with caplog.at_level(logging.WARNING, logger="fediscope"), pytest.raises(LakeError, match="unreachable"):
        lake.write_atomic(TARGET, DATA)
    assert sent == ["PUT", "PUT"]  # CREATE and its upload; no DELETE nor GETFILESTATUS after them
    assert [r.getMessage() for r in caplog.records if r.name.partition(".")[0] == "fediscope"] == []


@pytest.mark.parametrize("action", ["read", "write"])
def test_a_namenode_that_keeps_redirecting_to_itself_is_named_a_redirect_loop(
        webhdfs_server: WebHDFSDouble, caplog: pytest.LogCaptureFixture, action: str) -> None:
    """A server that answers every OPEN and CREATE, its upload included, with a redirect to its own address (a
    proxy, or another service, on the namenode's port). Was: "the transfer broke off (TooManyRedirects: Exceeded 30
    redirects.); the datanode may have failed or restarted: try again", advice for another failure; now the loop is
    named, at its address, and nothing is retried nor warned of (no file was made)."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic(TARGET, DATA)
    webhdfs_server.datanode_address = webhdfs_server.namenode_address  # every redirect names the namenode itself
    before = len(webhdfs_server.requests)
    with caplog.at_level(logging.WARNING, logger="fediscope"), pytest.raises(LakeError) as failed:
        if action == "read":
            lake.read(TARGET)
        else:
            lake.write_atomic("raw/mastodon/statuses/c.jsonl", DATA)
    message = str(failed.value)
    assert message.startswith(f"cannot {action} {lake.url} (") and "\n" not in message, message
    assert f": a redirect loop at {webhdfs_server.namenode_address} (30 redirects, each back to the same address): " \
           "the service there is not answering as WebHDFS does" in message, message
    assert "datanode may have failed" not in message and "TooManyRedirects" not in message, message
    assert [r.getMessage() for r in caplog.records if r.name.partition(".")[0] == "fediscope"] == []
    redirected = [r for r in webhdfs_server.requests[before:] if r[2] in {"OPEN", "CREATE"}]
    assert len(redirected) == 31 + (action == "write")  # one loop, not retried (a write: its CREATE, then the upload's)
    assert files_on_disk(webhdfs_server) == ["b.jsonl"]
