"""In-app messages (站内信) for the signed-in consumer: the header badge (the reading and marking
live in :mod:`kameng.services.messages`)."""

from __future__ import annotations

from fastapi import Request

from kameng.messages.services import unread_count


def header_unread(request: Request, user: object) -> int:
    """For the page header: how many messages the signed-in user has not read (0 when signed out)."""
    user_id = getattr(user, "id", None)
    if not isinstance(user_id, int):
        return 0
    container = request.app.state.container
    return unread_count(container.uow(), user_id)
