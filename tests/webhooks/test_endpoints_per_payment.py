"""A payment asks whether any webhook endpoint is enabled in the statement that locks it, and reads
the endpoints only when one is: an endpoint switched on or off takes effect for the very next
payment, also when another process (here: another container, with its own engine) pays it. And the
settlement's rows, written as multi-row inserts, are the same rows as before. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kameng import compose
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.demo import seed_catalog
from kameng.domain.states import MembershipStatus
from kameng.orders.models import MembershipRow
from kameng.platform.ledger import check_books
from kameng.platform.ledger_models import JournalEntry, JournalLine
from kameng.settings import Settings
from kameng.webhooks import endpoints
from kameng.webhooks.models import WebhookDelivery
from tests.support.receivers import WebhookReceiver
from tests.support.shop import buy, events
from tests.webhooks.conftest import Hooks


def deliveries_about(hooks: Hooks, order_no: str) -> list[str]:
    with hooks.container.uow() as uow:
        return list(
            uow.session.scalars(select(WebhookDelivery.event_type).where(WebhookDelivery.object_id == order_no))
        )


def test_an_endpoint_switched_on_or_off_counts_from_the_next_payment_in_any_process(
    hooks: Hooks, receiver: WebhookReceiver, channel: SimulatorChannel, db_url: str
) -> None:
    assert seed_catalog(hooks.container.uow(), hooks.clock())
    # Payments are made by another container: its engine and its process memory are its own.
    paying = compose.build(Settings(database_url=db_url, environment="test", secret_key="test"))
    try:
        buyer = hooks.operator.user_id

        def pay_one() -> str:
            hooks.clock.advance(timedelta(minutes=1))
            placed = buy(paying.uow(), channel, buyer, "monthly-pass", hooks.clock(), duplicate_ack=True)
            return placed.order_no

        none_yet = pay_one()
        made = hooks.endpoint(receiver, "order.paid")
        after_enabling = pay_one()
        endpoints.update_endpoint(hooks.container.uow(), hooks.operator, made.id, hooks.clock(), enabled=False)
        after_disabling = pay_one()
        endpoints.update_endpoint(hooks.container.uow(), hooks.operator, made.id, hooks.clock(), enabled=True)
        after_enabling_again = pay_one()
    finally:
        paying.dispose()

    assert deliveries_about(hooks, none_yet) == []
    assert deliveries_about(hooks, after_enabling) == ["order.paid"]
    assert deliveries_about(hooks, after_disabling) == []
    assert deliveries_about(hooks, after_enabling_again) == ["order.paid"]


def test_a_settlement_writes_its_entry_lines_membership_and_events_once(
    hooks: Hooks, receiver: WebhookReceiver, channel: SimulatorChannel
) -> None:
    container = hooks.container
    assert seed_catalog(container.uow(), hooks.clock())
    hooks.endpoint(receiver, "order.paid")  # an enabled endpoint: its delivery and outbox row too
    placed = buy(container.uow(), channel, hooks.operator.user_id, "monthly-pass", hooks.clock())

    with container.uow() as uow:
        session = uow.session
        entries = list(session.scalars(select(JournalEntry).where(JournalEntry.key.like("payment:%"))))
        assert [entry.kind for entry in entries] == ["sale"]
        lines = session.scalars(select(JournalLine).where(JournalLine.entry_id == entries[0].id)).all()
        assert sum(line.amount_fen for line in lines) == 0
        assert len(lines) >= 2
        memberships = session.scalars(select(MembershipRow)).all()
        assert [(m.status, m.user_id) for m in memberships] == [
            (MembershipStatus.PENDING_ACTIVATION, hooks.operator.user_id)
        ]
    assert [event.type for event in events(container.uow(), placed.order_no, "paid")] == ["paid"]
    assert deliveries_about(hooks, placed.order_no) == ["order.paid"]
    assert check_books(container.uow()).ok
