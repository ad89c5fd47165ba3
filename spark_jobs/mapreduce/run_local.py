#!/usr/bin/env python3
"""Run the Hadoop streaming chain locally: ``cat raw files | mapper.py | sort | reducer.py | sort | reducer.py``.

The same two jobs a cluster runs (see ``README.md``), with the shell's tools standing in for Hadoop: ``sort``
(``LC_ALL=C``, byte order, like Hadoop's key comparison) is the shuffle, and job 2's mapper is the identity.
Every stage is a separate process connected by pipes, so the stages run concurrently as they would in a
shell; ``.jsonl.gz`` batches are decompressed on the way in (Hadoop's input format does that on a cluster).

Usage::

    python spark_jobs/mapreduce/run_local.py LAKE_DIR [--out metrics.tsv] [--json] [--retention-days N]
        [--today YYYY-MM-DD] [--strict]

reads ``LAKE_DIR/raw/mastodon/{statuses,accounts,directory}/**`` (and hands the mapper
``LAKE_DIR/raw/mastodon/status_deletions`` as ``--deletions`` when it exists) and prints the metric lines (or, with
``--json``, ``{metric: [row, …]}`` with typed values, each metric in its SQL order). The curated retention applies
as curation applies it: ``--retention-days`` (default: ``FEDISCOPE_RETENTION_CURATED_DAYS``, 0 keeps every day)
before today in UTC (``--today``) is the mapper's ``--first-day`` (:func:`first_day`). Standard library only. A
batch that cannot be read (a corrupt or truncated ``.gz``), that is empty (no bytes), or that does not end with a
newline (cut short), stops it before any metric is written, naming the file (exit 1), as it stops the SQL
curation; so does a streamed deletions batch that is empty or cut short. A line that is not a record (not JSON,
not UTF-8, not a lake envelope, a count no 64-bit integer holds) is skipped by the mapper, and a line on stderr
says how many for each reason; with ``--strict`` the first one stops the run (exit 1), naming its file and line,
as the SQL curation stops. An ``--out`` it cannot write (a directory, or in a folder that is not there or not
writable) is a usage error (exit 2) before anything is read. Nothing is written (``--out`` or the standard
output) unless the whole chain succeeds.
When the reader of its output goes away (``run_local.py LAKE | head``) it stops quietly with the status of a Unix
tool ended by SIGPIPE, 141.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import errno
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

try:  # imported as part of the repository (tests, the benchmark)
    from spark_jobs.mapreduce.mapper import (
        PIPE_STOP_RE,
        RESTORE_ADVICE,
        SKIP_REASONS,
        lake_files,
        parse_day,
        skipped_summary,
    )
    from spark_jobs.mapreduce.reducer import BROKEN_PIPE_EXIT, COLUMNS, unescape
except ImportError:  # run as a script next to mapper.py and reducer.py
    from mapper import PIPE_STOP_RE, RESTORE_ADVICE, SKIP_REASONS, lake_files, parse_day, skipped_summary  # type: ignore[no-redef]
    from reducer import BROKEN_PIPE_EXIT, COLUMNS, unescape  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
MAPPER, REDUCER = HERE / "mapper.py", HERE / "reducer.py"
#: The raw entities the jobs read (the ``-input`` directories of the cluster command).
ENTITIES = ("statuses", "accounts", "directory")
#: The streamed deletions, the mapper's side input (``--deletions``).
DELETIONS = "status_deletions"
_ROOT = ("raw", "mastodon")
_BOOL_COLUMNS = {"bot"}
#: A Hadoop streaming counter line of the mapper's stderr (``--counters``).
_COUNTER_RE = re.compile(rb"reporter:counter:fediscope,([A-Za-z0-9_]+),([0-9]+)\Z")
_TEXT_COLUMNS = {"account_key", "instance", "day", "tag", "feature"}


#: The curated retention's setting (``fediscope.config``), the default of ``--retention-days``.
RETENTION_VARIABLE = "FEDISCOPE_RETENTION_CURATED_DAYS"
#: Its largest value (``fediscope.config.MAX_DAYS``, 100 years).
MAX_DAYS = 36_500


class PipelineError(RuntimeError):
    """A stage of the local pipe exited with an error (its stderr is in the message)."""


def first_day(today: date, days: int) -> date | None:
    """The first day the curated retention of ``days`` keeps (None: 0 keeps every day): the rule of
    ``fediscope.gdpr.retention.cutoff``, which curation applies (this file imports nothing of fediscope's; a test
    keeps the two equal)."""
    return today - timedelta(days=days) if days > 0 else None


def retention_days(text: str, where: str) -> int:
    """A number of days of the curated retention, read as ``fediscope.config`` reads the setting; ValueError naming
    ``where`` (the option or the variable) otherwise."""
    try:
        days = int(text.strip())
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_DAYS:
        raise ValueError(f"{where}: expected a number of days from 0 to {MAX_DAYS:,} (100 years), got {text!r}")
    return days


def retention_first_day(days: str | None, today: str | None, env: Mapping[str, str]) -> date | None:
    """The mapper's ``--first-day`` from ``--retention-days`` (else ``FEDISCOPE_RETENTION_CURATED_DAYS``, else 0) and
    ``--today`` (else today in UTC, the day curation dates its cutoff by). ValueError saying what is wrong."""
    number = (retention_days(days, "--retention-days") if days is not None else
              retention_days(env[RETENTION_VARIABLE], RETENTION_VARIABLE) if env.get(RETENTION_VARIABLE, "").strip()
              else 0)
    if today is None:
        day = datetime.now(timezone.utc).date()  # noqa: UP017 - datetime.UTC needs Python 3.11
    else:
        try:
            day = parse_day(today)
        except ValueError as exc:
            raise ValueError(f"--today: {exc}") from None
    return first_day(day, number)


def raw_files(lake: Path, entities: Sequence[str] = ENTITIES) -> list[Path]:
    """The raw batch files the jobs read, sorted (dot-files, which are in-flight writes, excluded; linked
    directories followed, as curation follows them: :func:`mapper.lake_files`)."""
    files: list[Path] = []
    for entity in entities:
        root = lake.joinpath(*_ROOT, entity)
        if root.is_dir():
            files.extend(lake_files(root))
    return sorted(files)


def deletions_dir(lake: Path) -> list[Path]:
    """The lake's streamed deletions directory, when it exists (the mapper's ``--deletions``)."""
    root = lake.joinpath(*_ROOT, DELETIONS)
    return [root] if root.is_dir() else []


def empty_batch_message(path: Path) -> str:
    """What curation says of an empty raw batch file (``fediscope.lake.batches.check_whole_batches``), word for
    word: the README's Troubleshooting row covers both."""
    return (f"the raw file {path} is empty: a batch is landed with its records, so it was emptied since; restore it "
            "from a copy, or delete it, and run again")


