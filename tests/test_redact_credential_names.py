"""Secrets fediscope does not know, masked by the name written before them: a token for another instance, an app's
client secret, a password in a DSN fediscope did not parse (``fediscope.redact.CREDENTIAL_NAMES``).

Was: such a value was masked only as a query parameter (after ``?``, ``&`` or ``;``), so ``access_token=…`` at the
start of a message or after a space, ``password=…`` in a DSN, a dict's repr ``{'access_token': '…'}``, a JSON body
``{"client_secret": "…"}`` and the repr of Mastodon.py's answer objects (``Application([…, ('client_secret', '…')])``)
were logged in clear, in text and in JSON lines. fediscope's own hints, which write a setting's name before a shell
substitution, an ellipsis or a placeholder, must read the same as ever.

The answers are the recorded ones (tests/data/mastodon/recordings), served by a real HTTP server on 127.0.0.1 to
Mastodon.py where it reads them; the log lines are written by fediscope's logging set-up, text and JSON.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError

from fediscope.cli.common import configure_logging
from fediscope.config import Settings, token_env_name
from fediscope.redact import MASK, redact_text, redact_value

RECORDINGS = Path(__file__).resolve().parent / "data" / "mastodon" / "recordings"
KNOWN_TOKEN = "tk-Cn5Vb8Xz2Lk7Jh4Gf9Ds1Qa6Wp3Eo0Ri"  # fediscope's own: a known secret


def recorded(name: str, method: str, path: str, status: int = 200) -> dict[str, Any]:
    """The body of a recorded answer."""
    for interaction in json.loads((RECORDINGS / f"{name}.json").read_text())["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if request["method"] == method and request["uri"].endswith(path) and response["status"] == status:
            return response["body"]
    raise LookupError(f"{name}: no {method} {path} answered {status}")


#: Mastodon's answer to an app registration (POST /api/v1/apps): the app's client_id and client_secret.
APP = recorded("test_app_account_create", "POST", "/api/v1/apps")
#: Mastodon's answer to a token request (POST /oauth/token): an access token for the account.
TOKEN_ANSWER = recorded("test_app_account_create", "POST", "/oauth/token")
#: Mastodon's refusal of an account: its details are filed under "password", not a secret.
INVALID_ACCOUNT = recorded("test_app_account_create_invalid", "POST", "/api/v1/accounts", 422)
CLIENT_SECRET, ACCESS_TOKEN = APP["client_secret"], TOKEN_ANSWER["access_token"]
DB_PASSWORD = "Hv7-pQ2s!kd9"  # in a DSN fediscope never parsed (not its store URL)
UNKNOWN = (CLIENT_SECRET, ACCESS_TOKEN, DB_PASSWORD)


def leaks(text: str) -> list[str]:
    return [s for s in (*UNKNOWN, KNOWN_TOKEN) if s.lower() in text.lower()]


# -- a server answering as an instance (or a proxy in front of one) might ------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    answers: dict[str, tuple[int, str, bytes]] = {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status, content_type, body = self.server.answers[self.path.split("?")[0]]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def instance() -> Iterator[tuple[str, dict[str, tuple[int, str, bytes]]]]:
    """A server on 127.0.0.1: its URL and its answers by path (status, content type, body)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.answers = {}
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def mastodon(url: str) -> Mastodon:
    return Mastodon(api_base_url=url, access_token=KNOWN_TOKEN, version_check_mode="none", request_timeout=5)


# -- fediscope's logging, as a command sets it up ----------------------------------------------------------------------
#: The start of a text line (``time level logger``), before its message.
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+ ")


@dataclass
class Logged:
    """What fediscope's logging wrote to stderr, set up as a command does with ``FEDISCOPE_LOG_FORMAT`` ``fmt``."""

    fmt: str
    read: Callable[[], str]

    def lines(self) -> list[str]:
        self.text = self.read()
        return self.text.splitlines()

    def messages(self) -> list[str]:
        """The message of each record: a JSON line's ``message``; a text line's text after its logger (the lines of
        a traceback are no record's)."""
        if self.fmt == "json":
            return [json.loads(line)["message"] for line in self.lines()]
        return [line[found.end():] for line in self.lines() if (found := TEXT_LINE.match(line))]


