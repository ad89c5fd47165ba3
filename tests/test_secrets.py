"""Secrets hygiene: tokens, API keys and the pseudonym key never reach logs, output, error messages or files.

The full-run tests set KNOWN secret values, run the product the way a user does (collection against the
recorded Mastodon double with an access token, processing, the scraping API, GDPR commands, config commands,
failures), capture every log line at DEBUG level plus stdout/stderr, and scan them — and every byte of the lake
and the store — for the secrets. The double records the Authorization header it received, which proves the
token was really in flight.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from filtered_logging import logged_through_filter

from fediscope.cli.common import configure_logging
from fediscope.config import Settings, load_settings, token_env_name
from fediscope.config_check import check_settings, weakness
from fediscope.redact import MASK, RedactingFilter, redact_text, redact_url, secret_values

PSEUDONYM_KEY = "pk-7f3a9c2e8d1b6f4a0e5c9b3d7a2f8e1c4b6d0a9f3e7c2b8d"
API_KEY = "ak-Qm4Zt9Lw2Xv8Rb6Nc1Hp5Jd3Ks7Ty0Ue"
TOKEN = "tk-8sJ2mQ4xV7nB1cZ9kL5pR3wT6yH0dF2gA4eU7iO"
DB_PASSWORD = "db-Vq7Hs2Lk9Pw4"
SECRETS = (PSEUDONYM_KEY, API_KEY, TOKEN, DB_PASSWORD)
FEDISCOPE = str(Path(sys.executable).with_name("fediscope"))


def leaks(text: str | bytes, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in secrets if s.encode() in data]


def files_with_secrets(*roots: Path) -> dict[str, list[str]]:
    found = {}
    for root in roots:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            hit = leaks(path.read_bytes())
            if hit:
                found[str(path)] = hit
    return found


# -- redaction --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "expected"), [
    ("mysql+pymysql://writer:pw-123@db.example:3306/fediscope", "mysql+pymysql://writer:***@db.example:3306/fediscope"),
    ("https://m.example/api/v1/timelines/public?access_token=abc&limit=40",
     "https://m.example/api/v1/timelines/public?access_token=***&limit=40"),
    ("https://m.example/oauth/token?code=xyz&client_secret=s&grant_type=x",
     "https://m.example/oauth/token?code=***&client_secret=***&grant_type=x"),
    ("webhdfs://namenode:9870/lake", "webhdfs://namenode:9870/lake"),
    # WebHDFS's delegation token (a mistyped lake URL's error repeats the URL)
    ("webhdfs://nn:9870/lake?user=etl&delegation=HgALZXRs", "webhdfs://nn:9870/lake?user=etl&delegation=***"),
    ("sqlite:///fediscope.db", "sqlite:///fediscope.db"),
    # SQLAlchemy takes a password with an unencoded / ? or # (anything but @); urlsplit ends the host there
    ("mysql+pymysql://writer:Sup3r#Secret/Pw@db.example/fediscope", "mysql+pymysql://writer:***@db.example/fediscope"),
    ("mysql+pymysql://writer:a/b?c@db:3306/x", "mysql+pymysql://writer:***@db:3306/x"),
    # an unencoded @ too (refused as a store URL, but never half shown): masked to the authority's last @
    ("mysql+pymysql://fediscope:S3cr3t@Pass/word#99@127.0.0.1/fediscope",
     "mysql+pymysql://fediscope:***@127.0.0.1/fediscope"),
    ("mysql+pymysql://u:a@b@h:3306/db?charset=utf8mb4", "mysql+pymysql://u:***@h:3306/db?charset=utf8mb4"),
    ("mysql+pymysql://u:a?b@c@h/db", "mysql+pymysql://u:***@h/db"),
    # an @ in a query value is not the end of the password
    ("mysql+pymysql://u:pw@h/db?ssl_ca=/home/a@b/ca.pem", "mysql+pymysql://u:***@h/db?ssl_ca=/home/a@b/ca.pem"),
    # PyMySQL takes the password as a query parameter too, under either of its names
    ("mysql+pymysql://fed@db/x?password=QSsecret99", "mysql+pymysql://fed@db/x?password=***"),
    ("mysql+pymysql://fed@db/x?passwd=QSsecret99&charset=utf8mb4", "mysql+pymysql://fed@db/x?passwd=***&charset=utf8mb4"),
    ("mysql+pymysql://fed:pw@db/x?ssl_key_password=kp", "mysql+pymysql://fed:***@db/x?ssl_key_password=***"),
    # typed without // : not a URL urlsplit can take apart, but the userinfo is still a password
    ("mysql+pymysql:/u:SECRETPW@h/db", "mysql+pymysql:/u:***@h/db"),
    ("mysql+pymysql//u:SECRETPW@h/db", "mysql+pymysql//u:***@h/db"),
    ("postgres:/u:pw:with:colons@h", "postgres:/u:***@h"),
    ("mysql:/u@h", "mysql:/u@h"),
    # a blank, tab or line break in the password, then a / ? or # (the blank ended it for the pattern, the / the
    # host for urlsplit: shown whole); blanks before the scheme, which urlsplit drops
    ("https://alice:pw /@host", "https://alice:***@host"),
    ("mysql+pymysql://u:Kq7w\tZx?9v@h/db?charset=utf8mb4", "mysql+pymysql://u:***@h/db?charset=utf8mb4"),
    ("mysql+pymysql://u:Kq:7w Zx\n#9v@h/db", "mysql+pymysql://u:***@h/db"),
    ("https://al ice:Kq7wé /Zx@host", "https://al ice:***@host"),
    (" mysql+pymysql://u:Kq7w/Zx9v@h/db", " mysql+pymysql://u:***@h/db"),
    # an @ in a ?password= after a port: SQLAlchemy reads a password to it, urlsplit a query; masked either way
    ("mysql+pymysql://127.0.0.1:1/x?password=Kq7w@Zx9v/Rt&ssl=1", "mysql+pymysql://127.0.0.1:***@***&ssl=1"),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize("url", ["mysql+pymysql:/u:SECRETPW@h/db", "mysql+pymysql//u:SECRETPW@h/db",
                                 "postgres:/u:SECRETPW@h"])
def test_a_mistyped_store_url_is_refused_without_its_password(url: str, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from cli_run import run

    monkeypatch.setenv("FEDISCOPE_STORE", url)
    code, out, err = run(capsys, "report")
    assert code == 2 and "SECRETPW" not in out + err and "u:***@h" in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["mysql+pymysql://fediscope:SECRETPW@127.0.0.1:1/db",
                                 "mysql+pymysql://fediscope@127.0.0.1:1/db?password=SECRETPW"])
def test_a_password_in_store_option_is_warned_of_never_shown(url: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A command line is in other users' `ps` and the shell history: --store with a password gets one warning
    naming the safer places; the same URL in FEDISCOPE_STORE, or a store URL without a password, gets none."""
    from cli_run import clean_env, run

    clean_env(tmp_path, monkeypatch)
    code, out, err = run(capsys, "report", "--no-charts", "--store", url)
    assert err.count("warning: --store holds a password") == 1 and "FEDISCOPE_STORE or fediscope.toml" in err
    assert code == 1 and "SECRETPW" not in out + err and "Traceback" not in err
    monkeypatch.setenv("FEDISCOPE_STORE", url)
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 1 and "holds a password" not in err and "SECRETPW" not in out + err
    code, out, err = run(capsys, "report", "--no-charts", "--store", f"sqlite:///{tmp_path / 'm.db'}")
    assert "holds a password" not in err


