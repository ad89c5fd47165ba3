"""``fediscope doctor``: real local lake, real SQLite store, the WebHDFS double, real HTTP instances on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from doubles import free_port
from doubles.ports import listening_socket
from doubles.tls import TLSServer
from doubles.webhdfs_server import WebHDFSDouble
from lock_holders import lock_document

from fediscope.cli import cli
from fediscope.config import load_settings
from fediscope.doctor import (
    API_KEY_COMMAND,
    FAIL,
    METRICS_FIX,
    OK,
    WARN,
    Check,
    check_api_key,
    check_engine,
    check_instance,
    check_metrics,
    check_pseudonym_key,
    exit_code,
    run_checks,
    scrub,
)
from fediscope.engine.duckdb_engine import DuckDBEngine
from fediscope.engine.metrics import SQL_DIR, read_metric
from fediscope.errors import MetricFileError
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.local import LocalLake
from fediscope.lake.lock import lake_lock
from fediscope.lake.webhdfs import WebHDFSLake

STRONG_KEY = "pX7-2vQ_kL9mZr4TnW8sYb1c-Hd5JfA0eUo3iRy6"
STRONG_API_KEY = "Zq4_wE8rT2yU6iO0pA3sD7fG-mN1bV5cX9"


@dataclass
class FakeInstance:
    """An HTTP server answering /api/v1/instance with a recorded Mastodon response (or what a test sets)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    hits: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)  # each request's Authorization header
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def instance(recordings_dir: Path) -> Iterator[FakeInstance]:
    recording = json.loads((recordings_dir / "test_instance_v1.json").read_text())
    interaction = next(i for i in recording["interactions"] if "/api/v1/instance" in i["request"]["uri"])
    fake = FakeInstance(status=interaction["response"]["status"],
                        body=json.dumps(interaction["response"]["body"]).encode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            fake.hits.append(self.path)
            fake.authorizations.append(self.headers.get("Authorization"))
            status, body = (fake.status, fake.body) if self.path.rstrip("/") == "/api/v1/instance" else (404, b"{}")
            self.send_response(status)
            self.send_header("Content-Type", fake.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FEDISCOPE_* from the developer's shell, no fediscope.toml: each test states its configuration."""
    import os

    for name in list(os.environ):
        if name.startswith("FEDISCOPE_") or name == "JAVA_HOME":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {"FEDISCOPE_LAKE": str(tmp / "lake"), "FEDISCOPE_STORE": f"sqlite:///{tmp / 'fediscope.db'}",
           "FEDISCOPE_PSEUDONYM_KEY": STRONG_KEY, "FEDISCOPE_API_KEY": STRONG_API_KEY}
    env.update(extra)
    return env


def _doctor(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["doctor", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


# -- the command end to end ---------------------------------------------------------------------------------


def test_everything_fine_exits_zero(clean_env: Path, instance: FakeInstance) -> None:
    if importlib.util.find_spec("fediscope.store.sqlite") is None:
        pytest.skip("the SQLite store adapter is not in this checkout yet")
    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=instance.url))
    lines = output.splitlines()
    assert code == 0, output
    assert [line.split()[1] for line in lines[:-1]] == ["lake", "store", "engine", "metrics", "api_key",
                                                         "pseudonym_key", "tokens", "instance"]
    assert [line.split()[0] for line in lines[:-1]] == [OK] * 8
    assert "not created yet; the location is writable (a probe file was written there" in lines[0]  # no lake yet
    assert "not created yet; `fediscope process` creates it" in lines[1]
    assert not (clean_env / "fediscope.db").exists() and not list(clean_env.rglob("*.db"))  # doctor creates none
    assert "duckdb" in lines[2]
    assert lines[3].endswith(f" {len(list(SQL_DIR.glob('*.sql')))} metric(s) in {SQL_DIR}")
    assert "0 of 1 configured instance(s) have a token" in lines[6]
    assert "version 4.6.4" in lines[7]  # the recorded server's version
    assert lines[-1] == "doctor: 8 OK, 0 WARN, 0 FAIL"
    assert instance.hits == ["/api/v1/instance"]
    assert not (clean_env / "lake" / "_doctor").exists()  # the probe leaves nothing behind


def test_json_output_and_failures_exit_one(clean_env: Path) -> None:
    port = free_port()
    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=f"http://127.0.0.1:{port}"), "--json")
    report = json.loads(output)
    assert code == 1
    assert report["ok"] is False
    checks = _by_name([Check(**c) for c in report["checks"]])
    unreachable = checks[f"instance 127.0.0.1:{port}"]
    assert unreachable.status == FAIL and "connection refused" in unreachable.detail and unreachable.fix
    assert report["counts"][FAIL] >= 1


def test_secrets_are_never_printed(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_password = "db-Pa55word-0123456789"
    token = "tok-abcdefghijklmnopqrstuvwxyz"
    env = _env(clean_env, FEDISCOPE_STORE=f"mysql+pymysql://fediscope:{db_password}@127.0.0.1:{free_port()}/db",
               FEDISCOPE_API_KEY=f"{STRONG_API_KEY},qZ7x:ro", FEDISCOPE_TOKEN_MASTODON_EXAMPLE=token,
               FEDISCOPE_INSTANCES=f"http://127.0.0.1:{free_port()}")
    for args in ((), ("--json",)):
        _code, output = _doctor(env, *args)
        for secret in (db_password, token, STRONG_API_KEY, STRONG_KEY, "qZ7x"):
            assert secret not in output, f"{secret!r} leaked with doctor {' '.join(args)}"
    assert "fediscope:***@127.0.0.1" in output


class _QuietStore:
    def stored_metrics(self) -> dict[str, int]:
        return {"top_tags": 3}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("behaviour", ["works", "quotes its url in an error"])
def test_store_passwords_are_masked(clean_env: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str) -> None:
    """Drivers like to quote their connection string in errors; doctor masks it either way."""
    password = "Very-Secret-Password-42"
    url = f"mysql+pymysql://fediscope:{password}@db.example:3306/fediscope"

    def fake_open_store(store_url: str, **_options: object) -> _QuietStore:
        if behaviour == "works":
            return _QuietStore()
        raise RuntimeError(f"cannot connect to {store_url}: connection refused")

    monkeypatch.setattr("fediscope.store.port.open_store", fake_open_store)
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_STORE=url))))["store"]
    assert check.status == (OK if behaviour == "works" else FAIL)
    assert password not in check.detail + check.fix
    assert "fediscope:***@db.example" in check.detail


def test_the_store_line_with_a_password_in_the_query_is_redacted_once_and_named_once(clean_env: Path) -> None:
    """Was: ``FAIL  store          store mysql+pymysql://fediscope@…/db?password=*** could not connect …``: the
    store's own error names the store, which the name column does already; and doctor redacted that message, whose
    URL the store had masked, a second time, the query parameter's pattern then taking the ``:`` after ``***`` for
    the password's value. A real PyMySQL connection refused on a free port of 127.0.0.1."""
    port = free_port()
    url = f"mysql+pymysql://fediscope@127.0.0.1:{port}/db?password=Qp-Secret-77"
    code, output = _doctor(_env(clean_env, FEDISCOPE_STORE=url))
    assert code == 1
    store = next(line for line in output.splitlines() if line.startswith("FAIL  store "))
    assert store == (
        f"FAIL  store          mysql+pymysql://fediscope@127.0.0.1:{port}/db?password=***: could not connect to the "
        f"store: (2003, \"Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)\") -> fix: "
        "check host, port, user and password in FEDISCOPE_STORE, and that the database exists "
        "(infra/mariadb/bootstrap.py of fediscope's source repository creates it and a least-privilege user)")
    assert "Qp-Secret-77" not in output


def test_scrub_masks_a_shown_url_only_of_known_secrets() -> None:
    """The URLs doctor shows are masked by redact_url already; scrub masks the known secrets in them, and redacts
    the text around them as ever (a password there, even one that starts with ``***``, is masked)."""
    shown = "mysql+pymysql://u@db/x?password=***"
    detail = f"{shown}: refused for KnownSecret-123456; retry with password=***pw and {shown.replace('u@', 'me@')}"
    assert scrub([Check("store", FAIL, detail)], ["KnownSecret-123456"], [shown])[0].detail == (
        f"{shown}: refused for ***; retry with password=*** and mysql+pymysql://me@db/x?password=***")
    holding = "mysql+pymysql://KnownSecret-123456@db/x"  # a known secret in a shown URL is masked all the same
    assert scrub([Check("store", FAIL, f"{holding}: at KnownSecret-123456")], ["KnownSecret-123456"],
                 [holding])[0].detail == "mysql+pymysql://***@db/x: at ***"


def test_bad_configuration_is_one_line_not_a_traceback(clean_env: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor"], env={"FEDISCOPE_ENGINE": "hadoop"})
    assert result.exit_code != 0
    assert "Traceback" not in result.output


# -- lake ---------------------------------------------------------------------------------------------------


def test_lake_over_webhdfs(clean_env: Path, webhdfs_server: WebHDFSDouble) -> None:
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=webhdfs_server.lake_url(user="etl")))
    lake = _by_name(run_checks(settings))["lake"]
    assert lake.status == OK and webhdfs_server.lake_url(user="etl") in lake.detail
    ops = [op for _server, _method, op, _path, _user in webhdfs_server.requests]
    assert ops[:2] == ["GETFILESTATUS", "GETFILESTATUS"]  # the lake's root: not a directory, not there either
    assert ops[2:5] == ["CREATE", "CREATE", "RENAME"] and "OPEN" in ops and "DELETE" in ops
    assert list(webhdfs_server.local("/lake").iterdir()) == []


@pytest.mark.parametrize("base", ["", "/", "/lake/.."])
def test_a_lake_at_the_hdfs_root_warns_that_it_shares_the_file_systems_top_level(clean_env: Path,
                                                                                 webhdfs_server: WebHDFSDouble,
                                                                                 base: str) -> None:
    """Was: OK, the probe written at /_doctor: a URL with no directory puts the lake's raw/, curated/, … beside every
    other top-level directory of a shared HDFS. A warning (a cluster of its own may hold the lake there), its fix the
    same URL with a directory, naming where it was set; the probe still leaves nothing behind."""
    url = webhdfs_server.lake_url(base=base, user="etl")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=url))
    lake = _by_name(run_checks(settings))["lake"]
    assert lake.status == WARN, lake
    assert "wrote, read and deleted a probe file" in lake.detail
    assert "the lake is the root directory of the HDFS file system (the URL names no directory)" in lake.detail
    assert lake.fix == (f"give the lake a directory of its own, e.g. webhdfs://{webhdfs_server.namenode_address}"
                        "/fediscope/lake?user=etl (FEDISCOPE_LAKE)")
    assert list(webhdfs_server.local("/").iterdir()) == []


