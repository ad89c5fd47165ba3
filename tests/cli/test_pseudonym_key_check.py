"""The lake's pseudonym key check: a lake landed with one key refuses landings and GDPR requests with another.

Was: on a lake landed with key K, ``gdpr erase`` with another key printed "erased account …; raw: nothing; …; added
to the suppression list" (exit 0) and touched no record, and the other key's pseudonym on the suppression list never
matched, so later collections with K kept landing the account; ``gdpr export`` answered "nothing held"; ``collect``
and ``stream`` landed records that joined nothing. Everything runs for real: the sample instance on 127.0.0.1, the
``fediscope`` command in-process (``serve-api`` in a subprocess), lakes in tmp dirs.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import clean_env, run

from fediscope.config import Settings
from fediscope.lake.key_check import KEY_CHECK_PATH, KeyMismatchError, key_check_value
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer

KEY = "key-check-test-landing-key-4c1e9a7f3b2d8e6a0f5c"
OTHER = "key-check-test-operator-key-9b3f7d1e5a2c8f4b6e0d"
MISMATCH = "FEDISCOPE_PSEUDONYM_KEY is not the key this lake was landed with"
COMMAND = [sys.executable, "-c", "from fediscope.cli import main; main()"]
ROOT = Path(__file__).resolve().parents[2]  # the subprocess runs the fediscope these tests import


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(120, seed=5), rate_limit=100_000) as sample:
        yield sample


@pytest.fixture
def lake_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}", FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true")
    return tmp_path / "lake"


def _subject(server: SampleServer) -> str:
    """``user@127.0.0.1:PORT`` of a local account with a status on the public timeline, as the instance serves it."""
    with urllib.request.urlopen(f"{server.url}/api/v1/timelines/public?limit=40", timeout=10) as response:
        statuses = json.load(response)
    acct = next(s["account"]["acct"] for s in statuses if "@" not in s["account"]["acct"])
    return f"{acct}@127.0.0.1:{server.port}"


def _collect(capsys: pytest.CaptureFixture[str], server: SampleServer) -> tuple[int, str, str]:
    return run(capsys, "collect", "--instance", server.url, "--timeline", "public")


def _files(lake_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake_dir)): p.read_bytes() for p in sorted(lake_dir.rglob("*")) if p.is_file()}


def _refused(code: int, out: str, err: str) -> None:
    assert code == 2, (code, out, err)
    assert err.count("\n") == 1 and err.startswith("fediscope: error: ") and MISMATCH in err, err
    assert "Traceback" not in err and out == ""


def test_the_first_landing_records_a_check_of_the_key_not_the_key(capsys, server, lake_dir) -> None:
    code, _out, err = _collect(capsys, server)
    assert code == 0, err
    text = (lake_dir / KEY_CHECK_PATH).read_text()
    assert json.loads(text)["check"] == key_check_value(KEY) and len(key_check_value(KEY)) == 24
    assert KEY not in text and key_check_value(KEY) != key_check_value(OTHER)
    assert _collect(capsys, server)[0] == 0  # the same key again: not refused


def test_erase_and_export_with_another_key_are_refused_and_touch_nothing(capsys, monkeypatch, server,
                                                                         lake_dir) -> None:
    assert _collect(capsys, server)[0] == 0
    subject = _subject(server)
    code, out, err = run(capsys, "gdpr", "export", "--account", subject)
    assert code == 0, err
    held = sum(len(records) for records in json.loads(out)["raw"].values())
    assert held > 0  # the account has records in the lake
    before = _files(lake_dir)

    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", OTHER)  # an operator shell whose key differs from the collectors'
    code, out, err = run(capsys, "gdpr", "erase", "--account", subject, "--yes")
    _refused(code, out, err)
    assert "nothing was erased" in err
    code, out, err = run(capsys, "gdpr", "export", "--account", subject)
    _refused(code, out, err)
    assert "nothing was exported" in err
    assert _files(lake_dir) == before  # no record touched, nothing on the suppression list, no audit line

    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", KEY)  # the lake's key: the erasure does its work
    code, out, err = run(capsys, "gdpr", "erase", "--account", subject, "--yes")
    assert code == 0, err
    assert "added to the suppression list" in out
    code, out, _err = run(capsys, "gdpr", "export", "--account", subject)
    assert code == 0 and sum(len(records) for records in json.loads(out)["raw"].values()) == 0


def test_erase_on_a_terminal_is_refused_before_it_asks_for_confirmation(capsys, monkeypatch, server,
                                                                        lake_dir) -> None:
    """Was: the operator confirmed "Erase this account …? This cannot be undone", and only then was told the key
    was wrong. The refusal comes first, and nothing is asked."""
    assert _collect(capsys, server)[0] == 0
    before = _files(lake_dir)
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", OTHER)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)  # asked only where it can be answered
    monkeypatch.setattr("click.confirm", lambda *a, **k: pytest.fail(f"asked for confirmation: {a[0]!r}"))
    code, out, err = run(capsys, "gdpr", "erase", "--account", _subject(server))
    _refused(code, out, err)
    assert _files(lake_dir) == before


@pytest.mark.parametrize("command", [("collect", "--timeline", "public"), ("stream", "--duration", "1")])
def test_landing_with_another_key_is_refused_before_anything_is_fetched(capsys, monkeypatch, server, lake_dir,
                                                                        command) -> None:
    assert _collect(capsys, server)[0] == 0
    before = _files(lake_dir)
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", OTHER)
    code, out, err = run(capsys, command[0], "--instance", server.url, *command[1:])
    _refused(code, out, err)
    assert "nothing was landed" in err and f"delete {KEY_CHECK_PATH}" in err  # how to change the key on purpose
    assert _files(lake_dir) == before


def test_a_lake_without_a_check_is_not_refused_and_gets_one(capsys, monkeypatch, server, lake_dir) -> None:
    """A lake landed by an older fediscope holds no check: the next landing records one, whatever its key."""
    assert _collect(capsys, server)[0] == 0
    (lake_dir / KEY_CHECK_PATH).unlink()
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", OTHER)
    code, _out, err = _collect(capsys, server)
    assert code == 0, err
    assert json.loads((lake_dir / KEY_CHECK_PATH).read_text())["check"] == key_check_value(OTHER)


def test_erase_records_no_check_in_a_lake_without_one(capsys, monkeypatch, server, lake_dir) -> None:
    assert _collect(capsys, server)[0] == 0
    (lake_dir / KEY_CHECK_PATH).unlink()
    code, _out, err = run(capsys, "gdpr", "erase", "--account", _subject(server), "--yes")
    assert code == 0, err
    assert not (lake_dir / KEY_CHECK_PATH).exists()


def test_privacy_off_on_a_pseudonymised_lake_is_refused(capsys, monkeypatch, server, lake_dir) -> None:
    """Was: with FEDISCOPE_PRIVACY=off nothing was compared. An erasure on a lake landed with the key reported
    success, removed nothing and suppressed a digest of the clear name that no later (pseudonymised) collection
    meets; a collection landed names in clear among the pseudonyms."""
    assert _collect(capsys, server)[0] == 0
    subject = _subject(server)
    before = _files(lake_dir)
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    for command in (("collect", "--instance", server.url, "--timeline", "public"),
                    ("gdpr", "erase", "--account", subject, "--yes"), ("gdpr", "export", "--account", subject)):
        code, out, err = run(capsys, *command)
        assert code == 2 and out == "" and err.count("\n") == 1, (command, code, out, err)
        assert "FEDISCOPE_PRIVACY=off, but this lake was landed with the privacy policy on" in err, err
    assert _files(lake_dir) == before


def test_a_key_or_privacy_set_in_the_config_file_is_named_there(capsys, monkeypatch, server, lake_dir,
                                                               tmp_path) -> None:
    """Was: "Set FEDISCOPE_PSEUDONYM_KEY …", "unset FEDISCOPE_PRIVACY" to a user who set neither variable, the key
    and the privacy mode being in fediscope.toml: the refusal names the file and key to change."""
    assert _collect(capsys, server)[0] == 0
    before = _files(lake_dir)
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    toml = tmp_path / "fediscope.toml"
    monkeypatch.setenv("FEDISCOPE_CONFIG", str(toml))
    toml.write_text(f'[fediscope]\npseudonym_key = "{OTHER}"\n')
    code, out, err = _collect(capsys, server)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    named = f"{toml}: [fediscope] pseudonym_key"
    assert f"error: {named} is not the key this lake was landed with" in err and f"Set {named} to the key" in err
    assert "FEDISCOPE_PSEUDONYM_KEY" not in err and OTHER not in err
    toml.write_text("[fediscope]\nprivacy = false\n")
    code, out, err = _collect(capsys, server)
    named = f"{toml}: [fediscope] privacy"
    assert code == 2 and f"error: the privacy policy is off ({named}), but this lake was landed with the privacy " \
        "policy on" in err and f"Turn the privacy policy on (remove {named})" in err, err
    assert "FEDISCOPE_PRIVACY" not in err
    assert _files(lake_dir) == before


def test_a_lake_landed_with_privacy_off_refuses_the_privacy_policy(capsys, monkeypatch, server, lake_dir,
                                                                   tmp_path) -> None:
    monkeypatch.setenv("FEDISCOPE_LAKE", str(tmp_path / "clear-lake"))  # the environment of lake_dir, another lake
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    code, _out, err = _collect(capsys, server)
    assert code == 0, err
    assert json.loads((tmp_path / "clear-lake" / KEY_CHECK_PATH).read_text())["privacy"] == "off"
    assert _collect(capsys, server)[0] == 0  # privacy off again: the lake's mode
    before = _files(tmp_path / "clear-lake")
    monkeypatch.delenv("FEDISCOPE_PRIVACY")  # the privacy policy on, with KEY (lake_dir's environment)
    for command in (("collect", "--instance", server.url, "--timeline", "public"),
                    ("gdpr", "erase", "--account", _subject(server), "--yes")):
        code, out, err = run(capsys, *command)
        assert code == 2 and out == "" and "this lake was landed with FEDISCOPE_PRIVACY=off" in err, (command, err)
    assert _files(tmp_path / "clear-lake") == before


def test_a_damaged_check_is_one_clear_line(capsys, server, lake_dir) -> None:
    (lake_dir / KEY_CHECK_PATH).parent.mkdir(parents=True)
    (lake_dir / KEY_CHECK_PATH).write_text("{not json")
    for args in (("collect", "--instance", server.url), ("gdpr", "export", "--account", _subject(server))):
        code, out, err = run(capsys, *args)
        assert code == 1 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
        assert f"{KEY_CHECK_PATH} in the lake {lake_dir} is damaged" in err


def test_the_ingest_task_with_another_key_is_refused(capsys, server, lake_dir) -> None:
    from fediscope.orchestration import collect_target

    target = {"instance": server.url, "source": "public"}
    settings = Settings(lake=str(lake_dir), pseudonym_key=KEY, allow_private_addresses=True)
    assert collect_target(settings, target, pages=1)["landed"] > 0
    assert json.loads((lake_dir / KEY_CHECK_PATH).read_text())["check"] == key_check_value(KEY)
    before = _files(lake_dir)
    with pytest.raises(KeyMismatchError, match=MISMATCH):
        collect_target(settings.replace(pseudonym_key=OTHER), target, pages=1)
    assert _files(lake_dir) == before


def test_doctor_reports_a_key_that_is_not_the_lakes(capsys, server, lake_dir) -> None:
    from fediscope.doctor import FAIL, OK, check_pseudonym_key

    settings = Settings(lake=str(lake_dir), pseudonym_key=KEY)
    assert check_pseudonym_key(settings).status == OK  # no lake yet: nothing to compare
    assert _collect(capsys, server)[0] == 0
    assert check_pseudonym_key(settings).status == OK
    check = check_pseudonym_key(settings.replace(pseudonym_key=OTHER))
    assert check.status == FAIL and "not the key this lake was landed with" in check.detail
    assert "FEDISCOPE_PSEUDONYM_KEY" in check.fix and OTHER not in check.detail + check.fix
    check = check_pseudonym_key(settings.replace(privacy=False))
    assert check.status == FAIL and "landed with the privacy policy on" in check.detail, check
    check_file = lake_dir / KEY_CHECK_PATH
    check_file.unlink()
    check_file.mkdir()  # a check that cannot be read: collect and erase stop on it, doctor said OK
    check = check_pseudonym_key(settings)
    assert check.status == FAIL and "cannot be read" in check.detail, check


def _serve(lake_dir: Path, server: SampleServer, key: str) -> tuple[str, subprocess.Popen[str]]:
    """``fediscope serve-api`` in a subprocess: its first line on stderr, and the process (still running when the
    API started)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_PSEUDONYM_KEY=key, FEDISCOPE_INSTANCES=server.url,
               FEDISCOPE_API_KEY="key-check-test-api-key-7e2a9c4f1b8d",
               FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true", PYTHONPATH=str(ROOT))
    process = subprocess.Popen([*COMMAND, "serve-api", "--port", "0"], env=env, cwd=lake_dir.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    return process.stderr.readline(), process


def test_serve_api_with_another_key_does_not_start(capsys, server, lake_dir) -> None:
    assert _collect(capsys, server)[0] == 0
    line, process = _serve(lake_dir, server, OTHER)
    try:
        assert MISMATCH in line and "the API was not started" in line, line
        assert process.wait(timeout=30) == 2
    finally:
        process.kill()
        process.wait()


def test_serve_api_records_the_check_in_a_lake_without_one(capsys, server, lake_dir) -> None:
    assert _collect(capsys, server)[0] == 0
    (lake_dir / KEY_CHECK_PATH).unlink()
    line, process = _serve(lake_dir, server, KEY)
    try:
        assert "fediscope API on http://127.0.0.1:" in line, line
        assert json.loads((lake_dir / KEY_CHECK_PATH).read_text())["check"] == key_check_value(KEY)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_api_started_before_the_lake_refuses_once_another_key_claims_it(capsys, monkeypatch, server,
                                                                              lake_dir) -> None:
    """Was: serve-api checked only at start; started before the lake existed, it went on serving (NiFi landing)
    records of its key after a collector with another key had created the lake."""
    assert not lake_dir.exists()
    line, process = _serve(lake_dir, server, KEY)
    try:
        assert "fediscope API on http://127.0.0.1:" in line, line
        url = line.split("fediscope API on ", 1)[1].split()[0].rstrip(",;:/")  # routes join it without its slash
        monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", OTHER)
        assert _collect(capsys, server)[0] == 0  # the lake is created, and claimed by OTHER
        request = urllib.request.Request(f"{url}/v1/timelines/public?instance={server.url.split('://')[1]}&limit=5",
                                         headers={"X-API-Key": "key-check-test-api-key-7e2a9c4f1b8d"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 503
        assert json.loads(refused.value.read())["error"]["code"] == "key_mismatch"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_api_does_not_start_on_a_damaged_check(capsys, server, lake_dir) -> None:
    assert _collect(capsys, server)[0] == 0
    (lake_dir / KEY_CHECK_PATH).write_text("")
    line, process = _serve(lake_dir, server, KEY)
    try:
        assert "is damaged" in line, line
        assert process.wait(timeout=30) == 1
    finally:
        process.kill()
        process.wait()


def test_an_api_that_cannot_write_its_lake_still_serves_and_still_compares(capsys, monkeypatch, server,
                                                                           lake_dir, caplog) -> None:
    """Recording a check from the API is best effort (it may only read its lake): was 503 lake_unavailable on
    every records request of a lake without a check that the API could not write. A mismatch is still refused."""
    from api.errors import ApiError
    from api.upstream import Suppression
    from fediscope.errors import LakeError
    from fediscope.lake.local import LocalLake

    assert _collect(capsys, server)[0] == 0
    (lake_dir / KEY_CHECK_PATH).unlink()

    def read_only(self, path, data):  # type: ignore[no-untyped-def]
        raise LakeError(f"cannot create {path}: Read-only file system")

    monkeypatch.setattr(LocalLake, "create_exclusive", read_only)
    settings = Settings(lake=str(lake_dir), pseudonym_key=KEY)
    assert Suppression(settings, ttl=0).current() == frozenset()
    assert not (lake_dir / KEY_CHECK_PATH).exists()
    assert "could not be recorded" in caplog.text
    monkeypatch.undo()
    (lake_dir / KEY_CHECK_PATH).write_bytes(json.dumps({"check": key_check_value(OTHER)}).encode())
    with pytest.raises(ApiError) as refused:
        Suppression(settings, ttl=0).current()
    assert refused.value.status == 503 and refused.value.code == "key_mismatch"


def test_doctor_leaves_an_unusable_lake_url_to_the_lake_check() -> None:
    """Was: a FEDISCOPE_LAKE doctor cannot open also FAILed pseudonym_key, whose fix said to set the key."""
    from fediscope.doctor import OK, WARN, check_pseudonym_key

    assert check_pseudonym_key(Settings(lake="ftp://host/lake", pseudonym_key=KEY)).status == OK
    assert check_pseudonym_key(Settings(lake="ftp://host/lake", privacy=False)).status == WARN


# -- a key missing for a lake landed with one ----------------------------------------------------------------------
LANDED_WITH_ONE = "FEDISCOPE_PSEUDONYM_KEY is not set, and this lake was landed with one"
GENERATE = "secrets.token_hex"  # the advice to generate a key, right for a new lake only


@pytest.mark.parametrize("command", [("collect", "--timeline", "public"), ("stream", "--duration", "1")])
def test_a_missing_key_for_a_lake_landed_with_one_asks_for_that_key(capsys, monkeypatch, server, lake_dir,
                                                                    command) -> None:
    """Was: "no pseudonym key: set FEDISCOPE_PSEUDONYM_KEY to a long random secret, e.g. export …=$(python3 -c
    '…token_hex(32)')": a new shell that had lost the variable was told to generate a key, and the lake then
    refused that key as not its own."""
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, _out, err = run(capsys, command[0], "--instance", server.url, *command[1:])
    assert code == 2 and GENERATE in err and LANDED_WITH_ONE not in err, err  # a new lake: generate one
    assert not lake_dir.exists()  # nothing created for nothing
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", KEY)
    assert _collect(capsys, server)[0] == 0
    before = _files(lake_dir)
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, out, err = run(capsys, command[0], "--instance", server.url, *command[1:])
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, out, err)
    assert LANDED_WITH_ONE in err and "to the key the lake was landed with" in err, err
    assert GENERATE not in err and "demo" not in err, err
    assert _files(lake_dir) == before


def test_a_missing_key_for_the_demos_lake_names_the_demos_key_file(capsys, monkeypatch, server, lake_dir) -> None:
    """``python -m fediscope.demo`` keeps its lake's key in the lake: a researcher collecting more into demo-lake
    is told where it is, as a command that reads it."""
    assert _collect(capsys, server)[0] == 0
    (lake_dir / "_state" / "demo-key").write_text(KEY + "\n")  # as fediscope.demo.demo_key keeps it
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, _out, err = _collect(capsys, server)
    assert code == 2 and f"export FEDISCOPE_PSEUDONYM_KEY=$(cat {lake_dir}/_state/demo-key)" in err, err
    assert KEY not in err


def test_a_missing_key_for_a_lake_landed_with_privacy_off_says_so(capsys, monkeypatch, server, lake_dir) -> None:
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    assert _collect(capsys, server)[0] == 0
    monkeypatch.delenv("FEDISCOPE_PRIVACY")
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, _out, err = _collect(capsys, server)
    assert code == 2 and "landed with FEDISCOPE_PRIVACY=off" in err and "set FEDISCOPE_PRIVACY=off" in err, err
    assert GENERATE not in err


def test_doctor_asks_for_the_lakes_key_when_none_is_set(capsys, server, lake_dir) -> None:
    from fediscope.doctor import FAIL, check_pseudonym_key

    settings = Settings(lake=str(lake_dir))
    check = check_pseudonym_key(settings)  # no lake yet: generate one
    assert check.status == FAIL and GENERATE in check.fix, check
    assert _collect(capsys, server)[0] == 0
    check = check_pseudonym_key(settings)
    assert check.status == FAIL and LANDED_WITH_ONE in check.detail, check
    assert "to the key the lake was landed with" in check.fix and GENERATE not in check.fix, check


def test_serve_api_without_a_key_for_a_lake_landed_with_one_asks_for_that_key(capsys, server, lake_dir) -> None:
    assert _collect(capsys, server)[0] == 0
    line, process = _serve(lake_dir, server, "")
    try:
        assert LANDED_WITH_ONE in line and GENERATE not in line, line
        assert process.wait(timeout=30) == 2
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("command", ["export", "erase"])
def test_gdpr_without_a_key_asks_for_the_lakes_key_not_a_new_one(capsys, monkeypatch, server, lake_dir,
                                                                command) -> None:
    """Was: "cannot find the account's records without the pseudonym key that landed them: no pseudonym key: set
    FEDISCOPE_PSEUDONYM_KEY to a long random secret, e.g. …": a new key finds nothing."""
    assert _collect(capsys, server)[0] == 0
    subject = _subject(server)
    before = _files(lake_dir)
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, out, err = run(capsys, "gdpr", command, "--account", subject, *(["--yes"] if command == "erase" else []))
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    assert LANDED_WITH_ONE in err and "to the key the lake was landed with" in err and GENERATE not in err, err
    assert "demo" not in err, err
    assert _files(lake_dir) == before


@pytest.mark.parametrize("command", ["export", "erase"])
def test_gdpr_without_a_key_names_the_demos_key_file(capsys, monkeypatch, server, lake_dir, command) -> None:
    """Was: gdpr erase/export worded a missing key their own way, without the landing's hint that the demo keeps
    its lake's key in the lake."""
    assert _collect(capsys, server)[0] == 0
    (lake_dir / "_state" / "demo-key").write_text(KEY + "\n")  # as fediscope.demo.demo_key keeps it
    subject = _subject(server)
    before = _files(lake_dir)
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, out, err = run(capsys, "gdpr", command, "--account", subject, *(["--yes"] if command == "erase" else []))
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    assert f"export FEDISCOPE_PSEUDONYM_KEY=$(cat {lake_dir}/_state/demo-key)" in err and KEY not in err, err
    assert _files(lake_dir) == before


@pytest.mark.parametrize("command", ["export", "erase"])
def test_gdpr_without_a_key_on_a_lake_landed_with_privacy_off_says_so(capsys, monkeypatch, server, lake_dir,
                                                                      command) -> None:
    """Was: "cannot find the account's records without the pseudonym key that landed them", for a lake landed with
    no key at all: the lake's key check says privacy was off, and so does the refusal."""
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    assert _collect(capsys, server)[0] == 0
    subject = _subject(server)
    before = _files(lake_dir)
    monkeypatch.delenv("FEDISCOPE_PRIVACY")
    monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    code, out, err = run(capsys, "gdpr", command, "--account", subject, *(["--yes"] if command == "erase" else []))
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    assert "landed with FEDISCOPE_PRIVACY=off" in err and "set FEDISCOPE_PRIVACY=off" in err, err
    assert GENERATE not in err and "pseudonym key that landed them" not in err, err
    assert _files(lake_dir) == before
