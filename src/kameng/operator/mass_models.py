"""The tables of platform events and mass refunds: outages recorded once for a scope and a range,
mass-refund runs, and each order's outcome in a run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kameng.domain.mass_refunds import ItemOutcome, OutageScope, RunStatus
from kameng.platform.db.base import Base, Id, owned_by
from kameng.platform.db.types import status_enum


class OutageRow(Base):
    """An outage of one product, a merchant's products, or the whole platform, over a range.
    Recorded once: the same scope and range again finds this row and adds nothing."""

    __tablename__ = "platform_outages"
    __table_args__ = (UniqueConstraint("scope_key", "starts_at", "ends_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[OutageScope] = mapped_column(status_enum(OutageScope, "outage_scope"))
    scope_key: Mapped[str] = mapped_column(String(40))  # "product:3", "merchant:1", "platform"
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    orders_marked: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class MassRefundRun(Base):
    """One mass refund of a merchant that is gone: its progress (a cursor over the merchant's
    orders, in id order) and its running totals, updated in each batch's transaction."""

    __tablename__ = "mass_refund_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    status: Mapped[RunStatus] = mapped_column(status_enum(RunStatus, "mass_refund_status"))
    gone_at: Mapped[datetime]  # the merchant_gone event's time: the end of use (RULES.md section 4)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    # What the confirmation counted: the affected orders and the most that may be refunded.
    orders_total: Mapped[int] = mapped_column(Integer)
    quoted_fen: Mapped[int] = mapped_column(BigInteger)
    cursor_order_id: Mapped[int] = mapped_column(BigInteger, default=0)  # orders up to here are done
    orders_done: Mapped[int] = mapped_column(Integer, default=0)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    review_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    other_count: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class MassRefundItem(Base):
    """One order's outcome in a run, written with its ticket: the proof that it was handled."""

    __tablename__ = "mass_refund_items"
    __table_args__ = (
        UniqueConstraint("run_id", "order_id"),
        Index("ix_mass_refund_items_run_outcome", "run_id", "outcome"),
        owned_by("order_id", "orders"),
        owned_by("ticket_id", "tickets"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("mass_refund_runs.id"))
    order_id: Mapped[int] = mapped_column(Id)
    user_id: Mapped[int] = mapped_column(Id)
    ticket_id: Mapped[int | None] = mapped_column(Id)
    outcome: Mapped[ItemOutcome] = mapped_column(status_enum(ItemOutcome, "mass_refund_outcome"))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    rules: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime]


class MassRefundClaim(Base):
    """A range of a run's orders taken by one batch: claimed in a short transaction of its own
    (which moves the run's cursor past it), then handled and marked finished in the batch's
    transaction, its row locked the whole time. Several processes can so run one run's batches at
    once; a claim whose process died is unfinished and unlocked, and the next batch takes it."""

    __tablename__ = "mass_refund_claims"
    __table_args__ = (Index("ix_mass_refund_claims_run_finished", "run_id", "finished_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("mass_refund_runs.id"))
    first_order_id: Mapped[int] = mapped_column(BigInteger)
    last_order_id: Mapped[int] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
