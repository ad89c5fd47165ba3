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
        con.execute("SELECT sum(hash(i)) FROM range(100000000000) t(i)").fetchall()

    cli.COMMANDS["spin"] = ("__main__:spin", "a long DuckDB query")
    cli.main(sys.argv[1:])
""")


def test_ctrl_c_during_a_duckdb_query_is_one_line_and_exit_130() -> None:
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, "spin"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in err, err
    assert err.strip() == "fediscope: interrupted"
    assert process.returncode == 130
