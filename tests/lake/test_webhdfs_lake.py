"""WebHDFS specifics: the protocol the backend speaks, URL parsing, and the messages when the cluster misbehaves."""

from __future__ import annotations

import getpass
import http.server
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from doubles import free_port, serving
from doubles.greeting import greeting_port
from doubles.mastodon_server import MastodonDouble
from doubles.webhdfs_server import WebHDFSDouble
from lake_cases import REAL_WEBHDFS

from fediscope.errors import ConfigError, LakeError
from fediscope.gdpr.suppression import add_suppressed, load_suppressed
from fediscope.lake import webhdfs as webhdfs_module
from fediscope.lake.backend import open_lake
from fediscope.lake.state import (
    SETTLE_PASS,
    Checkpoint,
    list_state,
    load_checkpoint,
    load_pass_mark,
    save_checkpoint,
    save_pass_mark,
)
from fediscope.lake.webhdfs import WebHDFSLake, parse_webhdfs_url
from fediscope.redact import redact_url


def test_real_namenode_when_configured() -> None:
    """The contract tests also run against a real namenode when FEDISCOPE_TEST_WEBHDFS is set."""
    if not REAL_WEBHDFS:
        pytest.skip("no real namenode: set FEDISCOPE_TEST_WEBHDFS=webhdfs://namenode:9870/tmp/fediscope-test "
                    "to run the lake contract tests against it")
    lake = WebHDFSLake(REAL_WEBHDFS)
    lake.write_atomic("_probe/hello.txt", b"hello")
    try:
        assert lake.read("_probe/hello.txt") == b"hello"
    finally:
        lake.delete("_probe", recursive=True)


# -- the protocol -------------------------------------------------------------------------------------------


def test_write_is_create_on_namenode_then_datanode_then_rename_over(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url("/data/lake", user="etl"))
    lake.write_atomic("raw/x.jsonl", b"{}\n")
    calls = [(server, method, op) for server, method, op, _path, _user in webhdfs_server.requests]
    assert calls == [("namenode", "PUT", "CREATE"), ("datanode", "PUT", "CREATE"), ("namenode", "PUT", "RENAME")]
    temp_path = webhdfs_server.requests[0][3]
    assert temp_path.startswith("/data/lake/raw/.x.jsonl.") and temp_path.endswith(".tmp")
    assert {user for *_rest, user in webhdfs_server.requests} == {"etl"}
    assert webhdfs_server.local("/data/lake/raw/x.jsonl").read_bytes() == b"{}\n"