def test_the_directory_above_a_webhdfs_lake_warns_naming_the_lake_below_it(clean_env: Path,
                                                                           webhdfs_server: WebHDFSDouble) -> None:
    """Was: OK, while `gdpr erase`, `export`, `retention` and `store drop` refuse it (it holds no raw/, curated/, …).
    The lake found below it is named as a URL, before the URL's query (its ?user=)."""
    WebHDFSLake(webhdfs_server.lake_url(base="/data/lake", user="etl")).write_atomic("raw/x.jsonl", b"{}\n")
    WebHDFSLake(webhdfs_server.lake_url(base="/data/other", user="etl")).write_atomic("notes.txt", b"mine")
    above = webhdfs_server.lake_url(base="/data", user="etl")
    lake = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_LAKE=above))))["lake"]
    assert lake.status == WARN, lake
    assert lake.detail.startswith(f"{above}: wrote, read and deleted a probe file") and lake.detail.endswith(
        "but it is no lake: it holds none of a lake's directories (raw/, curated/, quarantine/, _state/, _audit/), "
        "so `fediscope gdpr erase`, `gdpr export`, `gdpr retention` and `store drop` refuse it and `process` finds no "
        "data in it"), lake.detail
    assert lake.fix == (f"point FEDISCOPE_LAKE at the lake in it: webhdfs://{webhdfs_server.namenode_address}"
                        "/data/lake?user=etl")
    assert sorted(p.name for p in webhdfs_server.local("/data").iterdir()) == ["lake", "other"]


def test_a_directory_the_look_for_a_lake_below_cannot_list_leaves_the_no_lake_warning(
        clean_env: Path, webhdfs_server: WebHDFSDouble) -> None:
    """Was: FAIL `cannot list …: Permission denied` (the lake check's own error, with the lake's fix), when one of the
    directories below a directory that is no lake could not be listed (another user's home under /user, a 0700
    directory under /tmp): looking for a lake below it is for the hint alone, so it passes over that directory."""
    WebHDFSLake(webhdfs_server.lake_url(base="/data/lake", user="etl")).write_atomic("raw/x.jsonl", b"{}\n")
    WebHDFSLake(webhdfs_server.lake_url(base="/data/private", user="etl")).write_atomic("notes.txt", b"theirs")
    webhdfs_server.fail_next("LISTSTATUS", "AccessControlException", "Permission denied: user=etl, access=READ_EXECUTE,"
                             " inode=\"/data/private\":bob:supergroup:drwx------", path="/data/private")
    above = webhdfs_server.lake_url(base="/data", user="etl")
    lake = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_LAKE=above))))["lake"]
    assert lake.status == WARN, lake
    assert "but it is no lake: it holds none of a lake's directories" in lake.detail, lake.detail
    assert lake.fix == (f"point FEDISCOPE_LAKE at the lake in it: webhdfs://{webhdfs_server.namenode_address}"
                        "/data/lake?user=etl")
    assert any(op == "LISTSTATUS" and path == "/data/private" for _node, _method, op, path, _user
               in webhdfs_server.requests)  # it was asked, and refused


def test_lake_over_webhdfs_without_a_user_names_the_one_it_acts_as(clean_env: Path, webhdfs_server: WebHDFSDouble,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No ?user= in the URL: WebHDFS acts as the local login name, which differs between machines (an Airflow
    worker, a NiFi host): the OK line says which user the probe wrote as, and where that came from."""
    monkeypatch.setattr("getpass.getuser", lambda: "airflow")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=webhdfs_server.lake_url()))
    lake = _by_name(run_checks(settings))["lake"]
    assert lake.status == OK
    assert "as HDFS user airflow, the local login name (no ?user= in FEDISCOPE_LAKE)" in lake.detail
    assert {user for *_rest, user in webhdfs_server.requests} == {"airflow"}


def test_lake_with_unreachable_datanode(clean_env: Path, webhdfs_server: WebHDFSDouble) -> None:
    webhdfs_server.datanode_address = f"127.0.0.1:{free_port()}"
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=webhdfs_server.lake_url()))
    lake = _by_name(run_checks(settings))["lake"]
    assert lake.status == FAIL
    assert "datanode" in lake.detail and "unreachable" in lake.detail
    assert "webhdfs://namenode:9870" in lake.fix


def test_lake_without_permission(clean_env: Path, webhdfs_server: WebHDFSDouble) -> None:
    webhdfs_server.deny_users.add("guest")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=webhdfs_server.lake_url(user="guest")))
    lake = _by_name(run_checks(settings))["lake"]
    assert lake.status == FAIL and "AccessControlException" in lake.detail and "guest" in lake.detail


def test_a_failed_lake_is_not_read_again_for_the_key_check(clean_env: Path, webhdfs_server: WebHDFSDouble) -> None:
    """Was: after the lake line FAILed, the pseudonym_key check still read the lake's key check (and its root, to
    tell an unreadable lake): against a namenode that takes connections and never answers, two more waits of the
    request timeout (doctor took 2.5 minutes instead of 1.5). The lake line says what is wrong with the lake."""
    webhdfs_server.deny_users.add("guest")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=webhdfs_server.lake_url(user="guest")))
    checks = _by_name(run_checks(settings))
    assert checks["lake"].status == FAIL and checks["pseudonym_key"].status == OK
    assert [path for _server, _method, _op, path, _user in webhdfs_server.requests
            if "_doctor" not in path] == ["/lake"] * 2  # the lake check's alone: what the root is, then the probe


@pytest.mark.parametrize("set_in", ["environment", "file"])
def test_a_local_lake_path_that_is_a_file_is_refused_as_every_command_refuses_it(clean_env: Path,
                                                                                 set_in: str) -> None:
    """Was: the probe's write error (``cannot write …/_doctor/probe-….txt: Not a directory``) with the fix "set
    FEDISCOPE_LAKE to a directory this user can write", while `process`, `report`, `gdpr …` say the lake path is not
    a directory and to point the setting at the lake's directory: doctor says the same, naming where it was set."""
    lake = clean_env / "a-file"
    lake.write_text("not a directory")
    env = _env(clean_env)
    if set_in == "file":
        del env["FEDISCOPE_LAKE"]
        (clean_env / "fediscope.toml").write_text(f'[fediscope]\nlake = "{lake}"\n')
    else:
        env["FEDISCOPE_LAKE"] = str(lake)
    named = {"environment": "FEDISCOPE_LAKE", "file": "fediscope.toml: [fediscope] lake"}[set_in]
    code, output = _doctor(env)
    assert code == 1
    [line] = [line for line in output.splitlines() if line.startswith("FAIL  lake")]
    assert line.endswith(f"the lake path {lake} is not a directory -> fix: point {named} at the lake's directory")
    refused = CliRunner().invoke(cli, ["process"], env=env)  # another command's words, the same
    assert refused.exit_code != 0
    assert f"the lake path {lake} is not a directory; point {named} at the lake's directory" in str(refused.exception)
    assert lake.read_text() == "not a directory"


def test_a_webhdfs_lake_path_that_is_a_file_is_refused_as_every_command_refuses_it(
        clean_env: Path, webhdfs_server: WebHDFSDouble) -> None:
    """Was: ``cannot write …: ParentNotDirectoryException: /lake (is not a directory)`` with the fix about the
    namenode address, the datanodes and the path's owner, none of which is wrong. No probe is written either."""
    webhdfs_server.local("/lake").write_text("not a directory")
    url = webhdfs_server.lake_url(user="etl")
    lake = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_LAKE=url))))["lake"]
    assert (lake.status, lake.detail, lake.fix) == (
        FAIL, f"the lake path {url} is not a directory", "point FEDISCOPE_LAKE at the lake's directory")
    assert {op for _server, _method, op, _path, _user in webhdfs_server.requests} == {"GETFILESTATUS"}


# -- the lake lock ------------------------------------------------------------------------------------------

LOCK = "_state/process.lock"


def _lake_with_lock(clean_env: Path, webhdfs_server: WebHDFSDouble | None, document: bytes) -> tuple[str, str]:
    """A lake (local, or on the WebHDFS double) holding a raw batch and the lock file ``document``: its URL, and
    where messages name the lock file."""
    lake: LakeBackend = (LocalLake(clean_env / "lake") if webhdfs_server is None
                         else WebHDFSLake(webhdfs_server.lake_url(user="etl")))
    lake.write_atomic("raw/x.jsonl", b"{}\n")
    lake.write_atomic(LOCK, document)
    return lake.url, lake.local_path(LOCK) or f"{lake.url} ({LOCK})"


@pytest.fixture(params=["local", "webhdfs"])
def lake_server(request: pytest.FixtureRequest) -> WebHDFSDouble | None:
    """None for a local lake, else the WebHDFS double the lake is on."""
    return request.getfixturevalue("webhdfs_server") if request.param == "webhdfs" else None


def test_a_lock_of_another_host_warns_naming_its_holder_its_age_and_unlock(clean_env: Path,
                                                                         lake_server: WebHDFSDouble | None) -> None:
    """Was: OK, while every `process` and `retention` failed on a lock a run of another host left 5 days ago (such a
    lock is never taken over; the maintenance DAG's retention retried it for 4 hours a day)."""
    started = (datetime.now(UTC) - timedelta(days=5, hours=2, minutes=1)).isoformat(timespec="seconds")
    url, where = _lake_with_lock(clean_env, lake_server, lock_document(4242, host="worker-7.example",
                                                                       started_at=started))
    code, output = _doctor(_env(clean_env, FEDISCOPE_LAKE=url))
    line = next(line for line in output.splitlines() if line.split()[1:2] == ["lake_lock"])
    assert line.startswith("WARN  lake_lock      ") and code == 0  # a warning: another worker's batch holds it so
    assert (f"{where}: held by fediscope process (pid 4242 on host worker-7.example, since {started}), for 5 d 2 h; "
            f"this host ({socket.gethostname()}) cannot tell whether pid 4242 still runs on worker-7.example") in line
    assert "`fediscope process`, `gdpr erase`, `gdpr export` and `gdpr retention` on this lake fail at once" in line
    assert line.endswith("-> fix: if pid 4242 no longer runs on worker-7.example, run `fediscope lake unlock` (it "
                         "shows the lock and removes it); if it still runs, wait for it to finish")


def test_a_lock_of_a_dead_process_of_this_host_is_ok_the_next_run_takes_it_over(clean_env: Path,
                                                                                lake_server: WebHDFSDouble | None,
                                                                                dead_pid: int) -> None:
    url, where = _lake_with_lock(clean_env, lake_server, lock_document(dead_pid))
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_LAKE=url))))["lake_lock"]
    assert (check.status, check.detail) == (
        OK, f"{where}: left by fediscope process (pid {dead_pid} on host {socket.gethostname()}, since "
            f"2026-11-23T19:05:01Z), which no longer runs on this host ({socket.gethostname()}): the next run takes "
            "it over")


def test_a_lock_of_a_running_process_of_this_host_is_ok_naming_it(clean_env: Path, lake_server: WebHDFSDouble | None,
                                                                   live_pid: int) -> None:
    """A run under way (a `sleep` of this host, and then this very process holding the lock) is no warning: it ends
    and releases the lock; the line says what holds it and what fails meanwhile."""
    url, where = _lake_with_lock(clean_env, lake_server, lock_document(live_pid, command="fediscope gdpr retention"))
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=url))
    check = _by_name(run_checks(settings))["lake_lock"]
    assert check.status == OK
    assert check.detail.startswith(f"{where}: held by a running fediscope gdpr retention (pid {live_pid} on host "
                                   f"{socket.gethostname()}, since 2026-11-23T19:05:01Z), for ")
    assert check.detail.endswith(", on this host: until it ends `fediscope process`, `gdpr erase`, `gdpr export` and "
                                 "`gdpr retention` on this lake fail at once")
    lake = open_lake(url)
    lake.delete(LOCK)
    with lake_lock(lake, command="fediscope process"):
        check = _by_name(run_checks(settings))["lake_lock"]
    assert check.status == OK
    assert f"held by a running fediscope process (pid {os.getpid()} on host {socket.gethostname()}" in check.detail


