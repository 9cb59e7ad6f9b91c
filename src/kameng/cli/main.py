"""The ``kameng`` command: serving, simulation, and (as they land) workers, reports and more."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from kameng.domain.calendar import CalendarError
from kameng.services.calendars import load_calendar
from kameng.services.simulation import simulate_paths
from kameng.settings import Settings, SettingsError

app = typer.Typer(
    help="kameng: memberships and virtual goods, with refunds explained to the fen.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def simulate(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files (.yaml/.json) or folders of them.")],
    check: Annotated[bool, typer.Option("--check", help="Compare each answer with its expect block.")] = False,
    calendar: Annotated[
        Path | None, typer.Option("--calendar", help="Holiday/working-day overrides file (YAML or JSON).")
    ] = None,
) -> None:
    """Print the refund decision of each scenario as JSON Lines (design/SCENARIOS.md).

    Exits 1 when any scenario is malformed, or with --check when any answer differs from its
    expect block; every other file is still answered.
    """
    settings = _settings()
    try:
        work_calendar = load_calendar(calendar or settings.calendar_file)
    except CalendarError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    failures = 0
    answered = 0
    out = sys.stdout
    for result in simulate_paths(paths, work_calendar):
        answered += 1
        out.write(json.dumps(result.answer, ensure_ascii=False) + "\n")
        if "error" in result.answer:
            failures += 1
            typer.echo(f"ERROR {result.answer['error']}", err=True)
        elif check and result.mismatches:
            failures += 1
            typer.echo(f"FAIL  {result.source}  ({result.answer.get('name', '')})", err=True)
            for miss in result.mismatches:
                typer.echo(f"      {miss}", err=True)
    if answered == 0:
        typer.echo("error: no scenario files found", err=True)
        raise typer.Exit(2)
    if check:
        typer.echo(f"{answered - failures} passed, {failures} failed", err=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides KAMENG_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides KAMENG_PORT.")] = None,
) -> None:
    """Serve the site and the API (embedded SQLite unless KAMENG_DATABASE_URL says otherwise)."""
    import uvicorn

    from kameng.web.app import create_app

    settings = _settings()
    application = create_app(settings)
    uvicorn.run(application, host=host or settings.host, port=port or settings.port, log_level="info")


if __name__ == "__main__":  # pragma: no cover
    app()