def cut_batch_message(path: Path) -> str:
    """What curation says of a raw batch file that does not end with a newline, but for what its records become."""
    return (f"the raw file {path} is cut short or damaged: it does not end with a newline, so its last record is "
            "incomplete (a batch is landed whole); restore it from a copy, or move it out of the lake (its records "
            "are then not counted), and run again")


def check_deletions(paths: Sequence[Path]) -> None:
    """Refuse the lake's streamed deletions files (the mapper's ``--deletions``: files, or directories of them) as
    curation refuses them before reading any (``fediscope.lake.batches.check_whole_batches``): an empty one (no
    bytes, also a ``.gz``), or a plain one that does not end with a newline. The mapper reads a deletions file
    whole, line by line, so neither glues records together there, but each is a batch damaged since it was landed,
    and the deletions it held are lost: the SQL curation stops on it, and so does this chain."""
    for root in paths:
        for path in lake_files(root) if root.is_dir() else [root]:
            try:
                with open(path, "rb") as handle:
                    size = handle.seek(0, os.SEEK_END)
                    if size and not path.name.endswith(".gz"):
                        handle.seek(size - 1)
                        last = handle.read(1)
            except OSError as exc:
                raise PipelineError(f"cannot read the raw file {path}: {exc.strerror or exc}") from None
            if not size:
                raise PipelineError(empty_batch_message(path))
            if not path.name.endswith(".gz") and last != b"\n":
                raise PipelineError(cut_batch_message(path))