def test_a_lock_file_naming_no_process_warns(clean_env: Path, lake_server: WebHDFSDouble | None) -> None:
    url, where = _lake_with_lock(clean_env, lake_server, b"not json")
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_LAKE=url))))["lake_lock"]
    assert (check.status, check.detail, check.fix) == (
        WARN, f"{where}: held by a run whose lock file is not readable JSON (no details recorded); the lock file does "
              "not say which process holds it, so no run takes it over: until it is removed, `fediscope process`, "
              "`gdpr erase`, `gdpr export` and `gdpr retention` on this lake fail at once",
        "if no fediscope run is using this lake, run `fediscope lake unlock` (it shows the lock and removes it); else "
        "wait for that run to finish")


def test_a_job_of_another_host_under_a_dead_holders_lock_warns(clean_env: Path, dead_pid: int) -> None:
    """The batch DAG's task died on this host; the spark-submit job it started records itself from another host:
    the lock is not taken over while that job may run (lake_lock's rule), so doctor warns, naming the job."""
    url, where = _lake_with_lock(clean_env, None, lock_document(dead_pid, command="fediscope batch",
                                                                  token="handed-down"))
    LocalLake(clean_env / "lake").write_atomic(LOCK + ".job-0123", lock_document(
        77, host="worker-7.example", command="spark_jobs/curate.py", token="handed-down"))
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_LAKE=url))))["lake_lock"]
    assert check.status == WARN
    assert "; running under it: spark_jobs/curate.py (pid 77 on host worker-7.example, since " in check.detail
    assert "its holder has ended, but this host" in check.detail and "`fediscope lake unlock`" in check.fix


def test_local_lake_that_cannot_be_written(clean_env: Path) -> None:
    (clean_env / "a-file").write_text("not a directory")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_LAKE=str(clean_env / "a-file" / "lake")))
    lake = _by_name(run_checks(settings))["lake"]
    assert lake.status == FAIL and "FEDISCOPE_LAKE" in lake.fix


def test_a_lake_and_store_set_nowhere_are_named_by_their_variable_and_config_key(clean_env: Path) -> None:
    """Was: the fix of the default lake or store named the variable alone ("set FEDISCOPE_LAKE to …"), which a user
    who configures fediscope in fediscope.toml does not set; the other advice names both places
    (:meth:`~fediscope.config.Settings.origin` with ``advice``), and a file's key where the value came from it."""
    (clean_env / "lake").write_text("not a directory")  # the default ./lake cannot be made
    (clean_env / "fediscope.db").mkdir()  # nor can the default store be opened
    env = {k: v for k, v in _env(clean_env).items() if k not in {"FEDISCOPE_LAKE", "FEDISCOPE_STORE"}}
    checks = _by_name(run_checks(load_settings(env=env)))
    assert checks["lake"].status == FAIL and checks["lake"].fix == (
        "point FEDISCOPE_LAKE (or [fediscope] lake in fediscope.toml) at the lake's directory"), checks
    assert checks["store"].status == FAIL
    assert "FEDISCOPE_STORE (or [fediscope] store in fediscope.toml)" in checks["store"].fix, checks["store"]

    (clean_env / "afile").write_text("not a directory")
    toml = clean_env / "fediscope.toml"
    toml.write_text('[fediscope]\nstore = "sqlite:///afile/x.db"\n')
    store = _by_name(run_checks(load_settings(env=env)))["store"]
    assert (store.status, store.fix) == (FAIL, f"point {toml.name}: [fediscope] store at a path below a directory")


# -- store --------------------------------------------------------------------------------------------------


def test_a_missing_sqlite_store_is_checked_to_be_creatable_not_created(clean_env: Path) -> None:
    blocker = clean_env / "afile"
    blocker.write_text("not a directory")
    cases = {f"sqlite:///{clean_env / 'new' / 'dir' / 'x.db'}": (OK, "not created yet"),
             f"sqlite:///{blocker / 'x.db'}": (FAIL, "is a file, not a directory"),
             "sqlite:///:memory:": (FAIL, "in-memory SQLite")}
    for url, (status, said) in cases.items():
        check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_STORE=url))))["store"]
        assert check.status == status and said in check.detail, (url, check)
    assert not (clean_env / "new").exists()


def test_a_store_that_cannot_be_created_names_where_it_was_set(clean_env: Path) -> None:
    """Was: the fix said "point FEDISCOPE_STORE at …" for a store set in fediscope.toml too (the lake's fix named the
    file's key), so a user who sets nothing in the environment was sent to a variable."""
    (clean_env / "afile").write_text("not a directory")
    (clean_env / "fediscope.toml").write_text(f'[fediscope]\nstore = "sqlite:///{clean_env / "afile" / "x.db"}"\n')
    env = {name: value for name, value in _env(clean_env).items() if name != "FEDISCOPE_STORE"}
    check = _by_name(run_checks(load_settings(env=env)))["store"]
    assert check.status == FAIL and "is a file, not a directory" in check.detail, check
    assert check.fix == "point fediscope.toml: [fediscope] store at a path below a directory", check
    from_variable = _by_name(run_checks(load_settings(env={**env, "FEDISCOPE_STORE": "sqlite:///afile/y.db"})))
    assert from_variable["store"].fix == "point FEDISCOPE_STORE at a path below a directory", from_variable["store"]


def test_a_relative_store_not_created_where_the_absolute_one_exists_is_a_warning(clean_env: Path) -> None:
    """Was: OK, "not created yet" for ``sqlite:///<dir>/x.db`` (relative to the current directory) where
    ``/<dir>/x.db`` exists, the four slashes missed; ``fediscope report`` gave the hint, doctor did not."""
    existing = clean_env / "kept" / "x.db"
    existing.parent.mkdir()
    existing.write_bytes(b"")
    relative = str(existing).lstrip("/")
    (clean_env / "fediscope.toml").write_text(f'[fediscope]\nstore = "sqlite:///{relative}"\n')
    env = {name: value for name, value in _env(clean_env).items() if name != "FEDISCOPE_STORE"}
    check = _by_name(run_checks(load_settings(env=env)))["store"]
    assert check.status == WARN and "not created yet" in check.detail, check
    assert f"but {existing} exists: an absolute path takes four slashes, sqlite:///{existing}" in check.detail, check
    assert check.fix == f"set fediscope.toml: [fediscope] store to sqlite:///{existing} if that was meant", check
    assert not (clean_env / relative).exists()  # doctor creates nothing
    _code, output = _doctor(env)
    store_line = next(line for line in output.splitlines() if line.split()[1:2] == ["store"])
    assert store_line.startswith(WARN) and "four slashes" in store_line, output


def test_the_store_check_writes_nothing_into_an_existing_store(clean_env: Path) -> None:
    import sqlite3

    db = clean_env / "other.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE unrelated (x INTEGER)")
    con.close()
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_STORE=f"sqlite:///{db}"))))["store"]
    assert check.status == OK and "0 metric(s) stored" in check.detail
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        journal = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.close()
    assert tables == ["unrelated"] and journal == "delete"  # no catalog created, not switched to WAL


def test_sqlite_store_reports_its_metrics(clean_env: Path) -> None:
    if importlib.util.find_spec("fediscope.store.sqlite") is None:
        pytest.skip("the SQLite store adapter is not in this checkout yet")
    from fediscope.engine.metrics import Metric
    from fediscope.store.port import open_store

    url = f"sqlite:///{clean_env / 'm.db'}"
    store = open_store(url)
    store.write(Metric("top_tags", "Which tags?", ("tag",), "", "uses"), [{"tag": "python", "uses": 2}])
    store.close()
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_STORE=url))))["store"]
    assert check.status == OK and "1 metric(s) stored" in check.detail


# -- curation rules -------------------------------------------------------------------------------------------


@pytest.fixture
def curated_lake(clean_env: Path, recordings_dir: Path) -> dict[str, str]:
    """A lake landed from a recorded public timeline and processed by `fediscope process`: the env to run in."""
    from fediscope.lake.backend import open_lake
    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope
    from fediscope.privacy import PrivacyPolicy

    policy = PrivacyPolicy(key=STRONG_KEY.encode())
    records = [envelope("localhost:3000", "/api/v1/timelines/public", landed)
               for interaction in json.loads((recordings_dir / "test_public_tl.json").read_text())["interactions"]
               if interaction["response"]["status"] == 200 and isinstance(interaction["response"]["body"], list)
               for status in interaction["response"]["body"]
               if (landed := policy.status(status, "localhost:3000")) is not None]
    assert records
    write_batch(open_lake(str(clean_env / "lake")), "statuses", "localhost:3000", records)
    env = _env(clean_env)
    result = CliRunner().invoke(cli, ["process"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return env


def _set_manifest_rules(lake: Path, rules: str | None) -> None:
    """What an older fediscope's curation left: its rules in the manifest (None: none, as before they were recorded)."""
    from fediscope.engine.manifest import MANIFEST_PATH

    path = lake / MANIFEST_PATH
    body = json.loads(path.read_text())
    body.pop("rules", None)
    if rules is not None:
        body["rules"] = rules
    path.write_text(json.dumps(body))


def test_curated_tables_of_this_fediscopes_rules_are_ok(curated_lake: dict[str, str]) -> None:
    from fediscope.engine.curate_sql import rules_fingerprint

    code, output = _doctor(curated_lake)
    line = next(line for line in output.splitlines() if line.split()[1] == "curation")
    assert line.startswith(OK) and rules_fingerprint() in line and "--recurate" not in line
    assert [line.split()[1] for line in output.splitlines()[:3]] == ["lake", "curation", "store"]


@pytest.mark.parametrize("recorded", ["0123456789abcdef", None], ids=["other-rules", "rules-not-recorded"])
def test_curated_tables_of_older_rules_warn_with_the_recurate_fix(clean_env: Path, curated_lake: dict[str, str],
                                                                   recorded: str | None) -> None:
    """Was: doctor said nothing; only `fediscope process` warned that the curated tables were made by other curation
    rules (an upgrade), so a deployment checked with doctor after an upgrade looked fine."""
    _set_manifest_rules(clean_env / "lake", recorded)
    code, output = _doctor(curated_lake, "--json")
    check = _by_name([Check(**c) for c in json.loads(output)["checks"]])["curation"]
    assert code == 0 and check.status == WARN, check  # a warning: process goes on incrementally
    assert "made by other curation rules" in check.detail
    assert (recorded or "rules not recorded (an older fediscope)") in check.detail
    assert check.fix.startswith("`fediscope process --recurate` rebuilds every curated table")
    code, text = _doctor(curated_lake)
    assert "WARN  curation" in text and "-> fix: `fediscope process --recurate`" in text


def test_an_unreadable_curated_manifest_fails_and_nothing_curated_says_nothing(clean_env: Path,
                                                                               curated_lake: dict[str, str]) -> None:
    from fediscope.engine.manifest import MANIFEST_PATH

    (clean_env / "lake" / MANIFEST_PATH).write_text("{not json")
    code, output = _doctor(curated_lake)
    line = next(line for line in output.splitlines() if line.split()[1] == "curation")
    assert code == 1 and line.startswith(FAIL) and "curated_manifest.json is corrupt" in line, output
    (clean_env / "lake" / MANIFEST_PATH).unlink()
    code, output = _doctor(curated_lake)
    assert "curation" not in [line.split()[1] for line in output.splitlines()[:-1]]


def test_store_adapter_missing(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fediscope.store.sqlite", None)  # importing it now raises ImportError
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["store"]
    assert check.status == FAIL and "cannot be loaded" in check.detail and "requirements.txt" in check.fix


def test_unreachable_mysql_store(clean_env: Path) -> None:
    url = f"mysql+pymysql://fediscope:pw-0123456789abcdef@127.0.0.1:{free_port()}/fediscope"
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_STORE=url))))["store"]
    assert check.status == FAIL
    assert "pw-0123456789abcdef" not in check.detail and "bootstrap.py" in check.fix