@pytest.mark.parametrize("text", [
    f"GET /x headers={{'Authorization': 'Bearer {TOKEN}', 'User-Agent': 'fediscope'}}",
    f"Authorization: Bearer {TOKEN}",
    f"X-API-Key: {API_KEY}",
    f"curl -H 'x-api-key: {API_KEY}' http://127.0.0.1:8080/v1/instance",
    f"https://m.example/api?access_token={TOKEN}&limit=5",
    f"mysql+pymysql://writer:{API_KEY}@db/x",
])
def test_credential_shapes_are_masked_without_knowing_the_secret(text: str) -> None:
    masked = redact_text(text)
    assert not leaks(masked) and MASK in masked


@pytest.mark.parametrize(("text", "expected"), [
    ("failed: mysql+pymysql://u:p@ss@db.example/x (timeout)", "failed: mysql+pymysql://u:***@db.example/x (timeout)"),
    ("postgresql://u:a@b@c@h:5432/d?x=1, then bob@x.org", "postgresql://u:***@h:5432/d?x=1, then bob@x.org"),
    # a password may hold an unencoded / as well, so `pw@host/x` cannot be told from a password: masked, as
    # redact_url masks it (a shown host is worth less than a half-shown password)
    ("mysql://u:pw@host/x@y", "mysql://u:***@y"),
])
def test_a_password_holding_an_at_sign_is_masked_whole(text: str, expected: str) -> None:
    """Was: masked only up to its first ``@`` (``u:***@ss@db.example``): the rest of the password was shown."""
    assert redact_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("mysql+pymysql://fediscope:pa/ss@db.example:3306/fediscope",
     "mysql+pymysql://fediscope:***@db.example:3306/fediscope"),
    ("GET https://user:se/cret@host/x failed", "GET https://user:***@host/x failed"),
    ("https://user:se/cret@host", "https://user:***@host"),
    ("https://user:se#cr?et@host/x?a=b@c", "https://user:***@host/x?a=b@c"),  # the query's @ is no end of it
    ("https://user:se:cr:et@host/x", "https://user:***@host/x"),
    ("https://u:a/b@c/d@h:3306/x", "https://u:***@h:3306/x"),  # to the last @ before the host
    ("redis://:pa/ss@h:6379/0", "redis://:***@h:6379/0"),  # no user name, a password all the same
    ("cannot connect (mysql+pymysql://u:pa/ss@127.0.0.1:1/db): refused",
     "cannot connect (mysql+pymysql://u:***@127.0.0.1:1/db): refused"),
    ("store='mysql+pymysql://u:pa/ss@db/x', owner='a@b'", "store='mysql+pymysql://u:***@db/x', owner='a@b'"),
    ('{"store":"mysql+pymysql://u:pa/ss@db/x","owner":"a@b"}', '{"store":"mysql+pymysql://u:***@db/x","owner":"a@b"}'),
    ("x https://u:p/1@h1/a y https://u:p/2@h2/b z", "x https://u:***@h1/a y https://u:***@h2/b z"),
    ("a=https://u:p/1@h1/x,b=https://h2:80/@y", "a=https://u:***@h1/x,b=https://h2:80/@y"),
    # a quoted URL is one value to its closing quote, blanks and all (an error quoting a setting or a parameter)
    ("not an instance address: 'https://alice:pw /@host' (it names)",
     "not an instance address: 'https://alice:***@host' (it names)"),
    ('store "mysql+pymysql://u:Kq7w\tZx#9v@db/x" refused', 'store "mysql+pymysql://u:***@db/x" refused'),
    ("'https://u:x' is bad, see 'a@b'", "'https://u:x' is bad, see 'a@b'"),  # the quote closes before any @
])
def test_a_password_holding_a_slash_or_other_url_characters_is_masked_whole(text: str, expected: str) -> None:
    """Was: a password with an unencoded ``/`` was not masked at all (``fediscope:pa/ss@db`` shown as it was)."""
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "write to bob@example.com or @alice@mastodon.example",
    "see https://mastodon.example/@alice and https://mastodon.example/@alice@other.example",
    "http://127.0.0.1:8123/@alice http://127.0.0.1:8123/@alice@x.org/123 http://[::1]:8080/@a",
    "http://127.0.0.1:8123/api/v1/accounts/lookup?acct=alice@x.org",
    "https://mastodon.example/api/v1/timelines/public?limit=40 https://m2.example:443/x",
    "webhdfs://nn:9870/lake/raw/a@b",
    "use mysql+pymysql://user:<password>@host:3306/<database>",
])
def test_text_without_a_url_password_is_left_as_it_is(text: str) -> None:
    assert redact_text(text) == text


