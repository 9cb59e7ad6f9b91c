"""Webhook endpoints, the deliveries owed to them, and every attempt's answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base, Id
from kameng.platform.db.types import status_enum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not yet answered with a 2xx: due at next_attempt_at
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the retry window; the endpoint was disabled


class WebhookEndpoint(Base):
    """A URL an operator registered, with the event types it wants and its signing secret.

    The secret (``whsec_`` + base64) must be kept as is: the signature is an HMAC with it. After a
    rotation the previous secret also signs until ``previous_secret_until``, so a receiver that has
    not switched yet still finds a signature it can check.
    """

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(100), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_secret_until: Mapped[datetime | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event owed to one endpoint. ``message_id`` is the ``webhook-id`` header, the same on
    every retry, so the receiver can recognise a message it already has."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_object", "endpoint_id", "object_id", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(
        status_enum(DeliveryStatus, "webhook_delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(Base):
    """One try: the status code and the first bytes of the answer, or why there was none."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_excerpt: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