def test_the_mysql_hint_reads_in_doctor_as_in_every_other_command(clean_env: Path) -> None:
    """doctor scrubs its lines with redact_text, which masked the form's password: it printed
    `use mysql+pymysql://user:***@host:3306/<database>` where other commands print the form itself."""
    from fediscope.errors import ConfigError
    from fediscope.store.port import MYSQL_FORM

    url = "mysql+pymysql://u:Real-Secret-4711@h"
    with pytest.raises(ConfigError) as info:  # every command: the settings refuse it
        load_settings(env=_env(clean_env, FEDISCOPE_STORE=url))
    assert f"names no database; use {MYSQL_FORM}." in str(info.value)
    settings = load_settings(env=_env(clean_env), store=url)  # from code: taken as given, so the store refuses it
    check = _by_name(run_checks(settings))["store"]
    assert check.status == FAIL and f"names no database; use {MYSQL_FORM}" in check.detail
    assert "Real-Secret-4711" not in check.detail + check.fix and "u:***@h" in check.detail


# -- metrics ------------------------------------------------------------------------------------------------


@pytest.fixture
def metrics_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The metric files' directory, a copy of the shipped one that a test adds its own files to."""
    directory = tmp_path / "sql"
    directory.mkdir()
    for path in SQL_DIR.glob("*.sql"):
        (directory / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr("fediscope.engine.metrics.SQL_DIR", directory)
    return directory


def test_a_users_own_metric_file_is_counted(clean_env: Path, metrics_dir: Path) -> None:
    shipped = len(list(metrics_dir.glob("*.sql")))
    (metrics_dir / "my_metric.sql").write_text("-- question: How many?\n-- key: n\nSELECT 1 AS n;\n")
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["metrics"]
    assert check == Check("metrics", OK, f"{shipped + 1} metric(s) in {metrics_dir}")


def test_a_broken_metric_file_fails_naming_the_file_in_text_and_json(clean_env: Path, metrics_dir: Path) -> None:
    """Was: doctor said nothing about the metric files; `process` and `serve-api` then refused to start."""
    broken = metrics_dir / "twice.sql"
    broken.write_text("-- question: How many?\n-- key: n\nSELECT 1 AS n; SELECT 2 AS n\n")
    detail = f"metric twice ({broken}): holds 2 SQL statements; a metric file holds one SELECT"
    code, output = _doctor(_env(clean_env))
    assert code == 1, output
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    assert line.startswith(f"FAIL  metrics        {detail}") and "-> fix: fix the file as the error says" in line
    assert "OK    store" in output and "OK    engine" in output  # the other checks still ran
    code, output = _doctor(_env(clean_env), "--json")
    report = json.loads(output)
    assert code == 1 and report["ok"] is False and report["counts"][FAIL] == 1
    check = _by_name([Check(**c) for c in report["checks"]])["metrics"]
    assert check.status == FAIL and check.detail.startswith(detail) and "`process` and `serve-api`" in check.fix


def test_every_broken_metric_file_is_named_one_per_line(clean_env: Path, metrics_dir: Path) -> None:
    """Was: the FAIL named the first broken file only, so a user fixed them one doctor run at a time."""
    twice, no_key = metrics_dir / "twice.sql", metrics_dir / "a_no_key.sql"
    twice.write_text("-- question: How many?\n-- key: n\nSELECT 1 AS n; SELECT 2 AS n\n")
    no_key.write_text("-- question: Which?\nSELECT 1 AS n\n")
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["metrics"]
    total = len(list(metrics_dir.glob("*.sql")))
    assert check.status == FAIL and check.detail.splitlines() == [
        f"2 of {total} metric files are broken:",
        f"metric a_no_key ({no_key}): missing '-- key: …' header line (the file starts with '-- question: …' and "
        "'-- key: column[, column…]' lines, then one SELECT)",
        f"metric twice ({twice}): holds 2 SQL statements; a metric file holds one SELECT (after its '-- ' header "
        "lines)"], check.detail
    assert "`process` and `serve-api` refuse to start" in check.fix


def test_a_metric_file_ending_in_capitals_warns(clean_env: Path, metrics_dir: Path) -> None:
    (metrics_dir / "per_day.SQL").write_text("-- question: How many?\n-- key: n\nSELECT 1 AS n\n")
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["metrics"]
    assert check.status == WARN and "not read: per_day.SQL (metric files end in '.sql'" in check.detail, check
    assert "rename the file" in check.fix


def test_a_file_not_read_is_named_also_when_another_metric_file_is_broken(clean_env: Path, metrics_dir: Path) -> None:
    """Was: the WARN about ``per_day.SQL`` was left out of the FAIL about a broken file, so it appeared only once
    that file was fixed: both are said in one run, with both fixes."""
    (metrics_dir / "per_day.SQL").write_text("-- question: How many?\n-- key: n\nSELECT 1 AS n\n")
    broken = metrics_dir / "twice.sql"
    broken.write_text("-- question: How many?\n-- key: n\nSELECT 1 AS n; SELECT 2 AS n\n")
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["metrics"]
    assert check.status == FAIL and check.detail.splitlines() == [
        f"metric twice ({broken}): holds 2 SQL statements; a metric file holds one SELECT (after its '-- ' header "
        "lines)", "not read: per_day.SQL (metric files end in '.sql', lower case)"], check.detail
    assert "fix the file as the error says" in check.fix and "rename a file not read to end in '.sql'" in check.fix
    (metrics_dir / "a_no_key.sql").write_text("-- question: Which?\nSELECT 1 AS n\n")
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["metrics"]
    lines = check.detail.splitlines()
    assert check.status == FAIL and lines[0].startswith("2 of ") and len(lines) == 4, check.detail
    assert lines[-1] == "not read: per_day.SQL (metric files end in '.sql', lower case)"


def _columns_metric(directory: Path, count: int, value: str = "{i}") -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "wide.sql"
    columns = ", ".join(f"{value.format(i=i)} AS c{i}" for i in range(1, count))
    path.write_text(f"-- question: How wide?\n-- key: k\nSELECT 'a' AS k, {columns}\n")
    return path


@pytest.mark.parametrize(("store", "count", "limit"), [
    ("sqlite:///{tmp}/fediscope.db", 2001, "2,000 a SQLite"),
    ("sqlite:///{tmp}/fediscope.db", 2000, None),
    ("mysql+pymysql://u@127.0.0.1:1/db", 1018, "1,017 a MariaDB"),
    ("mariadb+pymysql://u@127.0.0.1:1/db", 1017, None),
    ("hbase://127.0.0.1:1", 2100, None),
])
def test_a_result_wider_than_the_stores_table_fails(clean_env: Path, store: str, count: int,
                                                      limit: str | None) -> None:
    """Was: doctor said OK, and `process` stopped at SQLite's CREATE TABLE (``too many columns``, exit 1) after
    computing every metric. The limit is the configured store's (HBase has none). The columns are booleans: 1,016
    numbers (8 bytes each) are over InnoDB's row-size limit (the test after this one)."""
    own = clean_env / "own"
    path = _columns_metric(own, count, "true")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_METRICS_DIR=str(own),
                                      FEDISCOPE_STORE=store.format(tmp=clean_env)))
    check = check_metrics(settings)
    if limit is None:
        assert check.status == OK, check
    else:
        assert check == Check("metrics", FAIL, f"metric wide ({path}): the result has {count} columns, more than "
                              f"the {limit} store's table holds; select fewer columns, or split it into several "
                              "metrics", METRICS_FIX)


#: own metric files whose header is fine but whose SQL `process` stops at, and the error doctor names each with
BROKEN_SQL = {
    "syntax": ("SELEC instance, count(*) AS toots FROM statuses GROUP BY instance",
               'DuckDB failed: Parser Error: syntax error at or near "SELEC" (line 4)'),
    # the line of the file (was: "syntax error at or near "AND"" alone, in a file of several)
    "syntax_later_line": ("WITH per AS (\n  -- toots only\n  SELECT instance, count(*) AS toots FROM statuses\n"
                          "  WHERE NOT is_reblog AND AND language = 'en'\n  GROUP BY instance\n)\nSELECT * FROM per",
                          'DuckDB failed: Parser Error: syntax error at or near "AND" (line 7)'),
    "unknown_column": ("SELECT instance, count(*) AS toots FROM statuses WHERE langauge = 'en' GROUP BY instance",
                       'DuckDB failed: Binder Error: Referenced column "langauge" not found in FROM clause! '
                       '(did you mean "language"?)'),
    "unknown_table": ("SELECT instance, count(*) AS toots FROM status GROUP BY instance",
                      'DuckDB failed: Catalog Error: Table with name status does not exist! '
                      '(did you mean "statuses"?)'),
    "key_not_selected": ("SELECT count(*) AS toots FROM statuses",
                         "column(s) instance named in its header are not in the result, whose columns are toots; "
                         "select them or fix the '-- key:'/'-- rank:'/'-- timestamps:' line"),
    # a column type `process` refuses (was: doctor said OK, checking the result's column names only)
    "list_column": ("SELECT instance, list(language) AS toots FROM statuses GROUP BY instance",
                    "column 'toots' holds lists, which no store holds (a value is a number, text, a boolean or "
                    "NULL); join them into text in the metric's SQL (array_to_string(toots, ', '), or "
                    "string_agg(x, ', ' ORDER BY x) instead of list(x)), or unnest them into rows"),
    "map_column": ("SELECT instance, map([instance], [count(*)]) AS toots FROM statuses GROUP BY instance",
                   "column 'toots' holds lists, which no store holds (a value is a number, text, a boolean or "
                   "NULL); join them into text in the metric's SQL (array_to_string(toots, ', '), or "
                   "string_agg(x, ', ' ORDER BY x) instead of list(x)), or unnest them into rows"),
    "interval_column": ("SELECT instance, max(created_at) - min(created_at) AS toots FROM statuses GROUP BY instance",
                        "column 'toots' holds intervals, which no store holds (a value is a number, text, a boolean "
                        "or NULL); give it as a number in the metric's SQL; for b - a between two timestamps, e.g. "
                        "date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) * 86400 + (hour(b) - hour(a)) * 3600 + "
                        "(minute(b) - minute(a)) * 60 + second(b) - second(a) for seconds (between their whole "
                        "seconds) or date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) for days (midnights "
                        "crossed)"),
    "blob_column": ("SELECT instance, instance::BLOB AS toots FROM statuses GROUP BY instance",
                    "column 'toots' holds bytes (a BLOB), which no store holds (a value is a number, text, a "
                    "boolean or NULL); give it as text in the metric's SQL: hex(toots), or toots::VARCHAR for a BIT"),
    "struct_column": ("SELECT instance, {'n': count(*)} AS toots FROM statuses GROUP BY instance",
                      "column 'toots' holds structs, which no store holds (a value is a number, text, a boolean or "
                      "NULL); give it as text in the metric's SQL: to_json(toots), or select its fields as columns "
                      "of their own (toots.field AS field)"),
    # DuckDB's Arrow gives a TIMETZ as a plain time (its offset dropped): refused by DuckDB's own column type
    "timetz_column": ("SELECT instance, max(created_at)::TIMETZ AS toots FROM statuses GROUP BY instance",
                      "column 'toots' holds times with a time zone (TIMETZ), which no store holds (a value is a "
                      "number, text, a boolean or NULL); give it as a time in UTC in the metric's SQL: "
                      "CAST(timezone('UTC', toots) AS TIME), or as text, which keeps its offset: "
                      "CAST(toots AS VARCHAR)"),
    # DuckDB runs a statement that is not a query as soon as it is given one: refused unrun (no file written)
    "no_query": ("COPY (SELECT 'a' AS instance, 1 AS toots) TO 'written.csv'",
                 "DuckDB failed: a COPY statement is not a query; a metric file holds one SELECT"),
}


