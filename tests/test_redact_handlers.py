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
from collections.abc import Iterator

import pytest
from doubles.hostile_strings import RAW_CONTROLS, VARIANTS, hostile_error

from fediscope.cli.common import TEXT_FORMAT, JsonFormatter
from fediscope.console import printable
from fediscope.redact import RedactingFilter, install_redacting_filter

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
