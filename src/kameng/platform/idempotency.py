"""Stored answers to API calls made with an ``Idempotency-Key``.

The table predates the services' own keys (orders and tickets keep theirs on their rows, which
is where a retry is recognised today); it is kept for the integrator API's generic replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base, Id


class ApiIdempotency(Base):
    """A stored answer to an API call made with an ``Idempotency-Key``; a retry gets it again."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
