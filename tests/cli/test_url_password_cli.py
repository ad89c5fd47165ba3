"""A store URL whose password holds ``/ # ? : @`` written unencoded: no command shows any piece of it.

``urlsplit`` ends a URL's host at the first ``/ ? #``, so a check that parsed the URL itself quoted a piece of the
password as the "host" (``sqlite://u:Kq7w/…@h`` "names a host ('u:Kq7w')") or the "port" (``hbase://u:Kq7w/…@h``
"Port could not be cast to integer value as 'Kq7w'"), and free-text redaction left a password holding a ``/``
whole. Each command runs through the real entry point, with the URL from ``FEDISCOPE_STORE`` or ``--store``.
"""

from __future__ import annotations

import json
import re

import pytest
from cli_run import clean_env, run

#: Passwords as a user might paste them: every piece between the URL characters is checked for separately.
PASSWORDS = ("Kq7wZx/9vRt4Lm", "Kq7w:Zx9v/Rt4Lm", "Kq7w#Zx9v?Rt4Lm", "Kq7w@Zx9v/Rt4Lm", "Kq7w Zx9v/Rt4Lm")
CLOSED = "127.0.0.1:1"  # nothing listens there: connecting fails at once
URLS = (
    "mysql+pymysql://fediscope:{pw}@" + CLOSED + "/fediscope",  # unreachable MySQL: SQLAlchemy's error is wrapped
    "sqlite://fediscope:{pw}@host/x.db",  # a SQLite URL naming a host: the "names a host" check
    "hbase://fediscope:{pw}@" + CLOSED,  # an HBase URL: its port check
    # PyMySQL's password option, which SQLAlchemy reads to the next & (a # included): was half shown after a #
    "mysql+pymysql://fediscope@" + CLOSED + "/fediscope?password={pw}",
)
COMMANDS = (("config", "show"), ("config", "check"), ("doctor",), ("doctor", "--json"), ("report",),
            ("report", "--format", "json"), ("store", "drop", "gone_metric", "--yes"),
            ("store", "export", "gone_metric"))


def pieces(password: str) -> list[str]:
    return [p for p in re.split(r"[^A-Za-z0-9]", password) if p]


def assert_not_shown(password: str, out: str, err: str) -> None:
    assert "Traceback" not in err, err
    shown = [p for p in pieces(password) if p in out + err]
    assert not shown, f"{shown} shown in:\n{out}{err}"


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("template", URLS)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_command_shows_a_piece_of_the_store_password(tmp_path, monkeypatch, capsys, password: str,
                                                        template: str, command: tuple[str, ...]) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"),
              FEDISCOPE_STORE=template.format(pw=password))
    code, out, err = run(capsys, *command)
    assert_not_shown(password, out, err)
    assert code != 0 or command[0] == "config" and command[1] == "show" or "FAIL" in out + err, out + err
    if "--json" in command or "json" in command:
        json.loads(out)  # still a document to parse, the password masked in it


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("template", URLS)
@pytest.mark.parametrize("command", ["report", "process"])
def test_a_store_option_never_shows_a_piece_of_its_password(tmp_path, monkeypatch, capsys, password: str,
                                                            template: str, command: str) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"))
    code, out, err = run(capsys, command, "--store", template.format(pw=password))
    *before, last = err.splitlines()
    assert code in (1, 2) and last.startswith("fediscope: error: "), err
    # a URL read at all (not refused as malformed, exit 2) is warned of first: the option is in `ps`
    assert all(line.startswith("fediscope: warning: --store holds a password") for line in before), err
    assert code == 2 or len(before) == 1, err
    assert_not_shown(password, out, err)


def test_the_unreachable_mysql_store_is_reported_with_the_password_masked(tmp_path, monkeypatch, capsys) -> None:
    """The failure is the server's (the connection was really tried), and the URL shown keeps all but the
    password."""
    password = PASSWORDS[0]
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=URLS[0].format(pw=password))
    code, out, err = run(capsys, "report")
    assert code == 1 and "Can't connect to MySQL server" in err, err
    assert f"mysql+pymysql://fediscope:***@{CLOSED}/fediscope" in err
    assert_not_shown(password, out, err)


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("command", [("config", "show"), ("doctor",), ("collect",)], ids=" ".join)
def test_an_instance_address_with_a_password_is_refused_without_showing_it(tmp_path, monkeypatch, capsys,
                                                                         password: str,
                                                                         command: tuple[str, ...]) -> None:
    """Was: accepted, the user and password dropped silently (fediscope never sends them), and the address shown as
    typed by ``config show``; a password with an unencoded ``/`` was quoted by the port error."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"),
              FEDISCOPE_INSTANCES=f"https://alice:{password}@mastodon.example")
    code, out, err = run(capsys, *command)
    assert code == 2 and "FEDISCOPE_INSTANCES is invalid" in err and "names a user or password" in err, err
    assert "alice:***@mastodon.example" in err
    assert_not_shown(password, out, err)


def test_an_instance_address_with_a_token_in_its_query_is_quoted_masked(tmp_path, monkeypatch, capsys) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_INSTANCES="ftp://mastodon.example/?access_token=Kq7wZx9vRt4Lm")
    code, out, err = run(capsys, "collect", "--instance", "ftp://mastodon.example/?access_token=Kq7wZx9vRt4Lm")
    assert code == 2 and "access_token=***" in err and "Kq7w" not in out + err, err


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("where", ["toml", "env"])
def test_config_show_masks_a_token_in_an_instance_address(tmp_path, monkeypatch, capsys, as_json: bool,
                                                          where: str) -> None:
    """Was: ``FEDISCOPE_INSTANCES`` and ``[[sources]]`` shown as typed, a ``?access_token=`` (which fediscope never
    sends: tokens go in FEDISCOPE_TOKEN_<INSTANCE>) included; then shown masked, the query dropped silently. An
    address with a query is now refused, and the error masks the token."""
    token = "Rt4LmKq7wZx9" if where == "toml" else "Kq7wZx9vRt4Lm"
    if where == "toml":
        (tmp_path / "fediscope.toml").write_text(f'[[sources]]\ninstance = "https://b.example/?access_token={token}"\n')
    clean_env(tmp_path, monkeypatch, **({"FEDISCOPE_INSTANCES": f"https://a.example/?access_token={token}"}
                                        if where == "env" else {}))
    code, out, err = run(capsys, "config", "show", *(["--json"] if as_json else []))
    assert code == 2, out + err
    named = "fediscope.toml: [[sources]] entry 1" if where == "toml" else "FEDISCOPE_INSTANCES is invalid"
    assert named in out + err and "?access_token=***' (a path, query or fragment" in out + err, out + err
    assert_not_shown(token, out, err)
