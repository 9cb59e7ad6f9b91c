"""Drafts of forms a person could not send: kept on the server, found again by a random token.

A form sent after the session expired (or with a stale CSRF token) is refused, but what the person
typed there (a refund request's description, a reply, an appeal) must not be lost: the page layer
keeps the form's safe fields here, puts only the token in the session cookie, sends the person to
log in again, and the form's page takes the draft back when it is shown. Text never travels in the
cookie itself: a 2 000-character Chinese description would not fit in one.

Only fields the page names are kept (never a password or card data); a draft is read once, and
drafts older than :data:`DRAFT_TTL` are ignored and purged.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import JSON, BigInteger, Index, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base, Id
from kameng.platform.db.uow import UnitOfWork

DRAFT_TTL = timedelta(days=1)
# Longer than any form field the site accepts, so a kept draft is never cut short; far below what
# would let an anonymous POST fill the database with one row.
MAX_FIELD_CHARS = 8000
MAX_FIELDS = 10


class FormDraft(Base):
    """What a person typed in a form that could not be sent, keyed by a token their session holds."""

    __tablename__ = "form_drafts"
    __table_args__ = (Index("ix_form_drafts_created", "created_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # The form's action (``/tickets/AS…/appeal``): a page takes back the drafts of its own forms only.
    form: Mapped[str] = mapped_column(String(300))
    # Who was signed in when it was kept, if anyone was (the session may have expired): a draft
    # kept for one person is never shown to another.
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]


def keep_draft(uow: UnitOfWork, form: str, fields: dict[str, str], user_id: int | None, now: datetime) -> str:
    """Store the fields typed in ``form`` and return the token that finds them again."""
    kept = {name[:40]: value[:MAX_FIELD_CHARS] for name, value in list(fields.items())[:MAX_FIELDS]}
    token = secrets.token_urlsafe(32)
    with uow:
        uow.session.execute(delete(FormDraft).where(FormDraft.created_at < now - DRAFT_TTL))
        uow.session.add(
            FormDraft(token=token, form=form[:300], user_id=user_id, fields=kept, created_at=now),
        )
        uow.commit()
    return token


def take_draft(uow: UnitOfWork, token: str, form: str, user_id: int, now: datetime) -> dict[str, str] | None:
    """The fields kept under ``token`` for ``form``, removed as they are read; None when there is
    no such draft, it is too old, it belongs to another form, or another person kept it."""
    with uow:
        draft = uow.session.scalar(select(FormDraft).where(FormDraft.token == token).with_for_update())
        if draft is None or draft.form != form:
            return None
        uow.session.delete(draft)
        uow.commit()
    if draft.created_at < now - DRAFT_TTL or (draft.user_id is not None and draft.user_id != user_id):
        return None
    return {str(name): str(value) for name, value in draft.fields.items()}
