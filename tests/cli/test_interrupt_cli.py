"""Ctrl-C during a command: one line and exit 130, also when a library turns the interrupt into its own error.

DuckDB ends a running query on SIGINT with ``RuntimeError: Query interrupted`` rather than letting the
KeyboardInterrupt through; Ctrl-C during ``fediscope process`` (curation or a metric) printed a traceback and
exited 1.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

#: Seconds of work in many short pipelines: DuckDB looks for Ctrl-C between tasks, so one long pipeline
#: (a single huge range) may not notice it for minutes.
LONG_QUERY = ("SELECT sum(x) FROM (" + " UNION ALL ".join(
    f"SELECT sum(hash(i + {n})) AS x FROM range(5000000) t(i)" for n in range(400)) + ")")

# A command that runs a DuckDB query long enough to be interrupted, registered beside the real ones and run
# through the real entry point (fediscope.cli.main), as the `fediscope` script does.
SCRIPT = textwrap.dedent("""
    import sys
    import click
    import duckdb
    from fediscope import cli

    @click.command()
    def spin():
        con = duckdb.connect()
        print("ready", flush=True)
        con.execute(QUERY).fetchall()

    QUERY = "{query}"
    cli.COMMANDS["spin"] = ("__main__:spin", "a long DuckDB query")
    cli.main(sys.argv[1:])
""").format(query=LONG_QUERY)


def test_ctrl_c_during_a_duckdb_query_is_one_line_and_exit_130() -> None:
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, "spin"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # the query is running
        # press Ctrl-C again if DuckDB did not notice, as a user would
        for _ in range(30):
            process.send_signal(signal.SIGINT)
            try:
                _out, err = process.communicate(timeout=2)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode is not None, "still running after 30 Ctrl-C"
    assert "Traceback" not in err, err
    assert err.strip() == "fediscope: interrupted"
    assert process.returncode == 130
