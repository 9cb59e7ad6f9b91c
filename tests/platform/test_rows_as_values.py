"""New rows kept as values (platform/db/bulk.rows_as_values): a step that writes its end itself
adds its append-only rows without building ORM objects, and the same rows with the same values
reach the tables as when they are objects; a commit that would leave a kept row unwritten fails
instead of losing it; a column the row does not have is refused where it is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.messages.models import MessageRow
from kameng.messages.services import tell
from kameng.platform.db.bulk import add_row, rows_as_values
from kameng.platform.db.ids import reserve_ids
from kameng.platform.db.step_end import write_step_end
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import post_entry
from kameng.platform.ledger_models import JournalEntry, JournalLine
from kameng.platform.outbox import OutboxKind, OutboxRow, enqueue

TABLES = frozenset({"messages", "outbox", "journal_entries", "journal_lines"})
SERVER_IDS = frozenset({"messages", "outbox", "journal_lines"})


def _add_rows(uow: UnitOfWork, user: User, name: str, now: datetime) -> None:
    """A message (with its delivery queued), a task, and a balanced entry, all keyed by ``name``."""
    reserve_ids(uow, "journal_entries", 1)
    tell(uow, user.id, f"{name}:told", "notice", "notice.submitted", {"ticket_no": "AS1"}, now, None)
    enqueue(uow, OutboxKind.DELIVER_MESSAGE, f"{name}:task", {"message_key": name}, now)
    post_entry(
        uow,
        kind="refund_approved",
        key=f"{name}:entry",
        lines=[("channel:alipay", 500), (f"refunds_payable:{user.id}", -500)],
        now=now,
        user_id=user.id,
        memo="approved",
    )


def _stored(uow: UnitOfWork, name: str) -> dict[str, Any]:
    """What the rows keyed by ``name`` hold, but their ids and keys (which name them apart)."""
    with uow:
        session = uow.session
        message = session.scalars(select(MessageRow).where(MessageRow.key == f"{name}:told")).one()
        tasks = session.scalars(select(OutboxRow).where(OutboxRow.key.like(f"%{name}:%")).order_by(OutboxRow.id))
        entry = session.scalars(select(JournalEntry).where(JournalEntry.key == f"{name}:entry")).one()
        lines = session.scalars(select(JournalLine).where(JournalLine.entry_id == entry.id).order_by(JournalLine.id))
        return {
            "message": (message.user_id, message.ticket_id, message.kind, message.texts, message.created_at),
            "read": message.read_at,
            "tasks": [(task.kind, task.attempts, task.next_attempt_at, task.done_at) for task in tasks],
            "entry": (entry.kind, entry.user_id, entry.order_id, entry.memo, entry.created_at),
            "lines": [(line.account, line.amount_fen) for line in lines],
        }


def test_rows_kept_as_values_are_stored_as_the_same_rows_built_as_objects_are(
    uow: UnitOfWork, make_user: Callable[..., User], now: datetime, backend: str
) -> None:
    user = make_user()
    with uow:
        _add_rows(uow, user, "objects", now)
        assert len(uow.session.new) == 6  # message, two tasks, the entry and its two lines
        write_step_end(uow.session, TABLES, SERVER_IDS)
        uow.commit()
    with uow:
        with rows_as_values(uow.session, SERVER_IDS):
            _add_rows(uow, user, "values", now)
            # On PostgreSQL the entry's id is drawn: every row is kept as values. On SQLite the
            # entry and its lines are objects (the entry learns its id from the flush).
            assert len(uow.session.new) == (0 if backend == "postgresql" else 3)
            write_step_end(uow.session, TABLES, SERVER_IDS)
        uow.commit()
    stored = _stored(uow, "values")
    assert stored == _stored(uow, "objects")
    assert stored["tasks"][0][1] == 0  # the column's default, given as the object would be
    assert stored["lines"] == [("channel:alipay", 500), (f"refunds_payable:{user.id}", -500)]


def test_a_commit_that_would_leave_kept_rows_unwritten_fails_and_writes_nothing(
    uow: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    with uow, rows_as_values(uow.session, SERVER_IDS):
        enqueue(uow, OutboxKind.DELIVER_MESSAGE, "forgotten", {"message_key": "forgotten"}, now)
        tell(uow, user.id, "forgotten:told", "notice", "notice.submitted", {"ticket_no": "AS1"}, now, None)
        with pytest.raises(RuntimeError, match="messages, outbox were kept as values and never written"):
            uow.commit()
    with uow:
        assert uow.session.scalars(select(OutboxRow).where(OutboxRow.key == "forgotten")).first() is None
        assert uow.session.scalars(select(MessageRow).where(MessageRow.key == "forgotten:told")).first() is None


def test_outside_the_block_rows_are_objects_again(uow: UnitOfWork, now: datetime) -> None:
    with uow:
        with rows_as_values(uow.session, SERVER_IDS):
            pass
        enqueue(uow, OutboxKind.DELIVER_MESSAGE, "after", {"message_key": "after"}, now)
        assert len(uow.session.new) == 1
        uow.commit()
    with uow:
        assert uow.session.scalars(select(OutboxRow.key).where(OutboxRow.key == "after")).one() == "after"


def test_a_column_the_row_does_not_have_is_refused_where_it_is_given(uow: UnitOfWork, now: datetime) -> None:
    refused = pytest.raises(TypeError, match="OutboxRow has no column colour")
    with uow, rows_as_values(uow.session, SERVER_IDS), refused:
        add_row(uow.session, OutboxRow, {"kind": "deliver_message", "key": "k", "colour": "red"})


def test_a_block_inside_another_keeps_its_rows_with_the_outer_ones(uow: UnitOfWork, now: datetime) -> None:
    with uow:
        with rows_as_values(uow.session, SERVER_IDS):
            enqueue(uow, OutboxKind.DELIVER_MESSAGE, "outer", {"message_key": "outer"}, now)
            with rows_as_values(uow.session, SERVER_IDS):
                enqueue(uow, OutboxKind.DELIVER_MESSAGE, "inner", {"message_key": "inner"}, now)
            enqueue(uow, OutboxKind.DELIVER_MESSAGE, "after", {"message_key": "after"}, now)
            assert not uow.session.new  # all three kept, none lost when the inner block ended
            write_step_end(uow.session, TABLES, SERVER_IDS)
        uow.commit()
    with uow:
        stored = uow.session.scalars(select(OutboxRow.key).order_by(OutboxRow.id)).all()
        assert stored == ["outer", "inner", "after"]