def _own_metric(directory: Path, name: str, sql: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.sql"
    path.write_text(f"-- question: How many toots per instance?\n-- key: instance\n-- rank: toots DESC\n{sql}\n")
    return path


@pytest.mark.parametrize("kind", BROKEN_SQL)
def test_an_own_metric_whose_sql_process_would_stop_at_fails(clean_env: Path, kind: str) -> None:
    """Was: doctor read the header only and said OK; `process` then stopped at the SQL (exit 2) after curating.
    Doctor binds the SQL to empty curated tables, with no lake there (none is created)."""
    sql, error = BROKEN_SQL[kind]
    own = clean_env / "own"
    path = _own_metric(own, kind, sql)
    code, output = _doctor(_env(clean_env, FEDISCOPE_METRICS_DIR=str(own)))
    assert code == 1, output
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    assert line.startswith(f"FAIL  metrics        metric {kind} ({path}): {error} -> fix: fix the file"), line
    assert "`process` stores no metric while one's SQL fails" in line
    assert "OK    lake" in output and not (clean_env / "lake").exists()
    assert not (clean_env / "written.csv").exists()


@pytest.mark.parametrize("kind", BROKEN_SQL)
def test_doctor_names_a_broken_sql_as_process_does(clean_env: Path, kind: str) -> None:
    """The FAIL's line is the error `process` stops with running the metric (here over empty curated tables)."""
    own = clean_env / "own"
    metric = read_metric(_own_metric(own, kind, BROKEN_SQL[kind][0]))
    with DuckDBEngine(load_settings(env=_env(clean_env))) as engine:
        engine.register_curated_views(empty=True)
        with pytest.raises(MetricFileError) as stopped:
            engine.metric_table(metric)
    check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_METRICS_DIR=str(own)))))["metrics"]
    assert check.status == FAIL and check.detail == str(stopped.value)
    assert not (clean_env / "written.csv").exists()


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_metric_spark_would_run_differently_fails_when_spark_is_the_engine(clean_env: Path, engine: str) -> None:
    """Was: doctor said OK and `process --engine spark` stopped at it (exit 2) after curating. DuckDB runs it as
    written, so only the Spark engine's doctor FAILs; the check is sqlglot's, no Java started."""
    own = clean_env / "own"
    path = _own_metric(own, "weekdays", "SELECT instance, max(dayofweek(created_at)) AS toots FROM statuses "
                                        "GROUP BY instance")
    code, output = _doctor(_env(clean_env, FEDISCOPE_METRICS_DIR=str(own), FEDISCOPE_ENGINE=engine))
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    if engine == "duckdb":
        assert line.startswith("OK    metrics"), line
    else:
        assert line.startswith(f"FAIL  metrics        metric weekdays ({path}): not portable to Spark SQL: "
                               "isodow/dayofweek differ between DuckDB and Spark"), line


def test_a_list_function_spark_has_not_fails_when_spark_is_the_engine(clean_env: Path) -> None:
    """Was: OK (DuckDB binds it), and `process --engine spark` stopped at it after curating, in Spark's words."""
    own = clean_env / "own"
    path = _own_metric(own, "favourites", "SELECT instance, list_sum(list(favourites_count)) AS toots FROM statuses "
                                          "GROUP BY instance")
    code, output = _doctor(_env(clean_env, FEDISCOPE_METRICS_DIR=str(own), FEDISCOPE_ENGINE="spark"))
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    assert line.startswith(f"FAIL  metrics        metric favourites ({path}): not portable to Spark SQL: "
                           "list_sum() is not a Spark function"), line


def test_a_calendar_passes_and_a_range_spark_cannot_make_fails_when_spark_is_the_engine(clean_env: Path) -> None:
    """Was: doctor said OK to ``FROM range(24) AS t(h)`` and the Spark run stopped at it (``Cannot resolve routine
    `_u```); now it runs on Spark, and a range of another table's column, which Spark's cannot be, FAILs here."""
    own = clean_env / "own"
    _own_metric(own, "hours", "SELECT t.h AS instance, count(s.created_at) AS toots FROM range(24) AS t(h) "
                              "LEFT JOIN statuses AS s ON hour(s.created_at) = t.h GROUP BY t.h")
    code, output = _doctor(_env(clean_env, FEDISCOPE_METRICS_DIR=str(own), FEDISCOPE_ENGINE="spark"))
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    assert line.startswith("OK    metrics"), line
    path = _own_metric(own, "lateral", "SELECT instance, count(*) AS toots FROM statuses, range(favourites_count) "
                                       "AS t(i) GROUP BY instance")
    code, output = _doctor(_env(clean_env, FEDISCOPE_METRICS_DIR=str(own), FEDISCOPE_ENGINE="spark"))
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    assert f"metric lateral ({path}): not portable to Spark SQL: range() as a table of another table's column" in (
        line), line


def test_every_broken_file_is_named_header_and_sql_alike_in_file_order(clean_env: Path, metrics_dir: Path) -> None:
    no_key, syntax = metrics_dir / "b_no_key.sql", _own_metric(metrics_dir, "a_syntax", BROKEN_SQL["syntax"][0])
    no_key.write_text("-- question: Which?\nSELECT 1 AS n\n")
    check = _by_name(run_checks(load_settings(env=_env(clean_env))))["metrics"]
    lines = check.detail.splitlines()
    assert check.status == FAIL and lines[0] == f"2 of {len(list(metrics_dir.glob('*.sql')))} metric files are broken:"
    assert lines[1].startswith(f"metric a_syntax ({syntax}): DuckDB failed: Parser Error")
    assert lines[2].startswith(f"metric b_no_key ({no_key}): missing '-- key: …' header line")


def test_an_own_file_named_as_a_built_in_metric_is_one_broken_file_among_the_others(clean_env: Path) -> None:
    """Was: the clash alone was named, hiding every other broken file until it was renamed (the FAIL names every
    broken file, so that all are fixed in one go); and the store check FAILed with the clash too, with the fix
    "set FEDISCOPE_STORE to …": the store was fine, only the metric files could not be listed."""
    own = clean_env / "own"
    clash = _own_metric(own, "languages", "SELECT instance, count(*) AS toots FROM statuses GROUP BY instance")
    syntax = _own_metric(own, "a_syntax", BROKEN_SQL["syntax"][0])
    import sqlite3

    with sqlite3.connect(clean_env / "fediscope.db") as db:  # a store that exists, holding no metric
        db.execute("CREATE TABLE unrelated (n INTEGER)")
    checks = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_METRICS_DIR=str(own)))))
    lines = checks["metrics"].detail.splitlines()
    assert checks["metrics"].status == FAIL and lines[0].startswith("2 of "), lines
    assert lines[1].startswith(f"metric a_syntax ({syntax}): DuckDB failed: Parser Error"), lines
    assert lines[2] == (f"metric file {clash} has the name of the built-in metric {SQL_DIR / 'languages.sql'}; "
                        "rename yours (a metric's name is its table in the store, so one cannot replace the other)")
    assert checks["store"].status == OK, checks["store"]


@pytest.mark.parametrize("name", sorted(path.stem for path in SQL_DIR.glob("*.sql")))
def test_every_built_in_metric_binds_to_the_curated_schemas(clean_env: Path, name: str) -> None:
    metric = read_metric(SQL_DIR / f"{name}.sql")
    with DuckDBEngine(load_settings(env=_env(clean_env))) as engine:
        engine.register_curated_views(empty=True)
        engine.check_metric(metric)  # a MetricFileError naming the file and DuckDB's message otherwise
        columns = engine.result_columns(metric.sql)
    assert {*metric.key, metric.rank_column or metric.key[0]} <= set(columns)


# -- engine -------------------------------------------------------------------------------------------------


def test_spark_without_java_says_what_to_install(clean_env: Path) -> None:
    settings = load_settings(env=_env(clean_env, FEDISCOPE_ENGINE="spark"))
    check = check_engine(settings, which=lambda _name: None)
    assert check.status == FAIL
    assert "Java 17" in check.fix and "FEDISCOPE_ENGINE=duckdb" in check.fix


@pytest.mark.parametrize("set_in", ["environment", "file"])
def test_the_engine_fixes_name_where_the_engine_and_master_were_set(clean_env: Path, set_in: str) -> None:
    """Was: "FEDISCOPE_ENGINE=spark but Java not found", "or use FEDISCOPE_ENGINE=duckdb", "fix
    FEDISCOPE_SPARK_MASTER" also when both were set in fediscope.toml alone, where no such variable is set."""
    master = f"spark://127.0.0.1:{free_port()}"
    env = _env(clean_env)
    if set_in == "file":
        (clean_env / "fediscope.toml").write_text(f'[fediscope]\nengine = "spark"\nspark_master = "{master}"\n')
    else:
        env.update(FEDISCOPE_ENGINE="spark", FEDISCOPE_SPARK_MASTER=master)
    settings = load_settings(env=env)
    no_java = check_engine(settings, which=lambda _name: None)
    if set_in == "file":
        assert no_java.detail.startswith("engine = 'spark' (fediscope.toml: [fediscope] engine) but Java not found")
        assert no_java.fix.endswith("or set fediscope.toml: [fediscope] engine to 'duckdb' (single machine, no Java "
                                    "needed)"), no_java
        assert "FEDISCOPE_" not in no_java.detail + no_java.fix
    else:
        assert no_java.detail.startswith("FEDISCOPE_ENGINE=spark but Java not found")
        assert no_java.fix.endswith("or use FEDISCOPE_ENGINE=duckdb (single machine, no Java needed)"), no_java
    if importlib.util.find_spec("pyspark") is None:
        return
    fake_java = clean_env / "java"
    fake_java.write_text('#!/bin/sh\necho \'openjdk version "17.0.12" 2024-07-16\' >&2\n')
    fake_java.chmod(0o755)
    unreachable = check_engine(settings, which=lambda _name: str(fake_java))
    assert unreachable.status == FAIL and "does not accept connections" in unreachable.detail, unreachable
    named = {"environment": "FEDISCOPE_SPARK_MASTER", "file": "fediscope.toml: [fediscope] spark_master"}[set_in]
    assert unreachable.fix.startswith(f"start the Spark master or fix {named}, "), unreachable


