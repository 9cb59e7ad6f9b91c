"""The scenario format (SCENARIOS.md), read strictly: every malformed field is named by its path.

Each case starts from one valid scenario that uses every section, breaks one thing, and checks
that the :class:`DomainError` names the field (``policy.fee_min``) so an operator can find it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kameng.domain.model import (
    Channel,
    CoolingOff,
    DomainError,
    EventType,
    ProductKind,
    Proration,
    Reason,
    Term,
)
from kameng.domain.scenario import parse_moment, parse_scenario

Data = dict[str, Any]


def valid() -> Data:
    """A valid scenario touching every section, as YAML or JSON would decode it."""
    return {
        "name": "annual card, one month used",
        "jurisdiction": "CN",
        "timezone": "Asia/Shanghai",
        "product": {
            "kind": "membership",
            "term": {"months": 12},
            "price": "100.00",
            "promo": False,
            "benefits": {"course": 10},
            "name": "年卡",
        },
        "policy": {
            "cooling_off_days": 7,
            "cooling_off": "full_if_unused",
            "proration": "by_month",
            "fee_percent": "5",
            "fee_min": "0.00",
            "fee_max": None,
            "review_business_days": 2,
            "trial_counts_as_activation": True,
        },
        "order": {
            "paid": "100.00",
            "coupon": {"value": "20.00", "refundable": False},
            "channel": "alipay",
            "paid_at": "2026-03-02T10:00:00+08:00",
            "auto_renew": True,
        },
        "events": [
            {"at": "2026-03-02T12:00:00+08:00", "type": "activated"},
            {"at": "2026-03-03T09:00:00+08:00", "type": "benefit_used", "benefit": "course", "count": 1},
            {"at": "2026-03-04T09:00:00+08:00", "type": "trial_claimed", "benefit": "live"},
            {"at": "2026-03-05T09:00:00+08:00", "type": "outage", "hours": "3.5"},
            {"at": "2026-03-06T09:00:00+08:00", "type": "renewal_notice"},
            {"at": "2026-03-07T09:00:00+08:00", "type": "merchant_gone", "note": "shop closed"},
        ],
        "request": {"at": "2026-03-22T09:00:00+08:00", "reason": "changed_mind"},
        "expect": {"decision": "review", "refund": "91.67"},
    }


def recharge() -> Data:
    data = valid()
    data["product"] = {"kind": "recharge", "price": "100.00"}
    data["policy"] = {}
    data["order"]["bonus"] = "20.00"
    data["events"] = [{"at": "2026-03-05T10:00:00+08:00", "type": "spent", "amount": "50.00"}]
    return data


def broken(change: Callable[[Data], object], base: Callable[[], Data] = valid) -> DomainError:
    data = base()
    change(data)
    with pytest.raises(DomainError) as caught:
        parse_scenario(data)
    return caught.value


def assert_names(error: DomainError, where: str, problem: str = "") -> None:
    assert error.where == where, str(error)
    assert str(error).startswith(f"{where}: ") if where else True
    assert problem in error.problem, str(error)


def put(path: str, value: object) -> Callable[[Data], None]:
    """A change that sets ``product.term.days`` (dots; list indexes as numbers) to ``value``."""
    *parents, last = path.split(".")

    def change(data: Data) -> None:
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def drop(path: str) -> Callable[[Data], None]:
    *parents, last = path.split(".")

    def change(data: Data) -> None:
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return change


# --- a valid scenario --------------------------------------------------------------------------


def test_a_valid_scenario_becomes_domain_objects() -> None:
    scenario = parse_scenario(valid())
    assert scenario.name == "annual card, one month used"
    assert scenario.timezone == ZoneInfo("Asia/Shanghai")
    assert scenario.product.kind is ProductKind.MEMBERSHIP
    assert scenario.product.term == Term(months=12)
    assert scenario.product.price == 10000
    assert scenario.product.benefits == {"course": 10}
    assert scenario.policy.proration is Proration.BY_MONTH
    assert scenario.policy.fee_percent == Decimal(5)
    assert scenario.policy.fee_max is None
    assert scenario.order.paid == 10000
    assert scenario.order.coupon is not None
    assert scenario.order.coupon.value == 2000
    assert scenario.order.channel is Channel.ALIPAY
    assert scenario.order.paid_at == datetime.fromisoformat("2026-03-02T10:00:00+08:00")
    assert [e.type for e in scenario.events][:2] == [EventType.ACTIVATED, EventType.BENEFIT_USED]
    assert scenario.events[3].hours == Decimal("3.5")
    assert scenario.request.reason is Reason.CHANGED_MIND
    assert scenario.expect == {"decision": "review", "refund": "91.67"}


def test_only_product_order_and_request_are_needed_and_defaults_apply() -> None:
    scenario = parse_scenario(
        {
            "product": {"kind": "membership", "term": "permanent", "price": 30},
            "order": {"paid": "30", "channel": "wechat", "paid_at": "2026-03-02T10:00:00Z"},
            "request": {"at": "2026-03-03T10:00:00+08:00", "reason": "mistaken_purchase"},
        }
    )
    assert scenario.name == ""
    assert scenario.timezone == ZoneInfo("Asia/Shanghai")
    assert scenario.product.term is not None
    assert scenario.product.term.permanent
    assert scenario.policy.cooling_off_days == 7
    assert scenario.policy.cooling_off is CoolingOff.FULL_IF_UNUSED
    assert scenario.policy.proration is Proration.BY_DAY
    assert scenario.policy.review_business_days == 2
    assert scenario.policy.trial_counts_as_activation is True
    assert scenario.order.bonus == 0
    assert scenario.order.coupon is None
    assert scenario.events == ()
    assert scenario.expect is None


def test_null_events_benefits_and_policy_mean_none_given() -> None:
    data = valid()
    data.update(events=None, policy=None)
    data["product"]["benefits"] = None
    scenario = parse_scenario(data)
    assert (scenario.events, scenario.product.benefits) == ((), {})
    assert scenario.policy.proration is Proration.BY_DAY


def test_events_are_sorted_by_time_whatever_their_offsets() -> None:
    data = valid()
    data["events"] = [
        {"at": "2026-03-03T02:00:00+00:00", "type": "benefit_used"},  # 10:00 in Shanghai
        {"at": "2026-03-03T09:00:00+08:00", "type": "activated"},
    ]
    scenario = parse_scenario(data)
    assert [e.type for e in scenario.events] == [EventType.ACTIVATED, EventType.BENEFIT_USED]


def test_yaml_decimals_and_json_integers_are_read_exactly() -> None:
    data = valid()
    data["order"]["paid"] = Decimal("99.9")
    data["product"]["price"] = 100
    data["policy"]["fee_percent"] = Decimal("2.5")
    scenario = parse_scenario(data)
    assert scenario.order.paid == 9990
    assert scenario.product.price == 10000
    assert scenario.policy.fee_percent == Decimal("2.5")


def test_a_moment_keeps_its_own_offset() -> None:
    moment = parse_moment("2026-03-02T10:00:00-05:00", "order.paid_at")
    assert moment.utcoffset() == timedelta(hours=-5)


# --- top level ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (put("notes", "x"), "notes", "unknown key"),
        (put("Product", {}), "Product", "unknown key"),
        (put("name", 12), "name", "text"),
        (put("jurisdiction", "US"), "jurisdiction", "unsupported"),
        (put("timezone", "Mars/Olympus"), "timezone", "unknown time zone"),
        (put("timezone", ""), "timezone", "unknown time zone"),
        (put("timezone", "../../etc/passwd"), "timezone", "unknown time zone"),
        (put("product", None), "product", "required"),
        (drop("product"), "product", "required"),
        (drop("order"), "order", "required"),
        (drop("request"), "request", "required"),
        (put("product", ["membership"]), "product", "mapping"),
        (put("policy", "lenient"), "policy", "mapping"),
        (put("order", "paid"), "order", "mapping"),
        (put("events", {"at": "2026-03-02T12:00:00+08:00"}), "events", "list"),
        (put("events", {}), "events", "list"),
        (put("events", ""), "events", "list"),
        (put("request", "now"), "request", "mapping"),
        (put("expect", "review"), "expect", "mapping"),
        (put("expect", {"refunds": "91.67"}), "expect.refunds", "unknown key"),
    ],
)
def test_a_malformed_top_level_names_the_field(change: Callable[[Data], object], where: str, problem: str) -> None:
    assert_names(broken(change), where, problem)


@pytest.mark.parametrize("value", [[], "scenario", None, 3])
def test_a_document_that_is_not_a_mapping_is_refused(value: object) -> None:
    with pytest.raises(DomainError, match="must be a mapping"):
        parse_scenario(value)


def test_a_key_that_is_not_text_is_refused() -> None:
    def change(data: Data) -> None:
        data["policy"][7] = "cooling_off_days"

    assert_names(broken(change), "policy", "keys must be text")


# --- product -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (put("product.colour", "red"), "product.colour", "unknown key"),
        (drop("product.kind"), "product.kind", "required"),
        (put("product.kind", "subscription"), "product.kind", "unknown value 'subscription'"),
        (put("product.kind", ["membership"]), "product.kind", "unknown value"),
        (drop("product.price"), "product.price", "required"),
        (put("product.price", "-1.00"), "product.price", "negative"),
        (put("product.price", "9.999"), "product.price", "two decimals"),
        (put("product.price", 9.9), "product.price", "string"),
        (put("product.price", "NaN"), "product.price", "finite"),
        (put("product.price", True), "product.price", ""),
        (put("product.promo", "yes"), "product.promo", "true or false"),
        (put("product.name", 5), "product.name", "text"),
        (put("product.benefits", ["course"]), "product.benefits", "mapping"),
        (put("product.benefits", []), "product.benefits", "mapping"),
        (put("product.benefits", {"course": 0}), "product.benefits.course", "at least 1"),
        (put("product.benefits", {"course": "10"}), "product.benefits.course", "whole number"),
        (put("product.benefits", {"course": Decimal("1.5")}), "product.benefits.course", "whole number"),
    ],
)
def test_a_malformed_product_names_the_field(change: Callable[[Data], object], where: str, problem: str) -> None:
    assert_names(broken(change), where, problem)


@pytest.mark.parametrize(
    ("term", "where", "problem"),
    [
        (None, "product.term", "needs a term"),
        ({}, "product.term", "exactly one"),
        ({"days": 30, "months": 1}, "product.term", "exactly one"),
        ({"weeks": 2}, "product.term.weeks", "unknown key"),
        ({"days": 0}, "product.term.days", "at least 1"),
        ({"months": -1}, "product.term.months", "at least 1"),
        ({"days": "30"}, "product.term.days", "whole number"),
        ({"days": Decimal("1.5")}, "product.term.days", "whole number"),
        ({"months": True}, "product.term.months", "whole number"),
        ("forever", "product.term", "mapping"),
        ("Permanent", "product.term", "mapping"),
        ([30], "product.term", "mapping"),
        ({"days": 10**30}, "product.term.days", "at most"),
        ({"months": 10**6}, "product.term.months", "at most"),
    ],
)
def test_a_bad_term_shape_names_the_term(term: object, where: str, problem: str) -> None:
    def change(data: Data) -> None:
        data["product"]["term"] = term
        data["policy"]["proration"] = "by_day"

    assert_names(broken(change), where, problem)


@pytest.mark.parametrize("kind", ["virtual_goods", "recharge"])
def test_only_a_membership_has_a_term(kind: str) -> None:
    assert_names(broken(put("product.kind", kind)), "product.term", "only a membership")


# --- policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (put("policy.fee", "5"), "policy.fee", "unknown key"),
        (put("policy.cooling_off_days", -1), "policy.cooling_off_days", "at least 0"),
        (put("policy.cooling_off_days", "7"), "policy.cooling_off_days", "whole number"),
        (put("policy.cooling_off_days", Decimal("7.5")), "policy.cooling_off_days", "whole number"),
        (put("policy.cooling_off_days", 10**12), "policy.cooling_off_days", "at most"),
        (put("policy.cooling_off", "partial"), "policy.cooling_off", "unknown value"),
        (put("policy.cooling_off", None), "policy.cooling_off", "unknown value"),
        (put("policy.proration", "by_week"), "policy.proration", "unknown value"),
        (put("policy.fee_percent", "101"), "policy.fee_percent", "at most 100"),
        (put("policy.fee_percent", "-1"), "policy.fee_percent", "negative"),
        (put("policy.fee_percent", "abc"), "policy.fee_percent", "number"),
        (put("policy.fee_percent", 5.0), "policy.fee_percent", "written as text"),
        (put("policy.fee_percent", "NaN"), "policy.fee_percent", "finite"),
        (put("policy.fee_percent", "Infinity"), "policy.fee_percent", "finite"),
        (put("policy.fee_percent", "2.0000001"), "policy.fee_percent", "at most 6 decimals"),
        (put("policy.fee_percent", "1e-10000000"), "policy.fee_percent", "without an exponent"),
        (put("policy.fee_percent", Decimal("1E-10000000")), "policy.fee_percent", "at most 6 decimals"),
        (put("policy.fee_min", "-1.00"), "policy.fee_min", "negative"),
        (put("policy.fee_min", "0.001"), "policy.fee_min", "two decimals"),
        (put("policy.fee_max", "-0.01"), "policy.fee_max", "negative"),
        (put("policy.fee_max", "ten"), "policy.fee_max", "amount"),
        (put("policy.review_business_days", 0), "policy.review_business_days", "at least 1"),
        (put("policy.review_business_days", "2"), "policy.review_business_days", "whole number"),
        (put("policy.review_business_days", 10**7), "policy.review_business_days", "at most"),
        (put("policy.trial_counts_as_activation", "true"), "policy.trial_counts_as_activation", "true or false"),
        (put("policy.trial_counts_as_activation", 1), "policy.trial_counts_as_activation", "true or false"),
    ],
)
def test_a_malformed_policy_option_names_the_option(change: Callable[[Data], object], where: str, problem: str) -> None:
    assert_names(broken(change), where, problem)


def test_a_minimum_fee_above_the_maximum_is_inconsistent() -> None:
    def change(data: Data) -> None:
        data["policy"].update(fee_min="5.00", fee_max="2.00")

    assert_names(broken(change), "policy.fee_min", "policy.fee_max")


def test_by_month_on_a_term_in_days_is_inconsistent() -> None:
    assert_names(broken(put("product.term", {"days": 30})), "policy.proration", "by_month")


def test_by_benefit_without_benefits_is_inconsistent() -> None:
    def change(data: Data) -> None:
        data["policy"]["proration"] = "by_benefit"
        del data["product"]["benefits"]

    assert_names(broken(change), "policy.proration", "product.benefits")


def test_by_month_on_a_permanent_term_and_by_benefit_with_benefits_are_accepted() -> None:
    data = valid()
    data["product"]["term"] = "permanent"
    assert parse_scenario(data).policy.proration is Proration.BY_MONTH
    data["policy"]["proration"] = "by_benefit"
    assert parse_scenario(data).policy.proration is Proration.BY_BENEFIT


def test_a_zero_day_cooling_off_window_and_null_fee_bounds_are_accepted() -> None:
    data = valid()
    data["policy"].update(cooling_off_days=0, fee_min=None, fee_max=None, fee_percent="100")
    policy = parse_scenario(data).policy
    assert (policy.cooling_off_days, policy.fee_min, policy.fee_max) == (0, 0, None)


@pytest.mark.parametrize("percent", ["0", "100", "12.5", "0.000001", "5.00000000"])
def test_a_fee_percent_from_0_to_100_with_up_to_6_decimals_is_accepted(percent: str) -> None:
    data = valid()
    data["policy"]["fee_percent"] = percent
    assert parse_scenario(data).policy.fee_percent == Decimal(percent)


# --- order -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (put("order.tip", "1.00"), "order.tip", "unknown key"),
        (drop("order.paid"), "order.paid", "required"),
        (put("order.paid", "-100.00"), "order.paid", "negative"),
        (put("order.paid", "100.001"), "order.paid", "two decimals"),
        (put("order.paid", Decimal("100.005")), "order.paid", "two decimals"),
        (put("order.paid", 100.0), "order.paid", "string"),
        (put("order.paid", "1e999999"), "order.paid", "without an exponent"),
        (put("order.paid", Decimal("1E+999999")), "order.paid", "at most"),
        (drop("order.paid_at"), "order.paid_at", "required"),
        (put("order.paid_at", "2026-03-02T10:00:00"), "order.paid_at", "offset"),
        (put("order.paid_at", "2026-03-02"), "order.paid_at", "offset"),
        (put("order.paid_at", "yesterday"), "order.paid_at", "ISO 8601"),
        (put("order.paid_at", 1772416800), "order.paid_at", "ISO 8601"),
        (put("order.paid_at", "0001-01-01T00:00:00+08:00"), "order.paid_at", "year"),
        (put("order.paid_at", "9999-12-31T00:00:00+08:00"), "order.paid_at", "year"),
        (drop("order.channel"), "order.channel", "required"),
        (put("order.channel", "paypal"), "order.channel", "unknown value 'paypal'"),
        (put("order.bonus", "20.00"), "order.bonus", "only a recharge"),
        (put("order.auto_renew", "yes"), "order.auto_renew", "true or false"),
        (put("order.coupon", "20.00"), "order.coupon", "mapping"),
        (put("order.coupon", {"value": "20.00", "percent": 10}), "order.coupon.percent", "unknown key"),
        (put("order.coupon", {"refundable": True}), "order.coupon.value", "required"),
        (put("order.coupon", {"value": "-20.00"}), "order.coupon.value", "negative"),
        (put("order.coupon", {"value": "20.00", "refundable": "no"}), "order.coupon.refundable", "true or false"),
    ],
)
def test_a_malformed_order_names_the_field(change: Callable[[Data], object], where: str, problem: str) -> None:
    assert_names(broken(change), where, problem)


def test_a_negative_bonus_on_a_top_up_names_the_bonus() -> None:
    assert_names(broken(put("order.bonus", "-1.00"), recharge), "order.bonus", "negative")


# --- events ------------------------------------------------------------------------------------


def event_at(index: int, event: dict[str, object]) -> Callable[[Data], None]:
    """A change that puts ``event`` at ``index`` of the events, at its place in the file."""

    def change(data: Data) -> None:
        data["events"][index] = {"at": data["events"][index]["at"], **event}

    return change


@pytest.mark.parametrize(
    ("event", "where", "problem"),
    [
        ({"type": "refunded"}, "events[1].type", "unknown value 'refunded'"),
        ({"type": None}, "events[1].type", "required"),
        ({"kind": "activated"}, "events[1].type", "required"),
        ({"type": "activated", "benefit": "course"}, "events[1].benefit", "unknown key"),
        ({"type": "activated", "colour": "red"}, "events[1].colour", "unknown key"),
        ({"type": "benefit_used", "count": 0}, "events[1].count", "at least 1"),
        ({"type": "benefit_used", "count": "2"}, "events[1].count", "whole number"),
        ({"type": "benefit_used", "count": True}, "events[1].count", "whole number"),
        ({"type": "benefit_used", "benefit": 5}, "events[1].benefit", "text"),
        ({"type": "benefit_used", "hours": "3"}, "events[1].hours", "unknown key"),
        ({"type": "trial_claimed", "count": 2}, "events[1].count", "unknown key"),
        ({"type": "delivered", "count": 1}, "events[1].count", "unknown key"),
        ({"type": "outage"}, "events[1].hours", "required"),
        ({"type": "outage", "hours": "-1"}, "events[1].hours", "negative"),
        ({"type": "outage", "hours": 2.5}, "events[1].hours", "written as text"),
        ({"type": "outage", "hours": "long"}, "events[1].hours", "number"),
        ({"type": "outage", "hours": "NaN"}, "events[1].hours", "finite"),
        ({"type": "outage", "hours": "3", "count": 1}, "events[1].count", "unknown key"),
        ({"type": "renewal_notice", "paid": "25.00"}, "events[1].paid", "unknown key"),
        ({"type": "renewed"}, "events[1].paid", "required"),
        ({"type": "renewed", "paid": "-25.00"}, "events[1].paid", "negative"),
        ({"type": "renewed", "paid": "25.005"}, "events[1].paid", "two decimals"),
        ({"type": "renewed", "amount": "25.00"}, "events[1].amount", "unknown key"),
        ({"type": "merchant_gone", "hours": "3"}, "events[1].hours", "unknown key"),
        ({"type": "spent", "paid": "5.00"}, "events[1].paid", "unknown key"),
    ],
)
def test_a_malformed_event_names_the_event_and_field(event: dict[str, object], where: str, problem: str) -> None:
    assert_names(broken(event_at(1, event)), where, problem)


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (put("events.2", "activated"), "events[2]", "mapping"),
        (drop("events.2.at"), "events[2].at", "required"),
        (put("events.2.at", "2026-03-04T09:00:00"), "events[2].at", "offset"),
        (put("events.2.at", "2026-03-04 noon"), "events[2].at", "ISO 8601"),
    ],
)
def test_a_malformed_event_time_names_the_event(change: Callable[[Data], object], where: str, problem: str) -> None:
    assert_names(broken(change), where, problem)


@pytest.mark.parametrize(
    ("event", "where", "problem"),
    [
        ({"type": "spent"}, "events[0].amount", "required"),
        ({"type": "spent", "amount": "-1.00"}, "events[0].amount", "negative"),
        ({"type": "spent", "amount": "1.001"}, "events[0].amount", "two decimals"),
        ({"type": "renewed", "paid": "100.00"}, "events[0].type", "renewed only applies to a membership"),
    ],
)
def test_a_malformed_top_up_event_names_the_event(event: dict[str, object], where: str, problem: str) -> None:
    assert_names(broken(event_at(0, event), recharge), where, problem)


def test_a_spent_event_on_a_membership_names_its_place_in_the_file_not_in_time() -> None:
    # The events are sorted by time after reading; the error must still point at the entry the
    # operator wrote: here the last entry in the file, though the first in time.
    def change(data: Data) -> None:
        data["events"].append({"at": "2026-03-01T00:00:00+08:00", "type": "spent", "amount": "1.00"})

    assert_names(broken(change), "events[6].type", "spent only applies to a recharge")


def test_a_renewal_on_goods_names_the_event() -> None:
    def change(data: Data) -> None:
        data["product"] = {"kind": "virtual_goods", "price": "50.00"}
        data["policy"] = {}
        data["events"] = [{"at": "2026-04-02T10:00:00+08:00", "type": "renewed", "paid": "50.00"}]

    assert_names(broken(change), "events[0].type", "renewed only applies to a membership")


# --- request -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (put("request.channel", "alipay"), "request.channel", "unknown key"),
        (drop("request.at"), "request.at", "required"),
        (put("request.at", "2026-03-22T09:00:00"), "request.at", "offset"),
        (put("request.at", "2026-03-22"), "request.at", "offset"),
        (put("request.at", "2026-03-02T09:59:59+08:00"), "request.at", "earlier than order.paid_at"),
        (drop("request.reason"), "request.reason", "required"),
        (put("request.reason", "refund_please"), "request.reason", "unknown value 'refund_please'"),
        (put("request.reason", "Changed_Mind"), "request.reason", "unknown value"),
        (put("request.reason", 1), "request.reason", "unknown value"),
    ],
)
def test_a_malformed_request_names_the_field(change: Callable[[Data], object], where: str, problem: str) -> None:
    assert_names(broken(change), where, problem)


def test_every_reason_of_rules_md_is_accepted() -> None:
    for reason in Reason:
        data = valid()
        data["request"]["reason"] = reason.value
        assert parse_scenario(data).request.reason is reason


def test_parsing_does_not_change_its_input() -> None:
    data = valid()
    before = copy.deepcopy(data)
    parse_scenario(data)
    assert data == before


@pytest.mark.parametrize("key", ["jurisdiction", "timezone"])
@pytest.mark.parametrize("value", [{"a": 1}, ["CN"], 8])
def test_a_jurisdiction_or_time_zone_that_is_not_text_is_named_not_crashed_on(key: str, value: object) -> None:
    # Found by fuzzing POST /api/v1/simulate: a mapping here raised TypeError (a 500).
    data = {
        key: value,
        "product": {"kind": "membership", "term": {"days": 30}, "price": "30.00"},
        "order": {"paid": "30.00", "channel": "alipay", "paid_at": "2026-04-01T10:00:00+08:00"},
        "request": {"at": "2026-04-02T10:00:00+08:00", "reason": "changed_mind"},
    }
    with pytest.raises(DomainError, match=f"^{key}:"):
        parse_scenario(data)
