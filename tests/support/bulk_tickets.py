"""Tickets in bulk for the staff queue's tests: rows written straight into the tickets table on a
real order, in whatever status, priority and deadline a test needs, hundreds at a time.

Only the queue's reading is under test where these are used; a ticket's way through its states is
tested through the services elsewhere (tests/aftersales/test_deadlines.py, test_api.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from kameng.aftersales.models import Ticket
from kameng.domain.model import Decision, Reason
from kameng.domain.tickets import TicketStatus
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Spec:
    """One ticket to write: ``due_in`` is from ``now`` (None: no deadline, as a decided ticket)."""

    status: TicketStatus = TicketStatus.IN_REVIEW
    priority: int = 1
    due_in: timedelta | None = timedelta(days=2)
    reason: Reason = Reason.NOT_AS_DESCRIBED
    rules: str = "S4"
    escalated: bool = False
    age: timedelta = timedelta(hours=3)


def order_id(uow: UnitOfWork, order_no: str) -> tuple[int, int]:
    """The order's id and its buyer's."""
    with uow:
        row = uow.session.execute(select(OrderRow.id, OrderRow.user_id).where(OrderRow.order_no == order_no)).one()
        return int(row.id), int(row.user_id)


def add_tickets(uow: UnitOfWork, order_no: str, specs: list[Spec], now: datetime) -> list[str]:
    """Write one ticket per spec on ``order_no``; their numbers, in the order given."""
    order, user = order_id(uow, order_no)
    numbers = []
    with uow:
        for spec in specs:
            number = f"AS{99_000_000_000_000 + next(_numbers) * 7919 % 10**12:014d}"
            created = now - spec.age
            uow.session.add(
                Ticket(
                    ticket_no=number,
                    order_id=order,
                    user_id=user,
                    reason=spec.reason,
                    description="",
                    status=spec.status,
                    decision=Decision.REVIEW,
                    rules=spec.rules,
                    quote={},
                    quoted_fen=1234,
                    approve_reason="",
                    priority=spec.priority,
                    due_at=now + spec.due_in if spec.due_in is not None else None,
                    paused_at=created if spec.status is TicketStatus.NEEDS_INFO else None,
                    escalated_at=now - timedelta(minutes=1) if spec.escalated else None,
                    breached=spec.escalated,
                    reject_comment="",
                    timeline_head="",
                    timeline_rows=0,
                    created_at=created,
                    updated_at=created,
                )
            )
            numbers.append(number)
        uow.commit()
    return numbers
