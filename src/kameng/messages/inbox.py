"""The header badge of in-app messages (站内信): how many the signed-in consumer has not read,
given to every page's frame before it is rendered."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from kameng.messages.services import unread_count


def unread_badge(request: Request, user: Any) -> dict[str, Any]:
    user_id = getattr(user, "id", None)
    if not isinstance(user_id, int):
        return {"unread": 0}
    return {"unread": unread_count(request.app.state.container.uow(), user_id)}