def test_read_follows_the_redirect_to_the_datanode(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("f", b"abc")
    webhdfs_server.requests.clear()
    assert lake.read("f") == b"abc"
    assert [(s, op) for s, _m, op, _p, _u in webhdfs_server.requests] == [("namenode", "OPEN"), ("datanode", "OPEN")]


def test_user_defaults_to_the_login_name(webhdfs_server: WebHDFSDouble) -> None:
    WebHDFSLake(webhdfs_server.lake_url()).exists("x")
    assert webhdfs_server.requests[-1][4] == getpass.getuser()


def test_overwrite_works_when_the_server_ignores_rename_options(webhdfs_server: WebHDFSDouble) -> None:
    webhdfs_server.rename_options_supported = False
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("_state/cp.json", b"1")
    lake.write_atomic("_state/cp.json", b"22")
    assert lake.read("_state/cp.json") == b"22"
    assert [e.path for e in lake.walk("")] == ["_state/cp.json"]
    assert sorted(p.name for p in webhdfs_server.local("/lake/_state").iterdir()) == ["cp.json"]


def test_a_failed_rename_removes_the_temporary_file(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next("RENAME", "IOException", "disk quota exceeded")
    with pytest.raises(LakeError, match="disk quota exceeded"):
        lake.write_atomic("a/b.jsonl", b"x")
    assert list(webhdfs_server.local("/lake/a").iterdir()) == []


def test_colons_are_stored_escaped_as_hive_does(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("raw/instance=127.0.0.1:8080/x%3A.jsonl", b"1")
    on_disk = webhdfs_server.local("/lake/raw/instance=127.0.0.1%3A8080/x%253A.jsonl")
    assert on_disk.read_bytes() == b"1"
    assert [e.path for e in lake.walk("")] == ["raw/instance=127.0.0.1:8080/x%3A.jsonl"]


def test_makedirs_creates_nested_directories(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.makedirs("raw/mastodon/statuses")
    assert webhdfs_server.local("/lake/raw/mastodon/statuses").is_dir()
    assert lake.exists("raw/mastodon/statuses")


@pytest.mark.parametrize("url, message", [
    ("webhdfs://[namenode/lake", "is not a valid URL"),
    ("s3://key:s3cret@bucket/lake", "unsupported scheme 's3'"),
    # was: "unsupported scheme 'swebhdfs'", which did not say whether WebHDFS over HTTPS can be had another way
    ("SWebHDFS://key:s3cret@nn:9871/lake", r"^[^\n]*swebhdfs:// \(WebHDFS over HTTPS\) is not supported: .*plain HTTP; "
     r"use the namenode's HTTP address, webhdfs://namenode:9870/path"),
    # hdfs:// is the namenode's RPC port: refused rather than spoken to as WebHDFS (was: "namenode unreachable")
    ("hdfs://key:s3cret@nn:8020/lake", r"use webhdfs://namenode:9870/path"),
    ("", "empty"),  # was: the current directory
    ("file://", "no path"),
    ("file://otherhost:s3cret@x/lake", "names no other host than localhost"),  # was: the host dropped
])
def test_open_lake_refuses_what_it_cannot_open(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        open_lake(url)
    assert "s3cret" not in str(info.value)


def test_open_lake_picks_webhdfs(webhdfs_server: WebHDFSDouble) -> None:
    lake = open_lake(webhdfs_server.lake_url())
    assert isinstance(lake, WebHDFSLake)
    assert lake.local_path("x") is None


# -- URL parsing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("webhdfs://namenode:9870/data/lake?user=etl", ("http://namenode:9870", "/data/lake", "etl")),
    ("webhdfs://namenode/lake/", ("http://namenode:9870", "/lake", None)),
    ("webhdfs://namenode:50070", ("http://namenode:50070", "/", None)),
    ("webhdfs://nn.example.org:9870/a//b/../c", ("http://nn.example.org:9870", "/a/c", None)),
    ("webhdfs://hdfsuser@namenode:9870/lake", ("http://namenode:9870", "/lake", "hdfsuser")),
    ("webhdfs://etl@namenode:9870/lake?user=etl", ("http://namenode:9870", "/lake", "etl")),  # the same user twice
])
def test_parse_webhdfs_url(url: str, expected: tuple[str, str, str | None]) -> None:
    assert parse_webhdfs_url(url) == expected


@pytest.mark.parametrize("url, message", [
    ("webhdfs:///lake", "no namenode host"),
    ("webhdfs://namenode:port/lake", "port"),
    ("webhdfs://namenode:99999/lake", "port is not a number from 1 to 65535"),
    # were: the default port, 9870, silently
    ("webhdfs://namenode:0/lake", "port is not a number from 1 to 65535"),
    ("webhdfs://namenode:/lake", "has a ':' after the namenode host but no port"),
    # was: the fragment cut off silently, the lake landing in /data
    ("webhdfs://namenode:9870/data#2026?user=etl", "takes no fragment: a '#' ends the URL"),
    ("webhdfs://namenode:9870/data/lake#", "takes no fragment"),
    ("webhdfs://namenode:9870/lake?usr=x", "unknown parameter"),
    ("s3://bucket/lake", "expected webhdfs://"),
    ("hdfs://nn.example.org:8020/lake", "not hdfs://"),
    # was: alice taken as the HDFS user, bob's ?user= winning silently; an empty user before the @ dropped silently
    ("webhdfs://alice@namenode:9870/lake?user=bob", "names two HDFS users, 'alice' before the host and 'bob' in"),
    ("webhdfs://@namenode:9870/lake", "names an empty user before the @"),
    # was: the local login name, silently, as if ?user= were left out
    ("webhdfs://namenode:9870/lake?user=", r"names an empty user in \?user=; give the HDFS user as "),
    ("webhdfs://namenode:9870/lake?user=%20", r"names an empty user in \?user="),
    ("webhdfs://alice@namenode:9870/lake?user=", r"names an empty user in \?user="),
])
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_webhdfs_url(url)


@pytest.mark.parametrize("url", ["webhdfs://etl:Kq7wRt4Lm@127.0.0.1:1/lake", "webhdfs://etl:Kq7w/Rt4Lm@127.0.0.1:1/lake",
                                 "webhdfs://etl:Kq7w#Rt4Lm@127.0.0.1:1/lake", "webhdfs://etl:@127.0.0.1:1/lake"])
def test_passwords_never_appear_in_the_lake_url(url: str) -> None:
    """A password is refused, and never shown. Was: accepted, dropped silently (WebHDFS's simple authentication
    sends a user name only), ``etl`` becoming the HDFS user; only the masking of the URL shown was checked."""
    assert redact_url("webhdfs://etl:s3cret@namenode:9870/lake") == "webhdfs://etl:***@namenode:9870/lake"
    for opener in (WebHDFSLake, open_lake, parse_webhdfs_url):
        with pytest.raises(ConfigError) as info:
            opener(url)
        message = str(info.value)
        assert message.startswith("FEDISCOPE_LAKE='webhdfs://etl:***@127.0.0.1:1/lake': holds a password"), message
        assert message.endswith("so give the user alone, as webhdfs://127.0.0.1:1/lake?user=etl"), message
        assert "Kq7w" not in message and "Rt4Lm" not in message


# -- failures say what to check -----------------------------------------------------------------------------


def test_unreachable_namenode_names_the_url_and_what_to_check() -> None:
    port = free_port()
    lake = WebHDFSLake(f"webhdfs://127.0.0.1:{port}/lake", timeout=2)
    with pytest.raises(LakeError) as info:
        lake.write_atomic("f", b"1")
    message = str(info.value)
    assert f"webhdfs://127.0.0.1:{port}/lake" in message
    assert "namenode" in message and "9870" in message and "dfs.webhdfs.enabled" in message
    for call in (lambda: lake.read("f"), lambda: lake.exists("f"), lambda: lake.list(""), lambda: lake.walk(""),
                 lambda: lake.delete("f")):
        with pytest.raises(LakeError, match="unreachable"):
            call()


def test_unreachable_datanode_is_told_apart_from_the_namenode(webhdfs_server: WebHDFSDouble) -> None:
    webhdfs_server.datanode_address = f"127.0.0.1:{free_port()}"
    lake = WebHDFSLake(webhdfs_server.lake_url())
    with pytest.raises(LakeError, match="redirected the data to datanode .* unreachable") as info:
        lake.write_atomic("f", b"1")
    assert "resolvable" in str(info.value)
    assert lake.list("") == []  # metadata still works: only the data path is broken


def test_permission_denied_says_which_user_and_how_to_change_it(webhdfs_server: WebHDFSDouble) -> None:
    webhdfs_server.deny_users.add("guest")
    lake = WebHDFSLake(webhdfs_server.lake_url(user="guest"))
    with pytest.raises(LakeError, match="AccessControlException") as info:
        lake.write_atomic("f", b"1")
    assert "guest" in str(info.value) and "?user=" in str(info.value)
    with pytest.raises(LakeError, match="AccessControlException"):
        lake.makedirs("d")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_a_silent_namenode_times_out_with_a_clear_message(silent_server: int) -> None:
    lake = WebHDFSLake(f"webhdfs://127.0.0.1:{silent_server}/lake", timeout=0.3)
    with pytest.raises(LakeError, match="timed out") as info:
        lake.exists("f")
    assert "unreachable" in str(info.value) and "dfs.namenode.http-address" in str(info.value)  # what to check


@pytest.fixture
def plain_http_server(tmp_path) -> Iterator[int]:
    """An ordinary web server, as when the lake URL points at the wrong port."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    with serving(server) as port:
        yield port


def test_a_server_that_is_not_webhdfs_is_named_as_such(plain_http_server: int) -> None:
    lake = WebHDFSLake(f"webhdfs://127.0.0.1:{plain_http_server}/lake")
    with pytest.raises(LakeError, match="did not answer like a WebHDFS namenode"):
        lake.read("f")


def test_a_json_server_that_is_not_webhdfs_is_named_as_such(mastodon_server: MastodonDouble) -> None:
    """A lake URL at the port of a JSON API (here the Mastodon double: its recorded 404 is JSON without a
    RemoteException) is named as such; the ``hdfs`` package itself would fail with a KeyError (a traceback)."""
    lake = WebHDFSLake(f"webhdfs://{urlsplit(mastodon_server.url).netloc}/lake")
    for call in (lambda: lake.exists("f"), lambda: lake.list(""), lambda: lake.read("f"),
                 lambda: lake.write_atomic("f", b"x")):
        with pytest.raises(LakeError, match="did not answer like a WebHDFS namenode"):
            call()


def test_a_web_servers_error_page_is_named_by_status_and_type_never_quoted(plain_http_server: int) -> None:
    """Was: ``cannot list …: <!DOCTYPE HTML> <html lang="en"> <head> …`` (200 characters of the server's error page)
    before the hint. ``python -m http.server`` answers a GET with a 404 page and a PUT with a 501 one."""
    lake = WebHDFSLake(f"webhdfs://127.0.0.1:{plain_http_server}/lake")
    server = f"http://127.0.0.1:{plain_http_server}"
    for call, status in ((lambda: lake.list(""), 404), (lambda: lake.read("f"), 404), (lambda: lake.exists("f"), 404),
                         (lambda: lake.write_atomic("f", b"x"), 501)):
        with pytest.raises(LakeError) as info:
            call()
        message = str(info.value)
        assert (f"the server at {server} answered HTTP {status} text/html, not WebHDFS JSON: it did not answer like "
                "a WebHDFS namenode;") in message
        assert "<" not in message and "DOCTYPE" not in message and "Error code" not in message, message
        assert "dfs.webhdfs.enabled" in message  # what to check


@pytest.fixture
def welcome_page_server() -> Iterator[int]:
    """A web server answering every request with 200 and an HTML page (a catch-all site, a proxy's welcome page):
    a CREATE answered so has no redirect to a datanode."""

    class WelcomePage(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = answer

        def log_message(self, *args: object) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), WelcomePage)) as port:
        yield port


def test_a_write_to_a_server_that_is_not_webhdfs_warns_of_no_temporary_file(
        welcome_page_server: int, caplog: pytest.LogCaptureFixture) -> None:
    """Was: ``KeyError: 'location'`` as the error, and a warning that the temporary file could not be removed
    "(Expecting value: line 1 column 1 (char 0)), nor checked … may be left behind": a server that never answered
    as WebHDFS made no file. A listing's HTML is named as not WebHDFS JSON too (was: the JSON decoder's error)."""
    import logging

    lake = WebHDFSLake(f"webhdfs://127.0.0.1:{welcome_page_server}/lake")
    server = f"http://127.0.0.1:{welcome_page_server}"
    for write in (lambda: lake.write_atomic("a/f", b"x"), lambda: lake.create_exclusive("a/g", b"x")):
        with caplog.at_level(logging.DEBUG, logger="fediscope"), pytest.raises(LakeError) as info:
            write()
        assert (f"{server} answered HTTP 200 text/html, not the redirect to a datanode a WebHDFS namenode answers "
                "CREATE with: it did not answer like a WebHDFS namenode;") in str(info.value)
        assert "temporary file" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    for call in (lambda: lake.list(""), lambda: lake.exists("f")):
        with pytest.raises(LakeError, match=f"{server} answered HTTP 200 text/html, not WebHDFS JSON"):
            call()


def test_a_file_listed_by_a_gateway_that_names_it_by_its_own_name_lists_nothing(webhdfs_server: WebHDFSDouble) -> None:
    """A list is one LISTSTATUS, without a GETFILESTATUS first. HttpFS of Hadoop 2 answers LISTSTATUS of a file with
    the file's status named by its own name, as a directory holding one file of that name is listed: a file must
    still list nothing (``lake ls <file>`` showed ``<file>/<name>``), and such a directory its file."""
    webhdfs_server.list_file_by_name = True
    lake = WebHDFSLake(webhdfs_server.lake_url(user="etl"))
    lake.write_atomic("raw/top.txt", b"1")
    lake.write_atomic("d/d", b"22")
    assert lake.list("raw/top.txt") == []
    assert [(e.path, e.is_dir, e.size) for e in lake.list("d")] == [("d/d", False, 2)]
    assert [e.path for e in lake.list("raw")] == ["raw/top.txt"]
    webhdfs_server.requests.clear()
    lake.list("raw")  # a directory of another name: one LISTSTATUS, nothing more
    assert [op for _s, _m, op, _p, _u in webhdfs_server.requests] == ["LISTSTATUS"]


# -- an error answer is an error, never "no such file" --------------------------------------------------------


@pytest.mark.parametrize("exception", ["RuntimeException", "AccessControlException", "SafeModeException"])
def test_a_failing_status_call_is_an_error_not_a_missing_path(webhdfs_server: WebHDFSDouble, exception: str) -> None:
    """GETFILESTATUS (or a list's LISTSTATUS, asked without one first) answered with 500 or 403 must not read as
    "absent": every caller would then start over from nothing (an empty checkpoint, an empty listing, an erasure
    suppression list or audit log rewritten empty)."""
    lake = WebHDFSLake(webhdfs_server.lake_url(user="etl"))
    lake.write_atomic("_state/suppressed.json", b'{"accounts": ["k1"]}')
    for op, call in (("GETFILESTATUS", lambda: lake.exists("_state/suppressed.json")),
                     ("GETFILESTATUS", lambda: lake.is_dir("")), ("LISTSTATUS", lambda: lake.list("")),
                     ("GETFILESTATUS", lambda: lake.walk("_state"))):
        webhdfs_server.fail_next(op, exception, "injected failure")
        with pytest.raises(LakeError, match=f"{exception}: injected failure"):
            call()
    assert lake.exists("_state/suppressed.json") and not lake.exists("_state/other.json")


@pytest.mark.parametrize("exception", ["RuntimeException", "AccessControlException"])
def test_a_listed_checkpoint_or_settle_mark_whose_read_fails_is_an_error_not_none(
        webhdfs_server: WebHDFSDouble, exception: str) -> None:
    """A state file the run's listing shows is read without a GETFILESTATUS first, and one deleted since the listing
    is none. Its OPEN refused (403) or failing (500) while the file is there is that error: read as none, the source
    would walk its timeline from the start again (its settle pass from the last FEDISCOPE_SETTLE_HOURS)."""
    lake = WebHDFSLake(webhdfs_server.lake_url(user="etl"))
    save_checkpoint(lake, "mastodon.example", "tag:python", Checkpoint(newest_id="111"))
    save_pass_mark(lake, "mastodon.example", "tag:python", SETTLE_PASS, "99")
    listing = list_state(lake, "mastodon.example")
    for call in (lambda: load_checkpoint(lake, "mastodon.example", "tag:python", listing=listing),
                 lambda: load_pass_mark(lake, "mastodon.example", "tag:python", SETTLE_PASS, listing=listing)):
        webhdfs_server.fail_next("OPEN", exception, "injected failure")
        with pytest.raises(LakeError, match=f"{exception}: injected failure"):
            call()
    assert load_checkpoint(lake, "mastodon.example", "tag:python", listing=listing).newest_id == "111"
    assert load_pass_mark(lake, "mastodon.example", "tag:python", SETTLE_PASS, listing=listing) == "99"


def test_the_suppression_list_is_never_read_as_empty_when_the_namenode_fails(webhdfs_server: WebHDFSDouble) -> None:
    """Was: one 500 on GETFILESTATUS and erased accounts were collected again; an erasure at that moment wrote a
    list holding only the new account, losing all the others."""
    lake = WebHDFSLake(webhdfs_server.lake_url(user="etl"))
    add_suppressed(lake, "k-erased-before")
    webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "namenode hiccup")
    with pytest.raises(LakeError):
        load_suppressed(lake)
    webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "namenode hiccup")
    with pytest.raises(LakeError):
        add_suppressed(lake, "k-erased-now")
    assert load_suppressed(lake) == {"k-erased-before"}


def test_a_path_below_a_file_does_not_exist(webhdfs_server: WebHDFSDouble) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("blocker", b"1")
    assert not lake.exists("blocker/child") and not lake.is_dir("blocker/child")
    assert lake.list("blocker/child") == [] and lake.walk("blocker/child") == []


def test_a_datanode_dropping_a_download_is_a_lake_error(webhdfs_server: WebHDFSDouble) -> None:
    """Was: urllib3's ProtocolError (IncompleteRead) escaped from the streamed body: a traceback."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("raw/b.jsonl", b'{"n": 1}\n' * 500)
    for _ in range(1 + len(webhdfs_module.READ_RETRY_DELAYS)):  # every attempt breaks off
        webhdfs_server.fail_next_read(after_bytes=10)
    with pytest.raises(LakeError, match=r"cannot read .*\(raw/b.jsonl\): the transfer broke off") as info:
        lake.read("raw/b.jsonl")
    assert "try again" in str(info.value)
    assert lake.read("raw/b.jsonl") == b'{"n": 1}\n' * 500


def test_a_download_that_breaks_off_once_is_retried(webhdfs_server: WebHDFSDouble,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.05, 0.05))
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("raw/b.jsonl", b'{"n": 1}\n' * 500)
    webhdfs_server.fail_next_read(after_bytes=10)
    assert lake.read("raw/b.jsonl") == b'{"n": 1}\n' * 500


def test_a_retriable_namenode_answer_is_retried_but_a_failure_is_not(webhdfs_server: WebHDFSDouble,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """RetriableException (a namenode asking to be asked again) heals; a 500 RuntimeException is an error at once."""
    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.05, 0.05))
    lake = WebHDFSLake(webhdfs_server.lake_url())
    lake.write_atomic("raw/c.jsonl", b"{}\n")
    webhdfs_server.fail_next("GETFILESTATUS", "RetriableException", "try again")
    assert lake.exists("raw/c.jsonl")
    webhdfs_server.fail_next("LISTSTATUS", "RetriableException", "try again")
    assert [e.path for e in lake.list("raw")] == ["raw/c.jsonl"]
    webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "boom")  # one failure: a retry would pass
    with pytest.raises(LakeError, match="RuntimeException"):
        lake.exists("raw/c.jsonl")


def test_a_datanode_dropping_an_upload_is_not_called_unreachable(webhdfs_server: WebHDFSDouble,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The datanode was reached and broke the connection off: advice about host names would send the user astray."""
    monkeypatch.setattr(webhdfs_module, "WRITE_RETRY_DELAYS", (0.01, 0.01))
    lake = WebHDFSLake(webhdfs_server.lake_url())
    webhdfs_server.fail_next_write(after_bytes=3, times=1 + len(webhdfs_module.WRITE_RETRY_DELAYS))  # every attempt
    with pytest.raises(LakeError, match=r"connection to the datanode http://127\.0\.0\.1:\d+ broke off") as info:
        lake.write_atomic("raw/b.jsonl", b"0123456789" * 100)
    assert "resolvable" not in str(info.value) and "unreachable" not in str(info.value)
    assert lake.walk("") == []


@pytest.mark.parametrize(("reset", "cause", "how"), [(False, "RemoteDisconnected", "closed"),
                                                     (True, "ConnectionResetError", "reset")], ids=["close", "reset"])
def test_a_namenode_port_that_closes_every_connection_unanswered_may_be_another_service(
        monkeypatch: pytest.MonkeyPatch, reset: bool, cause: str, how: str) -> None:
    """Was: only "the node may have failed or restarted: try again" for a lake URL pointed at a port whose service
    takes each connection and closes it without a byte of answer (an HBase Thrift port, an RPC port, a TLS-only
    port), where trying again never helps: the message also names that cause, as for other non-WebHDFS answers.
    Also when it resets each connection (was: the hint for a close only)."""
    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.01, 0.01))
    with greeting_port(b"", reset=reset) as port:  # reads the request, answers nothing, closes or resets
        lake = WebHDFSLake(f"webhdfs://127.0.0.1:{port}/lake?user=etl")
        with pytest.raises(LakeError) as info:
            lake.exists("raw")
    message = str(info.value)
    assert f"the connection to the namenode http://127.0.0.1:{port} broke off ({cause})" in message
    assert "did not answer like a WebHDFS namenode" in message and "9870" in message, message
    assert f"it {how} each connection without answering" in message, message
    assert "\n" not in message


@pytest.mark.parametrize("client_certificates", [False, True], ids=["tls", "mutual-tls"])
def test_a_namenode_port_that_speaks_only_https_is_named_so_and_swebhdfs_said_unsupported(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, client_certificates: bool) -> None:
    """Was: a lake URL at the namenode's HTTPS port (dfs.namenode.https-address, 9871; a cluster with dfs.http.policy
    HTTPS_ONLY) said "the connection to the namenode … broke off (ConnectionResetError). The node may have failed or
    restarted: try again", where trying again never helps: the port is asked whether it speaks TLS, and the message
    says so, and that swebhdfs:// is not supported. Also a port asking for a client certificate, which refuses the
    question's handshake with an alert (was: taken for a port that speaks no TLS)."""
    from doubles.tls import TLSServer

    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.01, 0.01))
    with TLSServer(tmp_path / "tls", client_certificates=client_certificates) as server:
        lake = WebHDFSLake(f"webhdfs://127.0.0.1:{server.port}/lake?user=etl")
        with pytest.raises(LakeError) as info:
            lake.exists("raw")
    message = str(info.value)
    assert message.startswith(f"cannot check webhdfs://127.0.0.1:{server.port}/lake?user=etl (raw): the namenode "
                              f"port 127.0.0.1:{server.port} speaks HTTPS (TLS) only"), message
    assert "swebhdfs:// (WebHDFS over HTTPS) is not supported" in message and "9870" in message, message
    assert "try again" not in message and "\n" not in message, message


