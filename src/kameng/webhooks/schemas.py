"""The webhooks API's models and the row-to-model mapping, shared by the API and its tests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from kameng.platform.inputs import CHOICE, text_validator
from kameng.webhooks.endpoints import DESCRIPTION, URL, DeliveryLog
from kameng.webhooks.events import EventType
from kameng.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

EventName = Annotated[str, Field(min_length=1, max_length=CHOICE.max_length), text_validator(CHOICE)]
EVENTS_DOC = "Any of: " + ", ".join(event.value for event in EventType)


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=1, max_length=URL.max_length), text_validator(URL)] = Field(
        examples=["https://erp.example.com/kameng-hooks"]
    )
    event_types: list[EventName] = Field(min_length=1, max_length=len(EventType), description=EVENTS_DOC)
    description: Annotated[str, Field(max_length=DESCRIPTION.max_length), text_validator(DESCRIPTION)] = ""


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[EventName] | None = Field(default=None, max_length=len(EventType), description=EVENTS_DOC)
    enabled: bool | None = Field(default=None, description="Switched back on, waiting deliveries go out again")


class EndpointOut(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    created_at: datetime
    previous_secret_until: datetime | None = Field(description="Until then the old secret also signs")


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="whsec_…: verify the webhook-signature header with it")


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    response_excerpt: str = Field(description="The first characters of the answer")
    error: str
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    message_id: str = Field(description="The webhook-id header, the same on every retry")
    event_type: str
    object_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryLogOut(DeliveryOut):
    body: dict[str, Any]
    attempt_log: list[AttemptOut]


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types),
        enabled=endpoint.enabled,
        disabled_at=endpoint.disabled_at,
        created_at=endpoint.created_at,
        previous_secret_until=endpoint.previous_secret_until,
    )


def endpoint_with_secret(endpoint: WebhookEndpoint) -> EndpointWithSecretOut:
    return EndpointWithSecretOut(**endpoint_out(endpoint).model_dump(), secret=endpoint.secret)


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        object_id=delivery.object_id,
        status=delivery.status.value,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status.value == "pending" else None,
        last_status_code=delivery.last_status_code,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


def attempt_out(attempt: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        attempted_at=attempt.attempted_at,
        status_code=attempt.status_code,
        response_excerpt=attempt.response_excerpt,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
    )


def log_out(log: DeliveryLog) -> DeliveryLogOut:
    return DeliveryLogOut(
        **delivery_out(log.delivery).model_dump(),
        body=dict(log.delivery.body),
        attempt_log=[attempt_out(attempt) for attempt in log.attempts],
    )
