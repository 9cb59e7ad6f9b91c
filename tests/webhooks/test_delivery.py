"""Webhook deliveries against a receiver on 127.0.0.1 that verifies every signature with the
Standard Webhooks reference package: retries on 500 and on timeouts, order per object, the
endpoint switched off after the last retry, replays refused by their timestamp, secret rotation.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import webhooks as reference

from kameng.channels.simulator.payments import SimulatorChannel
from kameng.demo import seed_catalog
from kameng.platform.outbox import OutboxKind, OutboxRow
from kameng.webhooks import endpoints
from kameng.webhooks.delivery import RETRY_AFTER, deliver_due
from kameng.webhooks.events import EventType, emit
from kameng.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from kameng.worker import drain_outbox
from tests.support.receivers import WebhookReceiver
from tests.support.shop import buy
from tests.webhooks.conftest import TIMEOUT, Hooks


def owe(hooks: Hooks, event: EventType, object_id: str, **data: object) -> None:
    with hooks.container.uow() as uow:
        emit(uow, event, object_id, {"id": object_id, **data}, hooks.clock())
        uow.commit()


def retry_pass(hooks: Hooks, after: timedelta) -> int:
    return deliver_due(hooks.container.uow, hooks.clock.advance(after), TIMEOUT)


def delivery_rows(hooks: Hooks) -> list[WebhookDelivery]:
    with hooks.container.uow() as uow:
        return list(uow.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def attempts_of(hooks: Hooks, delivery_id: int) -> list[WebhookAttempt]:
    with hooks.container.uow() as uow:
        return list(
            uow.session.scalars(
                select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
            )
        )


def test_a_paid_order_reaches_the_receiver_signed_per_the_spec(
    hooks: Hooks, receiver: WebhookReceiver, channel: SimulatorChannel
) -> None:
    hooks.endpoint(receiver, "order.paid", "refund.requested")
    container = hooks.container
    assert seed_catalog(container.uow(), hooks.clock())
    buyer = hooks.operator.user_id  # anyone may buy; the operator will do
    placed = buy(container.uow(), channel, buyer, "monthly-pass", hooks.clock())
    drain_outbox(container, hooks.clock.advance(timedelta(minutes=1)))

    assert len(receiver.received) == 1
    message = receiver.received[0]
    assert message.verified, message.refusal
    assert message.headers["webhook-id"].startswith("msg_")
    assert message.headers["webhook-signature"].startswith("v1,")
    assert message.json["type"] == "order.paid"
    assert message.json["data"]["order_no"] == placed.order_no
    assert [row.status for row in delivery_rows(hooks)] == [DeliveryStatus.DELIVERED]


def test_a_500_is_retried_on_the_schedule_with_the_same_message_id(hooks: Hooks, receiver: WebhookReceiver) -> None:
    hooks.endpoint(receiver, "refund.approved")
    receiver.plan.extend(["500", "500"])
    owe(hooks, EventType.REFUND_APPROVED, "T1")
    drain_outbox(hooks.container, hooks.clock())
    assert len(receiver.received) == 1

    assert retry_pass(hooks, RETRY_AFTER[0] - timedelta(seconds=1)) == 0
    assert len(receiver.received) == 1, "not before its time"
    assert retry_pass(hooks, timedelta(seconds=1)) == 0  # the second try: 500 again
    assert retry_pass(hooks, RETRY_AFTER[1]) == 1

    assert [request.verified for request in receiver.received] == [True, True, True]
    assert len({request.message_id for request in receiver.received}) == 1
    (delivery,) = delivery_rows(hooks)
    assert delivery.status is DeliveryStatus.DELIVERED
    assert [attempt.status_code for attempt in attempts_of(hooks, delivery.id)] == [500, 500, 200]
    first = attempts_of(hooks, delivery.id)[0]
    assert first.response_excerpt.startswith("receiver broke")
    assert "\x00" not in first.response_excerpt


def test_a_receiver_that_does_not_answer_in_time_is_tried_again(hooks: Hooks, receiver: WebhookReceiver) -> None:
    hooks.endpoint(receiver, "refund.arrived")
    receiver.plan.append("sleep")
    owe(hooks, EventType.REFUND_ARRIVED, "T2")
    drain_outbox(hooks.container, hooks.clock())
    (delivery,) = delivery_rows(hooks)
    assert delivery.status is DeliveryStatus.PENDING
    (attempt,) = attempts_of(hooks, delivery.id)
    assert attempt.status_code is None
    assert "no answer" in attempt.error
    assert retry_pass(hooks, RETRY_AFTER[0]) == 1
    assert delivery_rows(hooks)[0].status is DeliveryStatus.DELIVERED


def test_deliveries_about_one_object_arrive_in_order(hooks: Hooks, receiver: WebhookReceiver) -> None:
    hooks.endpoint(receiver, "refund.requested", "refund.approved")
    receiver.plan.append("500")  # the first request (T3's "requested") fails once
    owe(hooks, EventType.REFUND_REQUESTED, "T3")
    owe(hooks, EventType.REFUND_APPROVED, "T3")
    owe(hooks, EventType.REFUND_REQUESTED, "T4")
    deliver_due(hooks.container.uow, hooks.clock(), TIMEOUT)

    seen = [(request.json["data"]["id"], request.json["type"]) for request in receiver.received]
    # T3's approval waits behind its failed request; T4 is another object and goes on.
    assert seen == [("T3", "refund.requested"), ("T4", "refund.requested")]
    retry_pass(hooks, RETRY_AFTER[0])
    seen = [(request.json["data"]["id"], request.json["type"]) for request in receiver.delivered]
    assert seen == [("T4", "refund.requested"), ("T3", "refund.requested"), ("T3", "refund.approved")]


def test_after_the_last_retry_the_endpoint_is_switched_off_and_the_operators_told(
    hooks: Hooks, receiver: WebhookReceiver
) -> None:
    made = hooks.endpoint(receiver, "refund.failed")
    receiver.plan.extend(["500"] * 20)
    owe(hooks, EventType.REFUND_FAILED, "T5")
    owe(hooks, EventType.REFUND_FAILED, "T5")  # waits behind the first: the same object
    drain_outbox(hooks.container, hooks.clock())
    for wait in RETRY_AFTER:
        retry_pass(hooks, wait)
    elapsed = sum(RETRY_AFTER, timedelta())
    assert timedelta(hours=17) < elapsed < timedelta(days=1, hours=6)

    rows = delivery_rows(hooks)
    assert rows[0].status is DeliveryStatus.FAILED
    assert rows[0].attempts == len(RETRY_AFTER) + 1
    with hooks.container.uow() as uow:
        endpoint = uow.session.get(WebhookEndpoint, made.id)
        assert endpoint is not None
        assert not endpoint.enabled
        notices = list(uow.session.scalars(select(OutboxRow).where(OutboxRow.kind == OutboxKind.OPERATOR_NOTICE)))
    assert {row.payload["channel"] for row in notices} == {"telegram", "email"}
    assert {row.payload["event"] for row in notices} == {"webhook_disabled"}

    # Switched off: nothing more is tried, and a new event is not owed to it.
    before = len(receiver.received)
    retry_pass(hooks, timedelta(days=1))
    owe(hooks, EventType.REFUND_FAILED, "T7")
    assert len(receiver.received) == before
    assert len(delivery_rows(hooks)) == 2

    assert rows[1].status is DeliveryStatus.PENDING
    assert rows[1].attempts == 0
    # Switched back on, the waiting delivery goes out.
    receiver.plan.clear()
    endpoints.update_endpoint(hooks.container.uow(), hooks.operator, made.id, hooks.clock(), enabled=True)
    assert retry_pass(hooks, timedelta(seconds=1)) == 1
    assert delivery_rows(hooks)[1].status is DeliveryStatus.DELIVERED


def test_a_replayed_message_is_refused_by_its_timestamp(
    hooks: Hooks, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks.endpoint(receiver, "order.paid")
    owe(hooks, EventType.ORDER_PAID, "O1")
    drain_outbox(hooks.container, hooks.clock())
    original = receiver.received[0]
    assert original.verified

    # The same bytes and headers, replayed ten minutes later: outside the spec's tolerance.
    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + timedelta(minutes=10)

    monkeypatch.setattr(reference, "datetime", Later)
    status, answer = receiver.answer(original.path, original.headers, original.body)
    assert status == 400
    assert b"too old" in answer.lower() or b"timestamp" in answer.lower()
    # And a body changed on the way is refused by its signature, however fresh.
    monkeypatch.undo()
    tampered = original.body.replace(b"O1", b"O2")
    status, answer = receiver.answer(original.path, original.headers, tampered)
    assert status == 400
    assert b"signature" in answer.lower()


def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    hooks: Hooks, receiver: WebhookReceiver
) -> None:
    made = hooks.endpoint(receiver, "refund.approved")
    old_secret = made.secret
    rotated = endpoints.rotate_secret(hooks.container.uow(), hooks.operator, made.id, hooks.clock())
    assert rotated.secret != old_secret

    owe(hooks, EventType.REFUND_APPROVED, "T8")
    drain_outbox(hooks.container, hooks.clock())  # the receiver still knows only the old secret
    message = receiver.received[-1]
    assert message.verified, message.refusal
    assert len(message.headers["webhook-signature"].split(" ")) == 2

    receiver.secrets = [rotated.secret]
    owe(hooks, EventType.REFUND_APPROVED, "T9")
    drain_outbox(hooks.container, hooks.clock())
    assert receiver.received[-1].verified

    # A day and an hour later the old secret signs no more: a receiver that kept it refuses.
    receiver.secrets = [old_secret]
    hooks.clock.advance(timedelta(hours=25))
    owe(hooks, EventType.REFUND_APPROVED, "T10")
    drain_outbox(hooks.container, hooks.clock())
    last = receiver.received[-1]
    assert not last.verified
    assert len(last.headers["webhook-signature"].split(" ")) == 1


def test_send_again_makes_a_new_delivery_of_the_same_event(hooks: Hooks, receiver: WebhookReceiver) -> None:
    hooks.endpoint(receiver, "ticket.escalated")
    owe(hooks, EventType.TICKET_ESCALATED, "T11", level="supervisor")
    drain_outbox(hooks.container, hooks.clock())
    (first,) = delivery_rows(hooks)
    copy = endpoints.send_again(hooks.container.uow(), hooks.operator, first.id, hooks.clock())
    drain_outbox(hooks.container, hooks.clock())
    assert copy.message_id != first.message_id
    assert [request.json for request in receiver.delivered] == [receiver.delivered[0].json] * 2
    assert len({request.message_id for request in receiver.delivered}) == 2


def test_an_endpoint_gets_only_the_events_it_asked_for(hooks: Hooks, receiver: WebhookReceiver) -> None:
    hooks.endpoint(receiver, "refund.rejected")
    owe(hooks, EventType.REFUND_APPROVED, "T12")
    owe(hooks, EventType.REFUND_REJECTED, "T12")
    drain_outbox(hooks.container, hooks.clock())
    assert [request.json["type"] for request in receiver.delivered] == ["refund.rejected"]
