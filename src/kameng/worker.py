"""The worker tick: everything that happens because time passed. Safe to run in any number of
processes at once: each step claims its rows with SKIP LOCKED and changes them through the
state machines, so a row is handled once.

A worker survives its errors: a step that raises is logged with its name and the tick goes on
with the next step; a tick that failed is followed by a longer pause (doubling, at most
:data:`MAX_BACKOFF` seconds), and the first tick that goes through brings the pause back to the
interval. Every tick ends with a heartbeat row (platform/heartbeat.py), read by ``GET /api/v1/health``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kameng.aftersales.deadlines import run_deadlines
from kameng.container import Container
from kameng.messages.notices import check_backlog
from kameng.messages.tasks import NoticeRoutes, deliver_message_handler, operator_notice_handler
from kameng.operator.calendar_admin import refreshed_calendar
from kameng.operator.mass_runner import continue_runs
from kameng.orders.payments import expire_unpaid_orders
from kameng.orders.usage import expire_memberships
from kameng.payouts.notices import purge_notices
from kameng.payouts.services import poll_refunds
from kameng.payouts.tasks import refund_orphan_handler, send_refund_handler
from kameng.platform.heartbeat import Beat, record_beat
from kameng.platform.outbox import Handler, OutboxKind, process_outbox
from kameng.subscriptions.renewals import RenewalRules, sweep_renewals
from kameng.subscriptions.tasks import charge_renewal_handler
from kameng.webhooks.delivery import deliver_due
from kameng.webhooks.tasks import deliver_webhook_handler

log = logging.getLogger("kameng.worker")

MAX_BACKOFF = 300.0


def outbox_handlers(container: Container) -> dict[str, Handler]:
    """Each outbox kind with the handler of the feature that owns it."""
    settings = container.settings
    return {
        OutboxKind.SEND_REFUND: send_refund_handler(container.uow, container.refunds, container.calendar),
        OutboxKind.DELIVER_MESSAGE: deliver_message_handler(container.uow, container.sender),
        OutboxKind.DELIVER_WEBHOOK: deliver_webhook_handler(container.uow, settings.webhook_timeout_seconds),
        OutboxKind.OPERATOR_NOTICE: operator_notice_handler(notice_routes(container), container.sender),
        OutboxKind.CHARGE_RENEWAL: charge_renewal_handler(container.uow, container.charges, renewal_rules(container)),
        OutboxKind.REFUND_ORPHAN: refund_orphan_handler(container.uow, container.refunds),
    }


def notice_routes(container: Container) -> NoticeRoutes:
    settings = container.settings
    events = frozenset(event.strip() for event in settings.operator_notice_events.split(",") if event.strip())
    return NoticeRoutes(events, settings.operator_email or None, container.chat)


def renewal_rules(container: Container) -> RenewalRules:
    settings = container.settings
    return RenewalRules(settings.renewal_reminder_days, settings.renewal_charge_attempts, settings.renewal_retry_hours)


def drain_outbox(container: Container, now: datetime) -> int:
    return process_outbox(container.uow, now, outbox_handlers(container))


class TickFailed(Exception):
    """Some steps of a tick raised (each is logged where it failed); the others ran, and
    ``figures`` holds what they did."""

    def __init__(self, figures: dict[str, int], failures: dict[str, BaseException]) -> None:
        self.figures = figures
        self.failures = failures
        super().__init__("; ".join(f"{step}: {type(error).__name__}: {error}" for step, error in failures.items()))


def _steps(container: Container) -> list[tuple[str, Callable[[datetime], dict[str, int]]]]:
    # Looked up at each tick (not bound at import), so that a test can make one step fail.
    return [
        # First: a holiday schedule loaded on the console since the last tick is used from this one.
        ("calendar", lambda now: _refresh_calendar(container)),
        ("expire_orders", lambda now: {"orders_expired": expire_unpaid_orders(container.uow(), now)}),
        # Before the expiries: a membership renewing now is asked for its charge before it lapses.
        ("renewals", lambda now: sweep_renewals(container.uow, now, renewal_rules(container))),
        ("expire_memberships", lambda now: {"memberships_expired": expire_memberships(container.uow(), now)}),
        ("deadlines", lambda now: run_deadlines(container.uow(), now, container.calendar)),
        # Before the outbox: the refunds a mass-refund batch queues leave in the same tick.
        (
            "mass_refunds",
            lambda now: {"mass_refund_orders": continue_runs(container.uow, now, container.calendar)},
        ),
        ("outbox", lambda now: {"outbox_done": drain_outbox(container, now)}),
        (
            "refund_polls",
            lambda now: {"refunds_polled": poll_refunds(container.uow, now, container.refunds, container.calendar)},
        ),
        ("channel_notices", lambda now: {"channel_notices_forgotten": purge_notices(container.uow(), now)}),
        (
            "webhooks",
            lambda now: {
                "webhooks_delivered": deliver_due(container.uow, now, container.settings.webhook_timeout_seconds)
            },
        ),
        (
            "backlog_notice",
            lambda now: {
                "backlog_notices": check_backlog(
                    container.uow(),
                    now,
                    container.settings.notice_backlog_rows,
                    container.settings.notice_backlog_minutes,
                )
            },
        ),
    ]


def _refresh_calendar(container: Container) -> dict[str, int]:
    fresh = refreshed_calendar(container.calendar, container.settings.calendar_file, container.uow())
    if fresh is not None:
        container.calendar = fresh
    return {}


def run_tick(container: Container, now: datetime) -> dict[str, int]:
    """Run every step once; raises :class:`TickFailed` after the last one if any of them raised."""
    figures: dict[str, int] = {}
    failures: dict[str, BaseException] = {}
    for step, run in _steps(container):
        try:
            figures.update(run(now))
        except Exception as error:  # the other steps still run: an outbox bug must not stop deadlines
            log.exception("worker step %s failed at %s", step, now.isoformat())
            failures[step] = error
    if failures:
        raise TickFailed(figures, failures) from next(iter(failures.values()))
    return figures


def worker_name(kind: str = "worker") -> str:
    """This process, as its heartbeat row names it: kind, host and process id."""
    return f"{kind}:{socket.gethostname()[:80]}:{os.getpid()}"


@dataclass
class Heartbeat:
    """One worker process's side of the heartbeat: its name, start and the failures in a row."""

    worker: str
    started_at: datetime
    interval: float
    failures_in_row: int = 0
    ticks: int = 0

    def record(self, container: Container, ok: bool, error: str | None) -> None:
        self.ticks += 1
        self.failures_in_row = 0 if ok else self.failures_in_row + 1
        beat = Beat(self.worker, self.started_at, max(round(self.interval), 1), ok, error)
        try:
            record_beat(container.uow(), beat, container.now())
        except Exception:  # the database may be what failed; the next tick tries again
            log.exception("worker %s could not write its heartbeat", self.worker)


