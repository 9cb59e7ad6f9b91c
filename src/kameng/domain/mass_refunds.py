"""Platform events and mass refunds, as pure rules: the outage's scope and its hours on one
membership, and the state machine of a mass-refund run.

A mass refund (PRODUCT.md item 13) pays every affected order of a merchant that is gone; the run is
a record processed in batches, so it can be stopped and resumed, and each order's outcome is kept
with it so that a restart never decides (or pays) an order twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from kameng.domain.model import MAX_OUTAGE_HOURS, OUTAGE_HOURS_PLACES
from kameng.domain.states import StateMachine

HOUR_SECONDS = Decimal(3600)


class OutageScope(StrEnum):
    """What an outage covered: one product, every product of a merchant, or the whole platform."""

    PRODUCT = "product"
    MERCHANT = "merchant"
    PLATFORM = "platform"


def scope_key(scope: OutageScope, target_id: int | None) -> str:
    """One spelling per scope and target (``product:3``, ``merchant:1``, ``platform``): with the
    range, what makes the same outage recorded twice the same record."""
    if scope is OutageScope.PLATFORM:
        return scope.value
    if target_id is None:
        raise ValueError(f"an outage of a {scope.value} names it")
    return f"{scope.value}:{target_id}"


def overlap_hours(
    starts_at: datetime, ends_at: datetime, active_from: datetime, active_until: datetime | None
) -> Decimal:
    """The hours of the outage ``[starts_at, ends_at)`` that fell in a membership active over
    ``[active_from, active_until)`` (None: permanent), to the hundredth, rounded down (an outage
    never grows in the telling), at most a year of hours. 0 when they do not meet."""
    start = max(starts_at, active_from)
    end = ends_at if active_until is None else min(ends_at, active_until)
    if end <= start:
        return Decimal(0)
    hours = Decimal((end - start).total_seconds()) / HOUR_SECONDS
    hours = hours.quantize(Decimal(1).scaleb(-OUTAGE_HOURS_PLACES), rounding=ROUND_DOWN)
    return min(hours, MAX_OUTAGE_HOURS)


class RunStatus(StrEnum):
    RUNNING = "running"  # started: batches are taken, by the CLI or by the worker
    STOPPED = "stopped"  # an operator stopped it; resuming goes on where it stopped
    DONE = "done"  # every affected order has its outcome


RUN = StateMachine[RunStatus](
    "mass_refund_run",
    {
        (RunStatus.RUNNING, "stop"): RunStatus.STOPPED,
        (RunStatus.STOPPED, "resume"): RunStatus.RUNNING,
        (RunStatus.RUNNING, "finish"): RunStatus.DONE,
    },
)


class ItemOutcome(StrEnum):
    """What a run did with one order. Written in the same transaction as the order's ticket, so an
    order with an outcome is never taken again."""

    PAID = "paid"  # approved at once (S5, or the better policy rule of §3a): the refund is on its way
    REVIEW = "review"  # the engine asks a person (an activated permanent card, delivered goods…)
    REJECTED = "rejected"  # nothing is due (a refund of 0.00 by every rule)
    OPEN_TICKET = "open_ticket"  # the consumer's own request is open: staff decide it there
    NOT_REFUNDABLE = "not_refundable"  # refunded or closed since the run counted it