def test_the_password_placeholder_of_fediscopes_hints_is_masked_nowhere() -> None:
    """`fediscope doctor` (and every log record, every Airflow task error) showed the MySQL form as
    `user:***@host`, other commands as `user:password@host`: the hint now reads the same in every output."""
    from fediscope.doctor import Check, scrub
    from fediscope.store.port import MYSQL_FORM, STORE_FORMS

    hint = f"names no database; use {MYSQL_FORM}; {STORE_FORMS}"
    assert MYSQL_FORM == "mysql+pymysql://user:<password>@host:3306/<database>"
    secrets = secret_values(Settings(store=f"mysql+pymysql://writer:{DB_PASSWORD}@db/x", api_key=(API_KEY,)))
    assert redact_text(hint) == hint and redact_text(hint, secrets) == hint
    assert scrub([Check("store", "FAIL", hint, hint)], secrets) == [Check("store", "FAIL", hint, hint)]
    logged = logged_through_filter(secrets, "fediscope.tests.placeholder", "store refused: %s", hint)
    assert logged == f"store refused: {hint}\n"


@pytest.mark.parametrize("password", [DB_PASSWORD, "<password>x", "x<password>", "<password", "<PASSWORD>",
                                      "<password>%40x"])  # an @ in a password is written %40
def test_a_real_password_is_masked_even_when_it_looks_like_the_placeholder(password: str) -> None:
    url = f"mysql+pymysql://writer:{password}@db/x"
    for masked in (redact_text(f"cannot connect to {url}"), redact_url(url)):
        assert password not in masked and "writer:***@" in masked, masked


