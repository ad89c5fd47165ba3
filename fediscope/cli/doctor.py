"""``fediscope doctor``: check the configured lake, store, engine, metric files, keys, tokens and instances; say how
to fix each."""

from __future__ import annotations

import sys

import click

from fediscope.cli.common import FiniteFloatRange, emit_json, json_option, settings_from_context
from fediscope.doctor import FAIL, OK, WARN, exit_code, format_check, run_checks


@click.command()
@json_option("Print the checks as JSON.")
@click.option("--timeout", default=5.0, show_default=True, type=FiniteFloatRange(0.1, 120),
              help="Seconds to wait for each instance.")
def doctor(as_json: bool, timeout: float) -> None:
    """Check what fediscope is configured to use and print one line per check: OK, WARN or FAIL, with the fix.

    The lake gets a probe file written, read back and deleted; the store is opened and read; the engine is
    tried (DuckDB, or pyspark + Java 17 for Spark); the metric files (spark_jobs/sql/ and FEDISCOPE_METRICS_DIR)
    are read and their SQL bound by DuckDB to empty curated tables, naming every broken one; the API and
    pseudonym keys are checked for presence and strength (never shown); the instances' access tokens for whether
    they are set and usable, and for FEDISCOPE_TOKEN_ variables no configured instance uses (never shown); each
    configured instance is asked for GET /api/v1/instance. Exits 1 if any check FAILs, 0 otherwise (warnings
    included).
    """
    settings = settings_from_context(warn_unknown=False)  # a WARN line of the report
    checks = run_checks(settings, timeout=timeout)
    counts = {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL)}
    if as_json:
        emit_json({"ok": counts[FAIL] == 0, "counts": counts, "checks": [c.as_dict() for c in checks]})
    else:
        for check in checks:
            click.echo(format_check(check))
        click.echo(f"doctor: {counts[OK]} OK, {counts[WARN]} WARN, {counts[FAIL]} FAIL")
    code = exit_code(checks)
    if code:
        sys.exit(code)
