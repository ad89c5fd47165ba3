"""Standard output and error that never fail on a character their encoding lacks.

Python encodes ``sys.stdout`` and ``sys.stderr`` as the locale says (``LANG=en_US.ISO-8859-1``), or as
``PYTHONIOENCODING`` says (``ascii``, ``latin-1``), and by default raises ``UnicodeEncodeError`` on a character
that encoding lacks: a hashtag in Japanese, an emoji, a lake path with an accent, or the ``…`` of fediscope's own
text ended a command with a traceback, its output lost. :func:`tolerate_unencodable_output` makes such a
character readable text instead: the typographic punctuation fediscope prints in its ASCII form (``…`` as ``...``),
anything else as a Python escape (``\\U0001f389``, ``\\u65e5``). A UTF-8 terminal sees every character as it is;
so does ``LC_ALL=C`` or ``LANG=C`` (Python 3.11 then writes UTF-8: UTF-8 mode, or the C locale coerced to
C.UTF-8), but not ``LC_ALL=C PYTHONUTF8=0`` (ASCII). On an ASCII stdout, click (``click.echo``, most of the CLI's
output) writes UTF-8 of its own accord; Latin-1 and other encodings get the replacements.

JSON on standard output stays valid JSON: :func:`fediscope.cli.common.emit_json` writes ``\\uXXXX`` escapes
(``ensure_ascii``), and :func:`readable_json` does where the encoding lacks a character of the document. Files
fediscope writes are UTF-8 whatever the locale; they are not affected by this.

What a remote server chose (a hashtag, a language, a trend's name, an error body it sent, a file name in the lake)
is printed through :func:`printable`: a control character in it would act on the operator's terminal instead of
being shown (an escape sequence clearing the screen, an OSC 8 hyperlink or OSC 52 clipboard write, a carriage
return overwriting the line, a bidi override reversing what follows), or forge a line of a log.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import os
import re
import shutil
import sys
import textwrap
import unicodedata
from typing import Any, TextIO

#: The name under which :func:`_readable` is registered as a codec error handler.
ERRORS = "fediscope-readable"

#: ASCII forms of the punctuation fediscope's own messages use (an ASCII or Latin-1 terminal shows these, not
#: an escape: "collecting..." rather than "collecting \u2026").
ASCII_FORMS = {
    "\u2026": "...",  # …
    "\u2014": "-",  # —
    "\u2013": "-",  # –
    "\u2192": "->",  # →
    "\u2190": "<-",  # ←
    "\u00b7": "-",  # ·
    "\u30fb": "-",  # ・
    "\u00d7": "x",  # ×
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00a0": " ",  # no-break space
    "\u2265": ">=",
    "\u2264": "<=",
}


#: What :func:`printable` escapes: C0 controls (tab and newline too), DEL, C1 controls, the line and paragraph
#: separators, and the bidirectional formatting characters (the Arabic letter mark, LRM/RLM, the embeddings and
#: overrides U+202A-U+202E, the isolates U+2066-U+2069), which reorder what a terminal shows after them ("Trojan
#: Source"). Zero-width joiners and variation selectors stay: emoji need them, and they move nothing.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: The usual short escapes of the commonest controls.
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}")


def printable(text: str, keep: str = "") -> str:
    """``text`` with each character of :data:`UNPRINTABLE` (but those in ``keep``, such as ``"\\n"`` for a
    text of several lines) written as a visible escape: ``\\x1b``, ``\\r``, ``\\n``, ``\\u202e``. For a terminal or
    a text log line, never for data written to a file: ``#tag\\x1b[2J`` is shown as those characters rather than
    clearing the screen. The escapes of DEL and what follows it are JSON's, so a JSON text stays valid JSON
    (``json.dumps`` escapes the C0 controls itself)."""
    if text.isprintable() and text.isascii():  # the common case, without a regular expression
        return text
    if not keep:
        return UNPRINTABLE.sub(_escape, text)
    return UNPRINTABLE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


#: First strong isolate and pop directional isolate: what :func:`isolated` puts around a right-to-left part of a
#: label. Only fediscope adds them, after :func:`printable`, which escapes any a server sent (so a server's PDI
#: cannot end one early, nor its override reorder the label).
FSI, PDI = "\u2068", "\u2069"
#: a handle: ``user@domain`` (``@user@domain``), no space, slash or third ``@`` (a URL is no handle)
_HANDLE = re.compile(r"@?[^@\s/]+@[^@\s/]+")


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def isolated(text: str) -> str:
    """``text`` (already :func:`printable`) ready to stand beside other text in a line a person reads (a column of
    the text report, a chart's label): a part written right to left (Arabic, Hebrew) isolated (:data:`FSI` …
    :data:`PDI`, Unicode's bidi isolates), so that the bidi algorithm of a terminal, an editor or matplotlib
    neither reorders it with its neighbours nor turns the whole line right to left; a handle ``user@domain``
    isolates each side of its ``@``, so it reads user, then domain (unisolated, ``مرحبا@mastodon.social`` in a
    right-to-left line was shown as ``mastodon.social@ابحرم``, and ``مرحبا@مثال`` was one right-to-left run in any
    line, its domain first). Text with no right-to-left character is returned as it is.

    Isolates rather than left-to-right marks (LRM): a mark makes the line left to right, but two right-to-left
    parts with only ``@`` between them still join into one run read right to left. The isolates take no room: a
    terminal gives them no column (:func:`char_width`), and matplotlib's text layout (HarfBuzz) draws nothing for
    them, with no missing-glyph box, whatever the font."""
    if not _right_to_left(text):
        return text
    if _HANDLE.fullmatch(text):
        return "@".join(f"{FSI}{part}{PDI}" if _right_to_left(part) else part for part in text.split("@"))
    return f"{FSI}{text}{PDI}"


#: The record attribute (``log.warning(…, extra={SAID: True})``) of a warning meant for the person who ran a command,
#: about what they gave it (an own metric file that is not read), rather than for whoever reads a service's log: the
#: CLI's text log lines write it as a command writes its own warnings (:func:`fediscope.cli.common.say`),
#: ``fediscope: warning: …``, not as ``time level logger message``. Any other handler (Airflow's task log, a
#: notebook's, a JSON log line) writes it as every record; the leading underscore keeps it out of a JSON line's fields.
SAID = "_fediscope_said"

#: The record attribute (``log.warning(…, extra={IN_SUMMARY: True})``) of a warning whose condition the summary of the
#: run says too (``fediscope process``'s line and ``--json`` document say the curation's status versions dated after
#: their fetch, its statuses not public left out, its tables made by other curation rules). The command that prints
#: that summary holds such records back from its log lines (:func:`fediscope.cli.common.said_by_the_summary`), so it
#: says each condition once, in its summary's words; it writes them after all when it prints no summary (the run
#: failed). Any other handler writes them as every record: an Airflow task log (the task returns the summary and logs
#: no line of it), the ``spark-submit`` jobs' text log the batch DAG copies into it (``spark_jobs/curate.py`` prints
#: its summary as JSON alone), a notebook's.
IN_SUMMARY = "_fediscope_in_summary"


#: The record attribute where :class:`~fediscope.redact.RedactingFilter` leaves the message as a text line shows it
#: (its values' control characters escaped, its secrets masked), when that differs from the message: once the filter
#: has put the values into the message they can no longer be told from its own lines. A pair: the message the filter
#: left in ``record.msg``, and that message as shown (:func:`left_printable_message`).
PRINTABLE_MESSAGE = "_fediscope_printable_message"


def left_printable_message(record: logging.LogRecord) -> str | None:
    """The message as a text line shows it, as the redacting filter left it (:data:`PRINTABLE_MESSAGE`; None where it
    left none), while that is still this record's message: ``record.msg`` is the message the filter left, and no
    ``args`` were put back. A filter after fediscope's that rewrote the message (a host's own masking of its secrets)
    has the last word: the message as it now is, escaped (:func:`printable_message`); but since the values were in
    it already, where it now has more lines than it had as shown a value's newline may be among them (a forged log
    line), and all its newlines are escaped."""
    left = record.__dict__.get(PRINTABLE_MESSAGE)
    if not isinstance(left, tuple):
        return None
    message, shown = left
    if not record.args and record.msg == message:
        return shown
    rewritten = printable_message(record)
    return printable(rewritten) if rewritten.count("\n") > shown.count("\n") else rewritten


class PrintableValues(logging.Filter):
    """Text log lines show the control characters of a logged value as escapes (:func:`printable`): a hashtag, an
    error body or a user agent holding ``\\n2026-01-01 … ERROR …`` would forge a log line of its own, ``\\r``
    would hide the real one on a terminal, an escape sequence would act on the terminal of whoever reads the log.
    The values only (``%s`` and the like, all fediscope logs with): a message's own newlines stay, as does the
    record's traceback, whose lines are only cleared of the other control characters. A handler whose lines are
    JSON (:func:`writes_text`) is left alone: its encoder escapes them all.

    Escaping is this handler's presentation, not the record's: the handler formats an escaped copy
    (:func:`printable_record`) and the record every other handler of the logger gets is left as it is (a JSON
    file beside a terminal keeps the values as sent; a text handler after a JSON one still escapes them). Logging
    (before Python 3.12) lets a filter change the record only in place, so this one acts when its handler formats:
    it wraps the handler's ``format``; as a filter it passes every record, and only marks the handler as covered.
    Secrets are another matter: :class:`~fediscope.redact.RedactingFilter` masks them in the record itself."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler
        handler_format = handler.format

        def format_printable(record: logging.LogRecord) -> str:
            # asked each time: a handler's format may change
            return handler_format(printable_record(record) if writes_text(handler.formatter) else record)

        handler.format = format_printable  # type: ignore[method-assign]

    def filter(self, record: logging.LogRecord) -> bool:
        return True


