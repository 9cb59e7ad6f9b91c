"""Sending webhook deliveries: claim, POST outside any transaction, record the answer.

A delivery is attempted when it is due, its endpoint is enabled, and no earlier delivery about the
same object to the same endpoint is still pending (so ``refund.requested`` always arrives before
``refund.approved``). A claim moves ``next_attempt_at`` a lease ahead (SKIP LOCKED, committed
before the call), so two workers never send the same delivery at once and a crash only delays it.

A failed attempt (no 2xx, a timeout, a refused connection) is retried after 5 s, 5 min, 30 min,
2 h, 5 h and 10 h: about 18 hours after the first. When the last retry fails too the delivery is
``failed``, the endpoint is disabled (its other deliveries wait until it is enabled again) and the
operators are told.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from kameng.messages.notices import NoticeEvent, notify_operators
from kameng.platform.db.uow import UnitOfWork
from kameng.webhooks import signing
from kameng.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger("kameng.webhooks")

RETRY_AFTER = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
LEASE = timedelta(minutes=2)
EXCERPT = 500  # the first characters of an answer kept in the log
USER_AGENT = "kameng-webhooks/1"


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    endpoint_id: int
    url: str
    secrets: tuple[str, ...]
    message_id: str
    event_type: str
    body: bytes
    attempt: int


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_bytes(body: dict[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _secrets_in_use(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    # During a rotation's overlap both secrets sign: the receiver finds one it knows.
    overlap = endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now
    return (endpoint.secret, endpoint.previous_secret) if overlap and endpoint.previous_secret else (endpoint.secret,)


def _due(now: datetime, delivery_id: int | None) -> object:
    earlier = aliased(WebhookDelivery)
    waits_for_earlier = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.object_id == WebhookDelivery.object_id,
        earlier.status == DeliveryStatus.PENDING,
        earlier.id < WebhookDelivery.id,
    )
    conditions = [
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        WebhookEndpoint.enabled.is_(True),
        ~waits_for_earlier,
    ]
    if delivery_id is not None:
        conditions.append(WebhookDelivery.id == delivery_id)
    return and_(*conditions)


def claim(uow: UnitOfWork, now: datetime, batch: int = 20, delivery_id: int | None = None) -> list[Claimed]:
    """Due deliveries, each leased to this worker, in the order they were owed."""
    with uow:
        rows = uow.session.execute(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(_due(now, delivery_id))  # type: ignore[arg-type]
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(batch)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        ).all()
        claimed = []
        for delivery, endpoint in rows:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
            claimed.append(
                Claimed(
                    delivery.id,
                    endpoint.id,
                    endpoint.url,
                    _secrets_in_use(endpoint, now),
                    delivery.message_id,
                    delivery.event_type,
                    body_bytes(delivery.body),
                    delivery.attempts,
                )
            )
        uow.commit()
        return claimed


def _printable(text: str) -> str:
    # The answer is shown on a page and stored (PostgreSQL refuses NUL): printable text only.
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)


def post(claimed: Claimed, timeout: float, wall_clock: Callable[[], float] = time.time) -> Answer:
    """One HTTP attempt. The timestamp is the wall clock's at sending, as the spec means it: the
    receiver compares it with its own clock to refuse replays."""
    headers = signing.headers(claimed.secrets, claimed.message_id, int(wall_clock()), claimed.body)
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            answer = client.post(claimed.url, content=claimed.body, headers=headers)
        excerpt = _printable(answer.content[: EXCERPT * 4].decode("utf-8", "replace"))[:EXCERPT]
        return Answer(answer.status_code, excerpt, "", _ms(started))
    except httpx.TimeoutException:
        return Answer(None, "", f"no answer within {timeout:g} s", _ms(started))
    except httpx.HTTPError as error:
        return Answer(None, "", _printable(f"{type(error).__name__}: {error}")[:300], _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record(uow: UnitOfWork, claimed: Claimed, answer: Answer, now: datetime) -> DeliveryStatus:
    """Keep the attempt; settle the delivery, schedule its retry, or give up and disable."""
    with uow:
        delivery = uow.session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return delivery.status if delivery else DeliveryStatus.FAILED
        uow.session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=answer.status_code,
                response_excerpt=answer.excerpt,
                error=answer.error,
                duration_ms=answer.duration_ms,
            )
        )
        delivery.last_status_code = answer.status_code
        if answer.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            _disable_after_failure(uow, delivery, now)
        else:
            delivery.next_attempt_at = now + RETRY_AFTER[delivery.attempts - 1]
        status = delivery.status
        uow.commit()
        return status


def _disable_after_failure(uow: UnitOfWork, delivery: WebhookDelivery, now: datetime) -> None:
    endpoint = uow.session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
    if endpoint is None or not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_at = now
    log.warning("webhook endpoint %s disabled: delivery %s failed for good", endpoint.id, delivery.message_id)
    notify_operators(
        uow,
        NoticeEvent.WEBHOOK_DISABLED,
        f"webhook_disabled:{delivery.message_id}",
        {"url": endpoint.url[:200], "event": delivery.event_type, "attempts": delivery.attempts},
        now,
    )


def deliver_due(
    uow_factory: Callable[[], UnitOfWork], now: datetime, timeout: float, delivery_id: int | None = None
) -> int:
    """Attempt every due delivery (or just ``delivery_id``); returns how many were delivered.

    Claimed in batches until none is due, so a delivery freed by the one before it (the next event
    about the same object) goes out in the same pass."""
    delivered = 0
    while True:
        batch = claim(uow_factory(), now, delivery_id=delivery_id)
        if not batch:
            return delivered
        for claimed in batch:
            answer = post(claimed, timeout)
            if record(uow_factory(), claimed, answer, now) is DeliveryStatus.DELIVERED:
                delivered += 1
            else:
                log.info(
                    "webhook %s to endpoint %s: attempt %s failed (%s)",
                    claimed.message_id,
                    claimed.endpoint_id,
                    claimed.attempt,
                    answer.status_code or answer.error,
                )
        if delivery_id is not None:
            return delivered