def test_a_password_that_is_the_placeholder_itself_is_still_masked_where_it_is_known() -> None:
    url = "mysql+pymysql://writer:<password>@db/x"  # the form pasted unchanged, or a real password
    assert redact_url(url) == "mysql+pymysql://writer:***@db/x"  # a URL's own password: masked whatever it is
    assert redact_text(f"cannot connect to {url}", secret_values(Settings(store=url))) == \
        "cannot connect to mysql+pymysql://writer:***@db/x"


def test_known_secrets_are_masked_anywhere() -> None:
    text = f"key={PSEUDONYM_KEY} in a sentence, again:{PSEUDONYM_KEY}."
    assert redact_text(text, [PSEUDONYM_KEY]) == "key=*** in a sentence, again:***."
    assert redact_text("a b c", ["b"]) == "a b c"  # too short to mask without garbling text


def test_secret_values_of_settings() -> None:
    settings = Settings(api_key=(f"{API_KEY}:ro",), pseudonym_key=PSEUDONYM_KEY, tokens={"m_example": TOKEN},
                        store="mysql+pymysql://writer:db-pass-4711@db/x")
    assert set(secret_values(settings)) == {f"{API_KEY}:ro", API_KEY, PSEUDONYM_KEY, TOKEN, "db-pass-4711"}
    unencoded = Settings(store="mysql+pymysql://writer:Sup3r#Secret/Pw@db/x")  # as SQLAlchemy accepts it
    assert secret_values(unencoded) == ["Sup3r#Secret/Pw"]
    in_query = Settings(store="mysql+pymysql://writer@db/x?charset=utf8mb4&passwd=QSsecret99")
    assert secret_values(in_query) == ["QSsecret99"]


def test_the_secrets_of_the_spark_lake_uri_are_known(tmp_path: Path) -> None:
    """Was: ``secret_values`` read the store and lake URLs but not ``spark_lake_uri``, so a credential in it was
    masked only where a text showed it URL-shaped (``?delegation_token=…``), not where an error quoted it alone."""
    uri = "hdfs://spark:Hd-Pw7x2Lq9@namenode:8020/fediscope?charset=utf8&hdfs_delegation_token=Dt-4Kq8Zm2Wv6Xs0"
    settings = load_settings({"FEDISCOPE_SPARK_LAKE_URI": uri, "FEDISCOPE_LAKE": str(tmp_path / "lake")},
                             toml_path=False)
    assert settings.spark_lake_uri == uri
    secrets = secret_values(settings)
    assert {"Hd-Pw7x2Lq9", "Dt-4Kq8Zm2Wv6Xs0"} <= set(secrets)
    message = "delegation (Dt-4Kq8Zm2Wv6Xs0) can't be found in cache; login as spark with Hd-Pw7x2Lq9 refused"
    assert redact_text(message, secrets) == "delegation (***) can't be found in cache; login as spark with *** refused"


def test_a_short_known_secret_is_masked_only_where_it_stands_alone() -> None:
    assert redact_text("API key#1 is shorter than 16 characters", ["short"]) == \
        "API key#1 is shorter than 16 characters"
    assert redact_text("key=short, 'short' (short). short", ["short"]) == "key=***, '***' (***). ***"
    assert redact_text("a-b-cd is a-b-c-d", ["a-b-c"]) == "a-b-cd is ***-d"  # only letters, digits, _ bind
    # a long secret goes wherever it is, even glued to other letters
    assert redact_text(f"x{PSEUDONYM_KEY}y", [PSEUDONYM_KEY]) == "x***y"


def test_the_short_api_key_warning_is_logged_readably() -> None:
    """`FEDISCOPE_API_KEY=short fediscope serve-api` logged "API key#1 is ***er than 16 characters"."""
    from api.auth import KeyRing

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(secret_values(Settings(api_key=("short",)))))
    logger = logging.getLogger("api.auth")
    logger.addHandler(handler)
    try:
        KeyRing(("short",))
    finally:
        logger.removeHandler(handler)
    assert "API key#1 is shorter than 16 characters" in stream.getvalue()


