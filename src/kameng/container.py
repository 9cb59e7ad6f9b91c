"""What a running kameng holds: its settings, its database, and the ports to the outside world.

One :class:`Container` is built by the composition root (:mod:`kameng.compose`) for each process
(the web app, a CLI command, a worker, a test) and handed to whatever needs it. It is typed
against the ports only, never against an adapter, so nothing that receives it can tell the local
simulator from a real channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kameng.channels.ports import (
    BillingChannel,
    HostedCheckout,
    NotifyingChannel,
    PaymentChannel,
    RecurringCharges,
    RefundChannel,
)
from kameng.domain.calendar import WorkCalendar
from kameng.messages.senders import ChatSender, Sender
from kameng.platform.db.uow import UnitOfWork
from kameng.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    calendar: WorkCalendar
    payments: PaymentChannel
    refunds: RefundChannel
    charges: RecurringCharges  # renewal charges under the consumer's auto-renewal agreement
    sender: Sender
    # The operators' chat for notices (the Telegram bot), when one is set up.
    chat: ChatSender | None = None
    # The real channels whose notifications reach /api/v1/payments/notify/<name> (none by default).
    notifiers: dict[str, NotifyingChannel] = field(default_factory=dict)
    # The real channels that take payments for trades of their channel (/pay/channel/<out_trade_no>).
    checkouts: dict[str, HostedCheckout] = field(default_factory=dict)
    # The real channels whose daily bills can be reconciled (`kameng reconcile`, /staff/reconcile).
    bills: dict[str, BillingChannel] = field(default_factory=dict)
    # What to stop with the process (the local protocol simulators' servers).
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Tests replace the clock to move time; everything that needs "now" asks here.
    clock: Callable[[], datetime] = field(default=utc_now)

    def uow(self) -> UnitOfWork:
        """A new unit of work: one transaction, opened with ``with``."""
        return UnitOfWork(self.session_factory)

    def now(self) -> datetime:
        return self.clock()

    def dispose(self) -> None:
        for close in self.closers:
            close()
        self.closers.clear()
        self.engine.dispose()
