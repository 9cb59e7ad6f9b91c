"""The consumer's in-app messages page (站内信)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.messages.services import read_messages
from kameng.web.deps import ContainerDep, OptionalUser
from kameng.web.forms import to_login
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

# --------------------------------------------------------------------------------------------
# 站内信


@router.get("/messages", response_class=HTMLResponse)
def messages_page(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    rows = read_messages(container.uow(), user.id, container.now())
    # Shown as unread on this one page, then read from the next one on.
    return render(request, "messages/messages.html", {"messages": rows}, user=user)
