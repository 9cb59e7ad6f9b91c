"""Webhook endpoints as the operator manages them, and the delivery log they read.

Only operators (or an API key with ``webhooks:manage``, which speaks for the operator who made it)
reach these; anyone else is told "not found".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from kameng.domain.users import Role
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, not_found
from kameng.webhooks import signing
from kameng.webhooks.events import EventType, queue_delivery
from kameng.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

URL = inputs.TextRule(500, min_length=1)
DESCRIPTION = inputs.TextRule(100)
# After a rotation the old secret keeps signing beside the new one for this long.
ROTATION_OVERLAP = timedelta(hours=24)


def _require_operator(viewer: Viewer) -> None:
    if viewer.role is not Role.OPERATOR:
        raise not_found("webhook_endpoint")


def _bad_url() -> InvalidInput:
    return InvalidInput(ErrorCode.BAD_URL, "error.webhooks_bad_url", "url")


def check_url(url: str, allow_private: bool) -> str:
    """An http(s) URL with a host and no credentials in it. In production (``allow_private`` off)
    only https, and not this machine nor a private network by its address: a webhook must not be a
    way to make kameng call its own neighbours."""
    url = inputs.clean_text(url, URL, "url")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise _bad_url() from None
    if parts.scheme not in {"http", "https"} or not host or parts.username or parts.password or " " in url:
        raise _bad_url()
    if allow_private:
        return url
    if parts.scheme != "https" or host == "localhost" or host.endswith(".localhost"):
        raise _bad_url()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not address.is_global:
        raise _bad_url()
    return url


def parse_event_types(values: Iterable[str]) -> list[str]:
    chosen: list[str] = []
    for value in values:
        try:
            event = EventType(value)
        except ValueError:
            raise InvalidInput(ErrorCode.BAD_WEBHOOK_EVENT, "error.webhooks_bad_event", "event_types") from None
        if event.value not in chosen:
            chosen.append(event.value)
    if not chosen:
        raise InvalidInput(ErrorCode.REQUIRED, "error.webhooks_event_required", "event_types")
    return sorted(chosen)


def create_endpoint(
    uow: UnitOfWork,
    operator: Viewer,
    url: str,
    event_types: Iterable[str],
    description: str,
    now: datetime,
    allow_private: bool,
) -> WebhookEndpoint:
    _require_operator(operator)
    url = check_url(url, allow_private)
    chosen = parse_event_types(event_types)
    description = inputs.clean_text(description, DESCRIPTION, "description")
    with uow:
        endpoint = WebhookEndpoint(
            url=url,
            description=description,
            event_types=chosen,
            secret=signing.new_secret(),
            created_by=operator.user_id,
            created_at=now,
        )
        uow.session.add(endpoint)
        uow.commit()
        return endpoint


def list_endpoints(uow: UnitOfWork, operator: Viewer) -> list[WebhookEndpoint]:
    _require_operator(operator)
    with uow:
        return list(uow.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def _endpoint(uow: UnitOfWork, endpoint_id: int, lock: bool = False) -> WebhookEndpoint:
    endpoint = uow.session.get(WebhookEndpoint, endpoint_id, with_for_update=lock)
    if endpoint is None:
        raise not_found("webhook_endpoint")
    return endpoint


def get_endpoint(uow: UnitOfWork, operator: Viewer, endpoint_id: int) -> WebhookEndpoint:
    _require_operator(operator)
    with uow:
        return _endpoint(uow, endpoint_id)


def update_endpoint(
    uow: UnitOfWork,
    operator: Viewer,
    endpoint_id: int,
    now: datetime,
    *,
    event_types: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what an endpoint wants, or switch it on or off. Switched back on, the deliveries that
    waited while it was off go out again, from the first."""
    _require_operator(operator)
    chosen = parse_event_types(event_types) if event_types is not None else None
    with uow:
        endpoint = _endpoint(uow, endpoint_id, lock=True)
        if chosen is not None:
            endpoint.event_types = chosen
        if enabled is True and not endpoint.enabled:
            endpoint.enabled, endpoint.disabled_at = True, None
            # Waiting deliveries start again now, not at the retry they were given up at.
            for delivery in uow.session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == DeliveryStatus.PENDING
                )
            ):
                delivery.next_attempt_at = now
        elif enabled is False and endpoint.enabled:
            endpoint.enabled, endpoint.disabled_at = False, now
        uow.commit()
        return endpoint


def rotate_secret(uow: UnitOfWork, operator: Viewer, endpoint_id: int, now: datetime) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs too, beside it, for :data:`ROTATION_OVERLAP`."""
    _require_operator(operator)
    with uow:
        endpoint = _endpoint(uow, endpoint_id, lock=True)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = now + ROTATION_OVERLAP
        endpoint.secret = signing.new_secret()
        uow.commit()
        return endpoint


def deliveries(uow: UnitOfWork, operator: Viewer, endpoint_id: int, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    _require_operator(operator)
    with uow:
        _endpoint(uow, endpoint_id)
        return list(
            uow.session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
        )


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def delivery_log(uow: UnitOfWork, operator: Viewer, delivery_id: int) -> DeliveryLog:
    _require_operator(operator)
    with uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise not_found("webhook_delivery")
        attempts = list(
            uow.session.scalars(
                select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
            )
        )
        return DeliveryLog(delivery, attempts)


def send_again(uow: UnitOfWork, operator: Viewer, delivery_id: int, now: datetime) -> WebhookDelivery:
    """ "Send again". A delivery still pending is made due now (its next retry is not waited for);
    one delivered or given up is sent again as a new delivery of the same event (a new
    ``webhook-id``, so a receiver that de-duplicates takes it), queued behind anything still
    pending about the same object."""
    _require_operator(operator)
    with uow:
        original = uow.session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if original is None:
            raise not_found("webhook_delivery")
        if original.status is DeliveryStatus.PENDING:
            original.next_attempt_at = min(original.next_attempt_at, now)
            uow.commit()
            return original
        copy = queue_delivery(
            uow, original.endpoint_id, original.event_type, original.object_id, dict(original.body), now
        )
        uow.commit()
        return copy
