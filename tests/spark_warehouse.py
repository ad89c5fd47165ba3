"""The check that a Spark session's process left no ``spark-warehouse/`` behind: its submitted_session case in
tests/engine/test_spark_session_conf.py, its build_session case in tests/engine/test_spark_start.py's session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

#: the end of a session's script (its ``session`` started, ``AnalysisException`` imported): a query naming a table that
#: is no view (a user's metric reading a missing table), after which Spark's catalog has made its warehouse directory;
#: the warehouse printed last, as :func:`assert_no_warehouse_left` reads it
MISSING_TABLE_THEN_WAREHOUSE = """
try:
    session.sql("SELECT * FROM no_such_table").collect()
except AnalysisException:
    pass
print(session.conf.get("spark.sql.warehouse.dir"))
session.stop()
"""

def assert_no_warehouse_left(start: str, done: subprocess.CompletedProcess[str], users: Path, temporary: Path) -> None:
    """A session's process, run from ``users`` with TMPDIR ``temporary`` and ended, printed its warehouse last:
    fediscope's own under TMPDIR, removed, and nothing made in ``users``. ``start`` names the case."""
    assert done.returncode == 0, f"{start}: " + done.stdout + done.stderr
    assert sorted(os.listdir(users)) == [], f"{start}: " + done.stderr
    warehouse = urlsplit(done.stdout.splitlines()[-1])  # file:/tmp/…, as Spark writes a URI
    assert warehouse.scheme == "file", f"{start}: " + done.stdout
    assert Path(warehouse.path).parent == temporary, f"{start}: " + done.stdout
    assert Path(warehouse.path).name.startswith("fediscope-spark-warehouse-"), f"{start}: " + done.stdout
    left = [name for name in os.listdir(temporary) if name.startswith("fediscope-spark-warehouse-")]
    assert not left, f"{start}: not removed: {left}"
