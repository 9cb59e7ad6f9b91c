"""The unit of work: a service's one transaction, rolled back unless it says commit."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kameng.platform.db.reads import only_read


class UnitOfWork:
    """``with uow: ...; uow.commit()``: everything between is one transaction.

    Leaving the block without ``commit()``, or with an exception, rolls back, so a failure half-way
    leaves the data as it was before. (A transaction that ran only SELECTs ends in a commit
    instead, which writes nothing: :mod:`kameng.platform.db.reads`.)

    A block entered while the unit of work is open joins its transaction instead of opening a
    second one: a hot route reads the bearer token's session in the transaction its request step
    then opens and commits (kameng.web.auth.user_in), so the request is one transaction on one
    connection. An exception leaving a joined block rolls the whole transaction back (the outer
    block's reads too), so a step retried after it (a number drawn again) starts afresh.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._session: Session | None = None
        self._joined = 0  # how many blocks inside the one that opened the session are open
        # Per-transaction memo for values that cannot change inside it; cleared with the session.
        self.memo: dict[object, Any] = {}
        # What runs once the transaction has committed (platform/db/committed.py); dropped unrun
        # when it rolls back, and always by the end of the outermost block (so empty at its start).
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return self._factory

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the unit of work inside a with block")
        return self._session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def __enter__(self) -> UnitOfWork:
        if self._session is not None:
            self._joined += 1
            return self
        self._session = self._factory()
        self.memo = {}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        if self._joined:
            self._joined -= 1
            if exc_type is not None:
                self._session.rollback()
                self.memo = {}
                self._after_commit = []
            return
        # close() rolls back whatever was not committed and detaches the objects *without*
        # expiring them, so a service can return rows that its caller reads after the block. A
        # transaction that only read is committed first: the same end for PostgreSQL, and psycopg
        # keeps the connection's prepared statements (platform/db/reads.py).
        session, self._session = self._session, None
        try:
            if exc_type is None and only_read(session):
                session.commit()
                self._committed()
        finally:
            self._after_commit = []
            session.close()

    def commit(self) -> None:
        self.session.commit()
        self._committed()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed; never if it rolls back."""
        self._after_commit.append(callback)

    def _committed(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def flush(self) -> None:
        self.session.flush()
