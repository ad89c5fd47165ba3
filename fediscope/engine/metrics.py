"""The metric registry: one SQL file per metric under ``spark_jobs/sql/``, read by every engine and store.

Each file starts with a header of ``-- key: value`` lines, then one SELECT over the curated tables
(``statuses``, ``accounts``, ``hashtags``, ``instance_activity``) written in DuckDB's dialect; the Spark engine
translates it with sqlglot. Header keys:

* ``question`` — the one-line question the metric answers (required);
* ``key`` — comma-separated columns that identify a row (required): re-running a batch overwrites rows with
  the same key, never duplicates them; stores build their primary keys / HBase row keys from it;
* ``rank`` — ``column DESC`` or ``column ASC``: the order top-N reads use (optional);
* ``prefix`` — the key column that prefix reads use (optional, defaults to the first key column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent.parent / "spark_jobs" / "sql"
_HEADER_RE = re.compile(r"^--\s*(\w+)\s*:\s*(.+?)\s*$")


@dataclass(frozen=True)
class Metric:
    name: str
    question: str
    key: tuple[str, ...]
    sql: str
    rank_column: str | None = None
    rank_desc: bool = True
    prefix_column: str | None = None

    @property
    def prefix(self) -> str:
        return self.prefix_column or self.key[0]


def parse_metric(name: str, text: str) -> Metric:
    header: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER_RE.match(line)
        if not match:
            if line.strip() and not line.lstrip().startswith("--"):
                break
            continue
        header[match.group(1).lower()] = match.group(2)
    for required in ("question", "key"):
        if required not in header:
            raise ValueError(f"metric {name}: missing '-- {required}: …' header line")
    rank_column, rank_desc = None, True
    if "rank" in header:
        parts = header["rank"].split()
        rank_column = parts[0]
        rank_desc = len(parts) < 2 or parts[1].upper() != "ASC"
    key = tuple(k.strip() for k in header["key"].split(",") if k.strip())
    return Metric(name=name, question=header["question"], key=key, sql=text,
                  rank_column=rank_column, rank_desc=rank_desc, prefix_column=header.get("prefix"))


@cache
def load_metrics(sql_dir: Path = SQL_DIR) -> dict[str, Metric]:
    """Every metric, by name (the file name without ``.sql``), in name order."""
    return {p.stem: parse_metric(p.stem, p.read_text()) for p in sorted(sql_dir.glob("*.sql"))}
