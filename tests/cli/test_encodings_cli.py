"""The commands on a terminal, pipe or locale that is not UTF-8, over data full of non-ASCII text.

The lake is the recorded public timeline (tests/data/mastodon/recordings) with a CJK, a Hebrew, a Greek or an
accented hashtag and emojis added to each status's text, in a directory whose name is not ASCII either.

Was: on a Latin-1 standard output (``PYTHONIOENCODING=latin-1``, or a ``LANG=…ISO-8859-1`` locale with a pipe),
``fediscope report``, ``gdpr export``, ``gdpr register`` and ``stream --help`` ended in a ``UnicodeEncodeError``
traceback, their output lost (a CJK hashtag, an emoji, the "…" or "—" of fediscope's own text); the demo did on an
ASCII one. Under an ASCII locale (``LC_ALL=C PYTHONUTF8=0``) ``gdpr export --out`` and ``gdpr register --out``
failed as well, as files were written in the locale's encoding, and a fediscope.toml naming a non-ASCII lake was
"not valid TOML". ``run_local.py --json`` failed on a Latin-1 stdout.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fediscope.lake.backend import open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import PrivacyPolicy

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
RUN_LOCAL = Path(__file__).resolve().parents[2] / "spark_jobs" / "mapreduce" / "run_local.py"
KEY = "test-pseudonym-key-0123456789abcdef"
LOCAL = "localhost:3000"  # the recorded server
TAGS = ("日本語", "café", "עברית", "Ελληνικά")
EMOJIS = "🎉🦊"
ACCOUNT = f"admin@{LOCAL}"  # the author of most recorded statuses
#: What an ASCII locale is on every Linux: no coercion to C.UTF-8 (LC_ALL is set), no UTF-8 mode.
ASCII_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
LATIN1_STDOUT = {"PYTHONIOENCODING": "latin-1"}


def recorded_statuses_with_non_ascii_text() -> list[dict[str, Any]]:
    """The recorded public timeline's statuses and the recorded tagged one, each given one of :data:`TAGS` (as a
    tag and in its text) and :data:`EMOJIS`."""
    timeline = json.loads((RECORDINGS / "test_public_tl.json").read_text(encoding="utf-8"))["interactions"]
    tagged = json.loads((RECORDINGS / "test_hashtag_tl.json").read_text(encoding="utf-8"))["interactions"][0]
    recorded = [status for interaction in timeline if isinstance(interaction["response"]["body"], list)
                for status in interaction["response"]["body"]] + [tagged["response"]["body"]]
    statuses = list({status["id"]: copy.deepcopy(status) for status in recorded}.values())
    for n, status in enumerate(statuses):
        tag = TAGS[n % len(TAGS)]
        status["tags"] = [{"name": tag, "url": f"http://{LOCAL}/tags/{tag}"}]
        status["content"] = status["content"].removesuffix("</p>") + f" {EMOJIS} #{tag}</p>"
    return statuses


def child_env(**variables: str) -> dict[str, str]:
    """This process's environment without FEDISCOPE_* or locale settings, with ``variables``."""
    kept = {name: value for name, value in os.environ.items()
            if not name.startswith(("FEDISCOPE_", "LC_", "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONCOERCECLOCALE"))
            and name != "LANG"}
    return {**kept, "LANG": "C.UTF-8", **variables}


