"""Scenario files (design/SCENARIOS.md): one order's story and one request, checked strictly.

:func:`parse_scenario` turns already-decoded data (from YAML or JSON, with decimals as
``Decimal``) into domain objects, raising :class:`DomainError` with the dotted path of the first
problem: ``events[2].at: needs a time zone offset``. Unknown keys are errors, so a typo in an
operator's policy test never passes silently as a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kameng.domain.model import (
    FEE_PERCENT_PLACES,
    MAX_OUTAGE_HOURS,
    OUTAGE_HOURS_PLACES,
    Channel,
    CoolingOff,
    Coupon,
    DomainError,
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
from kameng.domain.money import MoneyError, NumberError, parse_decimal, parse_yuan, shown
from kameng.domain.text import TextProblem, TextRule, check_text

TOP_KEYS = {"name", "jurisdiction", "timezone", "product", "policy", "order", "events", "request", "expect"}
PRODUCT_KEYS = {"kind", "term", "price", "promo", "benefits", "name"}
POLICY_KEYS = {
    "cooling_off_days",
    "cooling_off",
    "proration",
    "fee_percent",
    "fee_min",
    "fee_max",
    "review_business_days",
    "trial_counts_as_activation",
}
ORDER_KEYS = {"paid", "bonus", "coupon", "channel", "paid_at", "auto_renew"}
EXPECT_KEYS = {
    "decision",
    "refund",
    "currency",
    "rules",
    "lines",
    "explanation",
    "review_due",
    "arrival",
    "calendar_warning",
}
# Keys an event may carry besides `at` and `type`, by type.
EVENT_FIELDS: dict[EventType, set[str]] = {
    EventType.ACTIVATED: set(),
    EventType.BENEFIT_USED: {"benefit", "count"},
    EventType.TRIAL_CLAIMED: {"benefit"},
    EventType.DELIVERED: set(),
    EventType.OUTAGE: {"hours"},
    EventType.RENEWAL_NOTICE: set(),
    EventType.RENEWED: {"paid"},
    EventType.MERCHANT_GONE: set(),
    EventType.SPENT: {"amount"},
}
SUPPORTED_JURISDICTIONS = {"CN"}
# The years the override calendar accepts. Outside them a quote's dates (a term's end, a review
# deadline) can pass year 9999, which ``datetime`` cannot hold: an error, never a crash.
MOMENT_YEARS = range(1901, 3000)

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    timezone: tzinfo
    product: Product
    policy: Policy
    order: Order
    events: tuple[Event, ...]
    request: RefundRequest
    expect: Mapping[str, Any] | None


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DomainError(where, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise DomainError(where, f"keys must be text, got {key!r}")
    return value


def _no_unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise DomainError(f"{prefix}{key}", f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _required(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise DomainError(f"{where}.{key}" if where else key, "is required")
    return data[key]


def _enum(enum: type[E], value: object, where: str) -> E:
    try:
        return enum(value if isinstance(value, str) else repr(value))
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise DomainError(where, f"unknown value {shown(value)} (expected one of: {choices})") from None


def _money(value: object, where: str) -> int:
    try:
        return parse_yuan(value)
    except MoneyError as error:
        raise DomainError(where, str(error)) from None


# Names in a scenario are echoed in the answer and printed by `kameng simulate`: the same rules
# as the site's own text (no control characters, a length limit).
NAME = TextRule(200)
BENEFIT_NAME = TextRule(80, min_length=1)
TIME_ZONE = TextRule(64)


def _text(value: object, where: str, rule: TextRule) -> str:
    if not isinstance(value, str):
        raise DomainError(where, "must be text")
    try:
        return check_text(value, rule)
    except TextProblem as problem:
        raise DomainError(where, str(problem)) from None


# Above any count, term or number of days a scenario means (the model has tighter limits where
# it has them); a 2**70 benefit count is a typo to name, not a number to compute with.
MAX_WHOLE = 1_000_000


def _int(value: object, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(where, f"must be a whole number, got {shown(value)}")
    if value < minimum:
        raise DomainError(where, f"must be at least {minimum}, got {value}")
    if value > MAX_WHOLE:
        raise DomainError(where, f"must be at most {MAX_WHOLE}, got {value}")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise DomainError(where, f"must be true or false, got {shown(value)}")
    return value


def _decimal(value: object, where: str, places: int, maximum: Decimal) -> Decimal:
    # The one decimal parser (domain/money.py): no NaN, infinity, exponent or float.
    try:
        return parse_decimal(value, places=places, minimum=Decimal(0), maximum=maximum)
    except NumberError as error:
        raise DomainError(where, str(error)) from None


def parse_moment(value: object, where: str) -> datetime:
    """An ISO 8601 date-time that must carry its offset: a naive time is ambiguous evidence."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise DomainError(where, f"not an ISO 8601 date-time: {shown(value)}") from None
    else:
        raise DomainError(where, f"must be an ISO 8601 date-time with offset, got {shown(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DomainError(where, f"needs a time zone offset such as +08:00: {shown(value)}")
    if moment.year not in MOMENT_YEARS:
        raise DomainError(
            where, f"year must be from {MOMENT_YEARS.start} to {MOMENT_YEARS.stop - 1}, got {moment.year}"
        )
    return moment


def _term(value: object) -> Term:
    if value == "permanent":
        return Term()
    data = _mapping(value, "product.term")
    _no_unknown(data, {"days", "months"}, "product.term")
    if len(data) != 1:
        raise DomainError("product.term", "give exactly one of {days: N}, {months: N}, or permanent")
    key, raw = next(iter(data.items()))
    count = _int(raw, f"product.term.{key}", 1)
    return Term(days=count) if key == "days" else Term(months=count)


def parse_product(value: object) -> Product:
    data = _mapping(value, "product")
    _no_unknown(data, PRODUCT_KEYS, "product")
    kind = _enum(ProductKind, _required(data, "kind", "product"), "product.kind")
    term = _term(data["term"]) if data.get("term") is not None else None
    # `is None`, not `or`: an empty list or "" is a malformed value, not "no benefits".
    raw_benefits = data.get("benefits")
    benefits_raw = _mapping({} if raw_benefits is None else raw_benefits, "product.benefits")
    benefits = {
        _text(name, "product.benefits", BENEFIT_NAME): _int(count, f"product.benefits.{name}", 1)
        for name, count in benefits_raw.items()
    }
    name = _text(data.get("name", ""), "product.name", NAME)
    return Product(
        kind=kind,
        price=_money(_required(data, "price", "product"), "product.price"),
        term=term,
        promo=_bool(data.get("promo", False), "product.promo"),
        benefits=benefits,
        name=name,
    )


def parse_policy(value: object, product: Product) -> Policy:
    data = _mapping(value if value is not None else {}, "policy")
    _no_unknown(data, POLICY_KEYS, "policy")
    options: dict[str, Any] = {}
    if "cooling_off_days" in data:
        options["cooling_off_days"] = _int(data["cooling_off_days"], "policy.cooling_off_days", 0)
    if "cooling_off" in data:
        options["cooling_off"] = _enum(CoolingOff, data["cooling_off"], "policy.cooling_off")
    if "proration" in data:
        options["proration"] = _enum(Proration, data["proration"], "policy.proration")
    if "fee_percent" in data:
        options["fee_percent"] = _decimal(data["fee_percent"], "policy.fee_percent", FEE_PERCENT_PLACES, Decimal(100))
    if data.get("fee_min") is not None:
        options["fee_min"] = _money(data["fee_min"], "policy.fee_min")
    if data.get("fee_max") is not None:
        options["fee_max"] = _money(data["fee_max"], "policy.fee_max")
    if "review_business_days" in data:
        options["review_business_days"] = _int(data["review_business_days"], "policy.review_business_days", 1)
    if "trial_counts_as_activation" in data:
        options["trial_counts_as_activation"] = _bool(
            data["trial_counts_as_activation"], "policy.trial_counts_as_activation"
        )
    policy = Policy(**options)
    policy.check_against(product)
    return policy


def parse_order(value: object, product: Product) -> Order:
    data = _mapping(_required({"order": value}, "order", ""), "order")
    _no_unknown(data, ORDER_KEYS, "order")
    coupon: Coupon | None = None
    if data.get("coupon") is not None:
        raw = _mapping(data["coupon"], "order.coupon")
        _no_unknown(raw, {"value", "refundable"}, "order.coupon")
        coupon = Coupon(
            value=_money(_required(raw, "value", "order.coupon"), "order.coupon.value"),
            refundable=_bool(raw.get("refundable", False), "order.coupon.refundable"),
        )
    bonus = _money(data.get("bonus", "0"), "order.bonus")
    if bonus and product.kind is not ProductKind.RECHARGE:
        raise DomainError("order.bonus", "only a recharge (balance top-up) carries bonus credit")
    return Order(
        paid=_money(_required(data, "paid", "order"), "order.paid"),
        paid_at=parse_moment(_required(data, "paid_at", "order"), "order.paid_at"),
        channel=_enum(Channel, _required(data, "channel", "order"), "order.channel"),
        bonus=bonus,
        coupon=coupon,
        auto_renew=_bool(data.get("auto_renew", False), "order.auto_renew"),
    )


def parse_event(value: object, index: int) -> Event:
    where = f"events[{index}]"
    data = _mapping(value, where)
    kind = _enum(EventType, _required(data, "type", where), f"{where}.type")
    _no_unknown(data, {"at", "type", "note", *EVENT_FIELDS[kind]}, where)
    at = parse_moment(_required(data, "at", where), f"{where}.at")
    benefit = data.get("benefit")
    if benefit is not None:
        benefit = _text(benefit, f"{where}.benefit", BENEFIT_NAME)
    if kind is EventType.OUTAGE:
        hours = _decimal(_required(data, "hours", where), f"{where}.hours", OUTAGE_HOURS_PLACES, MAX_OUTAGE_HOURS)
        return Event(at, kind, hours=hours)
    if kind is EventType.RENEWED:
        return Event(at, kind, amount=_money(_required(data, "paid", where), f"{where}.paid"))
    if kind is EventType.SPENT:
        return Event(at, kind, amount=_money(_required(data, "amount", where), f"{where}.amount"))
    count = _int(data.get("count", 1), f"{where}.count", 1)
    return Event(at, kind, benefit=benefit, count=count)


def parse_scenario(value: object) -> Scenario:
    data = _mapping(value, "")
    _no_unknown(data, TOP_KEYS, "")
    name = _text(data.get("name", ""), "name", NAME)
    jurisdiction = data.get("jurisdiction", "CN")
    if not isinstance(jurisdiction, str) or jurisdiction not in SUPPORTED_JURISDICTIONS:
        raise DomainError("jurisdiction", f"unsupported {shown(jurisdiction)} (supported: CN)")
    tz_name = data.get("timezone", "Asia/Shanghai")
    if not isinstance(tz_name, str):
        raise DomainError("timezone", f"must be a time zone name such as Asia/Shanghai, got {shown(tz_name)}")
    tz_name = _text(tz_name, "timezone", TIME_ZONE)
    try:
        timezone: tzinfo = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError("timezone", f"unknown time zone {tz_name!r}") from None
    product = parse_product(_required(data, "product", ""))
    policy = parse_policy(data.get("policy"), product)
    order = parse_order(data.get("order"), product)
    raw_events = data.get("events")
    if raw_events is None:  # `events: {}` or `events: ""` is malformed, not "no events"
        raw_events = []
    if not isinstance(raw_events, list):
        raise DomainError("events", "must be a list")
    in_file_order = [parse_event(e, i) for i, e in enumerate(raw_events)]
    # Checked in the file's order, before sorting: the index must name the entry the operator wrote.
    for index, event in enumerate(in_file_order):
        if event.type is EventType.SPENT and product.kind is not ProductKind.RECHARGE:
            raise DomainError(f"events[{index}].type", "spent only applies to a recharge")
        if event.type is EventType.RENEWED and product.kind is not ProductKind.MEMBERSHIP:
            raise DomainError(f"events[{index}].type", "renewed only applies to a membership")
    events = tuple(sorted(in_file_order, key=lambda e: e.at))
    request_data = _mapping(_required(data, "request", ""), "request")
    _no_unknown(request_data, {"at", "reason"}, "request")
    request = RefundRequest(
        at=parse_moment(_required(request_data, "at", "request"), "request.at"),
        reason=_enum(Reason, _required(request_data, "reason", "request"), "request.reason"),
    )
    if request.at < order.paid_at:
        raise DomainError("request.at", "is earlier than order.paid_at")
    expect = data.get("expect")
    if expect is not None:
        expect = _mapping(expect, "expect")
        _no_unknown(expect, EXPECT_KEYS, "expect")
    return Scenario(name, timezone, product, policy, order, events, request, expect)