@pytest.mark.parametrize(("set_in", "fix"), [
    ("environment", "pip install -r requirements.txt and install Java 17, or use FEDISCOPE_ENGINE=duckdb (single "
                    "machine, no Java needed)"),
    ("file", "pip install -r requirements.txt and install Java 17, or set fediscope.toml: [fediscope] engine to "
             "'duckdb' (single machine, no Java needed)"),
    ("default", "pip install -r requirements.txt (it installs duckdb)"),
], ids=["environment", "file", "default"])
def test_an_engine_check_that_crashes_names_where_the_engine_was_set(clean_env: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     set_in: str, fix: str) -> None:
    """Was: "… or use FEDISCOPE_ENGINE=duckdb" whatever set the engine: also for Spark set in fediscope.toml alone,
    and for DuckDB, where it is the engine already."""
    env = _env(clean_env)
    if set_in == "file":
        (clean_env / "fediscope.toml").write_text('[fediscope]\nengine = "spark"\n')
    elif set_in == "environment":
        env["FEDISCOPE_ENGINE"] = "spark"

    def crash(_settings: object) -> Check:
        raise RuntimeError("the engine probe crashed")

    monkeypatch.setattr("fediscope.doctor.check_engine", crash)
    engine = _by_name(run_checks(load_settings(env=env)))["engine"]
    assert (engine.status, engine.detail, engine.fix) == (FAIL, "RuntimeError: the engine probe crashed", fix)


@pytest.mark.parametrize(("set_in", "named"), [
    ("environment", {"spark_lake": "set FEDISCOPE_SPARK_LAKE_URI to", "api_key": "set FEDISCOPE_API_KEY",
                     "pseudonym_key": "set FEDISCOPE_PSEUDONYM_KEY"}),
    ("file", {"spark_lake": "set fediscope.toml: [fediscope] spark_lake_uri to",
              "api_key": "set fediscope.toml: [fediscope] api_key",
              "pseudonym_key": "set fediscope.toml: [fediscope] pseudonym_key"}),
], ids=["environment", "file"])
def test_checks_that_crash_name_where_their_setting_was_set(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                            set_in: str, named: dict[str, str]) -> None:
    """Was: "set FEDISCOPE_SPARK_LAKE_URI …", "set FEDISCOPE_API_KEY", "set FEDISCOPE_PSEUDONYM_KEY" whatever set
    them, also for a value set in fediscope.toml (which such a variable would only override), as the engine's was."""
    settings = {"spark_lake_uri": f"file://{clean_env / 'lake'}", "api_key": STRONG_API_KEY,
                "pseudonym_key": STRONG_KEY}
    env = _env(clean_env)
    del env["FEDISCOPE_API_KEY"], env["FEDISCOPE_PSEUDONYM_KEY"]
    if set_in == "file":
        (clean_env / "fediscope.toml").write_text(
            "[fediscope]\n" + "".join(f'{name} = "{value}"\n' for name, value in settings.items()))
    else:
        env.update({f"FEDISCOPE_{name.upper()}": value for name, value in settings.items()})

    def crash(*_args: object, **_kwargs: object) -> Check:
        raise RuntimeError("the check crashed")

    for check in ("check_spark_lake", "check_api_key", "check_pseudonym_key"):
        monkeypatch.setattr(f"fediscope.doctor.{check}", crash)
    checks = _by_name(run_checks(load_settings(env=env)))
    for name, fix in named.items():
        assert (checks[name].status, checks[name].detail) == (FAIL, "RuntimeError: the check crashed"), checks[name]
        assert checks[name].fix.startswith(fix), checks[name]


def test_fixes_of_settings_left_empty_in_the_config_file_name_the_file(clean_env: Path) -> None:
    """Was: "export FEDISCOPE_API_KEY=$(…)" for an api_key left empty in fediscope.toml (the pseudonym key's fix
    named the file's key already), "a slow instance needs a larger FEDISCOPE_REQUEST_TIMEOUT" for a timeout set
    there, and "add [[sources]] to fediscope.toml" for a config file of another name."""
    config = clean_env / "etl.toml"
    config.write_text('[fediscope]\napi_key = ""\nrequest_timeout = 12\n')
    env = _env(clean_env)
    del env["FEDISCOPE_API_KEY"]
    settings = load_settings(env=env, toml_path=config)
    checks = _by_name(run_checks(settings, timeout=0.3))
    assert checks["api_key"].fix == (f"only needed for the scraping API: set {config}: [fediscope] api_key to the "
                                     f"output of {API_KEY_COMMAND}"), checks["api_key"]
    assert checks["instances"].fix.endswith(f"or add [[sources]] to {config}"), checks["instances"]
    with listening_socket() as silent:  # takes the connection, never answers
        settings = load_settings(env=env | {"FEDISCOPE_INSTANCES": f"http://127.0.0.1:{silent.getsockname()[1]}"},
                                 toml_path=config)
        [instance] = [c for c in run_checks(settings, timeout=0.3) if c.name.startswith("instance ")]
    assert instance.status == FAIL and "no answer within 0.3 s" in instance.detail, instance
    assert instance.fix.endswith(f"a slow instance needs a larger {config}: [fediscope] request_timeout"), instance


def test_spark_with_an_unreachable_master(clean_env: Path) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_ENGINE="spark",
                                      FEDISCOPE_SPARK_MASTER=f"spark://127.0.0.1:{free_port()}"))
    fake_java = clean_env / "java"
    fake_java.write_text('#!/bin/sh\necho \'openjdk version "17.0.12" 2024-07-16\' >&2\n')
    fake_java.chmod(0o755)
    check = check_engine(settings, which=lambda _name: str(fake_java))
    assert check.status == FAIL and "Java 17" in check.detail and "does not accept connections" in check.detail


@pytest.mark.parametrize("case", ["standby answers", "no port", "k8s api server down"])
def test_spark_master_as_process_probes_it(clean_env: Path, case: str) -> None:
    """The probe `process` runs before it starts the JVM. Was: the first master of a spark:// URL alone (a standby
    answering FAILed), port 7077 for one without a port (which Spark refuses: OK, then `process` failed), and no
    probe of a k8s:// API server (OK, then the JVM retried it for over a minute)."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed")
    fake_java = clean_env / "java"
    fake_java.write_text('#!/bin/sh\necho \'openjdk version "17.0.12" 2024-07-16\' >&2\n')
    fake_java.chmod(0o755)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        master = {"standby answers": f"spark://127.0.0.1:{free_port()},127.0.0.1:{port}",
                  "no port": "spark://127.0.0.1", "k8s api server down": f"k8s://http://127.0.0.1:{free_port()}"}[case]
        if case == "no port":  # refused when loaded from the environment (tests/test_config.py): set from code
            settings = load_settings(env=_env(clean_env, FEDISCOPE_ENGINE="spark"), spark_master=master)
        else:
            settings = load_settings(env=_env(clean_env, FEDISCOPE_ENGINE="spark", FEDISCOPE_SPARK_MASTER=master))
        check = check_engine(settings, which=lambda _name: str(fake_java))
    if case == "standby answers":
        assert check.status == OK, check
    elif case == "no port":
        assert check.status == FAIL and "Spark needs each master's port, e.g. spark://host:7077" in check.detail
    else:
        assert check.status == FAIL, check
        assert "the Kubernetes API server does not accept connections (127.0.0.1:" in check.detail
        assert "start the Kubernetes API server or fix FEDISCOPE_SPARK_MASTER" in check.fix


@pytest.mark.parametrize("lake_uri", [None, "", "hdfs://namenode:8020/data/fediscope"],
                         ids=["unset", "empty-in-the-file", "set"])
def test_spark_on_a_cluster_with_a_webhdfs_lake_needs_the_spark_lake_uri(clean_env: Path, lake_uri: str | None,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """"": left empty in fediscope.toml, where it is then set (was: "set FEDISCOPE_SPARK_LAKE_URI=… (or [fediscope]
    spark_lake_uri in fediscope.toml; …)" as for a setting set nowhere)."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed")
    monkeypatch.setenv("HADOOP_CONF_DIR", str(clean_env))  # a yarn master needs it (test_yarn_without_hadoop_conf_dir)
    fake_java = clean_env / "java"
    fake_java.write_text('#!/bin/sh\necho \'openjdk version "17.0.12" 2024-07-16\' >&2\n')
    fake_java.chmod(0o755)
    env = _env(clean_env, FEDISCOPE_ENGINE="spark", FEDISCOPE_SPARK_MASTER="yarn",
               FEDISCOPE_LAKE="webhdfs://namenode:9870/data/fediscope?user=fediscope",
               **({"FEDISCOPE_SPARK_LAKE_URI": lake_uri} if lake_uri else {}))
    if lake_uri == "":
        (clean_env / "fediscope.toml").write_text('[fediscope]\nspark_lake_uri = ""\n')
    check = check_engine(load_settings(env=env), which=lambda _name: str(fake_java))
    if lake_uri == "":
        assert check.status == FAIL, check
        assert check.fix.startswith("set fediscope.toml: [fediscope] spark_lake_uri to hdfs://<namenode>:8020/data/"
                                    "fediscope (the same directory as Spark addresses it), or use "
                                    "FEDISCOPE_SPARK_MASTER=local[*]"), check
    elif lake_uri is None:
        assert check.status == FAIL and "FEDISCOPE_SPARK_LAKE_URI=hdfs://<namenode>:8020/data/fediscope" in check.fix
        # a setting set nowhere is named by both places that set it; the master by where it was set
        assert "(or [fediscope] spark_lake_uri in fediscope.toml; " in check.fix, check
        assert check.fix.endswith("or use FEDISCOPE_SPARK_MASTER=local[*]"), check
    else:
        assert check.status == OK and f"lake for Spark {lake_uri}" in check.detail


