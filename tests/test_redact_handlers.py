"""Secrets in log records, in any case; and several handlers on one logger (a terminal's text lines beside a JSON
file, a user's own handler): secrets are masked for every handler fediscope sets up, while a text line's escapes of
control characters stay that line's.

Was: a known secret was masked only as it was configured (``TK-…`` upper-cased, a hex pseudonym key in capitals went
through), and a header dict passed with ``extra=`` showed ``{"X-API-KEY": …}`` as it was in a JSON line, where the
text line of the same dict masked it. And :class:`~fediscope.console.PrintableValues` escaped the record itself, so
a JSON handler after a text one logged ``\\n`` and ``\\x1b`` where the server sent a newline and an escape, and a
text handler after a JSON one showed a value's newline as it was (a forged log line): the JSON handler's redacting
filter had put the values into the message already, where they could no longer be told from the message's own lines.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from doubles.hostile_strings import RAW_CONTROLS, VARIANTS, hostile_error

from fediscope.cli.common import TEXT_FORMAT, JsonFormatter
from fediscope.console import printable
from fediscope.redact import KnownSecrets, RedactingFilter, install_redacting_filter, mask_secrets

TOKEN = "tk-Rf5Gh8Jk2Lz7Xc4Vb9Nm1Qw6Er3Ty0Ui"
SENT = hostile_error()
#: What an exception quotes: a traceback's lines stay lines (its newlines are kept), its other controls are escaped.
RAISED = VARIANTS["csi"]("upstream said") + VARIANTS["osc52"]("")
#: The start of the log line a hostile value's newline forges.
FORGED = "2026-01-01 00:00:00,000"


class Kept(logging.Handler):
    """A user's own handler, added after fediscope's filters were installed: the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def stream_handler(formatter: logging.Formatter) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    return handler, stream


@pytest.fixture
def log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("fediscope.tests.handlers")
    saved = logger.handlers
    logger.propagate, logger.level = False, logging.INFO
    try:
        yield logger
    finally:
        logger.handlers, logger.propagate, logger.level = saved, True, logging.NOTSET


def log_hostile_records(log: logging.Logger) -> None:
    log.warning("failed: %s (token %s)", SENT, TOKEN)
    try:
        raise RuntimeError(f"{RAISED} for {TOKEN}")
    except RuntimeError:
        log.exception("request failed:\n%s", SENT)  # the message's own newline, then a value's


def assert_text_lines_are_escaped(text: str) -> None:
    assert TOKEN not in text and "***" in text, text
    assert RAW_CONTROLS.findall(text.replace("\n", "")) == [], text
    lines = text.splitlines()
    assert not any(line.startswith(FORGED) for line in lines), text
    assert lines[0].endswith(f"failed: {printable(SENT)} (token ***)"), lines[0]  # printable: test_console.py
    assert lines[1].endswith("request failed:") and lines[2] == printable(SENT), lines[1:3]
    assert lines[-1] == f"RuntimeError: {printable(RAISED)} for ***", lines[-1]


def assert_json_lines_keep_the_values(text: str) -> None:
    warning, failure = (json.loads(line) for line in text.splitlines())
    assert warning["message"] == f"failed: {SENT} (token ***)", warning
    assert failure["message"] == f"request failed:\n{SENT}", failure
    assert failure["exception"].endswith(f"RuntimeError: {RAISED} for ***"), failure


@pytest.mark.parametrize("text_first", [True, False], ids=["text-then-json", "json-then-text"])
def test_each_handler_formats_the_record_as_its_own_filters_say(log: logging.Logger, text_first: bool) -> None:
    text_handler, text = stream_handler(logging.Formatter(TEXT_FORMAT))
    json_handler, jsonl = stream_handler(JsonFormatter())
    log.handlers = [text_handler, json_handler] if text_first else [json_handler, text_handler]  # only these
    assert install_redacting_filter([TOKEN], logger=log.name) == log.handlers
    kept = Kept()
    log.addHandler(kept)

    log_hostile_records(log)

    assert_text_lines_are_escaped(text.getvalue())
    assert_json_lines_keep_the_values(jsonl.getvalue())
    # a handler after fediscope's sees the values as sent; the secrets stay masked (the redaction is the record's)
    assert [r.getMessage() for r in kept.records] == [f"failed: {SENT} (token ***)", f"request failed:\n{SENT}"]
    assert kept.records[1].exc_text.endswith(f"RuntimeError: {RAISED} for ***")


