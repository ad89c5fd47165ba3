"""``fediscope lake ls``: what is in the lake — directories with their file counts and sizes, batches with records."""

from __future__ import annotations

import zlib

import click

from fediscope.cli.common import emit_json, settings_from_context
from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.backend import LakeBackend, open_lake, require_lake
from fediscope.lake.batches import decode_jsonl


@click.group()
def lake() -> None:
    """Inspect the lake (FEDISCOPE_LAKE: a directory or webhdfs://namenode:9870/path)."""


def _records(backend: LakeBackend, path: str) -> int | None:
    """Lines of a raw batch file (``.jsonl``/``.jsonl.gz``); None for other files."""
    if not path.endswith((".jsonl", ".jsonl.gz")):
        return None
    try:
        return sum(1 for _ in decode_jsonl(backend.read(path), path))
    except (ValueError, OSError, EOFError, zlib.error):  # not JSON Lines, not gzip, a truncated or damaged gzip
        return None


def listing(backend: LakeBackend, path: str) -> list[dict[str, object]]:
    """Rows for ``lake ls``: one per child of ``path`` (or the file itself)."""
    path = path.strip("/")
    entries = backend.list(path)
    if not entries and path and backend.is_dir(path):  # an empty directory
        return []
    if not entries and path and backend.exists(path):  # a file
        data = backend.read(path)
        return [{"path": path, "type": "file", "bytes": len(data), "records": _records(backend, path)}]
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
                         "records": _records(backend, entry.path)})
    return rows


@lake.command("ls")
@click.argument("path", default="", required=False)
@click.option("--lake", "lake_url", default=None, metavar="URL", help="Lake to inspect (overrides FEDISCOPE_LAKE).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def ls(path: str, lake_url: str | None, as_json: bool) -> None:
    """List PATH (relative to the lake root, default: the root).

    Directories (partitions) show how many files they hold and their size; batch files show their
    size and number of records.

    \b
    Examples:
      fediscope lake ls
      fediscope lake ls raw/mastodon/statuses --json
    """
    settings = settings_from_context(lake=lake_url)
    backend = open_lake(settings.lake)
    require_lake(backend)  # a missing lake or a file is an error, not "(empty)"
    try:
        rows = listing(backend, path)
    except FediscopeError:
        raise
    except ValueError as exc:
        raise LakeError(f"cannot list {path!r}: {exc}") from None
    if as_json:
        emit_json({"lake": backend.url, "path": path, "entries": rows})
        return
    if not rows:
        base, query = backend.url.partition("?")[::2]  # webhdfs://nn:9870/lake?user=etl: the path goes before '?'
        click.echo(f"(empty) {base.rstrip('/')}/{path.strip('/')}".rstrip("/") + (f"?{query}" if query else ""))
    for row in rows:
        detail = (f"{row['files']} files" if row["type"] == "dir"
                  else f"{row['records']} records" if row.get("records") is not None else "")
        click.echo(f"{row['bytes']:>12,} B  {detail:>14}  {row['path']}")
