"""Engines and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from kameng.platform.db.json_text import json_text
from kameng.platform.db.reads import watch_writes
from kameng.platform.secrets_ring import SESSION_INFO_KEY, CardKeyRing


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; relative SQLite paths are made absolute dirs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **options: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    # Every JSON column's text, one way on both backends: orjson's, a tenth of json.dumps's cost.
    # Not left to the caller: the step's one statement (platform/db/step_end.py) encodes its JSON
    # values with the same function, and a row's text must not depend on the path that wrote it.
    options["json_serializer"] = json_text
    if parsed.get_backend_name() != "sqlite":
        # No ping at each checkout: on psycopg it is a statement in autocommit, so every request
        # paid a round trip and a commit of its own for it (docs/performance.md). A connection
        # that died (server restart, failover) is found by its first statement instead: SQLAlchemy
        # then drops every pooled connection at once, and TCP keepalives plus pool_recycle retire
        # connections that a firewall or proxy closed silently before they are handed out.
        options.setdefault("pool_pre_ping", False)
        options.setdefault("pool_recycle", 1800)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("keepalives", 1)
        connect_args.setdefault("keepalives_idle", 60)
        connect_args.setdefault("keepalives_interval", 10)
        connect_args.setdefault("keepalives_count", 3)
        engine = create_engine(url, **options)
        # Many rows inserted at once (platform/db/bulk.py, the outbox's enqueue_many) go out as one
        # statement of many VALUES, as with psycopg2, instead of psycopg's executemany: that
        # prepares its statement on the server, and psycopg answers the next rollback on the
        # connection (the pool's reset after any read-only request) with a DEALLOCATE ALL, a
        # transaction of its own, and every later statement is planned afresh.
        engine.dialect.use_insertmanyvalues_wo_returning = True
        watch_writes(engine)
        return engine

    database = parsed.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        options.setdefault("poolclass", StaticPool)
    options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at the start: two writers queue instead of one failing
        # half-way with "database is locked" after reading stale rows (card keys, balances).
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine, card_keys: CardKeyRing | None = None) -> sessionmaker[Session]:
    """Sessions on ``engine`` carrying the card-key ring (``Session.info``). The composition root
    always passes the ring of the settings; without one (a test's or a benchmark's own factory)
    the development ring is used, the same one a development install without
    ``KAMENG_CARD_KEY_KEYS`` derives from the development secret."""
    ring = card_keys or CardKeyRing.development()
    return sessionmaker(engine, expire_on_commit=False, autoflush=True, info={SESSION_INFO_KEY: ring})
