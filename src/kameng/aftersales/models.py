"""The after-sales tables: tickets, their hash-chained timeline, and evidence files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kameng.domain.model import Decision, Reason
from kameng.domain.tickets import TicketStatus
from kameng.orders.models import OrderRow
from kameng.platform.db.base import Base, Id, owned_by, parent_key
from kameng.platform.db.types import status_enum


class Ticket(Base):
    """An after-sales ticket (售后工单): one refund request and everything decided about it."""

    __tablename__ = "tickets"
    __table_args__ = (
        # The staff queue reads (status, priority) ranges in deadline order, keyset-paged on id.
        Index("ix_tickets_queue_keyset", "status", "priority", "due_at", "id"),
        Index("ix_tickets_user_created", "user_id", "created_at"),
        UniqueConstraint("user_id", "idempotency_key"),
        owned_by("order_id", "orders"),
        parent_key("tickets"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(Id, index=True)
    user_id: Mapped[int] = mapped_column(Id)
    reason: Mapped[Reason] = mapped_column(status_enum(Reason, "ticket_reason"))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TicketStatus] = mapped_column(status_enum(TicketStatus, "ticket_status"))
    decision: Mapped[Decision] = mapped_column(status_enum(Decision, "ticket_decision"))
    rules: Mapped[str] = mapped_column(String(40))  # the engine's rule ids, comma-separated
    quote: Mapped[dict[str, Any]]  # the engine's quote at submission, as shown to the consumer
    quoted_fen: Mapped[int] = mapped_column(BigInteger)
    approved_fen: Mapped[int | None] = mapped_column(BigInteger)
    approve_reason: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=1)  # 0: the priority lane
    due_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_rule: Mapped[str | None] = mapped_column(String(10))
    reject_comment: Mapped[str] = mapped_column(Text, default="")
    appeal_until: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    # The head of the timeline's hash chain and its length: deleting the last rows (which the
    # chain itself cannot show) leaves them pointing at a row that is gone.
    timeline_head: Mapped[str] = mapped_column(String(64), default="", server_default="")
    timeline_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    order: Mapped[OrderRow] = relationship(lazy="joined")


class TicketTimeline(Base):
    """Append-only history of a ticket, hash-chained: each row's hash covers the previous one,
    so an edited or deleted row breaks every hash after it."""

    __tablename__ = "ticket_timeline"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"), owned_by("ticket_id", "tickets"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id)
    # The ticket's consumer, copied: the timeline lives beside its ticket when consumer tables are
    # distributed by user_id (docs/scaling.md). Not part of the hash: the ticket already names them.
    user_id: Mapped[int] = mapped_column(Id)
    seq: Mapped[int]
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The system's words for readers ({"key": catalog key, "params": {...}}), shown in each reader's
    # language; not part of the hash: ``comment`` is the words of record.
    note: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class EvidenceFile(Base):
    __tablename__ = "evidence_files"
    __table_args__ = (owned_by("ticket_id", "tickets"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, index=True)
    user_id: Mapped[int] = mapped_column(Id)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))  # sniffed from the bytes, not the name
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