def _feed(files: Iterable[Path], sink: IO[bytes], errors: list[BaseException],
          stages: Sequence[subprocess.Popen[bytes]] = (), starts: list[tuple[int, Path]] | None = None) -> None:
    """``cat`` (and ``zcat`` for ``.gz``) the files into ``sink``, then close it. A file that cannot be read (a
    corrupt or truncated ``.gz`` batch, an unreadable file), that is empty (no bytes: a batch is landed with its
    records) or that does not end with a newline (cut short: its last line would be glued to the next file's
    first), as ``fediscope.lake.batches.check_whole_batches`` refuses it for the SQL curation, is reported in
    ``errors`` as a :class:`PipelineError` naming it, and the ``stages`` are killed before ``sink`` is closed, so
    that no stage sees the end of its input and no metric computed from part of the lake is written. ``starts``
    gets the number (from 1) of each file's first line in ``sink`` (:func:`line_of`)."""
    path: Path | None = None
    lines = 0
    try:
        for path in files:
            if starts is not None:
                starts.append((lines + 1, path))
            last = b"\n"
            with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as handle:
                if not os.fstat(handle.fileno()).st_size:  # of the file itself (a .gz: not even a gzip header)
                    raise PipelineError(empty_batch_message(path))
                while True:
                    chunk = handle.read(1 << 20)
                    if not chunk:
                        break
                    sink.write(chunk)
                    lines += chunk.count(b"\n")
                    last = chunk[-1:]
            if last != b"\n":  # its last line would be glued to the next file's first: two records lost
                raise PipelineError(cut_batch_message(path))
    except BrokenPipeError:
        pass
    except (OSError, EOFError, zlib.error) as exc:  # gzip: BadGzipFile (an OSError), EOFError when truncated
        for stage in stages:
            stage.kill()
        errors.append(PipelineError(f"cannot read the raw file {path}: {exc or type(exc).__name__}"))
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        for stage in stages:
            stage.kill()
        errors.append(exc)
    finally:
        with contextlib.suppress(BrokenPipeError):
            sink.close()


def line_of(starts: Sequence[tuple[int, Path]], number: int) -> tuple[Path, int] | None:
    """The file and line of line ``number`` of the mapper's input, from :func:`_feed`'s ``starts`` (every file
    ends with a newline, else it is refused, so the lines of one file are never glued to the next's)."""
    index = bisect.bisect_right([first for first, _ in starts], number) - 1
    return None if index < 0 else (starts[index][1], number - starts[index][0] + 1)


def split_counters(err: bytes) -> tuple[dict[str, int], bytes]:
    """The mapper's stderr → its Hadoop streaming counters (``--counters``) and the rest of what it said."""
    counters: dict[str, int] = {}
    rest: list[bytes] = []
    for line in err.splitlines(keepends=True):
        match = _COUNTER_RE.match(line.rstrip(b"\n"))
        if match:
            counters[match.group(1).decode()] = int(match.group(2))
        else:
            rest.append(line)
    return counters, b"".join(rest)


def _mapper_failure(err: bytes, starts: Sequence[tuple[int, Path]]) -> str | None:
    """The ``--strict`` stop of the mapper (a line of the input that is not a record) as curation says it, naming
    the raw file and its line (``fediscope.lake.batches.decode_jsonl``); None for any other failure."""
    match = PIPE_STOP_RE.match(err.decode(errors="replace").strip())
    where = match and line_of(starts, int(match.group(1)))
    if not where:
        return None
    path, line = where
    return f"the raw file {path} is damaged: line {line} is not a JSON record ({match.group(2)}); {RESTORE_ADVICE}"


