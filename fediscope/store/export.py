"""A stored metric's rows as a file for pandas, R or a spreadsheet (``fediscope store export``): CSV or JSON Lines.

The rows are read through the store port alone (:mod:`fediscope.store.port`), a page at a time, by the key, rank and
prefix the store recorded at the metric's last write (:func:`fediscope.analysis.stored_definition`), so SQLite,
MariaDB and HBase give the same file, also for a metric whose SQL file is gone. The order is the store's top-N
order (:func:`fediscope.analysis.pages_in_top_order`: rank column, ties by key; key order without a rank), or with
a prefix value that value's rows in key order (:func:`fediscope.analysis.pages_of_prefix`), as the results API
pages them. They are all of one write of the metric: a metric a write has begun and not finished (a provisional
generation, which the report names "Partly written") is refused before a row is written (:class:`PartlyWrittenError`),
and one written again during the export fails it (:class:`~fediscope.analysis.MetricChangedError`).

CSV: a header of the stored columns (:meth:`~fediscope.store.port.MetricStore.column_types`' order), then the
values as RFC 4180 has them (quoted where needed, ``\\r\\n`` line ends), booleans as ``true``/``false``, floats with
``repr``'s precision (they read back the same). NULL is an empty field and empty text a quoted one (``""``), as
PostgreSQL's ``COPY … CSV`` writes them: readers that tell the two apart read them back as NULL and ``''``
(PostgreSQL's ``COPY FROM``, DuckDB's ``read_csv`` with ``allow_quoted_nulls=false``, pyarrow's with
``strings_can_be_null=True, quoted_strings_can_be_null=False``), and the others see an empty field either way, as
before (Python's :mod:`csv` reads both as ``''``; pandas' ``read_csv`` both as NaN). Python's :mod:`csv` cannot write
that (it writes ``''`` and None alike), hence the writer of its own here. (A row of one column holding NULL is an
empty line, as PostgreSQL writes it: DuckDB reads it as NULL, but readers that skip empty lines skip it.)
Text that is just ``\\.`` is quoted: alone on a line, PostgreSQL's ``COPY FROM`` would take it for the end of the
data.
With ``spreadsheet_safe`` (``--spreadsheet-safe``), a text value a spreadsheet would run as a formula (it starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: OWASP's "CSV injection") gets a ``'`` before it
(:func:`spreadsheet_safe_text`); numbers, and text that reads as a plain number (``-3``), are left as they are. It
changes the data, so it is for a file a person opens in a spreadsheet, not for a program: off by default.
JSON Lines: one JSON object per row, its values exact (an integer stays an integer). Both UTF-8.

Rows printed on a terminal (``for_terminal``) show the control characters of their text as escapes
(:func:`~fediscope.console.printable`: a hashtag is what a server sent, and its escape sequences would act on the
terminal); a file or a pipe gets the values as stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from fediscope.analysis import (
    PARTLY_WRITTEN_ADVICE,
    pages_in_top_order,
    pages_of_prefix,
    provisional,
    stale_as_store_error,
    stored_definition,
)
from fediscope.console import printable
from fediscope.errors import StoreError
from fediscope.interrupts import raise_if_lost
from fediscope.step_progress import StatusLine
from fediscope.store.port import MetricStore, Row, prefix_value
from fediscope.wording import count

FORMATS = ("csv", "jsonl")
#: seconds between two progress updates on a terminal
PROGRESS_SECONDS = 2.0


#: the first characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a formula
#: (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: text a spreadsheet reads as a plain number (``-3``, ``+1.5``, ``-2e5``): no formula, left as it is
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
#: what makes a CSV field quoted (as Python's csv module quotes): the delimiter, the quote, a line break
_NEEDS_QUOTES = re.compile('[,"\r\n]')
#: a line of just this is end-of-data to PostgreSQL's ``COPY … FROM`` in CSV mode, unless quoted (its own ``COPY TO``
#: quotes it in a one-column row): quoted in every row here, which any CSV reader reads back as the same text
END_OF_DATA = "\\."


def spreadsheet_safe_text(text: str) -> str:
    """``text`` with a ``'`` before it when a spreadsheet would take it for a formula (:data:`FORMULA_STARTS`), which
    makes the spreadsheet show it as text; a plain number (``-3``) runs nothing and is left as it is."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell(value: Any, spreadsheet_safe: bool = False) -> str | None:
    """A stored value as a CSV field's text: None stays None (NULL: an empty field, :func:`csv_field`), a boolean
    ``true``/``false`` (as JSON writes it; Python's ``True`` would be read as text by R and pandas), a float by
    ``repr`` (every digit that tells it apart), text as it is (:func:`spreadsheet_safe_text` with
    ``spreadsheet_safe``), else as ``str`` writes it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return spreadsheet_safe_text(value) if spreadsheet_safe else value
    return str(value)


def csv_field(text: str | None) -> str:
    """One CSV field: NULL (None) empty, empty text quoted (``""``: see the module's text), text holding a comma, a
    quote or a line break quoted (its quotes doubled), ``\\.`` quoted (see :data:`END_OF_DATA`), the rest as it
    is."""
    if text is None:
        return ""
    if not text or text == END_OF_DATA or _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_text(lines: list[list[str | None]]) -> str:
    return "".join(",".join(csv_field(text) for text in line) + "\r\n" for line in lines)


def _page_text(page: list[Row], columns: list[str], fmt: str, for_terminal: bool = False,
               spreadsheet_safe: bool = False) -> str:
    shown: Callable[[Any], Any] = _printable_cell if for_terminal else lambda value: value
    if fmt == "csv":
        return _csv_text([[shown(csv_cell(row.get(column), spreadsheet_safe)) for column in columns]
                          for row in page])
    # JSON escapes the C0 controls itself; printable's escapes of the others are JSON's too: still JSON Lines
    return "".join(shown(json.dumps(row, ensure_ascii=False, allow_nan=False, separators=(",", ":"))) + "\n"
                   for row in page)


def _printable_cell(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


class Progress:
    """``exporting NAME: 12,000 rows`` on a terminal's stderr, rewritten in place at most every
    :data:`PROGRESS_SECONDS` (a :class:`~fediscope.step_progress.StatusLine`: cut to the terminal's width), and
    cleared at the end; nothing when disabled (stderr not a terminal), nor on a stream that is no terminal."""

    def __init__(self, name: str, enabled: bool, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.clock = name, clock
        self.line = StatusLine(stream) if enabled else None
        self._last = clock()

    def rows(self, written: int) -> None:
        now = self.clock()
        if self.line is None or now - self._last < PROGRESS_SECONDS:
            return
        self._last = now
        self.line.show(f"exporting {self.name}: {count(written, 'row', thousands=True)}")

    def close(self) -> None:
        if self.line is not None:
            self.line.clear()


class PartlyWrittenError(StoreError):
    """A metric a write has begun changing and not finished (its generation is provisional:
    :func:`~fediscope.analysis.provisional`), refused by :func:`export_rows`: the report names such a metric
    ("Partly written") and the results API answers its cursors 409 ``stale_cursor``, but a file has no place to say
    it, and its rows may mix rows of before and after that write."""

    def __init__(self, metric: str) -> None:
        super().__init__(f"metric {metric} is partly written ({PARTLY_WRITTEN_ADVICE}): its rows may mix rows of "
                         "before and after that write, so none was exported; export it again once that is done")
        self.metric = metric


def export_rows(store: MetricStore, name: str, fmt: str, write: Callable[[bytes], Any], prefix: str | None = None,
                progress: Progress | None = None, for_terminal: bool = False, spreadsheet_safe: bool = False) -> int:
    """Write every row of the stored metric ``name`` (or, with ``prefix``, those whose prefix column holds that
    value, given as text: :func:`~fediscope.store.port.prefix_value`, which raises
    :class:`~fediscope.store.port.PrefixValueError`) in format ``fmt`` (:data:`FORMATS`) through ``write``, a page
    at a time; returns how many rows were written. The caller checks that the store holds ``name``. ``for_terminal``:
    the rows are printed on a terminal; ``spreadsheet_safe``: CSV text that a spreadsheet would run as a formula is
    written as text (see the module's text).

    A metric under a provisional generation (a write going on, or one that stopped part-way) is refused before a row
    is written (:class:`PartlyWrittenError`); one written again during the export raises
    :class:`~fediscope.analysis.MetricChangedError`, also when its rows were one page: the page walk compares the
    generation read here, before the definition and column types, after every page.

    Rows this version does not read (a value its column's type cannot hold, a column missing from its table: as when
    another fediscope version stored it) are a StoreError saying to re-run ``fediscope process``, worded as
    ``fs.metric_rows`` and the results API's 409 ``stale_metric`` say it
    (:func:`~fediscope.analysis.stale_as_store_error`); was the store's decoding ``ValueError``, a traceback."""
    generation = store.generation(name)
    if provisional(generation):
        raise PartlyWrittenError(name)
    with stale_as_store_error(name):
        definition = stored_definition(store, name)
        types = store.column_types(name)
    pages = (pages_in_top_order(store, definition, generation=generation) if prefix is None else
             pages_of_prefix(store, definition, prefix_value(prefix, types.get(definition.prefix)),
                             generation=generation))
    return _write_pages(_read_as_stored(name, pages), list(types), fmt, write, progress, for_terminal,
                        spreadsheet_safe)


def _read_as_stored(name: str, pages: Iterator[list[Row]]) -> Iterator[list[Row]]:
    """``pages``, rows this version does not read raised as :func:`~fediscope.analysis.stale_as_store_error` raises
    them: the reads alone, not what is done with the rows (a ``ValueError`` of writing them is no stale metric)."""
    with stale_as_store_error(name):
        yield from pages


def _write_pages(pages: Iterator[list[Row]], columns: list[str], fmt: str, write: Callable[[bytes], Any],
                 progress: Progress | None, for_terminal: bool = False, spreadsheet_safe: bool = False) -> int:
    written = 0
    header = fmt == "csv"
    try:
        for page in pages:
            raise_if_lost()  # a Ctrl-C raised in a finalizer stops the export before the next page is written
            columns = columns or list(page[0])  # a store that recorded no column types: the rows' own columns
            text = _page_text(page, columns, fmt, for_terminal, spreadsheet_safe)
            write(((_csv_text([columns]) if header else "") + text).encode())
            header = False
            written += len(page)
            if progress is not None:
                progress.rows(written)
    finally:
        if progress is not None:  # before an error's line, too
            progress.close()
    if header and columns:  # no row: the header alone
        write(_csv_text([columns]).encode())
    return written
