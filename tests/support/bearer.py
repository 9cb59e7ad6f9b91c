"""A bearer token's session, as the tests of the hot routes that look it up in their step's first
statement handle it (the refund request's lock, the checkout's read): its secret, its row changed
behind the API's back, what it says of when it was last seen, and the 401 a dead one gets."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from kameng.accounts.models import AuthSession
from kameng.accounts.sessions import secret_hash
from tests.support.apps import container_of


def secret_of(auth: dict[str, str]) -> str:
    return auth["Authorization"].removeprefix("Bearer ")


def set_session(client: TestClient, auth: dict[str, str], **values: object) -> None:
    with container_of(client).uow() as uow:
        uow.session.execute(
            update(AuthSession).where(AuthSession.secret_hash == secret_hash(secret_of(auth))).values(**values)
        )
        uow.commit()


def holder_of(client: TestClient, auth: dict[str, str]) -> int:
    """The user whose session the token names."""
    with container_of(client).uow() as uow:
        user_id = uow.session.scalar(
            select(AuthSession.user_id).where(AuthSession.secret_hash == secret_hash(secret_of(auth)))
        )
    assert user_id is not None
    return user_id


def last_seen(client: TestClient, auth: dict[str, str]) -> datetime | None:
    with container_of(client).uow() as uow:
        return uow.session.scalar(
            select(AuthSession.last_seen_at).where(AuthSession.secret_hash == secret_hash(secret_of(auth)))
        )


def refused(answer: Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
