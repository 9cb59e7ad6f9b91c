"""Small factories for the engine's inputs, so a test states only what its case is about.

Times are written ``"2026-03-02 10:00"`` and read as Asia/Shanghai wall-clock time (+08:00);
amounts are written ``"30.00"`` and become fen through the engine's own parser, so no float ever
touches money here either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import (
    PERMANENT,
    Channel,
    CoolingOff,
    Coupon,
    Event,
    EventType,
    Order,
    Policy,
    Product,
    ProductKind,
    Proration,
    Reason,
    RefundRequest,
    Term,
)
from kameng.domain.money import format_yuan, parse_yuan
from kameng.domain.refund import Quote, quote_refund

TZ = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
CALENDAR = WorkCalendar()


def at(text: str) -> datetime:
    """``"2026-03-02 10:00"`` → that moment at +08:00 (a fixed offset, as a parsed scenario has)."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def fen(text: str) -> int:
    return parse_yuan(text)


def membership(
    term: Term | str = "30d",
    price: str = "30.00",
    *,
    promo: bool = False,
    benefits: dict[str, int] | None = None,
) -> Product:
    """A membership; ``term`` is ``"30d"``, ``"12m"``, ``"permanent"`` or a :class:`Term`."""
    if isinstance(term, str):
        if term == "permanent":
            term = PERMANENT
        elif term.endswith("d"):
            term = Term(days=int(term[:-1]))
        else:
            term = Term(months=int(term.removesuffix("m")))
    return Product(ProductKind.MEMBERSHIP, fen(price), term=term, promo=promo, benefits=benefits or {})


def virtual_goods(price: str = "50.00") -> Product:
    return Product(ProductKind.VIRTUAL_GOODS, fen(price))


def recharge(price: str = "100.00") -> Product:
    return Product(ProductKind.RECHARGE, fen(price))


def policy(
    *,
    cooling_off_days: int = 7,
    cooling_off: str = "full_if_unused",
    proration: str = "by_day",
    fee_percent: str = "0",
    fee_min: str = "0.00",
    fee_max: str | None = None,
    review_business_days: int = 2,
    trial_counts_as_activation: bool = True,
) -> Policy:
    return Policy(
        cooling_off_days=cooling_off_days,
        cooling_off=CoolingOff(cooling_off),
        proration=Proration(proration),
        fee_percent=Decimal(fee_percent),
        fee_min=fen(fee_min),
        fee_max=None if fee_max is None else fen(fee_max),
        review_business_days=review_business_days,
        trial_counts_as_activation=trial_counts_as_activation,
    )


def order(
    paid: str = "30.00",
    paid_at: str = "2026-04-01 10:00",
    *,
    channel: str = "alipay",
    bonus: str = "0.00",
    coupon: str | None = None,
    coupon_refundable: bool = False,
) -> Order:
    return Order(
        paid=fen(paid),
        paid_at=at(paid_at),
        channel=Channel(channel),
        bonus=fen(bonus),
        coupon=None if coupon is None else Coupon(fen(coupon), coupon_refundable),
    )


def event(
    type_: str,
    when: str,
    *,
    benefit: str | None = None,
    count: int = 1,
    hours: str = "0",
    amount: str = "0.00",
) -> Event:
    """One event; ``amount`` is the ``paid`` of a ``renewed`` or the ``amount`` of a ``spent``."""
    return Event(
        at(when),
        EventType(type_),
        benefit=benefit,
        count=count,
        hours=Decimal(hours),
        amount=fen(amount),
    )


def activated(when: str) -> Event:
    return event("activated", when)


def used(when: str, benefit: str = "video", count: int = 1) -> Event:
    return event("benefit_used", when, benefit=benefit, count=count)


def quote(
    product: Product | None = None,
    *,
    at_: str,
    reason: str = "changed_mind",
    rules: Policy | None = None,
    order_: Order | None = None,
    events: Sequence[Event] = (),
    calendar: WorkCalendar | None = None,
) -> Quote:
    """The engine's quote for a request at ``at_`` (defaults: a 30-day 30.00 card, paid
    2026-04-01 10:00 by Alipay, the default policy)."""
    return quote_refund(
        product or membership(),
        rules or Policy(),
        order_ or order(),
        tuple(events),
        RefundRequest(at(at_), Reason(reason)),
        calendar or CALENDAR,
        TZ,
    )


def amounts(q: Quote) -> dict[str, str]:
    """``{code: "-12.34"}`` of a quote's lines (codes are unique within a quote)."""
    return {line.code: format_yuan(line.amount) for line in q.lines}
