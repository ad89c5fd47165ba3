"""``fediscope config show|check``: the active configuration, secrets masked."""

from __future__ import annotations

import os

import click

from fediscope.cli.common import emit_json, json_option, settings_from_context
from fediscope.config import SETTINGS, URL_NAMES, token_label
from fediscope.redact import redact_url

#: What ``config show`` prints for a setting that is unset (None) or empty (no API keys, no instances, no tokens).
UNSET = "-"


@click.group()
def config() -> None:
    """Show or check the active configuration (FEDISCOPE_* and fediscope.toml)."""


@config.command("show")
@json_option("Print as JSON.")
def show(as_json: bool) -> None:
    """Print every setting with its value; secrets (and passwords in URLs) are shown as ***.

    Access tokens are listed by the configured instance each is for (else by its FEDISCOPE_TOKEN_<INSTANCE>
    variable), with where it is set: the variable as spelled, or [tokens] of the config file (--json keeps the
    key each token is filed under: the domain lower-cased, other characters as _)."""
    settings = settings_from_context()
    rows = {}
    for s in SETTINGS:
        value = getattr(settings, s.name)
        rows[s.name] = ("***" if value else None) if s.secret else value
        if s.name in URL_NAMES and isinstance(value, str):
            rows[s.name] = redact_url(value)  # a database password may sit in the store URL
    # an instance address may carry a token in its query (?access_token=…), which fediscope never sends
    rows["instances"] = tuple(redact_url(i) for i in settings.instances)
    rows["tokens"] = {k: "***" for k in settings.tokens}  # JSON keeps the keys tokens are filed under
    rows["sources"] = [{"instance": redact_url(x.instance), "timelines": list(x.timelines)} for x in settings.sources]
    if as_json:
        emit_json(rows)
        return
    width = max(36, *(len(s.env) + 1 for s in SETTINGS))
    for s in SETTINGS:
        click.echo(f"{s.env:{width}} {_shown(rows[s.name])}")
    labels = [token_label(k, settings, os.environ) for k in sorted(settings.tokens)]
    click.echo(f"{'tokens':{width}} {', '.join(labels) or UNSET}")
    for source in rows["sources"]:
        click.echo(f"{'source':{width}} {source['instance']} {' '.join(source['timelines'])}")


def _shown(value: object) -> str:
    """A setting's value as ``config show`` prints it, as its variable takes it: ``-`` when unset or empty (not
    Python's ``None`` or ``()``), a list comma-separated, ``true``/``false`` (not ``True``), a whole number without
    ``.0`` (``FEDISCOPE_REFRESH_HOURS 0``, not ``0.0``), anything else as ``str`` gives it."""
    if value is None or value in ((), ""):
        return UNSET
    if isinstance(value, tuple):
        return ",".join(map(_shown, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@config.command("check")
@json_option("Print the findings as JSON.")
def check(as_json: bool) -> None:
    """Flag weak, default or missing secrets and mistyped FEDISCOPE_* variables; exit 1 on problems."""
    from fediscope.config_check import check_settings

    findings = check_settings(settings_from_context(warn_unknown=False))  # among the findings
    problems = [f for f in findings if f.level == "problem"]
    if as_json:
        emit_json({"ok": not problems, "findings": [f.as_dict() for f in findings]})
    else:
        for finding in findings:
            click.echo(f"{finding.level}: {finding.text}")
        click.echo(f"{len(problems)} problem(s), {len(findings) - len(problems)} warning(s)" if findings
                   else "ok: no problems found")
    if problems:
        raise click.exceptions.Exit(1)