def run_pipeline(files: Sequence[Path], out: IO[bytes], python: str = sys.executable,
                 sort_buffer: str = "25%", deletions: Sequence[Path] = (), keep_from: date | None = None,
                 strict: bool = False) -> dict[str, int]:
    """Run the chain over ``files``, writing the metric lines to ``out`` (a binary file); ``deletions`` go to the
    mapper as ``--deletions`` (checked first: :func:`check_deletions`), ``keep_from`` (the curated retention's first
    day, :func:`first_day`) as ``--first-day``; ``strict`` stops at a line that is not a record. Returns the
    mapper's counters (the lines it skipped, by reason, are also said on stderr). Raises PipelineError; ``out``
    then holds what the stages wrote before they stopped, so give it a file to throw away."""
    check_deletions(deletions)
    env = {**os.environ, "LC_ALL": "C", "PYTHONIOENCODING": "utf-8"}
    sort = ["sort", "-S", sort_buffer]
    mapper = [python, str(MAPPER), "--counters", *(["--strict"] if strict else []),
              *(arg for path in deletions for arg in ("--deletions", str(path))),
              *(["--first-day", keep_from.isoformat()] if keep_from else [])]
    stages = [mapper, sort, [python, str(REDUCER)], sort, [python, str(REDUCER)]]
    procs: list[subprocess.Popen[bytes]] = []
    stdin: Any = subprocess.PIPE
    for i, argv in enumerate(stages):
        last = i == len(stages) - 1
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out if last else subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        if procs:
            procs[-1].stdout.close()  # type: ignore[union-attr]  # only the next stage holds the pipe now
        procs.append(proc)
        stdin = proc.stdout
    errors: list[BaseException] = []
    starts: list[tuple[int, Path]] = []
    feeder = threading.Thread(target=_feed, args=(files, procs[0].stdin, errors, procs, starts), daemon=True)
    feeder.start()
    stderr: list[bytes] = [b""] * len(procs)
    readers = [threading.Thread(target=lambda i=i: stderr.__setitem__(i, procs[i].stderr.read()), daemon=True)
               for i in range(len(procs))]
    for reader in readers:
        reader.start()
    codes = [procs[0].wait()]
    if codes[0] != 0:  # the later stages would only work on part of the input: stop them
        for proc in procs[1:]:
            proc.kill()
    codes += [proc.wait() for proc in procs[1:]]
    feeder.join()
    for reader in readers:
        reader.join()
    if codes[-1] == BROKEN_PIPE_EXIT:  # ``out`` was closed by its reader (``run_local.py LAKE | head``): the
        raise BrokenPipeError(errno.EPIPE, "the output was closed")  # stages before it stopped for that reason
    if errors:
        raise errors[0] if isinstance(errors[0], PipelineError) else PipelineError(
            f"reading the raw files failed: {errors[0]}")
    counters, stderr[0] = split_counters(stderr[0])
    if codes[0] != 0:
        stopped = _mapper_failure(stderr[0], starts)
        if stopped:
            raise PipelineError(stopped)
    for argv, code, err in zip(stages, codes, stderr, strict=True):
        name = Path(argv[1]).name if argv[0] == python else argv[0]
        if code != 0:
            raise PipelineError(f"{name} exited with {code}: {err.decode(errors='replace').strip()[-2000:]}")
        if err.strip():
            sys.stderr.write(err.decode(errors="replace"))
    summary = skipped_summary({reason: counters.get(f"skipped_{reason}", 0) for reason in SKIP_REASONS})
    if summary:
        sys.stderr.write(f"run_local: {summary}\n")
    return counters