@pytest.mark.parametrize("conf_variable", [None, "HADOOP_CONF_DIR", "YARN_CONF_DIR"])
def test_yarn_without_hadoop_conf_dir(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                      conf_variable: str | None) -> None:
    """spark-submit refuses a yarn master unless HADOOP_CONF_DIR or YARN_CONF_DIR is set; `process` now refuses it
    before the JVM, and doctor says so (was: OK, "yarn is not checked")."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed")
    for name in ("HADOOP_CONF_DIR", "YARN_CONF_DIR"):
        monkeypatch.delenv(name, raising=False)
    if conf_variable:
        monkeypatch.setenv(conf_variable, str(clean_env))
    fake_java = clean_env / "java"
    fake_java.write_text('#!/bin/sh\necho \'openjdk version "17.0.12" 2024-07-16\' >&2\n')
    fake_java.chmod(0o755)
    env = _env(clean_env, FEDISCOPE_ENGINE="spark", FEDISCOPE_SPARK_MASTER="yarn")
    check = check_engine(load_settings(env=env), which=lambda _name: str(fake_java))
    if conf_variable:
        assert check.status == OK, check
    else:
        assert check.status == FAIL and "a yarn master needs HADOOP_CONF_DIR or YARN_CONF_DIR" in check.detail, check
        assert check.fix.startswith("set HADOOP_CONF_DIR (or YARN_CONF_DIR)"), check


def test_spark_with_old_java(clean_env: Path) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed")
    fake_java = clean_env / "java"
    fake_java.write_text('#!/bin/sh\necho \'java version "1.8.0_402"\' >&2\n')
    fake_java.chmod(0o755)
    check = check_engine(load_settings(env=_env(clean_env, FEDISCOPE_ENGINE="spark")), which=lambda _: str(fake_java))
    assert check.status == FAIL and "Java 8" in check.detail


# -- keys ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("set_in", ["environment", "file"])
def test_the_key_fixes_name_where_the_weak_key_was_set(clean_env: Path, set_in: str) -> None:
    """Was: "export FEDISCOPE_PSEUDONYM_KEY=$(…)" also for a key set in fediscope.toml alone, which left the weak key
    in the file for every shell without that export; the API key's fix named no place at all."""
    env = _env(clean_env)
    if set_in == "file":
        del env["FEDISCOPE_PSEUDONYM_KEY"], env["FEDISCOPE_API_KEY"]
        (clean_env / "fediscope.toml").write_text('[fediscope]\npseudonym_key = "changeme"\napi_key = "tiny1"\n')
    else:
        env.update(FEDISCOPE_PSEUDONYM_KEY="changeme", FEDISCOPE_API_KEY="tiny1")
    settings = load_settings(env=env)
    pseudonym, api = check_pseudonym_key(settings, read_lake=False), check_api_key(settings)
    assert pseudonym.status == FAIL and api.status == WARN, (pseudonym, api)
    if set_in == "file":
        assert pseudonym.fix.startswith("set fediscope.toml: [fediscope] pseudonym_key to the output of python3 -c "
                                        "'import secrets; print(secrets.token_hex(32))' and keep it"), pseudonym
        assert api.fix.startswith("replace it in fediscope.toml: [fediscope] api_key with a random value, the output "
                                  "of python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"), api
        assert "FEDISCOPE_" not in pseudonym.fix + api.fix
    else:
        assert pseudonym.fix.startswith("export FEDISCOPE_PSEUDONYM_KEY=$(python3 -c 'import secrets; "
                                        "print(secrets.token_hex(32))') and keep it"), pseudonym
        assert api.fix.startswith("replace it with a random value: $(python3 -c"), api
    assert "changeme" not in pseudonym.detail + pseudonym.fix and "tiny1" not in api.detail + api.fix


@pytest.mark.parametrize("env, status", [
    ({"FEDISCOPE_PSEUDONYM_KEY": "changeme"}, FAIL),
    ({"FEDISCOPE_PSEUDONYM_KEY": "Secret"}, FAIL),
    ({"FEDISCOPE_PSEUDONYM_KEY": "demo"}, FAIL),
    ({"FEDISCOPE_PSEUDONYM_KEY": "Tz8#kq1"}, WARN),
    ({"FEDISCOPE_PSEUDONYM_KEY": "x7Gq2-Lp0sW9e"}, WARN),  # 13 characters: shorter than 16
    ({"FEDISCOPE_PSEUDONYM_KEY": "a" * 40}, WARN),
    ({"FEDISCOPE_PSEUDONYM_KEY": STRONG_KEY}, OK),
    ({}, FAIL),
    ({"FEDISCOPE_PRIVACY": "off"}, WARN),
])
def test_pseudonym_key(clean_env: Path, env: dict[str, str], status: str) -> None:
    check = check_pseudonym_key(load_settings(env=env))
    assert check.status == status
    if env.get("FEDISCOPE_PSEUDONYM_KEY"):
        assert env["FEDISCOPE_PSEUDONYM_KEY"] not in check.detail + check.fix


@pytest.mark.parametrize("keys, status", [
    ("", WARN), (STRONG_API_KEY, OK), (f"{STRONG_API_KEY},Qx7vB2:ro", WARN), (f"{STRONG_API_KEY},secret", FAIL),
])
def test_api_key(clean_env: Path, keys: str, status: str) -> None:
    env = _env(clean_env, FEDISCOPE_API_KEY=keys)
    check = _by_name(run_checks(load_settings(env=env)))["api_key"]
    assert check.status == status


# -- tokens -------------------------------------------------------------------------------------------------

TOKEN = "tk-8sJ2mQ4xV7nB1cZ9kL5pR3wT6yH0dF2gA4eU7iO"


def _token_line(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line[6:].startswith("tokens ")]
    return line


def test_a_good_token_of_a_configured_instance_is_reported_never_shown(clean_env: Path,
                                                                      instance: FakeInstance) -> None:
    """Was: doctor said nothing about tokens. The variable spelled with the domain as written counts too."""
    env = _env(clean_env, FEDISCOPE_INSTANCES=instance.url, **{f"FEDISCOPE_TOKEN_127.0.0.1:{instance.port}": TOKEN})
    for args in ((), ("--json",)):
        code, output = _doctor(env, *args)
        assert code == 0, output
        assert TOKEN not in output
    report = _by_name([Check(**c) for c in json.loads(output)["checks"]])
    assert report["tokens"] == Check("tokens", OK, f"1 of 1 configured instance(s) have a token "
                                                   f"(127.0.0.1:{instance.port})")


@pytest.mark.parametrize(("token", "why"), [
    ("   ", "is only whitespace"),
    (TOKEN + "\n", "has whitespace (a space or a newline) before or after it"),
    (" " + TOKEN, "has whitespace (a space or a newline) before or after it"),
    (TOKEN[:20] + " " + TOKEN[20:], "contains whitespace"),
    (TOKEN[:20] + "\x1b" + TOKEN[20:], "contains a control character"),
    (TOKEN[:20] + "é" + TOKEN[20:], "contains characters other than printable ASCII"),
    ("changeme", "is a common default value"),
])
def test_a_token_that_cannot_work_fails_naming_its_variable(clean_env: Path, instance: FakeInstance, token: str,
                                                            why: str) -> None:
    variable = f"FEDISCOPE_TOKEN_127.0.0.1:{instance.port}"
    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=instance.url, **{variable: token}))
    assert code == 1, output
    line = _token_line(output)
    assert line.startswith(f"FAIL  tokens         the token of 127.0.0.1:{instance.port} ({variable}) {why} -> fix: "
                           "set the token the instance issued"), line
    for part in {token.strip(), TOKEN[:20], TOKEN[20:]} - {""}:
        assert part not in output


def test_an_empty_token_in_the_config_file_fails(clean_env: Path, instance: FakeInstance) -> None:
    (clean_env / "fediscope.toml").write_text(f'[tokens]\n"{instance.url}" = ""\n\n'
                                              f'[[sources]]\ninstance = "{instance.url}"\n')
    code, output = _doctor(_env(clean_env))
    assert code == 1, output
    assert _token_line(output).startswith(f"FAIL  tokens         the token of 127.0.0.1:{instance.port} "
                                          "([tokens] of the config file) is empty -> fix: ")


def test_a_short_token_warns(clean_env: Path, instance: FakeInstance) -> None:
    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=instance.url,
                                **{f"FEDISCOPE_TOKEN_127_0_0_1_{instance.port}": "Zq4wE8rT2y"}))
    assert code == 0, output
    line = _token_line(output)
    assert line.startswith("WARN  tokens ") and "is shorter than 16 characters" in line and "Zq4wE8rT2y" not in line


def test_a_token_for_no_configured_instance_warns_naming_the_variable(clean_env: Path,
                                                                     instance: FakeInstance) -> None:
    """A mistyped FEDISCOPE_TOKEN_… is never used: collection silently goes without the token."""
    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=instance.url,
                                FEDISCOPE_TOKEN_MASTODON_SOCAIL=TOKEN))
    assert code == 0, output
    line = _token_line(output)
    assert line.startswith(f"WARN  tokens         0 of 1 configured instance(s) have a token; public data only for "
                           f"127.0.0.1:{instance.port}; the token of FEDISCOPE_TOKEN_MASTODON_SOCAIL is for no "
                           "configured instance"), line
    assert "check the variable's spelling" in line and TOKEN not in output


def test_no_instance_and_no_token_means_no_token_line(clean_env: Path) -> None:
    assert "tokens" not in _by_name(run_checks(load_settings(env=_env(clean_env))))


# -- instances ----------------------------------------------------------------------------------------------


def test_instance_ok_with_the_recorded_answer(instance: FakeInstance) -> None:
    check = check_instance(instance.url, timeout=2)
    assert check.status == OK and "version 4.6.4" in check.detail and "4 users" in check.detail


@pytest.mark.parametrize("status, body, content_type, verdict, words", [
    (200, b"<html>Welcome to nginx</html>", "text/html", FAIL, "not with the Mastodon instance API"),
    (401, b'{"error": "This API requires an authenticated user"}', "application/json", WARN, "FEDISCOPE_TOKEN_"),
    (429, b'{"error": "Too many requests"}', "application/json", WARN, "rate limited"),
    (503, b"down", "text/plain", FAIL, "HTTP 503"),
])
def test_instance_answers(instance: FakeInstance, status: int, body: bytes, content_type: str, verdict: str,
                          words: str) -> None:
    instance.status, instance.body, instance.content_type = status, body, content_type
    check = check_instance(instance.url, timeout=2)
    assert check.status == verdict
    assert words in check.detail + check.fix


def test_a_token_the_instance_refuses_fails_saying_it_was_sent_and_refused(clean_env: Path, instance: FakeInstance,
                                                                          recordings_dir: Path) -> None:
    """Was: "set an access token" (a WARN) though one was set: doctor did not send it, and said the same for any
    401. It sends the token as the collector does, and says what the collector says of a 401 then."""
    recording = json.loads((recordings_dir / "test_unauthed_home_tl_throws.json").read_text())
    refused = next(i["response"] for i in recording["interactions"] if i["response"]["status"] == 401)
    instance.status, instance.body = 401, json.dumps(refused["body"]).encode()
    variable = f"FEDISCOPE_TOKEN_127_0_0_1_{instance.port}"
    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=instance.url, **{variable: TOKEN}))
    (line,) = [line for line in output.splitlines() if line[6:].startswith("instance ")]
    assert code == 1 and line.startswith("FAIL  instance"), output
    assert f"the access token of {variable} was sent and refused: check it and its scopes (read)" in line, line
    assert "set an access token" not in output and TOKEN not in output
    assert instance.authorizations == [f"Bearer {TOKEN}"]

    code, output = _doctor(_env(clean_env, FEDISCOPE_INSTANCES=instance.url))  # no token: one may be needed
    (line,) = [line for line in output.splitlines() if line[6:].startswith("instance ")]
    assert line.startswith("WARN  instance") and f"set an access token: {variable}=…" in line, line
    assert instance.authorizations[-1] is None


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSServer]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with TLSServer(tmp_path / "tls") as server:
        yield server