def test_a_namenode_port_that_answers_plain_http_with_a_tls_alert_is_named_https_unasked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A TLS-only port may answer plain HTTP with a TLS alert, which the HTTP client reads where it expected a
    status line (BadStatusLine): that answer says the port speaks TLS, so it is named so without asking it again.
    Was: the port was asked with a TLS handshake, which such a port may answer with another alert (taken for "no
    TLS": the message said "answered something that is not HTTP") or, as here, not at all (2 s lost)."""
    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.01, 0.01))
    asked: list[str] = []
    monkeypatch.setattr(webhdfs_module, "speaks_tls", lambda host, *args: asked.append(host) or False)
    alert = b"\x15\x03\x03\x00\x02\x02\x0a"  # a fatal unexpected_message alert, TLS 1.2's record version
    with greeting_port(alert, per_line=True) as port:
        lake = WebHDFSLake(f"webhdfs://127.0.0.1:{port}/lake?user=etl")
        with pytest.raises(LakeError) as info:
            lake.exists("raw")
    message = str(info.value)
    assert f"the namenode port 127.0.0.1:{port} speaks HTTPS (TLS) only" in message, message
    assert asked == []


@pytest.mark.parametrize("greeting, per_line", [
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", False),  # an SSH port
    (b"J\x00\x00\x00\n11.4.2-MariaDB\x00\x08\x00\x00\x00", False),  # a MariaDB/MySQL port's handshake
    (b"-ERR unknown command 'GET', with args beginning with: '/webhdfs/v1/lake/raw'\r\n", True),  # Redis's
], ids=["ssh", "mariadb", "redis"])
def test_a_namenode_port_that_answers_something_other_than_http_is_named_as_another_service(
        monkeypatch: pytest.MonkeyPatch, greeting: bytes, per_line: bool) -> None:
    """Was: a lake URL pointed at a port whose service greets with bytes that are not HTTP (a MariaDB, SSH or other
    service's port) said only "the connection to the namenode … broke off (BadStatusLine). The node may have failed
    or restarted: try again, or check its log", where trying again never helps: an answer that is not HTTP comes
    from another service, and the message now says so, as for a port that closes each connection unanswered.
    The port is not asked whether it speaks TLS (its answer already says it does not): that handshake waited 2 s
    at a port of a line protocol (Redis), which answers only a whole line."""
    monkeypatch.setattr(webhdfs_module, "READ_RETRY_DELAYS", (0.01, 0.01))
    asked: list[str] = []
    speaks_tls = webhdfs_module.speaks_tls
    monkeypatch.setattr(webhdfs_module, "speaks_tls", lambda host, *args: asked.append(host) or speaks_tls(host, *args))
    with greeting_port(greeting, per_line=per_line) as port:
        lake = WebHDFSLake(f"webhdfs://127.0.0.1:{port}/lake?user=etl")
        with pytest.raises(LakeError) as info:
            lake.exists("raw")
    message = str(info.value)
    assert f"namenode http://127.0.0.1:{port}" in message, message
    assert "did not answer like a WebHDFS namenode" in message and "not HTTP" in message, message
    assert "9870" in message and "may have failed or restarted" not in message, message
    assert "\n" not in message
    assert asked == []
