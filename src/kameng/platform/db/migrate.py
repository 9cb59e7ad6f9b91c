"""Running the migrations from code (the CLI, the server's start, the tests)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from kameng.platform.db.database import normalise_url
from kameng.platform.secrets_ring import SESSION_INFO_KEY, CardKeyRing

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def alembic_config(url: str, card_keys: CardKeyRing | None = None) -> Config:
    """``card_keys``: the ring a migration that touches card keys uses (0017 encrypts the keys
    stored before it); without one it reads the settings as the app would (``Settings.from_env``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    if card_keys is not None:
        config.attributes[SESSION_INFO_KEY] = card_keys
    return config


def upgrade(url: str, revision: str = "head", card_keys: CardKeyRing | None = None) -> None:
    command.upgrade(alembic_config(url, card_keys), revision)


def downgrade(url: str, revision: str, card_keys: CardKeyRing | None = None) -> None:
    command.downgrade(alembic_config(url, card_keys), revision)


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions the code's migrations end at (read once: the files do not change while running)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at (empty for a database never migrated). Read from
    Alembic's table directly: a MigrationContext would log two lines at every readiness probe."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
