"""``fediscope lake ls``: what is in the lake — directories with their file counts and sizes, files with theirs.

The listing reads metadata only (one listing per directory, on WebHDFS a LISTSTATUS), so it stays cheap on a big
lake. Counting a batch's records means downloading and decompressing the whole file: that happens only with
``--records``.
"""

from __future__ import annotations

import posixpath
import zlib

import click

from fediscope.cli.common import emit_json, settings_from_context
from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.backend import LakeBackend, open_lake, require_lake
from fediscope.lake.batches import decode_jsonl

BATCH_SUFFIXES = (".jsonl", ".jsonl.gz")
RECORDS_HINT = "(records not counted: add --records to read the batch files and count them)"


@click.group()
def lake() -> None:
    """Inspect the lake (FEDISCOPE_LAKE: a directory or webhdfs://namenode:9870/path)."""


def _count_records(data: bytes, path: str) -> int | None:
    """Lines of a raw batch file (``.jsonl``/``.jsonl.gz``); None for other files and damaged ones."""
    if not path.endswith(BATCH_SUFFIXES):
        return None
    try:
        return sum(1 for _ in decode_jsonl(data, path))
    except (ValueError, OSError, EOFError, zlib.error):  # not JSON Lines, not gzip, a truncated or damaged gzip
        return None


def _records(backend: LakeBackend, path: str) -> int | None:
    """Records of a batch file, read from the lake (other files are not read)."""
    return _count_records(backend.read(path), path) if path.endswith(BATCH_SUFFIXES) else None


def _file_row(backend: LakeBackend, path: str, records: bool) -> dict[str, object]:
    """The row of one file named by ``path``: its size from its directory's listing, read only to count records
    (or when the listing leaves it out: a hidden name)."""
    size = next((e.size for e in backend.list(posixpath.dirname(path)) if e.path == path and not e.is_dir), None)
    data = backend.read(path) if records or size is None else None
    return {"path": path, "type": "file", "bytes": len(data) if data is not None else size,
            "records": _count_records(data, path) if records and data is not None else None}


def listing(backend: LakeBackend, path: str, records: bool = False) -> list[dict[str, object]]:
    """Rows for ``lake ls``: one per child of ``path`` (or the file itself). A file's ``records`` is counted only
    when ``records`` is true (it downloads each batch file); otherwise it is None."""
    path = path.strip("/")
    entries = backend.list(path)
    if not entries and path and backend.is_dir(path):  # an empty directory
        return []
    if not entries and path and backend.exists(path):  # a file
        return [_file_row(backend, path, records)]
    if not entries and path:
        raise LakeError(f"{path!r} does not exist in the lake {backend.url}; try `fediscope lake ls` for the top")
    rows: list[dict[str, object]] = []
    for entry in entries:
        if entry.is_dir:
            files = backend.walk(entry.path)
            rows.append({"path": entry.path + "/", "type": "dir", "files": len(files),
                         "bytes": sum(f.size for f in files)})
        else:
            rows.append({"path": entry.path, "type": "file", "bytes": entry.size,
                         "records": _records(backend, entry.path) if records else None})
    return rows


@lake.command("ls")
@click.argument("path", default="", required=False)
@click.option("--lake", "lake_url", default=None, metavar="URL", help="Lake to inspect (overrides FEDISCOPE_LAKE).")
@click.option("--records", "count_records", is_flag=True,
              help="Also count the records of each batch file (.jsonl, .jsonl.gz): reads every batch file listed, "
                   "which is slow on a big lake or over WebHDFS.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def ls(path: str, lake_url: str | None, count_records: bool, as_json: bool) -> None:
    """List PATH (relative to the lake root, default: the root; a directory or one file).

    Directories (partitions) show how many files they hold and their size; files show their size. The listing
    reads metadata only. With --records, batch files also show their number of records: each one is downloaded
    and decompressed to count them. Without it, the text output ends with a hint when batch files were listed,
    and --json gives "records": null for every file (with "records_counted": false).

    \b
    Examples:
      fediscope lake ls
      fediscope lake ls raw/mastodon/statuses --json
      fediscope lake ls raw/mastodon/statuses/instance=mastodon.social/dt=2026-01-01 --records
    """
    settings = settings_from_context(lake=lake_url)
    backend = open_lake(settings.lake)
    require_lake(backend)  # a missing lake or a file is an error, not "(empty)"
    try:
        rows = listing(backend, path, records=count_records)
    except FediscopeError:
        raise
    except ValueError as exc:
        raise LakeError(f"cannot list {path!r}: {exc}") from None
    if as_json:
        emit_json({"lake": backend.url, "path": path, "records_counted": count_records, "entries": rows})
        return
    if not rows:
        base, query = backend.url.partition("?")[::2]  # webhdfs://nn:9870/lake?user=etl: the path goes before '?'
        click.echo(f"(empty) {base.rstrip('/')}/{path.strip('/')}".rstrip("/") + (f"?{query}" if query else ""))
    for row in rows:
        detail = (f"{row['files']} files" if row["type"] == "dir"
                  else f"{row['records']} records" if row.get("records") is not None else "")
        click.echo(f"{row['bytes']:>12,} B  {detail:>14}  {row['path']}")
    if not count_records and any(row["type"] == "file" and str(row["path"]).endswith(BATCH_SUFFIXES)
                                 for row in rows):
        click.echo(RECORDS_HINT)
