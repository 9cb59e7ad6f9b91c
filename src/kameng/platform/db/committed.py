"""Values derived from rows that never change once committed, kept by the process for each
database, so that a hot path need not read those rows again.

A row qualifies when it is never updated nor deleted (an immutable policy version, for one). Its
value is remembered only once the transaction that read it has committed: until then the row may
be the transaction's own and vanish with a rollback, and on SQLite a rolled-back row's id is given
to the next row written. Once committed, the id names that row, and so that value, for good.

Each database (each session factory) has its own values: a test's fresh database numbers its rows
from 1 again.
"""

from __future__ import annotations

from threading import Lock
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.orm import Session, sessionmaker

from kameng.platform.db.uow import UnitOfWork

Key = TypeVar("Key")
Value = TypeVar("Value")


class CommittedValues(Generic[Key, Value]):
    """At most ``limit`` values for each database, by key; the oldest make room for new ones."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._by_database: WeakKeyDictionary[sessionmaker[Session], dict[Key, Value]] = WeakKeyDictionary()
        # Taken to add, not to read: a request's threads may add at once, and making room looks
        # for the oldest key while another thread could be adding one.
        self._adding = Lock()

    def get(self, uow: UnitOfWork, key: Key) -> Value | None:
        values = self._by_database.get(uow.session_factory)
        return None if values is None else values.get(key)

    def remember(self, uow: UnitOfWork, key: Key, value: Value) -> None:
        """Keep ``value`` for ``key`` once ``uow``'s transaction, which read it, has committed."""
        factory = uow.session_factory

        def keep() -> None:
            with self._adding:
                values = self._by_database.setdefault(factory, {})
                if len(values) >= self._limit:
                    del values[next(iter(values))]  # dicts keep their order: the oldest goes
                values[key] = value

        uow.after_commit(keep)