def test_filter_masks_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([PSEUDONYM_KEY, TOKEN]))  # API_KEY unknown: masked by its header shape
    logger = logging.getLogger("fediscope.tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.warning("key is %s, token %r", PSEUDONYM_KEY, {"Authorization": f"Bearer {TOKEN}"})
        try:
            raise RuntimeError(f"upstream said: invalid token {TOKEN} for key {PSEUDONYM_KEY}")
        except RuntimeError:
            logger.exception("request failed with X-API-Key: %s", API_KEY)
        logger.info("broken format %s %s", "only one")  # must not crash nor vanish
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert not leaks(output), output
    assert "key is ***" in output and "RuntimeError" in output and "Traceback" in output
    assert "broken format" in output


def test_configure_logging_installs_the_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handlers, configured, level = list(root.handlers), getattr(root, "_fediscope_configured", False), root.level
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root._fediscope_configured = False  # type: ignore[attr-defined]
    try:
        configure_logging("DEBUG", secrets=[PSEUDONYM_KEY])
        configure_logging("DEBUG", secrets=[API_KEY])  # a second call adds secrets to the same filter
        logging.getLogger("fediscope.tests").debug("pseudonym key %s, api key %s", PSEUDONYM_KEY, API_KEY)
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root._fediscope_configured = configured  # type: ignore[attr-defined]
        root.setLevel(level)
    assert "pseudonym key ***, api key ***" in stream.getvalue()


# -- config check ------------------------------------------------------------------------------------------------
def strong(**changes: object) -> Settings:
    return Settings(pseudonym_key=PSEUDONYM_KEY, api_key=(API_KEY,), tokens={"mastodon_social": TOKEN}).replace(
        **changes)


@pytest.mark.parametrize("value", ["changeme", "CHANGEME!", "password123", "secret", "fediscope", "aaaaaaaaaaaa" * 4,
                                   "short-but-ok1"])
def test_weak_values(value: str) -> None:
    assert weakness(value, 24)


def test_strong_configuration_has_no_problem() -> None:
    assert [f for f in check_settings(strong(), env={}) if f.level == "problem"] == []


@pytest.mark.parametrize(("changes", "setting", "words"), [
    ({"pseudonym_key": None}, "FEDISCOPE_PSEUDONYM_KEY", "not set"),
    ({"pseudonym_key": "changeme"}, "FEDISCOPE_PSEUDONYM_KEY", "common default"),
    ({"pseudonym_key": "9f8e7d6c5b4a3921"}, "FEDISCOPE_PSEUDONYM_KEY", "shorter than 32"),
    ({"api_key": ("letmein:ro",)}, "FEDISCOPE_API_KEY", "common default"),
    ({"api_key": (PSEUDONYM_KEY,)}, "FEDISCOPE_API_KEY", "is the pseudonym key"),
    ({"tokens": {"mastodon_social": "xxx"}}, "FEDISCOPE_TOKEN_MASTODON_SOCIAL ([tokens] of the config file)",
     "common default"),
])
def test_weak_or_missing_secrets_are_problems(changes: dict, setting: str, words: str) -> None:
    settings = strong(**changes)
    problems = [f for f in check_settings(settings, env={}) if f.level == "problem"]
    assert [f.setting for f in problems] == [setting]
    assert words in problems[0].message
    assert not leaks(problems[0].message, tuple(secret_values(settings)))


def test_a_weak_secret_set_in_the_config_file_names_its_key_and_file(tmp_path: Path) -> None:
    """Was: FEDISCOPE_PSEUDONYM_KEY and FEDISCOPE_API_KEY, also for values set in fediscope.toml alone."""
    path = tmp_path / "conf.toml"
    path.write_text('[fediscope]\npseudonym_key = "changeme"\napi_key = "letmein:ro"\n')
    findings = check_settings(load_settings(env={}, toml_path=path), env={})
    assert {f.setting for f in findings} == {f"{path}: [fediscope] pseudonym_key", f"{path}: [fediscope] api_key"}


def test_a_weak_token_names_the_variable_it_came_from() -> None:
    """Was: always FEDISCOPE_TOKEN_…, also for a token set in fediscope.toml's [tokens]."""
    settings = strong(tokens={"mastodon_social": "xxx"})
    (problem,) = check_settings(settings, env={"FEDISCOPE_TOKEN_MASTODON_SOCIAL": "xxx"})
    assert problem.setting == "FEDISCOPE_TOKEN_MASTODON_SOCIAL"


@pytest.mark.parametrize("variable", ["FEDISCOPE_TOKEN_mastodon_social", "FEDISCOPE_TOKEN_MASTODON.SOCIAL"])
def test_a_weak_token_names_the_variable_as_it_is_spelled(variable: str) -> None:
    """Was: a variable spelled otherwise than FEDISCOPE_TOKEN_MASTODON_SOCIAL was reported as a [tokens] entry."""
    env = {variable: "xxx"}
    (problem,) = check_settings(strong().replace(tokens=load_settings(env=env).tokens), env=env)
    assert problem.setting == variable and "common default" in problem.message and "xxx" not in problem.message


@pytest.mark.parametrize(("store", "said"), [
    ("mysql+pymysql://fed@db/x?password=letmein", "the database password (?password=) is a common default value"),
    # the option wins over the password before the @ (SQLAlchemy passes the query's options after it)
    (f"mysql+pymysql://fed:{DB_PASSWORD}@db/x?password=Zq4w%23E8r", "(?password=) is shorter than 12 characters"),
    ("mysql+pymysql://fed@db/x?passwd=Zq4w#E8r", "the database password (?passwd=) is shorter than 12 characters"),
    ("mysql+pymysql://fed:Zq4w/E8r@db/x", "the database password is shorter than 12 characters"),  # / ended it
])
def test_a_weak_database_password_is_found_wherever_the_store_url_gives_it(store: str, said: str) -> None:
    """Was: only the password before the @, as ``urlsplit`` read it (to an unencoded ``/``): a weak ``?password=``,
    which PyMySQL takes, went unchecked. The warning never shows it."""
    settings = strong(store=store)
    (finding,) = check_settings(settings, env={})
    assert (finding.level, finding.setting) == ("warning", "FEDISCOPE_STORE") and said in finding.message, finding
    assert not leaks(finding.message, tuple(secret_values(settings)))


@pytest.mark.parametrize("store", [f"mysql+pymysql://fed:letmein@db/x?password={DB_PASSWORD}",
                                   f"mysql+pymysql://fed:{DB_PASSWORD}@db/x?passwd=letmein"])
def test_a_database_password_the_driver_does_not_use_is_not_warned_of(store: str) -> None:
    """PyMySQL connects with ``?password=`` over the one before the @, and with ``?passwd=`` only without either."""
    assert check_settings(strong(store=store), env={}) == []


def test_mistyped_variables_and_privacy_off_are_warnings() -> None:
    findings = check_settings(strong(privacy=False, pseudonym_key=None),
                              env={"FEDISCOPE_PSEUDONYM_KY": "x", "FEDISCOPE_TOKEN_A_B": "y", "FEDISCOPE_CONFIG": "z"})
    assert {(f.level, f.setting) for f in findings} == {("warning", "FEDISCOPE_PRIVACY"),
                                                       ("warning", "FEDISCOPE_PSEUDONYM_KY")}
    assert "did you mean FEDISCOPE_PSEUDONYM_KEY?" in next(f.message for f in findings if "KY" in f.setting)


def test_the_mariadb_bootstrap_passwords_are_not_unknown_variables() -> None:
    """Was: following infra/ (``export FEDISCOPE_DB_PASSWORD=…`` for infra/mariadb/bootstrap.py, or sourcing
    infra/cluster/.env) made ``fediscope config check`` warn "FEDISCOPE_DB_PASSWORD: unknown variable, ignored: did
    you mean FEDISCOPE_STORE?", for variables that are read, by the bootstrap script."""
    env = {"FEDISCOPE_DB_PASSWORD": "w" * 24, "FEDISCOPE_DB_RO_PASSWORD": "r" * 24, "FEDISCOPE_DB_PASSWROD": "x"}
    findings = check_settings(strong(), env=env)
    assert [f.setting for f in findings] == ["FEDISCOPE_DB_PASSWROD"]  # a mistyped one is still named


# -- full runs with known secrets ---------------------------------------------------------------------------
@pytest.fixture()
def secret_env(tmp_path: Path, mastodon_server) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update({
        "FEDISCOPE_LAKE": str(tmp_path / "lake"), "FEDISCOPE_STORE": f"sqlite:///{tmp_path / 'store.db'}",
        "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY, "FEDISCOPE_API_KEY": f"{API_KEY},{API_KEY[::-1]}:ro",
        token_env_name(mastodon_server.url): TOKEN, "FEDISCOPE_LOG_LEVEL": "DEBUG",
        "FEDISCOPE_INSTANCES": mastodon_server.url, "FEDISCOPE_ALLOW_PRIVATE_ADDRESSES": "true",
        "FEDISCOPE_BACKFILL_PAGES": "2",
    })
    yield env


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDISCOPE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_full_run_never_shows_a_secret(secret_env: dict[str, str], mastodon_server, tmp_path: Path) -> None:
    url = mastodon_server.url
    account = f"mastodonpy_test_2@{mastodon_server.domain}"
    commands = [
        ("config", "check"),
        ("config", "show"),
        ("config", "show", "--json"),
        ("collect", "--instance", url, "--timeline", "public", "--timeline", "local", "--timeline", "instance",
         "--max-pages", "2", "--json"),
        ("process", "--json"),
        ("lake", "ls"),
        ("gdpr", "export", "--account", account),
        ("gdpr", "erase", "--account", account, "--yes", "--json"),
        ("gdpr", "register"),
        ("gdpr", "retention", "--dry-run"),
    ]
    outputs = []
    for command in commands:
        result = run(secret_env, tmp_path, *command)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        outputs.append((command, result.stdout + result.stderr))
    mariadb = {**secret_env, "FEDISCOPE_STORE": f"mysql+pymysql://writer:{DB_PASSWORD}@127.0.0.1:9/fediscope"}
    failing = [
        (mariadb, ("config", "show")),
        (mariadb, ("process",)),  # nothing listens there: the error names the store, not its password
        ({**secret_env, "FEDISCOPE_BACKFILL_PAGES": "many"}, ("collect", "--instance", url)),
        ({**secret_env, "FEDISCOPE_MAX_RETRIES": "1", "FEDISCOPE_RETRY_BACKOFF": "0.01"},
         ("collect", "--instance", "http://127.0.0.1:9", "--max-pages", "1")),  # nothing listens there
        ({**secret_env, "FEDISCOPE_PSEUDONYM_KEY": "changeme"}, ("config", "check")),
    ]
    for env, command in failing:
        result = run(env, tmp_path, *command)
        outputs.append((command, result.stdout + result.stderr))
        assert "Traceback" not in result.stderr, result.stderr
    assert "FEDISCOPE_BACKFILL_PAGES is invalid" in outputs[-3][1]
    assert "problem: FEDISCOPE_PSEUDONYM_KEY" in outputs[-1][1] and "changeme" not in outputs[-1][1]
    assert any(" DEBUG " in text for _, text in outputs)  # the logs really were at DEBUG level

    assert f"Bearer {TOKEN}" in {s.authorization for s in mastodon_server.log}  # the token was in flight
    for command, text in outputs:
        assert not leaks(text), (command, leaks(text))
    assert not files_with_secrets(tmp_path / "lake", *tmp_path.glob("store.db*"))


def test_a_token_variable_spelled_with_the_domain_is_sent_and_never_shown(secret_env: dict[str, str],
                                                                          mastodon_server, tmp_path: Path) -> None:
    """FEDISCOPE_TOKEN_127.0.0.1:PORT, the domain as written (as `env` sets it), is the instance's token (was: never
    read: the collection went anonymous), and is masked in the DEBUG logs and the output like any token."""
    env = {k: v for k, v in secret_env.items() if not k.startswith("FEDISCOPE_TOKEN_")}
    env[f"FEDISCOPE_TOKEN_{mastodon_server.domain}"] = TOKEN
    result = run(env, tmp_path, "collect", "--instance", mastodon_server.url, "--timeline", "public",
                 "--max-pages", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert " INFO " in result.stderr  # logging was on (at DEBUG level)
    assert f"Bearer {TOKEN}" in {s.authorization for s in mastodon_server.log}
    assert not leaks(result.stdout + result.stderr)


@pytest.mark.parametrize(("token", "problem"), [
    (TOKEN + "\n", "has whitespace (a space or a newline) before or after it"),  # a file's newline kept
    (TOKEN[:20] + " " + TOKEN[20:], "contains whitespace"),
    (TOKEN[:20] + "\x7f" + TOKEN[20:], "contains a control character"),
    ("   ", "is only whitespace"),
])
def test_a_token_that_cannot_be_sent_is_refused_before_any_request_without_showing_it(
        secret_env: dict[str, str], mastodon_server, tmp_path: Path, token: str, problem: str) -> None:
    """Was: the request library refused the header quoting it, and `collect` printed that with the token in clear
    ("header value: 'Bearer tk-…\\n'"), exit 0; or a whitespace token was sent as it was."""
    env = {**secret_env, token_env_name(mastodon_server.url): token}
    for command in (("collect", "--instance", mastodon_server.url, "--max-pages", "1"),
                    ("stream", "--instance", mastodon_server.url, "--duration", "5")):
        result = run(env, tmp_path, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr[-2000:])
        assert result.stdout == "" and "Traceback" not in result.stderr
        error = result.stderr.splitlines()[-1]
        assert error == (f"fediscope: error: the access token of {mastodon_server.domain} "
                         f"({token_env_name(mastodon_server.url)} or [tokens] in the config file) {problem}; use the "
                         "token exactly as the instance issued it, or unset it to collect public data only")
        assert not leaks(result.stdout + result.stderr, (TOKEN, TOKEN[:20], TOKEN[20:]))
    assert mastodon_server.log == []  # nothing was fetched
    check = run(env, tmp_path, "config", "check")
    assert check.returncode == 1 and f"access token {problem}" in check.stdout + check.stderr


@pytest.mark.parametrize(("status", "said"), [(401, "refused (HTTP 401)"), (404, "not found (HTTP 404)"),
                                           (422, "HTTP 422")])
def test_a_token_the_instance_quotes_in_its_error_is_never_shown(secret_env: dict[str, str], mastodon_server,
                                                                 tmp_path: Path, status: int, said: str) -> None:
    """A server (or a proxy in front of it) that quotes the token it was sent in its ``{"error": …}`` message. Was:
    the log line was masked, but `collect`'s summary (the `failed:` line on stderr, `failed` and the source's
    `error` in `--json`) showed the token in clear."""
    mastodon_server.fail(status, times=2, error=f"The access token is invalid (Bearer {TOKEN}, token={TOKEN})")
    for command in (("collect", "--instance", mastodon_server.url, "--timeline", "public", "--max-pages", "1"),
                    ("collect", "--instance", mastodon_server.url, "--timeline", "public", "--max-pages", "1",
                     "--json")):
        result = run(secret_env, tmp_path, *command)
        assert result.returncode == 1, (command, result.stdout, result.stderr[-2000:])
        assert f"{said}: The access token is invalid (Bearer ***, token=***)" in result.stdout + result.stderr
        assert not leaks(result.stdout + result.stderr), command
    assert f"Bearer {TOKEN}" in {s.authorization for s in mastodon_server.log}  # the token was in flight


def test_collection_and_api_logs_at_debug_level_hold_no_secret(secret_env: dict[str, str], mastodon_server,
                                                               tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                               ) -> None:
    """In-process, before any redaction: the records as the code logs them (the filter is a second defence)."""
    from api import create_app
    from fediscope.engine.process import run_process
    from fediscope.sources.collector import run_collection
    from fediscope.sources.spec import parse_source

    settings = load_settings(env=secret_env)
    caplog.set_level(logging.DEBUG)
    run_collection(settings, [(mastodon_server.url, parse_source("public"))], max_pages=2, progress=False)
    run_process(settings, progress=False)
    client = create_app(settings).test_client()
    ok = client.get("/v1/timelines/public", query_string={"instance": mastodon_server.domain, "limit": 5},
                    headers={"X-API-Key": API_KEY})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    denied = client.get("/v1/timelines/public", query_string={"instance": mastodon_server.domain},
                        headers={"X-API-Key": API_KEY[:-1]})
    assert denied.status_code == 401
    bodies = ok.get_data() + denied.get_data() + json.dumps(dict(ok.headers)).encode()

    messages = [record.getMessage() for record in caplog.records]
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert f"Bearer {TOKEN}" in {s.authorization for s in mastodon_server.log}
    assert not leaks("\n".join(messages) + caplog.text)
    assert not leaks(bodies)
    assert not files_with_secrets(tmp_path / "lake", *tmp_path.glob("store.db*"))


@pytest.mark.parametrize("password", ["Kq7w Zx/9vRt", "Kq7w\tZx?9vRt", "Kq7w Zx#9v:Rt"])
def test_a_store_password_with_a_blank_and_a_slash_is_a_known_secret(password: str) -> None:
    """Was: no secret at all (the blank ended the password for the pattern, the ``/ ? #`` the host for
    ``urlsplit``), so a log line quoting it unquoted showed it whole."""
    secrets = secret_values(Settings(store=f"mysql+pymysql://writer:{password}@db/x"))
    assert password in secrets
    assert redact_text(f"connecting as {password} failed", secrets) == "connecting as *** failed"


def test_a_password_option_holding_a_hash_is_masked_whole_in_messages_and_logs() -> None:
    """SQLAlchemy reads a store URL's query to its end, a ``#`` included: ``?password=Kq7w#Zx9v?Rt4Lm`` is PyMySQL's
    password whole. Was: masked to the ``#`` (``?password=***#Zx9v?Rt4Lm``) by ``config show`` and errors, and in
    logs but for its first piece (``Kq7w``, the only value found in the query)."""
    password = "Kq7w#Zx9v?Rt4Lm"
    url = f"mysql+pymysql://fed@db/x?password={password}&charset=utf8mb4"
    assert redact_url(url) == "mysql+pymysql://fed@db/x?password=***&charset=utf8mb4"
    secrets = secret_values(Settings(store=url))
    assert password in secrets
    assert redact_text(f"cannot connect to {url} (refused)", secrets) == \
        "cannot connect to mysql+pymysql://fed@db/x?password=***&charset=utf8mb4 (refused)"
    logged = logged_through_filter(secrets, "fediscope.tests.password_option", "login as fed with %s refused", password)
    assert logged == "login as fed with *** refused\n"