@pytest.fixture(params=["text", "json"])
def logged(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Iterator[Logged]:
    """Logging as a command sets it up, text then json, with fediscope's own token known."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    root.handlers = []
    configure_logging("DEBUG", secrets=[KNOWN_TOKEN], fmt=request.param)
    capsys.readouterr()
    try:
        yield Logged(request.param, lambda: capsys.readouterr().err)
    finally:
        configure_logging("WARNING")
        root.handlers, root.level = saved


LOG = logging.getLogger("fediscope.tests.credentials")


def test_a_value_after_a_credentials_name_is_masked_in_every_form(logged: Logged) -> None:
    LOG.warning("access_token=%s from the instance", ACCESS_TOKEN)  # at the start of the message
    LOG.warning("retrying with ACCESS_TOKEN=%s", ACCESS_TOKEN)  # after a space, in capitals
    LOG.warning("token answer %r", TOKEN_ANSWER)  # a dict's repr
    LOG.warning("app answer %s", json.dumps(APP))  # a JSON body
    LOG.error("cannot connect: host=db user=fed password=%s dbname=x", DB_PASSWORD)  # a DSN's options
    LOG.error("config said password: %s", DB_PASSWORD)  # YAML
    LOG.error("job options --client-id %s client_secret='%s'", APP["client_id"], CLIENT_SECRET)  # a repr's field
    shown = logged.messages()
    assert not leaks(logged.text), logged.text
    assert shown == [
        "access_token=*** from the instance",
        "retrying with ACCESS_TOKEN=***",
        "token answer {'access_token': '***', 'token_type': 'Bearer', 'scope': 'read write follow push', "
        "'created_at': 1785592219}",
        "app answer " + json.dumps({**APP, "client_secret": MASK}),
        "cannot connect: host=db user=fed password=*** dbname=x",
        "config said password: ***",
        f"job options --client-id {APP['client_id']} client_secret='***'",
    ]


def test_mastodon_pys_answer_objects_and_errors_are_masked(logged: Logged, instance) -> None:
    """What Mastodon.py makes of the answers: an ``Application`` (its repr is a list of pairs), and its error for an
    answer that is no JSON (a token answer form-encoded, which it quotes as bytes), with its traceback."""
    url, answers = instance
    answers["/api/v1/apps/verify_credentials"] = (200, "application/json", json.dumps(APP).encode())
    app = mastodon(url).app_verify_credentials()
    assert type(app).__name__ == "Application" and app.client_secret == CLIENT_SECRET
    LOG.info("app %s", app, extra={"app": app, "answers": [("client_secret", CLIENT_SECRET), ("scope", "read")]})
    answers["/api/v1/apps/verify_credentials"] = (200, "text/plain", urlencode(TOKEN_ANSWER).encode())
    with pytest.raises(MastodonAPIError) as raised:
        mastodon(url).app_verify_credentials()
    assert f"b'access_token={ACCESS_TOKEN}&token_type=Bearer" in str(raised.value)  # Mastodon.py quotes it
    try:
        mastodon(url).app_verify_credentials()
    except MastodonAPIError:
        LOG.exception("verifying the app failed")
    app_line, failed = logged.messages()
    assert not leaks(logged.text), logged.text
    # Mastodon.py's repr, ('client_secret', '…') (JSON); a text line shows the values masked one by one, as a dict
    assert re.search(r"'client_id'[:,] '" + APP["client_id"] + r"'\)?, \(?'client_secret'[:,] '\*\*\*'\)?, "
                     r"\(?'client_secret_expires_at'[:,] 0", app_line), app_line
    assert failed == "verifying the app failed"
    assert "b'access_token=***&token_type=Bearer&scope=read+write+follow+push" in logged.text, logged.text
    assert "MastodonAPIError" in logged.text  # the traceback was logged
    if logged.fmt == "json":  # the fields passed with extra=: masked by the key they are under
        first = json.loads(logged.text.splitlines()[0])
        assert first["app"] == {**APP, "client_secret": MASK}, first["app"]
        assert first["answers"] == [["client_secret", MASK], ["scope", "read"]], first["answers"]


def hints(url: str) -> list[str]:
    """fediscope's hints that write a credential setting's name before what stands for its value."""
    from fediscope.doctor import check_api_key, check_instance, check_pseudonym_key
    from fediscope.privacy import PrivacyPolicy
    from fediscope.store.port import MYSQL_FORM

    with pytest.raises(Exception) as no_key:
        PrivacyPolicy(key=None)
    return [
        check_api_key(Settings()).fix,  # export FEDISCOPE_API_KEY=$(python3 -c '…')
        check_pseudonym_key(Settings(privacy=True)).fix,  # export FEDISCOPE_PSEUDONYM_KEY=$(…) and keep it
        str(no_key.value),  # no pseudonym key: set FEDISCOPE_PSEUDONYM_KEY …, e.g. export …=$(…)
        check_instance(url, token=None).fix,  # set an access token: FEDISCOPE_TOKEN_…=… or [tokens] in …
        f"use {MYSQL_FORM}",
        "access_token=… password=<password> api_key=<your key> secret=${API_SECRET} token=$FEDISCOPE_TOKEN_X "
        "client_secret=... refresh_token=None",  # placeholders: none of them a value
        "Access denied for user 'fed'@'127.0.0.1' (using password: YES)",  # MariaDB's: whether one was sent
        "FEDISCOPE_API_KEYS is empty; the secret: see FEDISCOPE_API_KEY=secret:ro; tokens=3 token_count=2 "
        "client_secret_expires_at=0 token_type=Bearer",  # other names, and prose
        f"{INVALID_ACCOUNT!r}",  # Mastodon's refusal, whose details are filed under 'password'
    ]


def test_fediscopes_own_hints_read_the_same_beside_a_masked_value(logged: Logged, instance) -> None:
    """Each hint is logged in one line with an unknown secret: the secret goes, the hint stays as it is."""
    url, answers = instance
    answers["/api/v1/instance"] = (401, "application/json", b'{"error": "This API requires an authenticated user"}')
    shown = hints(url)
    assert shown[0].startswith("only needed for the scraping API: export FEDISCOPE_API_KEY=$(python3 -c 'import")
    assert f"set an access token: {token_env_name(url)}=… or [tokens]" in shown[3], shown[3]
    for hint in shown:
        LOG.warning("%s | the instance answered %s", hint, TOKEN_ANSWER)
    lines = logged.messages()
    assert not leaks(logged.text), logged.text
    masked_answer = str({**TOKEN_ANSWER, "access_token": MASK})
    assert lines == [f"{hint} | the instance answered {masked_answer}" for hint in shown]


@pytest.mark.parametrize(("text", "expected"), [
    ("ACCESS_TOKEN=abc123", "ACCESS_TOKEN=***"),
    ("(token=tk-1), done", "(token=***), done"),
    ("login with password=hunter2.", "login with password=***."),
    ("--password=hunter2 --verbose", "--password=*** --verbose"),
    ("'password=pa'ss' and more", "'password=***' and more"),  # a quote inside a value is part of it
    ("password = 'x1' and passwd: \"x2\"", "password = '***' and passwd: \"***\""),
    ("{'Client_Secret': b'abc', \"api_key\" : \"a\\\"b\"}", "{'Client_Secret': b'***', \"api_key\" : \"***\"}"),
    ('"{\\"access_token\\": \\"abc\\", \\"n\\": 1}"', '"{\\"access_token\\": \\"***\\", \\"n\\": 1}"'),
    ("('refresh_token', 'abc'), ('id_token', \"def\")", "('refresh_token', '***'), ('id_token', \"***\")"),
    ("apikey=abc&x=1 secret=s3 api_key: k", "apikey=***&x=1 secret=*** api_key: ***"),
    ("password: <password>x", "password: ***"),  # no placeholder but the whole value
    # blanks before the colon (aligned YAML, a table's dump): was shown
    ("api_key : abc and db_password\t:  pw-1, next", "api_key : *** and db_password\t:  ***, next"),
    # pass, pwd and a name ending with _pwd (a form, ODBC, MySQL's client variable): was shown
    ("pwd=abc pass=abc MYSQL_PWD=abc db-pwd: abc", "pwd=*** pass=*** MYSQL_PWD=*** db-pwd: ***"),
    ("DRIVER={MariaDB};SERVER=db;UID=fed;PWD=s3cret;DATABASE=x", "DRIVER={MariaDB};SERVER=db;UID=fed;PWD=***"),
    ("{'pass': 'abc', \"pwd\": \"abc\"} ('MYSQL_PWD', 'abc')",
     "{'pass': '***', \"pwd\": \"***\"} ('MYSQL_PWD', '***')"),
    ("login user=alice&pass=abc&next=/ then pass=1;password=x",
     "login user=alice&pass=***&next=/ then pass=1;password=***"),
    # a name ending with _pass, -pass or .pass (was: shown); a count or a flag after one is none (the negatives)
    ("db_pass=hunter2 DB_PASS=1234 smtp_pass: x MYSQL_PASS s3cr3t mail.pass = 'ab' ansible_become_pass: a-b",
     "db_pass=*** DB_PASS=*** smtp_pass: *** MYSQL_PASS *** mail.pass = '***' ansible_become_pass: ***"),
    ("{'db_pass': 'abc', \"smtp-pass\": \"abc\"} ('MYSQL_PASS', 'abc') --db-pass abc",
     "{'db_pass': '***', \"smtp-pass\": \"***\"} ('MYSQL_PASS', '***') --db-pass ***"),
    # ODBC's PWD after a ; is a password, also one that starts with / (was: shown as a directory)
    ("DRIVER={MariaDB};SERVER=db;UID=fed;PWD=/s3cret;DATABASE=x", "DRIVER={MariaDB};SERVER=db;UID=fed;PWD=***"),
    ("Driver={x}; Server=db; UID=fed; PWD=/s3cret; Database=x", "Driver={x}; Server=db; UID=fed; PWD=***; Database=x"),
    # a .netrc entry, on one line or several, quoted by a shell's trace (was: shown)
    ("machine h.example login alice password hunter2", "machine h.example login alice password ***"),
    ("machine a.example\n  login alice@x.org\n  password s3-cr3t\nmachine b login u passwd pw port 21",
     "machine a.example\n  login alice@x.org\n  password ***\nmachine b login u passwd *** port 21"),
    ("default password \"a b\" login anonymous", "default password \"***\" login anonymous"),
    ("+ echo 'machine h login u password p1' > ~/.netrc", "+ echo 'machine h login u password ***' > ~/.netrc"),
    # the name, blanks, the value: a command line (an option, an argv list's repr) or a compound name; was shown
    ("mysqldump --user root --password hunter2 db; run -password s3cret --client-secret 'a b' --verbose",
     "mysqldump --user root --password *** db; run -password *** --client-secret '***' --verbose"),
    ("Command '['mysql', '--password', 'pw-12', '-h', 'db']' returned non-zero exit status 1.",
     "Command '['mysql', '--password', '***', '-h', 'db']' returned non-zero exit status 1."),
    ("client_secret ZmFrZS1zZWNyZXQ0 MYSQL_PWD s3cr3t accessToken eyJhbGciOi.x.y ok",
     "client_secret *** MYSQL_PWD *** accessToken *** ok"),
    # a query parameter is masked with what follows a # (as redact_url masks it), beside a name in text
    ("see https://h/x?access_token=abc#frag or ACCESS_TOKEN=def",
     "see https://h/x?access_token=*** or ACCESS_TOKEN=***"),
])
def test_the_forms_of_a_credential_after_its_name(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "token = uuid.uuid4().hex", "token: the lock's", "password:", "password=", "password= x", "password=, then",
    "tokens=3",
    "details: {'password': [{'error': 'ERR_BLANK'}]}", "'password': None, \"token\": null",
    "mysql+pymysql://user:<password>@host:3306/<database>",
    "token : the lock's", "secret : see the docs", "(using password : YES)",
    # a count of passes, the word pass, names that end with it; the shell's working directory (ODBC's PWD is not)
    "pass=1 of 3", "pass=2/3 done", "the pass was closed", "first pass: done, second pass: 1200 rows",
    "bypass=1 first_pass=2 compass=n",
    "first_pass=1 multi_pass: 3 two-pass=1/2 {'test_pass': 'True'} all_pass=false --first-pass 2 ('n_pass', '12')",
    "timings: first_pass 12.5s second_pass=3.1s third_pass: 120ms sort_pass 0.25 merge_pass=50% in 2 passes",
    "PWD=/home/alice/fediscope OLDPWD=/tmp SHLVL=1", "{'PWD': '/srv/app'}", "pwd: /srv/app",
    "cd /srv PWD=/srv/app make; env PWD=/tmp x",
    # .netrc's words in prose, and an entry that is none (no login; a clause of prose; not at a line's start)
    "the password is required; password hunter; login alice password reset", "machine h password hunter2 # login: key",
    "machine web1 login failed, password expired", "see machine h login u password p3",
    "the machine h.example login page password field", "machine h login u password $PASSWORD",
    # a blank after a credential's name, then no value: another option, a file's option, a metavar, a placeholder,
    # prose about an option or after a name, a traceback's source line
    "--password --verbose --password-file /path --no-password mydb --ask-password host --password-stdin x",
    "usage: x [--api-key KEY] [--client-secret CLIENT_SECRET] [--token $TOKEN] [--password <password>]",
    "use --password to set it, or --token instead", "['mysql', '--password', '-h', 'db', '--password-file', '/p']",
    'parser.add_argument("--token", "-t", help="x") click.option("--api-key", "api_key")',
    "the password is required; password reset; token refresh failed; secret sauce; token abc",
    "client_secret expired; the access_token is missing; api_key v2 format; client_secret Expired",
    "if holder.token != me.token and x.password or y:",
])
def test_what_is_no_credential_value_is_left_as_it_is(text: str) -> None:
    """Each beside a value that is one (on the next line), which goes."""
    assert redact_text(f"{text}\naccess_token={ACCESS_TOKEN}") == f"{text}\naccess_token=***"


def test_an_argv_list_masks_an_options_value_as_its_repr_in_text_does(logged: Logged) -> None:
    """A command's argv as a value (a field passed with ``extra=``, a logged value escaped item by item) masks what
    its repr in a message does. Was: each item masked alone, the password after ``--password`` shown."""
    argv = ["mysql", "--password", DB_PASSWORD, "--password-file", "/p", "--token", "$TOKEN", "-h", "db\x1b"]
    assert redact_value(argv) == [*argv[:2], MASK, *argv[3:]]
    assert redact_value(("--client-secret", CLIENT_SECRET)) == ["--client-secret", MASK]
    LOG.error("failed: %s", argv, extra={"argv": argv})  # its ESC is escaped in a text line, value by value
    [message] = logged.messages()
    assert not leaks(logged.text), logged.text
    assert "'--password', '***', '--password-file', '/p', '--token', '$TOKEN'" in message, message
    if logged.fmt == "json":
        assert json.loads(logged.text)["argv"] == [*argv[:2], MASK, *argv[3:]]


def test_a_dict_item_under_a_credentials_name_is_masked_unless_it_is_no_value() -> None:
    value = {"client_secret": CLIENT_SECRET, "Password": "<password>", "token": "", "access_token": None,
             "token_type": "Bearer", "details": {"password": [{"error": "ERR_BLANK"}]}, "PWD": "/home/alice",
             "MYSQL_PWD": "/x", "pwd": "abc", "pass": "2", "env": [("MYSQL_PWD", "abc"), ("PWD", "/srv")],
             "db_pass": "abc", "first_pass": "2", "all_pass": "false"}
    assert redact_value(value) == {**value, "client_secret": MASK, "MYSQL_PWD": MASK, "pwd": MASK,
                                   "env": [["MYSQL_PWD", MASK], ("PWD", "/srv")], "db_pass": MASK}
