"""What every `kameng` command starts with: the settings and, for those that need it, the
container; a wrong setting ends the command with its message and exit status 2, never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from kameng.domain.calendar import CalendarError
from kameng.settings import Settings, SettingsError

if TYPE_CHECKING:
    from kameng.container import Container


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def container_or_exit(settings: Settings) -> Container:
    # Imported here: `kameng simulate` needs no database, web or channel modules.
    from kameng import compose

    try:
        return compose.build(settings)
    except (CalendarError, SettingsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
