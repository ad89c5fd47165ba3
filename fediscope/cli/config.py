"""``fediscope config show|check``: the active configuration, secrets masked."""

from __future__ import annotations

import click

from fediscope.cli.common import emit_json, settings_from_context
from fediscope.config import SETTINGS


@click.group()
def config() -> None:
    """Show or check the active configuration (FEDISCOPE_* and fediscope.toml)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(as_json: bool) -> None:
    """Print every setting with its value; secrets are shown as ***."""
    settings = settings_from_context()
    rows = {}
    for s in SETTINGS:
        value = getattr(settings, s.name)
        rows[s.name] = ("***" if value else None) if s.secret else value
    rows["tokens"] = {k: "***" for k in settings.tokens}
    rows["sources"] = [{"instance": x.instance, "timelines": list(x.timelines)} for x in settings.sources]
    if as_json:
        emit_json(rows)
        return
    for s in SETTINGS:
        click.echo(f"{s.env:36} {rows[s.name]!s}")
    click.echo(f"{'tokens':36} {', '.join(rows['tokens']) or '-'}")
    for source in rows["sources"]:
        click.echo(f"{'source':36} {source['instance']} {' '.join(source['timelines'])}")