def printable_args(args: Any) -> Any:
    """A record's ``args`` with each value as a text line shows it (:func:`printable`; a number stays a number)."""
    if isinstance(args, dict):
        return {key: _printable_value(value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(_printable_value(value) for value in args)
    return args


def escapes_values(args: Any) -> bool:
    """Whether a text line shows a value of a record's ``args`` otherwise than as its ``str()``: with an escape
    (:func:`printable_args`)."""
    values = args.values() if isinstance(args, dict) else args if isinstance(args, tuple) else ()
    return any(_printable_value(value) is not value for value in values)


def printable_message(record: logging.LogRecord) -> str:
    """The message of ``record`` with its values' control characters escaped and its own newlines kept (a message
    that cannot be formatted: all of it escaped, as :class:`~fediscope.redact.RedactingFilter` shows it)."""
    # a message that is not a string (``log.error(exc)``) is a value too
    template = printable(record.msg, keep="\n") if isinstance(record.msg, str) else printable(str(record.msg))
    try:
        return template % printable_args(record.args) if record.args else template
    except Exception:  # a broken format string: its repr, as the redacting filter writes it
        return printable(f"{record.msg!r} {record.args!r}")


def printable_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` as a text log line shows it (:class:`PrintableValues`): a copy with the control characters of its
    message's values escaped (:data:`PRINTABLE_MESSAGE` where the redacting filter left it) and those of its
    traceback but newlines; ``record`` itself when there is nothing to escape. The record is not changed."""
    message = left_printable_message(record)
    if message is None:
        message = printable_message(record)
    exc_text = record.exc_text
    if record.exc_info and not exc_text:
        exc_text = logging.Formatter().formatException(record.exc_info)
    exc_text = printable(exc_text, keep="\n") if exc_text else exc_text
    if not record.args and message == record.msg and exc_text == record.exc_text:
        return record
    copy = logging.makeLogRecord(vars(record))
    copy.msg, copy.args, copy.exc_text = message, None, exc_text
    return copy


def writes_text(formatter: logging.Formatter | None) -> bool:
    """Whether a handler with ``formatter`` writes text lines, not JSON: JSON lines come from a formatter that says
    so (``json_lines``: fediscope's :class:`~fediscope.cli.common.JsonFormatter`) and from structlog's
    ``ProcessorFormatter`` rendering with anything but its ``ConsoleRenderer`` (Airflow 3's task process sends
    its log to the supervisor as JSON; ``dag.test()`` and Airflow's console render text with a
    ``ConsoleRenderer``)."""
    if getattr(formatter, "json_lines", False):
        return False
    structlog = sys.modules.get("structlog")  # a ProcessorFormatter's module is imported already
    if structlog is not None and isinstance(formatter, structlog.stdlib.ProcessorFormatter):
        return isinstance(formatter.processors[-1], structlog.dev.ConsoleRenderer)  # the last one renders
    return True


def _printable_value(value: Any) -> Any:
    """``value`` as a text log line may show it: as it is (a number stays a number for ``%d``), or, when its text
    holds a control character, that text with them escaped."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    shown = printable(text)
    return value if shown == text else shown


def _readable(error: UnicodeError) -> tuple[str | bytes, int]:
    """Encode error handler for the first unencodable character: its :data:`ASCII_FORMS` entry, else ``\\x..``,
    ``\\u....`` or ``\\U........`` (as ``backslashreplace``); a byte of an undecodable file name (a lone surrogate
    ``U+DC80``-``U+DCFF``) is that byte again, as ``surrogateescape`` writes it (``ls`` shows such a name so too).
    The codec calls it again for the next one. Decoding errors are left to fail as they would."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    char = error.object[error.start]
    if "\udc80" <= char <= "\udcff":
        return bytes([ord(char) - 0xDC00]), error.start + 1
    return ASCII_FORMS.get(char) or char.encode("ascii", "backslashreplace").decode("ascii"), error.start + 1


codecs.register_error(ERRORS, _readable)


def tolerate_unencodable_output() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` replace what their encoding cannot hold (see the module's text)
    instead of raising. The encoding is kept; a stream that is not a plain text file (a host's, such as
    Airflow's log writer), or that already has a lenient error handler, is left as it is."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
            stream.reconfigure(errors=ERRORS)


def stdout_holds(text: str, stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (standard output) writes every character of ``text`` as it is: its encoding holds them
    (an ASCII one never holds a non-ASCII character, although click writes UTF-8 to it)."""
    stream = sys.stdout if stream is None else stream
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable_json(data: Any, **options: Any) -> str:
    """``data`` as JSON (``json.dumps`` ``options``) for standard output: its non-ASCII characters as they are
    where standard output's encoding holds them all (a UTF-8 terminal), else as ``\\u`` escapes
    (``ensure_ascii``). Left to :func:`tolerate_unencodable_output`, a Latin-1 terminal would get ``\\U0001f389``
    for an emoji, which is not JSON."""
    text = json.dumps(data, ensure_ascii=False, **options)
    if not stdout_holds(text):
        return json.dumps(data, ensure_ascii=True, **options)
    # on a terminal the C1 controls and bidi overrides JSON leaves as they are are escaped too (still JSON)
    return printable(text, keep="\n") if sys.stdout.isatty() else text  # keep: its indentation's lines


def char_width(char: str) -> int:
    """Terminal columns of one character: 2 for wide ones (CJK, most emoji), 0 for combining marks and
    zero-width ones (variation selectors, joiners), else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (``len`` counts a CJK hashtag's characters, not their width)."""
    return sum(map(char_width, text)) if not text.isascii() else len(text)


def clip(text: str, width: int, ellipsis: str = "\u2026") -> str:
    """``text`` in at most ``width`` columns, cut with ``ellipsis`` ("…"; never inside a character's combining
    marks)."""
    if display_width(text) <= width:
        return text
    used, end = display_width(ellipsis), 0
    for end, char in enumerate(text):  # noqa: B007 - end is used after the loop
        used += char_width(char)
        if used > width:
            break
    while end > 0 and char_width(text[end]) == 0:  # keep a base character with its marks
        end -= 1
    return text[:end] + ellipsis


class _ColumnsWrapper(textwrap.TextWrapper):
    """A :class:`textwrap.TextWrapper` that measures lines in terminal columns (:func:`display_width`: a CJK
    character or an emoji takes two, a combining mark none), not in characters: was, a line of hashtags in Japanese
    was wrapped at ``width`` characters, up to twice as many columns. Long words are kept whole, and no
    ``max_lines``: what :func:`wrap_line` asks of it."""

    def _wrap_chunks(self, chunks: list[str]) -> list[str]:
        lines: list[str] = []
        chunks.reverse()  # a stack, as TextWrapper's own
        while chunks:
            indent = self.subsequent_indent if lines else self.initial_indent
            width = self.width - display_width(indent)
            if self.drop_whitespace and not chunks[-1].strip() and lines:
                del chunks[-1]  # a line after the first does not start with the space it was broken at
            line: list[str] = []
            used = 0
            # a chunk wider than any line (a path) goes on a line of its own, whole
            while chunks and (not line or used + display_width(chunks[-1]) <= width):
                used += display_width(chunks[-1])
                line.append(chunks.pop())
            if self.drop_whitespace and line and not line[-1].strip():
                del line[-1]
            if line:
                lines.append(indent + "".join(line))
        return lines


#: stands for a space inside a `command` while :func:`wrap_line` wraps (TextWrapper breaks at ASCII spaces only)
_KEPT_SPACE = "\ue000"


def wrap_line(line: str, width: int) -> list[str]:
    """``line`` in lines of at most ``width`` columns (:func:`display_width`), the later ones indented by two: at its
    spaces, never inside a word, a date (``2026-11-21``) or a command in backticks (```--width 0```: an option kept
    with its value), and, in a line of ``a: 1 · b: 2`` parts, between whole parts where each fits. A word longer
    than ``width`` (a path) stays whole."""
    if display_width(line) <= width:
        return [line]
    if _KEPT_SPACE in line or "`" not in line:  # the stand-in itself in the line (a server sent it): as it is
        return _wrapped(line, width)
    kept = re.sub(r"`[^`]+`", lambda quoted: quoted[0].replace(" ", _KEPT_SPACE), line)
    return [wrapped.replace(_KEPT_SPACE, " ") for wrapped in _wrapped(kept, width)]


def _wrapped(line: str, width: int) -> list[str]:
    wrapper = _ColumnsWrapper(width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
    parts = line.split(" · ")
    if len(parts) < 2 or "\u00a0" in line or any(display_width(part) > width - 4 for part in parts):
        return wrapper.wrap(line)
    # no-break spaces inside each part, made spaces again after: TextWrapper breaks at ASCII whitespace only
    return [wrapped.replace("\u00a0", " ")
            for wrapped in wrapper.wrap(" · ".join(part.replace(" ", "\u00a0") for part in parts))]


def as_shown(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` shows it once :func:`tolerate_unencodable_output` has replaced what its encoding
    lacks (``\\u65e5`` for a CJK character on a Latin-1 terminal): what a line's width is measured on."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return text.encode(encoding, ERRORS).decode(encoding, "surrogateescape")


def terminal_columns(stream: TextIO) -> int:
    """Columns of the terminal ``stream`` writes to: ``COLUMNS`` when set (as :func:`shutil.get_terminal_size`
    reads it), else the window size of ``stream``'s own terminal, asked each time (a resized window, a tmux split).
    Not :func:`shutil.get_terminal_size` alone: it asks standard output's terminal, and standard output is a file
    in ``fediscope store export NAME > rows.csv`` or ``fediscope collect --json > summary.json`` (it then says 80
    columns, whatever the terminal stderr writes to)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # no file descriptor, or no terminal's
        columns = 0
    return columns if columns > 0 else shutil.get_terminal_size().columns
