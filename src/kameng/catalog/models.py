"""The catalog's tables: merchants, products, their versioned (immutable) refund policies, coupons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kameng.domain.card_keys import ImportStatus
from kameng.domain.model import CoolingOff, ProductKind, Proration
from kameng.platform.db.base import Base, Id
from kameng.platform.db.types import status_enum


class Merchant(Base):
    __tablename__ = "merchants"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    gone_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ProductRow(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[ProductKind] = mapped_column(status_enum(ProductKind, "product_kind"))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    price_fen: Mapped[int] = mapped_column(BigInteger)
    term_days: Mapped[int | None]
    term_months: Mapped[int | None]
    promo: Mapped[bool] = mapped_column(Boolean, default=False)
    benefits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bonus_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # recharge: bonus credit given
    renewable: Mapped[bool] = mapped_column(Boolean, default=False)  # offers auto-renewal
    uses_card_keys: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # Card keys: fewer available than this raises the low-stock alert (0: never).
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    created_at: Mapped[datetime]

    merchant: Mapped[Merchant] = relationship(lazy="joined")


class PolicyVersion(Base):
    """An immutable refund policy version; orders point at the one they were paid under."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("product_id", "version"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    version: Mapped[int]
    cooling_off_days: Mapped[int]
    cooling_off: Mapped[CoolingOff] = mapped_column(status_enum(CoolingOff, "cooling_off"))
    proration: Mapped[Proration] = mapped_column(status_enum(Proration, "proration"))
    fee_percent: Mapped[str] = mapped_column(String(20))  # exact decimal text
    fee_min_fen: Mapped[int] = mapped_column(BigInteger)
    fee_max_fen: Mapped[int | None] = mapped_column(BigInteger)
    review_business_days: Mapped[int]
    trial_counts_as_activation: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class CouponRow(Base):
    __tablename__ = "coupons"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    min_spend_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refundable: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: anyone may use it
    expires_at: Mapped[datetime | None]
    used_by_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", use_alter=True), unique=True)
    created_at: Mapped[datetime]


class CardKeyImportRow(Base):
    """One import of card keys by an operator: previewed, then committed whole (or refused).

    ``idempotency_key`` is the preview's token on a page, the ``Idempotency-Key`` header on the
    API: the same import committed twice puts its keys in stock once. Until the commit the keys
    wait in ``pending``, encrypted like the stock itself (one Fernet token of the list); the
    commit empties it."""

    __tablename__ = "card_key_imports"
    __table_args__ = (UniqueConstraint("created_by", "idempotency_key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(80))
    content_hash: Mapped[str] = mapped_column(String(64))  # keyed fingerprint of the whole list
    status: Mapped[ImportStatus] = mapped_column(status_enum(ImportStatus, "card_key_import_status"))
    source: Mapped[str] = mapped_column(String(20))  # "paste", "csv" or "api"
    line_count: Mapped[int]
    key_count: Mapped[int]
    pending: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    committed_at: Mapped[datetime | None]
