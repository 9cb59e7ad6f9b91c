"""What kameng tells integrators about, and :func:`emit`, which other features call.

``emit`` runs inside the caller's transaction: one delivery row per enabled endpoint that wants the
event type, and one outbox row per delivery, so nothing is sent unless the change that caused it
is committed, and nothing committed goes untold.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select

from kameng.platform.db.ids import take_id
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import OutboxKind, enqueue
from kameng.webhooks.models import WebhookDelivery, WebhookEndpoint


class EventType(StrEnum):
    ORDER_PAID = "order.paid"
    REFUND_REQUESTED = "refund.requested"
    REFUND_APPROVED = "refund.approved"
    REFUND_REJECTED = "refund.rejected"
    REFUND_ARRIVED = "refund.arrived"
    REFUND_FAILED = "refund.failed"
    TICKET_ESCALATED = "ticket.escalated"
    # Emitted by subscriptions/charges.py, subscriptions/services.py and wallet/legs.py.
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_CANCELLED = "subscription.cancelled"
    WITHDRAWAL_COMPLETED = "withdrawal.completed"


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


_ENDPOINTS = ("webhooks", "enabled endpoints")
_ENABLED = select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))


# Whether any endpoint is enabled, as a column that a step's first query carries beside its rows
# (see :func:`known_to_have_none`). Most shops have no endpoint at all: a payment then asks the
# database nothing more about webhooks, and the answer is as fresh as that query's.
ANY_ENABLED = exists().where(WebhookEndpoint.enabled.is_(True))


def known_to_have_none(uow: UnitOfWork, any_enabled: bool) -> None:
    """Tell :func:`enabled_endpoints` what the step's own query found of :data:`ANY_ENABLED` in
    this transaction: when no endpoint is enabled the answer is known, and not read again."""
    if not any_enabled:
        uow.memo.setdefault(_ENDPOINTS, [])


def enabled_endpoints(uow: UnitOfWork) -> list[WebhookEndpoint]:
    """The endpoints that may want an event, read once per transaction (they do not change inside
    it): a refund request moves its ticket two or three times, each move an event. A step that
    reads them before it adds any row can draw its deliveries' ids ahead (platform/db/ids.py)."""
    if _ENDPOINTS not in uow.memo:
        uow.memo[_ENDPOINTS] = list(uow.session.scalars(_ENABLED))
    endpoints: list[WebhookEndpoint] = uow.memo[_ENDPOINTS]
    return endpoints


def emit(uow: UnitOfWork, event_type: EventType, object_id: str, data: dict[str, Any], now: datetime) -> int:
    """Owe ``event_type`` about ``object_id`` (an order or ticket number …) to every endpoint that
    wants it, in the caller's open transaction. Returns how many deliveries were queued."""
    queued = 0
    for endpoint in enabled_endpoints(uow):
        if event_type.value not in endpoint.event_types:
            continue
        queue_delivery(uow, endpoint.id, event_type.value, object_id, envelope(event_type.value, now, data), now)
        queued += 1
    return queued


def envelope(event_type: str, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The body the spec recommends: the type, when it happened, and the object's data."""
    return {"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}


def queue_delivery(
    uow: UnitOfWork, endpoint_id: int, event_type: str, object_id: str, body: dict[str, Any], now: datetime
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        id=take_id(uow, "webhook_deliveries"),  # drawn ahead by a step that knew it would emit, else None
        endpoint_id=endpoint_id,
        message_id=new_message_id(),
        event_type=event_type,
        object_id=object_id[:64],
        body=body,
        next_attempt_at=now,
        created_at=now,
    )
    uow.session.add(delivery)
    if delivery.id is None:  # the outbox row names it
        uow.session.flush()
    enqueue(uow, OutboxKind.DELIVER_WEBHOOK, f"webhook:{delivery.message_id}", {"delivery_id": delivery.id}, now)
    return delivery