@dataclass(frozen=True, slots=True)
class TickOutcome:
    ok: bool
    figures: dict[str, int]
    error: str | None


def tick_once(container: Container, heartbeat: Heartbeat) -> TickOutcome:
    """One tick that never raises (an error is logged and becomes the outcome), then the heartbeat."""
    now = container.now()
    try:
        outcome = TickOutcome(True, run_tick(container, now), None)
    except TickFailed as failed:
        outcome = TickOutcome(False, failed.figures, str(failed))
    except Exception as error:  # outside any step (building the handlers, say): still survived
        log.exception("worker tick at %s failed", now.isoformat())
        outcome = TickOutcome(False, {}, f"{type(error).__name__}: {error}")
    heartbeat.record(container, outcome.ok, outcome.error)
    return outcome


def next_delay(interval: float, failures_in_row: int, cap: float = MAX_BACKOFF) -> float:
    """The pause before the next tick: the interval, or after failures twice as long per failure
    in a row (bounded), so a worker whose database is down neither spins nor floods the log."""
    if failures_in_row <= 0:
        return interval
    return float(min(max(cap, interval), interval * 2.0 ** min(failures_in_row, 20)))


def run_worker(
    container: Container,
    *,
    interval: float = 5.0,
    ticks: int | None = None,
    name: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> TickOutcome:
    """Tick, pause, repeat: for ever, or ``ticks`` times. Returns the last tick's outcome."""
    heartbeat = Heartbeat(name or worker_name(), container.now(), interval)
    done = 0
    while True:
        outcome = tick_once(container, heartbeat)
        done += 1
        if ticks is not None and done >= ticks:
            return outcome
        sleep(next_delay(interval, heartbeat.failures_in_row))