def fediscope(env: dict[str, str], *args: str, cwd: Path | None = None,
              **variables: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m fediscope ARGS`` as a user's shell runs it; its output as the bytes it wrote."""
    return subprocess.run([sys.executable, "-m", "fediscope", *args], env={**env, **variables}, cwd=cwd,
                          capture_output=True, timeout=120, check=False)


def succeeded(result: subprocess.CompletedProcess[bytes]) -> bytes:
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr.decode("utf-8", "replace")
    return result.stdout


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory named ``lac-é-日本`` holding the lake, landed and processed (``lake/``, ``store.db``)."""
    base = tmp_path_factory.mktemp("encodings") / "lac-é-日本"
    policy = PrivacyPolicy(key=KEY.encode())
    records = [envelope(LOCAL, "/api/v1/timelines/public", landed) for status in recorded_statuses_with_non_ascii_text()
               if (landed := policy.status(status, LOCAL)) is not None]
    write_batch(open_lake(str(base / "lake")), "statuses", LOCAL, records)
    succeeded(fediscope(lake_env(base), "process", "--no-progress"))
    return base


def lake_env(base: Path) -> dict[str, str]:
    return child_env(FEDISCOPE_LAKE=str(base / "lake"), FEDISCOPE_STORE=f"sqlite:///{base / 'store.db'}",
                     FEDISCOPE_PSEUDONYM_KEY=KEY)


@pytest.fixture(scope="module")
def env(base: Path) -> dict[str, str]:
    return lake_env(base)


@pytest.fixture(scope="module")
def exported(env: dict[str, str]) -> Any:
    """The access export of :data:`ACCOUNT` as a UTF-8 terminal gets it (the reference)."""
    document = undated(succeeded(fediscope(env, "gdpr", "export", "--account", ACCOUNT)).decode("utf-8"))
    assert EMOJIS in json.dumps(document, ensure_ascii=False)  # the export holds non-ASCII text to lose
    return document


def undated_register(text: str) -> str:
    """The register without the time it was generated at."""
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:]+\+00:00", "<time>", text)


def undated(text: str) -> Any:
    """An access export's JSON without its "generated_at" (the second it was made)."""
    document = json.loads(text)
    del document["generated_at"]
    return document


def test_the_report_on_a_latin1_stdout_shows_what_latin1_lacks_as_escapes(env: dict[str, str]) -> None:
    out = succeeded(fediscope(env, "report", "--no-charts", **LATIN1_STDOUT)).decode("latin-1")
    assert "\n== Trending hashtags" in out  # the whole report, not what came before the first CJK tag
    assert "#café" in out  # Latin-1 has it
    assert "#\\u65e5\\u672c\\u8a9e" in out  # 日本語 as its escapes
    assert "store sqlite:///" in out and "lac-é-\\u65e5\\u672c" in out  # the store's path in the head line
    assert "fediscope report \u00b7" in out  # Latin-1 has the "·" too


def test_the_access_export_on_a_latin1_stdout_is_the_same_json(env: dict[str, str], exported: Any) -> None:
    out = succeeded(fediscope(env, "gdpr", "export", "--account", ACCOUNT, **LATIN1_STDOUT))
    assert out.isascii()  # the emojis as \\u escapes: valid JSON, which \\U0001f389 is not
    assert undated(out.decode("latin-1")) == exported


def test_help_and_the_register_on_a_latin1_stdout(env: dict[str, str]) -> None:
    assert b"fediscope stream" in succeeded(fediscope(env, "stream", "--help", **LATIN1_STDOUT))  # had a "…"
    register = succeeded(fediscope(env, "gdpr", "register", **LATIN1_STDOUT)).decode("latin-1")
    assert register.startswith("# ") and "\u2014" not in register and " - " in register  # "—" as "-"


def test_files_are_utf8_under_an_ascii_locale(env: dict[str, str], base: Path, exported: Any) -> None:
    locale = subprocess.run([sys.executable, "-c", "import locale; print(locale.getpreferredencoding(False))"],
                            env={**env, **ASCII_LOCALE}, capture_output=True, text=True, check=True).stdout
    assert locale.strip() == "ANSI_X3.4-1968"  # the files below would be written in ASCII, were it used
    out = base / "out"
    out.mkdir(exist_ok=True)
    succeeded(fediscope(env, "gdpr", "export", "--account", ACCOUNT, "--out", str(out / "export.json"),
                        **ASCII_LOCALE))
    succeeded(fediscope(env, "gdpr", "register", "--out", str(out / "register.md"), **ASCII_LOCALE))
    written = (out / "export.json").read_bytes().decode("utf-8")
    assert EMOJIS in written and undated(written) == exported  # as written, not escaped
    utf8 = succeeded(fediscope(env, "gdpr", "register")).decode("utf-8")
    register = (out / "register.md").read_bytes().decode("utf-8")
    assert "\u2014" in register and undated_register(register) == undated_register(utf8)  # as on a UTF-8 terminal


def test_a_config_file_naming_a_non_ascii_lake_under_an_ascii_locale(base: Path, tmp_path: Path) -> None:
    """fediscope.toml is read as the environment is: its lake names the same directory as FEDISCOPE_LAKE would."""
    (tmp_path / "fediscope.toml").write_text(f'[fediscope]\nlake = "{base / "lake"}"\n', encoding="utf-8")
    listing = succeeded(fediscope(child_env(), "lake", "ls", cwd=tmp_path, **ASCII_LOCALE))
    assert b"raw/" in listing


def test_the_demo_on_an_ascii_stdout(tmp_path: Path) -> None:
    where = tmp_path / "démo-日本"
    demo = subprocess.run([sys.executable, "-m", "fediscope.demo", "--statuses", "60", "--port", "0",
                           "--dir", str(where)], env=child_env(PYTHONIOENCODING="ascii"), capture_output=True,
                          timeout=300, check=False)
    out = demo.stdout.decode("ascii")
    assert demo.returncode == 0 and b"Traceback" not in demo.stderr, demo.stderr.decode("ascii", "replace") + out
    assert "fediscope demo in " in out and "d\\xe9mo-\\u65e5\\u672c" in out
    assert "[1/8] sample instance ..." in out and "\nDone in " in out
    assert (where / "demo-out" / "report.txt").read_bytes().decode("utf-8").startswith("fediscope report \u00b7 ")


def test_run_local_json_on_a_latin1_stdout(base: Path) -> None:
    utf8 = subprocess.run([sys.executable, str(RUN_LOCAL), str(base / "lake"), "--json"], env=child_env(),
                          capture_output=True, timeout=120, check=True).stdout
    latin1 = subprocess.run([sys.executable, str(RUN_LOCAL), str(base / "lake"), "--json"],
                            env=child_env(**LATIN1_STDOUT), capture_output=True, timeout=120, check=False)
    assert latin1.returncode == 0, latin1.stderr.decode("utf-8", "replace")
    assert latin1.stdout == utf8 and "日本語".encode() in utf8  # UTF-8 whatever the locale, as its metric lines
