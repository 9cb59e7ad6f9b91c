"""The consumer's in-app messages over the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kameng.accounts.models import User
from kameng.container import Container
from kameng.messages.services import list_messages
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep

router = APIRouter(prefix="/api/v1")


class MessageOut(BaseModel):
    id: int
    kind: str
    ticket_no: str | None
    text_zh: str
    text_en: str
    created_at: datetime
    read_at: datetime | None


# --------------------------------------------------------------------------------------------
# Messages


def _messages(container: Container, user: User, limit: int) -> list[MessageOut]:
    return [
        MessageOut(
            id=message.row.id,
            kind=message.row.kind,
            ticket_no=message.ticket_no,
            text_zh=message.row.text("zh"),
            text_en=message.row.text("en"),
            created_at=message.row.created_at,
            read_at=message.row.read_at,
        )
        for message in list_messages(container.uow(), user.id, limit)
    ]


@router.get("/messages", tags=["after-sales"], summary="My in-app messages (站内信), newest first")
def get_messages(
    user: CurrentUser, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[MessageOut]:
    return _messages(container, user, limit)
