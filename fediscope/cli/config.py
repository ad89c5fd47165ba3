"""``fediscope config show|check``: the active configuration, secrets masked."""

from __future__ import annotations

import os

import click

from fediscope.cli.common import emit_json, json_option, settings_from_context
from fediscope.config import SETTINGS, Settings, token_label
from fediscope.config_check import UNSET, masked, overridden_text, shown_value
from fediscope.redact import redact_url


@click.group()
def config() -> None:
    """Show or check the active configuration (FEDISCOPE_* and fediscope.toml)."""


@config.command("show")
@json_option("Print as JSON.")
def show(as_json: bool) -> None:
    """Print every setting with its value; secrets (and passwords in URLs) are shown as ***.

    Access tokens are listed by the configured instance each is for (else by its FEDISCOPE_TOKEN_<INSTANCE>
    variable), with where it is set: the variable as spelled, or [tokens] of the config file (--json keeps the
    key each token is filed under: the domain lower-cased, other characters as _).

    The first line names the config file read (or says none was); a setting whose value is not its default is
    followed by an indented line saying where the value came from (the file's key, the variable, the option), and,
    when that overrides what the config file sets, the file's value (masked as the setting's is). --json adds
    "config_file" and "origins" (for each setting: "from", "where" and, when it overrides the file,
    "overrides")."""
    settings = settings_from_context()
    rows: dict[str, object] = {s.name: masked(s.name, getattr(settings, s.name)) for s in SETTINGS}
    # an instance address may carry a token in its query (?access_token=…), which fediscope never sends
    rows["instances"] = tuple(redact_url(i) for i in settings.instances)
    rows["tokens"] = {k: "***" for k in settings.tokens}  # JSON keeps the keys tokens are filed under
    rows["sources"] = [{"instance": redact_url(x.instance), "timelines": list(x.timelines)} for x in settings.sources]
    if as_json:
        rows["config_file"] = str(settings.config_file.absolute()) if settings.config_file else None
        rows["origins"] = {s.name: _origin_record(settings, s.name) for s in SETTINGS}
        emit_json(rows)
        return
    width = max(36, *(len(s.env) + 1 for s in SETTINGS))
    click.echo(f"{'config file':{width}} {_config_file_text(settings)}")
    for s in SETTINGS:
        click.echo(f"{s.env:{width}} {shown_value(rows[s.name])}")
        if (origin := _origin_text(settings, s.name)) is not None:
            click.echo(f"  from {origin}")
    labels = [token_label(k, settings, os.environ) for k in sorted(settings.tokens)]
    click.echo(f"{'tokens':{width}} {', '.join(labels) or UNSET}")
    for source in rows["sources"]:
        click.echo(f"{'source':{width}} {source['instance']} {' '.join(source['timelines'])}")


def _origin_text(settings: Settings, name: str) -> str | None:
    """Where ``name``'s value came from, for the line under it (None for a default: no line)."""
    kind = settings.origin_kind(name)
    if kind == "default":
        return None
    where = settings.origins.get(name, "code (the Python API)")
    lost = overridden_text(settings, name)
    return f"{where}, over {lost}" if lost else where


def _origin_record(settings: Settings, name: str) -> dict[str, object]:
    record: dict[str, object] = {"from": settings.origin_kind(name), "where": settings.origins.get(name)}
    if name in settings.overridden:
        record["overrides"] = overridden_text(settings, name)
    return record


def _config_file_text(settings: Settings) -> str:
    """The config file read, made absolute (a relative one is relative to the current directory), and what named
    it; or that none was read, and where one is looked for."""
    if settings.config_file is None:
        return "none: no ./fediscope.toml here, and FEDISCOPE_CONFIG names none"
    named = ", named by FEDISCOPE_CONFIG" if os.environ.get("FEDISCOPE_CONFIG") else ""
    return f"{settings.config_file.absolute()}{named}"


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
