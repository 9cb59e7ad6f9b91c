"""Every table of kameng's own schema, gathered in one metadata for Alembic and the tests.

Each feature defines its tables in its own ``models.py`` on the shared declarative base; this
module imports them all so that ``Base.metadata`` is complete (migrations compare against it).
The channel simulator's tables are not here: they belong to the simulator, not to kameng.
"""

from __future__ import annotations

from kameng.accounts.models import User
from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.catalog.models import CouponRow, Merchant, PolicyVersion, ProductRow
from kameng.messages.models import MessageRow
from kameng.orders.models import CardKeyRow, MembershipRow, OrderEventRow, OrderRow, PaymentRow
from kameng.payouts.models import OrphanPaymentRow, RefundRow
from kameng.platform.db.base import Base
from kameng.platform.drafts import FormDraft
from kameng.platform.heartbeat import WorkerHeartbeat
from kameng.platform.idempotency import ApiIdempotency
from kameng.platform.ledger_models import BalanceRow, JournalEntry, JournalLine
from kameng.platform.outbox import OutboxRow

__all__ = [
    "ApiIdempotency",
    "BalanceRow",
    "Base",
    "CardKeyRow",
    "CouponRow",
    "EvidenceFile",
    "FormDraft",
    "JournalEntry",
    "JournalLine",
    "MembershipRow",
    "Merchant",
    "MessageRow",
    "OrderEventRow",
    "OrderRow",
    "OrphanPaymentRow",
    "OutboxRow",
    "PaymentRow",
    "PolicyVersion",
    "ProductRow",
    "RefundRow",
    "Ticket",
    "TicketTimeline",
    "User",
    "WorkerHeartbeat",
]
