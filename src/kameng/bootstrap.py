"""Bringing a database to a usable state: migrate, then (outside production) the demo data."""

from __future__ import annotations

from datetime import UTC, datetime

from kameng.adapters.channels.simulator import SimulatorChannel
from kameng.adapters.db import migrate
from kameng.adapters.db.database import make_engine, make_session_factory
from kameng.adapters.db.uow import UnitOfWork
from kameng.demo import seed_aftersales_demo, seed_demo
from kameng.settings import Settings


def prepare_database(settings: Settings, with_demo: bool = True, now: datetime | None = None) -> bool:
    """Migrate to head; load the demo data into an empty database unless in production or told
    not to. Returns whether demo data was loaded."""
    migrate.upgrade(settings.database_url)
    if settings.production or not with_demo:
        return False
    engine = make_engine(settings.database_url)
    try:
        uow = UnitOfWork(make_session_factory(engine))
        channel, moment = SimulatorChannel(settings.secret_key), now or datetime.now(UTC)
        if not seed_demo(uow, channel, moment):
            return False
        seed_aftersales_demo(uow, channel, moment)
        return True
    finally:
        engine.dispose()