def test_an_untrusted_certificate_fails_saying_how_to_trust_it(tls_server: TLSServer) -> None:
    """Was: "unreachable (TLS certificate not trusted)" with a fix about DNS and the network."""
    check = check_instance(tls_server.url(), timeout=2)
    assert check.status == FAIL
    assert "TLS error" in check.detail and "certificate verify failed" in check.detail
    assert "REQUESTS_CA_BUNDLE" in check.fix and "DNS" not in check.fix


def test_a_certificate_trusted_through_requests_ca_bundle_is_ok(tls_server: TLSServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.cert))
    check = check_instance(tls_server.url(), timeout=2)
    assert check.status == OK, check


def test_a_ca_bundle_that_does_not_exist_fails_naming_the_variable(tls_server: TLSServer, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    check = check_instance(tls_server.url(), timeout=2)
    assert check.status == FAIL and "missing.pem" in check.detail
    assert "REQUESTS_CA_BUNDLE" in check.fix and "does not exist" in check.fix
    assert tls_server.connections == 0  # refused before connecting


def test_silent_instance_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        check = check_instance(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=0.3)
    assert check.status == FAIL and "no answer within 0.3 s" in check.detail


def test_configured_sources_are_checked_once_per_domain(clean_env: Path, instance: FakeInstance) -> None:
    (clean_env / "fediscope.toml").write_text(f'[[sources]]\ninstance = "{instance.url}"\ntimelines = ["public"]\n')
    settings = load_settings(env=_env(clean_env, FEDISCOPE_INSTANCES=f"{instance.url}/"))
    names = [c.name for c in run_checks(settings) if c.name.startswith("instance")]
    assert names == [f"instance 127.0.0.1:{instance.port}"]
    assert instance.hits == ["/api/v1/instance"]


def test_no_instances_is_a_warning(clean_env: Path) -> None:
    checks = _by_name(run_checks(load_settings(env=_env(clean_env))))
    assert checks["instances"].status == WARN


# -- helpers ------------------------------------------------------------------------------------------------


def test_scrub_and_exit_code() -> None:
    checks = [Check("x", OK, "token s3cr3t-value in a message", "use s3cr3t-value"), Check("y", WARN, "w")]
    cleaned = scrub(checks, ["s3cr3t-value"])
    assert cleaned[0].detail == "token *** in a message" and cleaned[0].fix == "use ***"
    assert exit_code(cleaned) == 0
    assert exit_code([*cleaned, Check("z", FAIL, "broken", "fix it")]) == 1


def test_a_full_disk_is_named_as_such_in_the_fix() -> None:
    """Was: a lake or store on a full disk failed with the usual "a directory this user can write" fix."""
    from fediscope.doctor import _guarded
    from fediscope.errors import LakeError

    def full() -> Check:
        raise LakeError("cannot write /mnt/lake/_doctor/probe.txt: No space left on device")

    check = _guarded("lake", full, "set FEDISCOPE_LAKE to a directory this user can write")
    assert check.status == FAIL and "No space left on device" in check.detail
    assert "free space" in check.fix and "can write" not in check.fix


def test_an_hbase_store_url_pointing_at_an_http_port_names_the_likely_cause(clean_env: Path) -> None:
    """HBase's Thrift server in HTTP mode, or its REST port, answers HTTP: not a crash, and the fix says why."""
    server = listening_socket()  # not an earlier test's server's port: the store's pools are keyed by host and port

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            with client:
                if client.recv(1000):
                    client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        url = f"hbase://127.0.0.1:{server.getsockname()[1]}"
        check = _by_name(run_checks(load_settings(env=_env(clean_env, FEDISCOPE_STORE=url))))["store"]
    finally:
        server.close()
    assert check.status == FAIL
    assert "another transport or protocol" in check.detail and "HTTP" in check.detail, check
    assert "transport= and protocol=" in check.fix, check


def test_a_failure_spanning_lines_is_one_line_as_the_demo_prints_it() -> None:
    """Was: doctor kept a message's line breaks (a library's multi-line error broke its report's layout), while the
    demo printed the same error on one line; both print :func:`fediscope.errors.one_line` now."""
    from fediscope.doctor import _failure
    from fediscope.errors import ConfigError

    assert _failure("lake", OSError("cannot list\n  the lake:\tdenied"), "fix it").detail == (
        "OSError: cannot list the lake: denied")
    assert _failure("store", ConfigError("bad store URL"), "fix it").detail == "bad store URL"


def _wide_metric(clean_env: Path, columns: str, store: str) -> tuple[Path, Check]:
    """doctor's ``metrics`` check of an own metric ``wide.sql`` selecting a key and ``columns``, on ``store``
    (``{tmp}`` replaced by the test's directory)."""
    own = clean_env / "own"
    own.mkdir()
    path = own / "wide.sql"
    path.write_text(f"-- question: How wide?\n-- key: k\nSELECT 'a' AS k, {columns}\n")
    settings = load_settings(env=_env(clean_env, FEDISCOPE_METRICS_DIR=str(own),
                                      FEDISCOPE_STORE=store.format(tmp=clean_env)))
    return path, check_metrics(settings)


@pytest.mark.parametrize(("store", "texts", "size"), [
    ("mysql+pymysql://u@127.0.0.1:1/db", 383, "8,130"),
    ("mysql+pymysql://u@127.0.0.1:1/db", 380, None),
    ("sqlite:///{tmp}/fediscope.db", 383, None),
])
def test_a_result_over_innodbs_row_size_fails_on_mariadb(clean_env: Path, store: str, texts: int,
                                                          size: str | None) -> None:
    """Was: doctor said OK to a result far below MariaDB's 1,017 columns whose table InnoDB refuses (errno 1118,
    ``Row size too large``: 21 bytes a text column); `process` failed at the store's CREATE TABLE. SQLite has no
    such limit. The server's threshold is tested in tests/engine/test_mariadb_row_size.py."""
    path, check = _wide_metric(clean_env, ", ".join(f"'x' AS t{i}" for i in range(texts)), store)
    if size is None:
        assert check.status == OK, check
    else:
        assert check == _row_size_failure(path, texts + 1, texts + 1, size)



def _row_size_failure(path: Path, columns: int, texts: int, size: str) -> Check:
    """Doctor's FAIL for metric ``wide`` whose MariaDB rows reach ``size`` bytes as InnoDB counts them."""
    return Check("metrics", FAIL, f"metric wide ({path}): a MariaDB table of its {columns} columns ({texts} of them "
                 f"text) has rows of up to {size} bytes as InnoDB counts them (21 a text column, 8 a number or a "
                 "column all NULL), and InnoDB refuses a table whose rows reach 8,126; select fewer columns, or split "
                 "it into several metrics", METRICS_FIX)

@pytest.mark.parametrize(("nulls", "size"), [(996, "8,132"), (1000, "8,164"), (995, None)])
def test_a_result_of_columns_all_null_over_innodbs_row_size_fails_on_mariadb(clean_env: Path, nulls: int,
                                                                              size: str | None) -> None:
    """A column the SQL gives as a bare NULL (no type: ``null``) is BIGINT in the table the MariaDB store creates, 8
    bytes as InnoDB counts it. Was counted 1 byte: doctor said OK to 1,000 of them, and `process` failed at CREATE
    TABLE (errno 1118). 18 bytes of header, a bit a nullable column, the key 'a' (VARCHAR(255)) 21, 8 a NULL: 995
    columns 8,124 bytes, below the limit, 996 over (the server's threshold: tests/engine/test_mariadb_row_size.py)."""
    path, check = _wide_metric(clean_env, ", ".join(f"NULL AS n{i}" for i in range(nulls)),
                               "mysql+pymysql://u@127.0.0.1:1/db")
    if size is None:
        assert check.status == OK, check
    else:
        assert check == _row_size_failure(path, nulls + 1, 1, size)


@pytest.mark.parametrize(("store", "last", "size"), [
    ("mysql+pymysql://u@127.0.0.1:1/db", 19, "65,536"),
    ("mysql+pymysql://u@127.0.0.1:1/db", 18, None),
    ("sqlite:///{tmp}/fediscope.db", 19, None),
])
def test_a_result_over_mariadbs_table_definition_size_fails_on_mariadb(clean_env: Path, store: str, last: int,
                                                                        size: str | None) -> None:
    """Was: doctor said OK to a result of 797 columns, below MariaDB's 1,017, whose long names make a table
    definition MariaDB refuses (errno 1117, ``Table definition is too large``: 18 bytes a column and its name's);
    `process` failed at the store's CREATE TABLE. SQLite has no such limit. The server's threshold is tested in
    tests/engine/test_mariadb_table_definition.py."""
    columns = ", ".join([*(f"true AS {'c' * 60}{i:04d}" for i in range(795)), f"true AS {'z' * last}"])
    path, check = _wide_metric(clean_env, columns, store)
    if size is None:
        assert check.status == OK, check
    else:
        assert check == Check("metrics", FAIL, f"metric wide ({path}): a MariaDB table of its 797 columns has a "
                              f"definition of {size} bytes as MariaDB counts it (18 a column and its name's bytes; "
                              "the names take 50,900), and MariaDB refuses one over 65,535 bytes; shorten the column "
                              "names (… AS new_name), select fewer columns, or split it into several metrics",
                              METRICS_FIX)


def test_scrub_redacts_a_shown_url_apart_from_the_text_around_it() -> None:
    """A shown URL is redacted on its own, not only of the known secrets: a credential that redact_url would leave
    (any shape redact_text knows) is masked there too, and the ``:`` after the URL is still not taken for a value."""
    shown = "webhdfs://nn.example:9870/lake?page=2&user.cookie=Cookie-Value-77"
    detail = f"{shown}: refused"
    assert scrub([Check("lake", FAIL, detail)], [], [shown])[0].detail == (
        "webhdfs://nn.example:9870/lake?page=2&user.cookie=***: refused")


def test_an_own_metric_whose_timestamps_line_names_a_date_column_fails(clean_env: Path) -> None:
    """Was: OK, and so did `process`; then every read of the metric failed saying to re-run `process`. The bound
    result's column type tells it, with no lake and no row."""
    own = clean_env / "own"
    own.mkdir()
    path = own / "daily.sql"
    path.write_text("-- question: How many toots a day?\n-- key: day\n-- timestamps: day\n"
                    "SELECT CAST(created_at AS DATE) AS day, count(*) AS toots FROM statuses GROUP BY 1\n")
    code, output = _doctor(_env(clean_env, FEDISCOPE_METRICS_DIR=str(own)))
    assert code == 1, output
    (line,) = [line for line in output.splitlines() if line[6:].startswith("metrics ")]
    assert line.startswith(f"FAIL  metrics        metric daily ({path}): column day, named in its '-- timestamps:' "
                           "line, holds dates, not UTC timestamps"), line