def publish(output: IO[bytes], out_path: Path) -> None:
    """Copy ``output`` (a finished run's, read from its start) to ``out_path`` whole or not at all: through a file
    next to it, renamed over it, so that a run stopped meanwhile leaves no partial file and an older one
    untouched. A path that is not a regular file (``/dev/stdout``, a named pipe) is written to as it is. The file
    beside it is created anew (``x``: O_EXCL), never opened through a symbolic link left at its name (the name is
    foreseeable: whatever the link named received the metrics); a symbolic link at ``out_path`` to a regular file
    is replaced, as ``fediscope``'s ``atomic_out`` replaces it (this file imports nothing of fediscope's)."""
    if out_path.exists() and not out_path.is_file():
        with open(out_path, "wb") as handle:
            shutil.copyfileobj(output, handle)
        return
    partial = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        partial.unlink(missing_ok=True)  # a link, or a killed run's file of a reused pid: removed, not followed
        with open(partial, "xb") as handle:
            shutil.copyfileobj(output, handle)
        os.replace(partial, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def out_path_problem(out_path: Path) -> str | None:
    """Why ``--out`` cannot be written, said before any work is done (None: it can be). :func:`publish` writes a
    file beside it and renames it, so its directory must exist and be writable; a path that is no regular file
    but no directory either (``/dev/stdout``, a named pipe) is written to as it is. Shared with
    ``spark_jobs/metrics.py``, whose ``--out`` is checked before Spark starts."""
    if out_path.is_dir():
        return f"{out_path} is a directory; name a file"
    if out_path.exists() and not out_path.is_file():
        return None
    folder = out_path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return f"{out_path}: the directory {folder} does not exist or is not writable"
    return None


def _value(column: str, field: str) -> Any:
    if field == "\\N":
        return None
    if column in _BOOL_COLUMNS:
        return field == "true"
    if column in _TEXT_COLUMNS:
        return unescape(field)
    return float(field) if any(c in field for c in ".eEn") else int(field)


_ORDER = {
    "top_accounts_by_followers": lambda r: (-r["followers_count"], r["account_key"]),
    "account_engagement": lambda r: (-r["interactions_total"], r["account_key"] is None, r["account_key"] or ""),
    "hashtags_daily": lambda r: (r["day"], -r["toots"], r["tag"]),
    "content_features": lambda r: r["feature"],
}


def parse_output(lines: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Metric lines → ``{metric: [row, …]}`` with typed values, each metric in its SQL file's ORDER BY."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in COLUMNS}
    for line in lines:
        fields = line.rstrip("\n").split("\t")
        if not fields[0]:
            continue
        columns = COLUMNS.get(fields[0])
        if columns is None or len(fields) != len(columns) + 1:
            raise ValueError(f"unexpected output line: {line[:200]!r}")
        out[fields[0]].append({c: _value(c, f) for c, f in zip(columns, fields[1:], strict=True)})
    for name, rows in out.items():
        rows.sort(key=_ORDER[name])
    return out


def run_lake(lake: Path, out_path: Path | None = None, keep_from: date | None = None, strict: bool = False
             ) -> dict[str, list[dict[str, Any]]]:
    """Run the chain over a local lake and return the parsed metrics (the raw lines also go to ``out_path``, once
    the run succeeded: :func:`publish`); ``keep_from``: the curated retention's first day (:func:`first_day`; None
    keeps every day); ``strict``: stop at a line that is not a record (:func:`run_pipeline`)."""
    files = raw_files(lake)
    if not files:
        raise PipelineError(f"no raw statuses/accounts batches under {lake / '/'.join(_ROOT)}")
    with tempfile.TemporaryFile() as handle:
        run_pipeline(files, handle, deletions=deletions_dir(lake), keep_from=keep_from, strict=strict)
        handle.seek(0)
        # "\n" only: str.splitlines also breaks at U+2028, U+0085, \x1c, \v…, which a tag may hold; the empty
        # text after the final newline is skipped by parse_output
        metrics = parse_output(handle.read().decode("utf-8", "surrogateescape").split("\n"))
        if out_path:
            handle.seek(0)
            publish(handle, out_path)
    return metrics


def lake_directory(value: str) -> Path:
    """The lake directory the argument names: a path, or a ``file://`` URL as FEDISCOPE_LAKE takes it
    (percent-decoded), so ``run_local.py "$FEDISCOPE_LAKE"`` works. Another URL (``webhdfs://``, ``hdfs://``) is a
    ValueError: was read as a relative path (``webhdfs:/namenode:9870/…``) and reported as a lake without raw
    batches. Its user and password are not repeated."""
    parts = urlsplit(value)
    if "://" not in value or not parts.scheme:
        return Path(value)
    shown = value if parts.password is None else value.replace(f":{parts.password}@", ":***@", 1)
    if parts.scheme.lower() == "file":
        if parts.hostname in (None, "localhost") and not parts.query and not parts.fragment and parts.path:
            return Path(unquote(parts.path))
        raise ValueError(f"the lake {shown!r} is not a directory of this machine: write it file:///path (no host, "
                         "query or fragment; a # or ? of its name as %23 or %3F), or as a path")
    raise ValueError(f"the lake {shown!r} is not a local directory: run_local.py reads a lake on this machine's "
                     f"disk (a path or file:///path); a {parts.scheme}:// lake's chain runs on the cluster with "
                     "hadoop-streaming (spark_jobs/mapreduce/README.md), or copy its raw/ here first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", help="local lake directory (holds raw/mastodon/…), or file:///path")
    parser.add_argument("--out", type=Path, help="write the metric lines to this file")
    parser.add_argument("--json", action="store_true", help="print {metric: rows} as JSON instead of the lines")
    parser.add_argument("--retention-days", metavar="N",
                        help=f"the curated retention: statuses posted and accounts last fetched more than N days "
                             f"before --today are left out, as curation leaves them out (default: "
                             f"{RETENTION_VARIABLE}, else 0: every day is kept)")
    parser.add_argument("--today", metavar="YYYY-MM-DD", help="the day the retention counts from (default: today, "
                                                              "UTC)")
    parser.add_argument("--strict", action="store_true",
                        help="stop (exit 1, nothing written) at the first line that is not a record, naming its "
                             "file and line, as the SQL curation stops, instead of skipping and counting it")
    args = parser.parse_args(argv)
    try:
        args.lake = lake_directory(args.lake)
    except ValueError as exc:
        parser.error(str(exc))  # exit 2
    try:
        keep_from = retention_first_day(args.retention_days, args.today, os.environ)
    except ValueError as exc:
        parser.error(str(exc))  # exit 2
    if args.out is not None and (problem := out_path_problem(args.out)):
        parser.error(f"--out {problem}")  # before the chain runs, not once it is done (exit 1, a temporary name)
    try:
        if args.json or args.out:
            metrics = run_lake(args.lake, args.out, keep_from, args.strict)
            if args.json:
                # UTF-8 as the metric lines, whatever the locale (a Latin-1 stdout failed on a CJK hashtag); a lone
                # surrogate becomes its \u escape, which JSON reads as such
                text = json.dumps(metrics, ensure_ascii=False, indent=1) + "\n"
                sys.stdout.flush()
                sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
                sys.stdout.flush()
            return 0
        files = raw_files(args.lake)
        if not files:
            raise PipelineError(f"no raw statuses/accounts batches under {args.lake / '/'.join(_ROOT)}")
        with tempfile.TemporaryFile() as handle:  # printed once the whole chain succeeded
            run_pipeline(files, handle, deletions=deletions_dir(args.lake), keep_from=keep_from, strict=args.strict)
            handle.seek(0)
            sys.stdout.flush()
            shutil.copyfileobj(handle, sys.stdout.buffer)
            sys.stdout.flush()
        return 0
    except BrokenPipeError:  # the reader of the output is gone (``| head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit fails
        return BROKEN_PIPE_EXIT
    except (PipelineError, OSError, ValueError) as exc:
        sys.stderr.write(f"run_local: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