# -- secrets in another case -----------------------------------------------------------------------------------------
PSEUDONYM_KEY = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d0f"  # as README's token_hex makes one
SHORT_API_KEY = "Sh0rtKey"  # a weak key, masked where it stands alone


def filtered_output(formatter: logging.Formatter, log: logging.Logger, emit) -> str:
    handler, stream = stream_handler(formatter)
    handler.addFilter(RedactingFilter([TOKEN, PSEUDONYM_KEY, SHORT_API_KEY]))
    log.handlers = [handler]
    emit()
    return stream.getvalue()


def test_a_known_secret_is_masked_in_any_case(log: logging.Logger) -> None:
    def emit() -> None:
        log.warning("instance said: INVALID TOKEN %s", TOKEN.upper())
        log.warning("key %s, api key %s", PSEUDONYM_KEY.upper(), SHORT_API_KEY.lower())
        try:
            raise ValueError(f"bad header x-api-key={SHORT_API_KEY.upper()} with {TOKEN.swapcase()}")
        except ValueError:
            log.exception("rejected")

    output = filtered_output(logging.Formatter(TEXT_FORMAT), log, emit)
    for secret in (TOKEN, PSEUDONYM_KEY, SHORT_API_KEY):
        assert secret.lower() not in output.lower(), output
    assert "INVALID TOKEN ***" in output and "key ***, api key ***" in output, output
    assert output.rstrip().endswith("ValueError: bad header x-api-key=*** with ***"), output


def test_a_short_secret_in_another_case_still_leaves_longer_words(log: logging.Logger) -> None:
    output = filtered_output(logging.Formatter("%(message)s"), log,
                             lambda: log.warning("SH0RTKEYS and sh0rtkey_x stay, SH0RTKEY goes"))
    assert output == "SH0RTKEYS and sh0rtkey_x stay, *** goes\n"


@pytest.mark.parametrize("header", ["X-API-KEY", "x-api-key", "Api-Key", "AUTHORIZATION", "Proxy-Authorization",
                                    "cookie"])
def test_a_header_dict_in_extra_fields_is_masked_in_json_lines_as_in_text(log: logging.Logger, header: str) -> None:
    headers = {header: SHORT_API_KEY.swapcase() + "-unknown-value", "Accept": "application/json"}

    def emit() -> None:
        log.warning("request headers %s", headers, extra={"headers": headers, "status": 401})

    line = json.loads(filtered_output(JsonFormatter(), log, emit))
    assert line["headers"] == {header: "***", "Accept": "application/json"} and line["status"] == 401, line
    assert "unknown-value" not in line["message"], line  # as the text of the same dict shows it
    assert "unknown-value" not in filtered_output(logging.Formatter(TEXT_FORMAT), log, emit)


def test_an_authorization_header_keeps_its_scheme(log: logging.Logger) -> None:
    def emit() -> None:
        log.info("sent", extra={"headers": {"authorization": f"bearer {TOKEN.upper()}", "cookie": "a=1; b=2"}})

    line = json.loads(filtered_output(JsonFormatter(), log, emit))
    assert line["headers"] == {"authorization": "bearer ***", "cookie": "***"}, line


# -- a filter after fediscope's --------------------------------------------------------------------------------------
HOST_SECRET = "hostpw123"


