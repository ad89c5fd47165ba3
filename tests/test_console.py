"""What a terminal whose encoding lacks a character gets instead (:mod:`fediscope.console`)."""

from __future__ import annotations

import io
import json

import pytest

from fediscope.console import ERRORS, readable_json, tolerate_unencodable_output


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
