"""The in-app messages table (站内信): what was said to a consumer, as it was said."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base, Id, owned_by
from kameng.platform.i18n import DEFAULT_LANG


class MessageRow(Base):
    """An in-app message to a consumer (站内信)."""

    __tablename__ = "messages"
    # A message about a ticket names the ticket's consumer (the key to ``tickets`` holds both);
    # one about no ticket still needs its key to ``users``.
    __table_args__ = (Index("ix_messages_user_created", "user_id", "created_at"), owned_by("ticket_id", "tickets"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(32))
    # The words as sent, in every language of the site ({"zh": ..., "en": ...}): a message keeps
    # them even when the catalog is reworded later, and a new language needs no new column.
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    def text(self, lang: str) -> str:
        """The words in ``lang``; a language added after the message was sent gets the default."""
        return self.texts.get(lang) or self.texts[DEFAULT_LANG]