class HostMasker(logging.Filter):
    """A host's own secrets masker (as Airflow 2's ``SecretsMasker``, a filter rewriting ``record.msg``), added to the
    handler after fediscope's filters: its secret is one fediscope does not know."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = record.getMessage().replace(HOST_SECRET, "<masked-by-host>")
        record.args = None
        return True


def test_a_filter_after_fediscopes_that_rewrites_the_message_has_the_last_word(log: logging.Logger) -> None:
    """Was: the text line showed the message as fediscope's filter had left it escaped, the host's secret in it,
    whenever a value held a control character."""
    handler, stream = stream_handler(logging.Formatter("%(message)s"))
    later, later_stream = stream_handler(logging.Formatter("%(message)s"))  # gets the record the host's filter left
    log.handlers = [handler, later]
    install_redacting_filter([TOKEN], logger=log.name)
    handler.addFilter(HostMasker())

    log.warning("server said %s (dsn %s, token %s)", "line1\nline2", HOST_SECRET, TOKEN)
    log.warning("server said %s (token %s)", "line1\nline2\x1b[2J", TOKEN)  # nothing for the host to mask
    log.warning("request failed:\n%s (dsn %s)", "line1\nline2", HOST_SECRET)  # a line of the message's own

    # the value's newline is escaped still, not a forged line; where the message has a line of its own, it cannot
    # be told from the value's any longer: all are escaped
    expected = ["server said line1\\nline2 (dsn <masked-by-host>, token ***)",
                "server said line1\\nline2\\x1b[2J (token ***)",  # the host's filter left it as it was
                "request failed:\\nline1\\nline2 (dsn <masked-by-host>)"]
    assert stream.getvalue().splitlines() == expected
    assert later_stream.getvalue().splitlines() == expected


# -- credential headers whose value is not a string ------------------------------------------------------------------
def test_a_credential_header_with_several_values_or_bytes_is_masked_whole(log: logging.Logger) -> None:
    """Was: a header's value was masked only where it was a string: ``{'Cookie': ['sid=…']}`` (http.client's
    ``get_all``, a header sent twice) went through in JSON lines, and the text line showed ``***'sid=…']}``."""
    headers = {"Cookie": ["sid=abc123"], "Set-Cookie": ("sess=zzz999; HttpOnly", "lang=en"),
               "Authorization": f"Bearer {SHORT_API_KEY.lower()}x".encode(), "X-Api-Key": [], "Accept": ["text/html"]}

    def emit() -> None:
        log.warning("response headers %s", headers, extra={"headers": headers})

    line = json.loads(filtered_output(JsonFormatter(), log, emit))
    assert line["headers"] == {"Cookie": ["***"], "Set-Cookie": ["***", "***"], "Authorization": "b'Bearer ***'",
                               "X-Api-Key": [], "Accept": ["text/html"]}, line
    shown = ("response headers {'Cookie': ['***'], 'Set-Cookie': ('***', '***'), 'Authorization': b'Bearer ***', "
             "'X-Api-Key': [], 'Accept': ['text/html']}")
    assert line["message"] == shown, line
    assert filtered_output(logging.Formatter("%(message)s"), log, emit) == shown + "\n"


# -- known secrets: one pattern per set ------------------------------------------------------------------------------
def one_by_one(text: str, secrets: set[str]) -> str:
    """What fediscope masked before its secrets were compiled into one pattern per set: each secret in turn."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        alone = rf"(?<!\w){re.escape(secret)}(?!\w)" if len(secret) < 12 else re.escape(secret)
        text = re.sub(alone, "***", text, flags=re.IGNORECASE)
    return text


NON_ASCII_PASSWORD = "pässwört-9"
TEXTS = [f"token {TOKEN}, key {PSEUDONYM_KEY.upper()}, api key {SHORT_API_KEY} and {SHORT_API_KEY}s",
         f"glued: {TOKEN}{SHORT_API_KEY} and {SHORT_API_KEY.swapcase()}{TOKEN.upper()}",  # alone once the token goes
         f"in a path /x/{PSEUDONYM_KEY}/y, a read-only key {SHORT_API_KEY}:ro",
         f"ſh0rtkey {NON_ASCII_PASSWORD.upper()} déjà {TOKEN}",  # regular expressions' other equivalents of s
         "nothing to mask here: shorter than 16 characters, sh0rtkey_x"]


def test_secrets_added_to_a_filter_are_masked_from_the_next_record_as_each_alone_masks_them(
        log: logging.Logger) -> None:
    handler, stream = stream_handler(logging.Formatter("%(message)s"))
    redacting = RedactingFilter([TOKEN])
    handler.addFilter(redacting)
    log.handlers = [handler]
    added = {PSEUDONYM_KEY, SHORT_API_KEY, NON_ASCII_PASSWORD}

    log.warning("%s", TEXTS[0])
    redacting.add_secrets([*added, ""])
    for text in TEXTS:
        log.warning("%s", text)

    first, *lines = stream.getvalue().splitlines()
    assert first == one_by_one(TEXTS[0], {TOKEN}) and PSEUDONYM_KEY.upper() in first, first
    assert lines == [one_by_one(text, {TOKEN} | added) for text in TEXTS], lines
    assert lines[1] == "glued: ****** and ******" and lines[3] == "*** *** déjà ***", lines
    assert isinstance(redacting.secrets, KnownSecrets) and redacting.secrets == {TOKEN} | added
    assert mask_secrets(TEXTS[1], [TOKEN, SHORT_API_KEY]) == one_by_one(TEXTS[1], {TOKEN, SHORT_API_KEY})
