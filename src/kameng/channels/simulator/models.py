"""The channel simulator's own books, apart from kameng's schema.

A real channel keeps its records on its own servers; the simulator keeps them in tables of its
own metadata, created when the simulator starts (:func:`install`), never by kameng's migrations.
They may share kameng's database in development, since nothing of kameng reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kameng.platform.db.base import NAMING, Id
from kameng.platform.db.types import UTCDateTime


class SimulatorBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class SimRefund(SimulatorBase):
    """The channel simulator's own books: what "the bank" knows of each refund request.

    Kept apart from our tables on purpose: our code reaches it only through the channel adapter,
    as it would reach WeChat Pay."""

    __tablename__ = "sim_refunds"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    out_refund_no: Mapped[str] = mapped_column(String(40), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # PROCESSING, SUCCESS, ABNORMAL
    refund_id: Mapped[str] = mapped_column(String(40))
    settles_at: Mapped[datetime]
    created_at: Mapped[datetime]


class SimBehavior(SimulatorBase):
    """Failures on demand: how the simulator treats refunds of one trade (tests, demos)."""

    __tablename__ = "sim_behaviors"
    out_trade_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    refund: Mapped[str] = mapped_column(String(16))  # "ok", "fail", "delay"
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)


class SimCharge(SimulatorBase):
    """What "the bank" knows of each recurring charge, by our ``out_trade_no``."""

    __tablename__ = "sim_charges"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True)
    agreement_no: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    succeeded: Mapped[bool]
    transaction_id: Mapped[str | None] = mapped_column(String(40))
    failure: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class SimChargeBehavior(SimulatorBase):
    """Failures on demand for the recurring charges of one agreement: ``fail`` refuses each new
    charge (insufficient funds), ``ok`` takes it."""

    __tablename__ = "sim_charge_behaviors"
    agreement_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    charge: Mapped[str] = mapped_column(String(16))


def install(engine: Engine) -> None:
    """Create the simulator's tables where they are missing (idempotent)."""
    SimulatorBase.metadata.create_all(engine, checkfirst=True)
