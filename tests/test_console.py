"""What a terminal whose encoding lacks a character gets instead (:mod:`fediscope.console`)."""

from __future__ import annotations

import io
import json

import pytest
from doubles.hostile_strings import RAW_CONTROLS, VARIANTS

from fediscope.console import ERRORS, printable, readable_json, tolerate_unencodable_output, wrap_line


@pytest.mark.parametrize(("text", "encoding", "shown"), [
    ("collecting \u2026 a\u2192b \u2014 x", "ascii", b"collecting ... a->b - x"),  # fediscope's punctuation
    ("#caf\u00e9 #\u65e5\u672c \U0001f389", "latin-1", b"#caf\xe9 #\\u65e5\\u672c \\U0001f389"),
    ("#caf\u00e9", "ascii", b"#caf\\xe9"),
    ("odd\udcffname", "utf-8", b"odd\xffname"),  # an undecodable file name's byte, as `ls` writes it
])
def test_what_an_encoding_lacks_is_replaced(text: str, encoding: str, shown: bytes) -> None:
    assert text.encode(encoding, ERRORS) == shown


def test_the_streams_are_reconfigured_and_json_stays_json(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="latin-1", write_through=True)
    monkeypatch.setattr("sys.stdout", stdout)
    tolerate_unencodable_output()
    document = {"tag": "\u65e5\u672c\u8a9e", "text": "caf\u00e9 \U0001f389"}
    print(readable_json(document))
    assert json.loads(raw.getvalue().decode("latin-1")) == document
    print("\u65e5 \u2026")
    assert raw.getvalue().endswith(b"\\u65e5 ...\n")


def test_terminal_columns_are_those_of_the_streams_own_terminal(monkeypatch) -> None:
    """Not standard output's (``shutil.get_terminal_size``), a file in ``fediscope store export NAME > rows.csv``:
    it then said 80 columns whatever the width of the terminal stderr writes to. ``COLUMNS`` still wins."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    from fediscope.console import terminal_columns

    monkeypatch.delenv("COLUMNS", raising=False)
    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
        with open(slave, "w", closefd=False) as stderr:
            assert terminal_columns(stderr) == 40
            monkeypatch.setenv("COLUMNS", "33")
            assert terminal_columns(stderr) == 33
    finally:
        os.close(master)
        os.close(slave)


# -- printable: what a server sent, shown on a terminal rather than obeyed ------------------------------------------
@pytest.mark.parametrize(("text", "shown"), [
    ("#tag\x1b[2J", "#tag\\x1b[2J"),  # CSI: clears the screen
    ("\x1b]8;;https://evil.invalid/\x07x\x1b]8;;\x07", "\\x1b]8;;https://evil.invalid/\\x07x\\x1b]8;;\\x07"),
    ("a\rb\nc\td", "a\\rb\\nc\\td"),
    ("x\x00\x08\x7f\x9b2J", "x\\x00\\x08\\u007f\\u009b2J"),  # NUL, BS, DEL, C1 CSI
    ("abc\u202edef\u2066g\u2069\u200e\u061c", "abc\\u202edef\\u2066g\\u2069\\u200e\\u061c"),  # bidi
    ("line\u2028sep", "line\\u2028sep"),
    # kept: CJK, accents, an emoji sequence's zero-width joiner and variation selector
    *[(kept, kept) for kept in ("\u65e5\u672c caf\u00e9 \U0001f469\u200d\U0001f52c \u2764\ufe0f",)],
    ("plain #tag", "plain #tag"),
])
def test_printable_escapes_what_acts_on_a_terminal(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_printable_leaves_no_control_of_a_hostile_variant(variant: str) -> None:
    text = VARIANTS[variant]("mastopytesttag")
    assert RAW_CONTROLS.search(printable(text)) is None and "mastopytesttag" in printable(text)


def test_printable_keeps_what_it_is_told_to() -> None:
    assert printable("one\ntwo\x1b[2J\r", keep="\n") == "one\ntwo\\x1b[2J\\r"


def test_printable_json_is_still_json() -> None:
    document = {"tag": "".join(transform("t") for transform in VARIANTS.values())}
    text = printable(json.dumps(document, ensure_ascii=False))
    assert RAW_CONTROLS.search(text) is None and json.loads(text) == document


def test_readable_json_on_a_terminal_escapes_what_json_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the access export printed on a terminal held the C1 controls and bidi overrides of a status as they
    were (JSON escapes only the C0 controls)."""
    document = {"text": "caf\u00e9 \x9b2J \u202eevil", "n": [1, 2]}
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    text = readable_json(document, indent=2)
    assert RAW_CONTROLS.search(text.replace("\n", "")) is None and "caf\u00e9" in text and json.loads(text) == document
    assert len(text.splitlines()) > 1  # its indentation's lines stay lines


def test_a_wrapped_line_keeps_a_command_in_backticks_whole() -> None:
    """Was: "… shows them; --width" at the end of one line and "0 shows every column" on the next: an option torn
    from its value (and "`fediscope" from "process`" in the report's notes)."""
    line = "(2 more columns left out to fit 60 columns: replies_mean, lift_vs_none; `--width 0` shows every column)"
    assert wrap_line(line, 78) == [
        "(2 more columns left out to fit 60 columns: replies_mean, lift_vs_none;",
        "  `--width 0` shows every column)"]
    assert wrap_line("run `fediscope store drop accounts` to remove it", 20) == [
        "run", "  `fediscope store drop accounts`", "  to remove it"]  # longer than the width: whole, as a path
    sent = "`#a\ue000b c` " * 6  # the stand-in for a kept space, in a server's string: left as it is
    assert "".join(wrap_line(sent, 20)).count("\ue000") == 6
