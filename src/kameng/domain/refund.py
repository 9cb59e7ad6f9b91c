"""The refund engine: RULES.md as one pure function.

:func:`quote_refund` takes a product, its policy, an order, the order's events, a request and a
working-day calendar, and returns a :class:`Quote`: the decision, every line of the amount, the
rule ids, a plain explanation in Chinese and English, and the promised dates. It does no I/O and
reads no clock; callers pass the request time in.

The decision is a first-match walk over the statutory rules (S1–S5) and then the policy rules
(P1–P9 for memberships and virtual goods, R1–R2 for top-ups), exactly in RULES.md's order. When a
statutory rule decides, the policy rules decide the same request too, as if the reason were
``changed_mind``, and the better of the two outcomes is the answer (RULES.md §3a: the reason never
costs the consumer). Readings of RULES.md that the text leaves open are listed in
docs/refund-rules-notes.md.
"""

from __future__ import annotations

from calendar import isleap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from kameng.domain.calendar import WorkCalendar, calendar_warning
from kameng.domain.model import (
    Channel,
    CoolingOff,
    Coupon,
    Decision,
    Event,
    EventType,
    Order,
    Policy,
    Product,
    ProductKind,
    Proration,
    Reason,
    RefundRequest,
)
from kameng.domain.money import format_yuan, percent_of, share
from kameng.domain.rules import REASON_NAMES, label_en, label_zh

ONE_DAY = timedelta(days=1)
OUTAGE_HOURS_FOR_AUTO_REFUND = Decimal(48)
RENEWAL_NOTICE_DAYS = 5  # CN: a reminder at least 5 days before an automatic renewal
APPEAL_DAYS = 15
DEFAULT_REVIEW_BUSINESS_DAYS = Policy().review_business_days

# Working days from approval until the money arrives: (earliest, latest).
ARRIVAL_WORKING_DAYS: dict[Channel, tuple[int, int]] = {
    Channel.WECHAT: (1, 3),
    Channel.ALIPAY: (1, 3),
    Channel.BANK_CARD: (3, 5),
    Channel.BALANCE: (0, 0),
}

_AT = attrgetter("at")


class Line(NamedTuple):
    """One amount that makes up the refund. ``amount`` is signed fen; lines add up to the refund."""

    code: str
    amount: int
    detail: str = ""
    detail_zh: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "amount": format_yuan(self.amount)}
        if self.detail:
            out["detail"] = self.detail
            out["detail_zh"] = self.detail_zh
        return out


class ArrivalWindow(NamedTuple):
    earliest: date
    latest: date


class Quote(NamedTuple):
    """The engine's answer. Results are immutable ``NamedTuple``s rather than frozen dataclasses:
    a frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field, which was 13 %
    of a quote's time (``make bench``, section engine: 57k → 63k quotes/s)."""

    decision: Decision
    refund: int
    rules: tuple[str, ...]
    lines: tuple[Line, ...]
    explanation_zh: str
    explanation_en: str
    review_due: date | None
    arrival: ArrivalWindow | None
    calendar_warning: str | None
    paid: int
    period_index: int = 0

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of SCENARIOS.md (``name`` is added by the caller)."""
        return {
            "decision": self.decision.value,
            "refund": format_yuan(self.refund),
            "currency": "CNY",
            "rules": list(self.rules),
            "lines": [line.to_dict() for line in self.lines],
            "explanation": {"zh": self.explanation_zh, "en": self.explanation_en},
            "review_due": self.review_due.isoformat() if self.review_due else None,
            "arrival": (
                {"earliest": self.arrival.earliest.isoformat(), "latest": self.arrival.latest.isoformat()}
                if self.arrival
                else None
            ),
            "calendar_warning": self.calendar_warning,
        }


@dataclass(slots=True)  # internal and built per quote: a frozen __init__ costs ~1 µs each
class Period:
    """What a request is about: the purchase, or the latest renewal before the request."""

    index: int  # 0 for the purchase, n for the n-th renewal
    start: datetime  # paid_at of the period
    paid: int
    previous_start: datetime | None  # start of the period before, for a renewal
    events: tuple[Event, ...]  # events of this period, up to the request, by time
    activation: datetime | None
    used: bool

    @property
    def is_renewal(self) -> bool:
        return self.index > 0


@dataclass(slots=True)  # internal and built per quote: a frozen __init__ costs ~1 µs each
class UsedShare:
    """The consumed part of a period's price: ``used`` of ``total`` units (days, months or
    benefits). Its wording is built only when a quote is explained (``detail_en``/``detail_zh``),
    never for a bare decision."""

    amount: int
    used: int = 0
    total: int = 0
    unit: str = ""  # "days", "months", "benefits"; empty when nothing can be counted

    @property
    def detail_en(self) -> str:
        return f"{self.used} of {self.total} {self.unit}" if self.unit else ""

    @property
    def detail_zh(self) -> str:
        return f"已用 {self.used}/{self.total} {_UNIT_ZH[self.unit]}" if self.unit else ""


_UNIT_ZH = {"days": "天", "months": "个月", "benefits": "次权益"}

# A rule's words: the lines that make up the refund and the explanation in Chinese and English.
Words = tuple[tuple[Line, ...], str, str]


@dataclass(slots=True)  # internal and built per quote: a frozen __init__ costs ~1 µs each
class _Outcome:
    """What one rule decides: the decision and the refund, computed once, and how to say it.

    ``words`` builds the lines and the explanation from the very amounts the rule computed; it is
    called only by :func:`quote_refund` (the full quote), never by :func:`decide_refund`, so a
    decision alone costs no text. The lines always add up to ``refund`` (checked)."""

    decision: Decision
    rule: str
    refund: int
    words: Callable[[], Words]


# --------------------------------------------------------------------------------------------
# Time helpers


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months(moment: datetime, months: int, tz: tzinfo) -> datetime:
    """Calendar months on the local wall clock; a day missing in the target month clamps to its
    last day (31 Jan + 1 month = 28/29 Feb)."""
    local = moment.astimezone(tz)
    carry, month0 = divmod(local.month - 1 + months, 12)
    year, month = local.year + carry, month0 + 1
    last = 29 if month == 2 and isleap(year) else _MONTH_DAYS[month]
    return local.replace(year=year, month=month, day=min(local.day, last))


def term_end(product: Product, activation: datetime, tz: tzinfo) -> datetime | None:
    term = product.term
    if term is None or term.permanent:
        return None
    if term.days is not None:
        return activation + term.days * ONE_DAY
    assert term.months is not None
    return add_months(activation, term.months, tz)


def _ceil_days(delta: timedelta) -> int:
    return -((-delta) // ONE_DAY)


# --------------------------------------------------------------------------------------------
# Periods, activation and use


def latest_period(order: Order, events: Iterable[Event], request_at: datetime, policy: Policy) -> Period:
    """Split the order's story into periods and return the latest one that began by the request.

    Events later than the request are ignored (RULES.md section 1).
    """
    known = sorted((e for e in events if e.at <= request_at), key=_AT)
    starts: list[tuple[datetime, int]] = [(order.paid_at, order.paid)]
    starts.extend((e.at, e.amount) for e in known if e.type is EventType.RENEWED)
    index = len(starts) - 1
    start, paid = starts[index]
    previous_start = starts[index - 1][0] if index else None
    in_period = tuple(e for e in known if e.at >= start) if index else tuple(known)

    activation: datetime | None = start if index else None
    used = False
    for event in in_period:
        kind = event.type
        if kind is EventType.BENEFIT_USED:
            used = True
        if activation is None and (
            kind is EventType.ACTIVATED
            or kind is EventType.BENEFIT_USED
            or (kind is EventType.TRIAL_CLAIMED and policy.trial_counts_as_activation)
        ):
            activation = event.at
    return Period(index, start, paid, previous_start, in_period, activation, used)


def _has(period: Period, kind: EventType) -> bool:
    return any(e.type is kind for e in period.events)


def used_share(
    product: Product,
    proration: Proration,
    period: Period,
    end_of_use: datetime,
    tz: tzinfo,
) -> UsedShare:
    """RULES.md section 4: how much of ``period.paid`` was consumed by ``end_of_use``."""
    a = period.activation
    if a is None or product.term is None or product.term.permanent:
        return UsedShare(0)
    if end_of_use < a:
        # Use ended (the merchant vanished) before this period was activated: nothing consumed.
        # Strictly before: at r = a RULES.md §4 still counts "at least 1" day or month.
        return UsedShare(0)
    term = product.term
    if proration is Proration.BY_DAY:
        total = term.days if term.days is not None else _days_in_months(a, term.months or 0, tz)
        used = min(max(_ceil_days(end_of_use - a), 1), total)
        return UsedShare(share(period.paid, used, total), used, total, "days")
    if proration is Proration.BY_MONTH:
        months = term.months or 0
        used = min(_months_begun(a, end_of_use, tz), months)
        return UsedShare(share(period.paid, used, months), used, months, "months")
    total = product.total_benefits
    counted = sum(
        e.count
        for e in period.events
        if e.type is EventType.BENEFIT_USED and e.at <= end_of_use and e.benefit in product.benefits
    )
    used = min(counted, total)
    return UsedShare(share(period.paid, used, total), used, total, "benefits")


@lru_cache(maxsize=512)  # pure; the same activation and moment under a second policy is looked up
def _months_begun(activation: datetime, end_of_use: datetime, tz: tzinfo) -> int:
    """The smallest ``k ≥ 1`` with ``activation + k months ≥ end_of_use`` (RULES.md §4, by_month).

    Found in at most two steps instead of trying k = 1, 2, …: ``activation + k months`` falls in
    the k-th calendar month after the activation's, so for every k that lands in a month before
    the end of use's it is earlier; the answer is the month difference, or the one after it."""
    start, end = activation.astimezone(tz), end_of_use.astimezone(tz)
    k = max(1, (end.year - start.year) * 12 + end.month - start.month)
    return k if add_months(activation, k, tz) >= end_of_use else k + 1


def _days_in_months(activation: datetime, months: int, tz: tzinfo) -> int:
    local = activation.astimezone(tz)
    return (add_months(local, months, tz).date() - local.date()).days


def clamp_fee(policy: Policy, left: int) -> int:
    """Fee = percent of what is left, rounded, clamped to [fee_min, fee_max], never above ``left``."""
    fee = percent_of(left, policy.fee_percent)
    fee = max(fee, policy.fee_min)
    if policy.fee_max is not None:
        fee = min(fee, policy.fee_max)
    return min(fee, max(left, 0))


# --------------------------------------------------------------------------------------------
# Lines and wording


def _paid_line(paid: int, period: Period) -> Line:
    if period.is_renewal:
        return Line("paid", paid, f"renewal no. {period.index}", f"第 {period.index} 次续费")
    return Line("paid", paid)


def _withheld(paid: int, rule: str) -> Line:
    # The detail is shown on the quote: the rule by its plain name, never its id alone.
    return Line("not_refundable", -paid, f"withheld under {label_en(rule)}", f"依「{label_zh(rule)}」不予退还")


def _full(decision: Decision, rule: str, period: Period, text: Callable[[], tuple[str, str]]) -> _Outcome:
    """The whole price of the period back; ``text`` says why (built only for a full quote)."""

    def words() -> Words:
        zh, en = text()
        return (_paid_line(period.paid, period),), zh, en

    return _Outcome(decision, rule, period.paid, words)


# The same few amounts recur in every sentence of a quote (and across quotes of one product):
# formatting each once is ~1 µs, which was a tenth of a quote's time.
_y = lru_cache(maxsize=4096)(format_yuan)


# --------------------------------------------------------------------------------------------
# The decision table


def _statutory(
    product: Product,
    policy: Policy,
    order: Order,
    events: Sequence[Event],
    request: RefundRequest,
    period: Period,
    tz: tzinfo,
) -> _Outcome | None:
    reason = request.reason
    paid = period.paid
    if reason is Reason.NOT_DELIVERED:
        delivered = _has(period, EventType.DELIVERED) or period.activation is not None
        if not delivered:
            return _full(
                Decision.AUTO_APPROVE,
                "S1",
                period,
                lambda: (
                    f"未到账(S1):没有发放或激活记录,全额退还 {_y(paid)} 元。",
                    f"Not delivered (rule S1): nothing was delivered or activated, so the full {_y(paid)} is refunded.",
                ),
            )
        return _full(
            Decision.REVIEW,
            "S1",
            period,
            lambda: (
                f"未到账(S1):记录显示已发放或已激活,需人工核实,核实后全额退还 {_y(paid)} 元。",
                f"Not delivered (rule S1): our records show delivery or activation, so a person checks;"
                f" if confirmed, the full {_y(paid)} is refunded.",
            ),
        )
    if reason is Reason.RENEWAL_WITHOUT_NOTICE and period.is_renewal:
        assert period.previous_start is not None
        deadline = period.start - RENEWAL_NOTICE_DAYS * ONE_DAY
        noticed = any(
            e.type is EventType.RENEWAL_NOTICE and period.previous_start < e.at <= deadline
            for e in events
            if e.at <= request.at
        )
        if not noticed:
            return _full(
                Decision.AUTO_APPROVE,
                "S2",
                period,
                lambda: (
                    f"自动续费前未提前 {RENEWAL_NOTICE_DAYS} 天提醒(S2):本次续费 {_y(paid)} 元全额退还。",
                    f"Renewed without a reminder at least {RENEWAL_NOTICE_DAYS} days before (rule S2):"
                    f" the renewal's {_y(paid)} is refunded in full.",
                ),
            )
        return None
    if reason is Reason.PLATFORM_FAULT:
        hours = sum((e.hours for e in period.events if e.type is EventType.OUTAGE), Decimal(0))
        if hours > OUTAGE_HOURS_FOR_AUTO_REFUND:
            return _full(
                Decision.AUTO_APPROVE,
                "S3",
                period,
                lambda: (
                    f"平台服务中断累计 {hours} 小时,超过 48 小时(S3):全额退还 {_y(paid)} 元,不收手续费。",
                    f"The platform was down {hours} hours in total, more than 48 (rule S3):"
                    f" the full {_y(paid)} is refunded, no fee.",
                ),
            )
        return _full(
            Decision.REVIEW,
            "S3",
            period,
            lambda: (
                f"平台违约或服务中断(S3):经核实后全额退还 {_y(paid)} 元,不收手续费,不受无理由期限限制。",
                f"Platform fault (rule S3): once a person confirms it, the full {_y(paid)} is refunded,"
                " no fee, whatever the cooling-off window.",
            ),
        )
    if reason is Reason.NOT_AS_DESCRIBED:
        return _full(
            Decision.REVIEW,
            "S4",
            period,
            lambda: (
                f"服务与描述不符(S4):经核实后全额退还 {_y(paid)} 元,不收手续费。",
                f"Not as described (rule S4): once a person confirms it, the full {_y(paid)} is refunded, no fee.",
            ),
        )
    if reason is Reason.MERCHANT_GONE:
        return _merchant_gone(product, policy, order, events, request, period, tz)
    return None


def _merchant_gone(
    product: Product,
    policy: Policy,
    order: Order,
    events: Sequence[Event],
    request: RefundRequest,
    period: Period,
    tz: tzinfo,
) -> _Outcome:
    gone_at = min(
        (e.at for e in events if e.type is EventType.MERCHANT_GONE and e.at <= request.at),
        default=None,
    )
    decision = Decision.AUTO_APPROVE if gone_at is not None else Decision.REVIEW
    paid = period.paid
    unmeasurable = (
        product.kind is ProductKind.MEMBERSHIP
        and product.term is not None
        and product.term.permanent
        and period.activation is not None
    ) or (product.kind is ProductKind.VIRTUAL_GOODS and _has(period, EventType.DELIVERED))
    if unmeasurable:
        return _Outcome(
            Decision.REVIEW,
            "S5",
            paid,
            lambda: (
                (Line("paid", paid, "the most that may be granted", "最多可退金额"),),
                f"商家失联(S5):已使用的部分无法计量,由专人核定金额,平台先行赔付,最多退还 {_y(paid)} 元。",
                f"Merchant gone (rule S5): the use cannot be measured, so a person sets the amount;"
                f" the platform advances it, up to {_y(paid)}.",
            ),
        )
    if product.kind is ProductKind.RECHARGE:
        spent = _spent(period)
        cash_spent = _cash_spent(order, period, spent)
        refund = paid - cash_spent
        return _Outcome(
            decision,
            "S5",
            refund,
            lambda: (
                (Line("paid", paid), _spent_line(order, spent, cash_spent)),
                f"商家失联,平台先行赔付(S5):现金 {_y(paid)} 元,已消费的现金 {_y(cash_spent)} 元不退,"
                f"退还 {_y(refund)} 元,不收手续费。",
                f"Merchant gone, the platform pays in advance (rule S5): cash {_y(paid)}, less"
                f" {_y(cash_spent)} of cash already spent, refund {_y(refund)}, no fee.",
            ),
        )
    end = gone_at if gone_at is not None else request.at
    used = used_share(product, policy.proration, period, end, tz)
    refund = paid - used.amount

    def words() -> Words:
        lines = (
            _paid_line(paid, period),
            Line("used_share", -used.amount, used.detail_en, used.detail_zh),
        )
        used_zh = f"扣除已使用部分 {_y(used.amount)} 元({used.detail_zh})" if used.unit else "无已使用部分"
        used_en = f"less {_y(used.amount)} used ({used.detail_en})" if used.unit else "nothing used"
        return (
            lines,
            f"商家失联,平台先行赔付(S5):实付 {_y(paid)} 元,{used_zh},退还 {_y(refund)} 元,不收手续费。",
            f"Merchant gone, the platform pays in advance (rule S5): paid {_y(paid)}, {used_en},"
            f" refund {_y(refund)}, no fee.",
        )

    return _Outcome(decision, "S5", refund, words)


def _spent(period: Period) -> int:
    return sum(e.amount for e in period.events if e.type is EventType.SPENT)


def _cash_spent(order: Order, period: Period, spent: int) -> int:
    """Cash spent from a top-up: bonus credit is spent first (R2)."""
    return min(max(spent - order.bonus, 0), period.paid)


def _spent_line(order: Order, spent: int, cash_spent: int) -> Line:
    from_bonus = min(spent, order.bonus)
    return Line(
        "cash_spent",
        -cash_spent,
        f"spent {_y(spent)}, of which {_y(from_bonus)} from bonus credit",
        f"已消费 {_y(spent)} 元,其中赠送余额 {_y(from_bonus)} 元",
    )


def _refused(rule: str, period: Period, zh: str, en: str) -> _Outcome:
    """Nothing refunded under ``rule``: the price, and the same amount withheld."""
    paid = period.paid
    return _Outcome(Decision.REJECT, rule, 0, lambda: ((_paid_line(paid, period), _withheld(paid, rule)), zh, en))


def _fee_words(policy: Policy, base: int, base_zh: str) -> tuple[str, str]:
    if not policy.fee_percent:
        return "no fee", "不收手续费"
    percent = f"{policy.fee_percent.normalize():f}"
    return f"{percent}% of {_y(base)}", f"{base_zh} {_y(base)} 元的 {percent}%"


_BASIS_ZH = {Proration.BY_DAY: "天", Proration.BY_MONTH: "月", Proration.BY_BENEFIT: "权益次数"}
_BASIS_EN = {Proration.BY_DAY: "day", Proration.BY_MONTH: "month", Proration.BY_BENEFIT: "benefit"}


def _membership(product: Product, policy: Policy, request: RefundRequest, period: Period, tz: tzinfo) -> _Outcome:
    paid = period.paid
    a = period.activation
    if a is None:
        return _full(
            Decision.AUTO_APPROVE,
            "P1",
            period,
            lambda: (
                f"会员尚未激活(P1):一键退订,全额退还 {_y(paid)} 元。",
                f"Membership not activated yet (rule P1): one-click refund of the full {_y(paid)}.",
            ),
        )
    if product.promo:
        return _refused(
            "P4",
            period,
            "限时优惠/特价商品已激活(P4):此类商品仅在激活前可退,不予退款。",
            "Special-offer product already activated (rule P4): it is refundable only before"
            " activation, so there is no refund.",
        )
    end = term_end(product, a, tz)
    if end is not None and request.at > end:
        ended = end.astimezone(tz).date().isoformat()
        return _refused(
            "P5",
            period,
            f"会员期限已于 {ended} 结束(P5):不予退款。",
            f"The membership term ended on {ended} (rule P5): there is nothing left to refund.",
        )
    within = policy.cooling_off_days > 0 and request.at < period.start + policy.cooling_off_days * ONE_DAY
    days = policy.cooling_off_days
    if within and policy.cooling_off is CoolingOff.FULL_IF_UNUSED and not period.used:
        return _full(
            Decision.REVIEW,
            "P6",
            period,
            lambda: (
                f"在 {days} 天无理由退订期内且未使用任何权益(P6):全额退还 {_y(paid)} 元,不收手续费。",
                f"Within the {days}-day cooling-off window and no benefit used (rule P6):"
                f" the full {_y(paid)} is refunded, no fee.",
            ),
        )
    if within and policy.cooling_off is CoolingOff.MINUS_USED_DAYS:
        used = used_share(product, Proration.BY_DAY, period, request.at, tz)
        refund = paid - used.amount

        def cooling_off_words() -> Words:
            lines = (
                _paid_line(paid, period),
                Line("used_share", -used.amount, used.detail_en, used.detail_zh),
            )
            if not used.unit:  # permanent: no days to divide
                return (
                    lines,
                    f"在 {days} 天无理由退订期内(P7):永久会员无天数可折算,全额退还 {_y(paid)} 元,不收手续费。",
                    f"Within the {days}-day cooling-off window (rule P7): a permanent membership has no days"
                    f" to divide, so the full {_y(paid)} is refunded, no fee.",
                )
            return (
                lines,
                f"在 {days} 天无理由退订期内(P7):实付 {_y(paid)} 元,扣除{used.detail_zh}的费用"
                f" {_y(used.amount)} 元,退还 {_y(refund)} 元,不收手续费。",
                f"Within the {days}-day cooling-off window (rule P7): paid {_y(paid)}, less"
                f" {_y(used.amount)} for {used.detail_en} used, refund {_y(refund)}, no fee.",
            )

        return _Outcome(Decision.REVIEW, "P7", refund, cooling_off_words)
    if end is None:
        return _refused(
            "P8",
            period,
            "永久会员已激活(P8):没有可按期折算的剩余部分,不予退款。",
            "Permanent membership already activated (rule P8): there is no remaining term to prorate,"
            " so there is no refund.",
        )
    used = used_share(product, policy.proration, period, request.at, tz)
    left = paid - used.amount
    fee = clamp_fee(policy, left)
    refund = left - fee

    def prorated_words() -> Words:
        fee_en, fee_zh = _fee_words(policy, left, "剩余")
        lines = (
            _paid_line(paid, period),
            Line("used_share", -used.amount, used.detail_en, used.detail_zh),
            Line("fee", -fee, fee_en, fee_zh),
        )
        head_zh = (
            f"已激活会员按{_BASIS_ZH[policy.proration]}折算(P9):实付 {_y(paid)} 元,{used.detail_zh}扣除"
            f" {_y(used.amount)} 元,手续费 {_y(fee)} 元,"
        )
        head_en = (
            f"Activated membership prorated by {_BASIS_EN[policy.proration]} (rule P9): paid {_y(paid)},"
            f" less {_y(used.amount)} for {used.detail_en} used and a fee of {_y(fee)},"
        )
        if refund <= 0:
            return (
                lines,
                head_zh + "可退金额为 0.00 元,因此不予退款。",
                head_en + " which leaves 0.00, so there is no refund.",
            )
        return lines, head_zh + f"可退 {_y(refund)} 元。", head_en + f" refund {_y(refund)}."

    return _Outcome(Decision.REJECT if refund <= 0 else Decision.REVIEW, "P9", refund, prorated_words)


def _virtual_goods(period: Period) -> _Outcome:
    paid = period.paid
    if not _has(period, EventType.DELIVERED):
        return _full(
            Decision.AUTO_APPROVE,
            "P2",
            period,
            lambda: (
                f"商品尚未发放(P2):一键退订,全额退还 {_y(paid)} 元。",
                f"Not delivered yet (rule P2): one-click refund of the full {_y(paid)}.",
            ),
        )
    return _refused(
        "P3",
        period,
        "虚拟商品已发放(P3):已交付的数字商品不适用七天无理由退货,不予退款;如未到账或商品有问题,请选择相应原因。",
        "Digital goods already delivered (rule P3): delivered digital goods are outside no-reason"
        " returns, so there is no refund; if they did not arrive or are faulty, choose that reason.",
    )


def _recharge(policy: Policy, order: Order, request: RefundRequest, period: Period) -> _Outcome:
    paid = period.paid
    spent = _spent(period)
    days = policy.cooling_off_days
    within = days > 0 and request.at < period.start + days * ONE_DAY
    if spent == 0 and within:
        return _full(
            Decision.AUTO_APPROVE,
            "R1",
            period,
            lambda: (
                f"充值 {days} 天内且未消费(R1):全额退还现金 {_y(paid)} 元,赠送余额一并收回。",
                f"Top-up within {days} days and nothing spent (rule R1): the full {_y(paid)} of cash is"
                " refunded; any bonus credit is withdrawn.",
            ),
        )
    cash_spent = _cash_spent(order, period, spent)
    withdrawable = paid - cash_spent
    fee = clamp_fee(policy, withdrawable)
    refund = withdrawable - fee

    def withdrawal_words() -> Words:
        fee_en, fee_zh = _fee_words(policy, withdrawable, "可提现")
        lines = (
            Line("paid", paid),
            _spent_line(order, spent, cash_spent),
            Line("fee", -fee, fee_en, fee_zh),
        )
        head_zh = (
            f"余额提现(R2):现金 {_y(paid)} 元,消费时先用赠送余额,已用掉的现金 {_y(cash_spent)} 元不退,"
            f"手续费 {_y(fee)} 元,"
        )
        head_en = (
            f"Balance withdrawal (rule R2): cash {_y(paid)}; spending uses bonus credit first, so"
            f" {_y(cash_spent)} of cash was spent; fee {_y(fee)},"
        )
        if refund <= 0:
            return (
                lines,
                head_zh + "可退 0.00 元,因此不予退款。",
                head_en + " which leaves 0.00, so there is no refund.",
            )
        return lines, head_zh + f"可退 {_y(refund)} 元。", head_en + f" refund {_y(refund)}."

    return _Outcome(Decision.REJECT if refund <= 0 else Decision.REVIEW, "R2", refund, withdrawal_words)


def coupon_returned(coupon: Coupon | None, refund: int) -> bool:
    """Whether a refund of ``refund`` fen gives the order's coupon back, as a coupon: a refundable
    coupon comes back with any refund; a refund of nothing leaves the order, coupon and all, as it
    was. The quote's line says it and the refund's arrival does it (aftersales/refunds.py), so
    both read this one rule."""
    return coupon is not None and coupon.refundable and refund > 0


def _coupon_line(order: Order, refund: int) -> Line | None:
    coupon = order.coupon
    if coupon is None:
        return None
    value = _y(coupon.value)
    if coupon_returned(coupon, refund):
        return Line("coupon", 0, f"coupon {value} returned as a coupon", f"优惠券 {value} 元以优惠券形式退回")
    if refund <= 0:
        return Line("coupon", 0, f"coupon {value} stays used by this order", f"优惠券 {value} 元随订单保留,不退回")
    return Line("coupon", 0, f"coupon {value} forfeited (not refundable)", f"优惠券 {value} 元不可退,作废")


def arrival_window(channel: Channel, approved: date, calendar: WorkCalendar) -> tuple[ArrivalWindow, frozenset[int]]:
    """When money approved on ``approved`` reaches the consumer through ``channel`` (RULES.md §5),
    and the years whose working days the calendar could only guess."""
    first, last = ARRIVAL_WORKING_DAYS[channel]
    earliest = calendar.add_working_days(approved, first)
    latest = calendar.add_working_days(approved, last)
    return ArrivalWindow(earliest.day, latest.day), earliest.warning_years | latest.warning_years


def _by_policy(
    product: Product, policy: Policy, order: Order, request: RefundRequest, period: Period, tz: tzinfo
) -> _Outcome:
    """The policy rules (P1–P9, R1–R2): what any reason without a matching statutory rule gets.
    They never read the reason, so this is also the ``changed_mind`` decision of §3a."""
    if product.kind is ProductKind.MEMBERSHIP:
        return _membership(product, policy, request, period, tz)
    if product.kind is ProductKind.VIRTUAL_GOODS:
        return _virtual_goods(period)
    return _recharge(policy, order, request, period)


def _checked(outcome: _Outcome, period: Period) -> _Outcome:
    refund = outcome.refund
    if not 0 <= refund <= period.paid:  # a broken rule, never a silent min(): fail loudly
        raise AssertionError(f"rule {outcome.rule} produced {refund} fen outside [0, {period.paid}]")
    return outcome


# RULES.md §3a: "faster" is the order of the decisions, auto_approve, then review, then reject.
_SPEED: dict[Decision, int] = {Decision.AUTO_APPROVE: 0, Decision.REVIEW: 1, Decision.REJECT: 2}


def _better(challenger: _Outcome, incumbent: _Outcome) -> bool:
    """Whether the policy outcome beats the statutory one: a larger refund, or the same refund
    decided faster. A full tie keeps the statutory outcome."""
    if challenger.refund != incumbent.refund:
        return challenger.refund > incumbent.refund
    return _SPEED[challenger.decision] < _SPEED[incumbent.decision]


# How a decision reaches the consumer, for the sentence that compares two of them.
_DECIDED_ZH = {
    Decision.AUTO_APPROVE: "无需人工审核、一键退款",
    Decision.REVIEW: "需人工审核",
    Decision.REJECT: "不予退款",
}
_DECIDED_EN = {
    Decision.AUTO_APPROVE: "refunded at once with no review",
    Decision.REVIEW: "reviewed by a person first",
    Decision.REJECT: "refused",
}


def _policy_wins(reason: Reason, winner: _Outcome, statutory: _Outcome) -> _Outcome:
    """The policy outcome, with a first sentence that says why it, not the reason the consumer
    chose, decides: the consumer should see that choosing that reason cost them nothing."""
    return _Outcome(winner.decision, winner.rule, winner.refund, lambda: _why_policy_wins(reason, winner, statutory))


def _why_policy_wins(reason: Reason, winner: _Outcome, statutory: _Outcome) -> Words:
    won, lost = winner.refund, statutory.refund
    lines, winner_zh, winner_en = winner.words()
    chose_zh, chose_en = REASON_NAMES[reason]
    s_zh, s_en = label_zh(statutory.rule), label_en(statutory.rule)
    p_zh, p_en = label_zh(winner.rule), label_en(winner.rule)
    if won > lost:
        why_zh = f"按「{s_zh}」可退 {_y(lost)} 元,按「{p_zh}」可退 {_y(won)} 元,对您更有利"
        why_en = f"under {s_en} the refund would be {_y(lost)}; under {p_en} it is {_y(won)}, which is more"
    else:
        why_zh = (
            f"按「{s_zh}」{_DECIDED_ZH[statutory.decision]},按「{p_zh}」{_DECIDED_ZH[winner.decision]},"
            f"金额同为 {_y(won)} 元,对您更快"
        )
        why_en = (
            f"under {s_en} it would be {_DECIDED_EN[statutory.decision]}; under {p_en} the same {_y(won)} is"
            f" {_DECIDED_EN[winner.decision]}, which is faster"
        )
    zh = f"您选择的原因是「{chose_zh}」:{why_zh},因此按后者处理。" + winner_zh
    en = f"You chose “{chose_en}”: {why_en}, so the latter applies. " + winner_en
    return lines, zh, en


def review_business_days(policy: Policy, rule: str) -> int:
    """The review deadline in working days. A statutory case (S rules) is never reviewed more
    slowly than the default: no policy may make the statutory rules stricter (RULES.md §3), and a
    long deadline would do exactly that. See docs/refund-rules-notes.md, gap F."""
    if rule.startswith("S"):
        return min(policy.review_business_days, DEFAULT_REVIEW_BUSINESS_DAYS)
    return policy.review_business_days


class Decided(NamedTuple):
    """The engine's decision alone: what :func:`decide_refund` returns. The same decision, refund,
    rule ids, price and period as the full :class:`Quote` of the same inputs, without its lines,
    explanation and dates (tested, tests/domain/test_decide_refund.py)."""

    decision: Decision
    refund: int
    rules: tuple[str, ...]
    paid: int
    period_index: int = 0


def _decide(
    product: Product,
    policy: Policy,
    order: Order,
    events: Sequence[Event],
    request: RefundRequest,
    tz: tzinfo,
    period: Period | None = None,
) -> tuple[_Outcome, tuple[str, ...], Period]:
    """The decision table walked once: the winning outcome, the rule ids, the period (split from
    the order's story here unless the caller already did, for the same policy's trial rule)."""
    if period is None:
        period = latest_period(order, events, request.at, policy)
    outcome = _statutory(product, policy, order, events, request, period, tz)
    if outcome is None:
        outcome = _checked(_by_policy(product, policy, order, request, period, tz), period)
        return outcome, (outcome.rule,), period
    # RULES.md §3a: the policy rules decide the same request as if it were a change of mind,
    # and the consumer gets the better outcome. Only here, so a request the policy rules
    # decide anyway is walked once (the engine's speed is benchmarked, bench/engine.py).
    _checked(outcome, period)
    other = _checked(_by_policy(product, policy, order, request, period, tz), period)
    if _better(other, outcome):
        outcome, other = _policy_wins(request.reason, other, outcome), outcome
    return outcome, (outcome.rule, other.rule), period


def decide_refund(
    product: Product,
    policy: Policy,
    order: Order,
    events: Sequence[Event],
    request: RefundRequest,
    tz: tzinfo,
) -> Decided:
    """The engine's decision for one request without its words or dates: what a replay of many
    requests needs (the policy simulation). The same rules as :func:`quote_refund`, walked by the
    same code; only the explanation, the lines' wording and the calendar are skipped. Pure."""
    outcome, rules, period = _decide(product, policy, order, events, request, tz)
    return Decided(outcome.decision, outcome.refund, rules, period.paid, period.index)


def decide_refunds(
    product: Product,
    policies: Sequence[Policy],
    order: Order,
    events: Sequence[Event],
    request: RefundRequest,
    tz: tzinfo,
) -> list[Decided]:
    """:func:`decide_refund` under each of ``policies`` for one request (a policy simulation's
    draft and current version): the order's story is split into periods once for all the
    policies that read a trial the same way, the rest is walked per policy. Pure."""
    periods: dict[bool, Period] = {}
    decided = []
    for policy in policies:
        period = periods.get(policy.trial_counts_as_activation)
        outcome, rules, period = _decide(product, policy, order, events, request, tz, period)
        periods[policy.trial_counts_as_activation] = period
        decided.append(Decided(outcome.decision, outcome.refund, rules, period.paid, period.index))
    return decided


def quote_refund(
    product: Product,
    policy: Policy,
    order: Order,
    events: Sequence[Event],
    request: RefundRequest,
    calendar: WorkCalendar,
    tz: tzinfo,
) -> Quote:
    """The engine's answer for one request: :func:`decide_refund`'s decision with its lines, its
    explanation and its dates. Pure: same inputs, same quote."""
    outcome, rules, period = _decide(product, policy, order, events, request, tz)
    refund = outcome.refund
    lines, zh, en = outcome.words()
    if sum(line.amount for line in lines) != refund:  # the words must say the amount decided
        raise AssertionError(f"rule {outcome.rule}: lines add up to {sum(line.amount for line in lines)}, not {refund}")
    # The coupon paid part of the purchase only: a renewal was charged in full cash, so refunding
    # it neither returns nor forfeits the purchase's coupon.
    coupon = _coupon_line(order, refund) if not period.is_renewal else None
    if coupon is not None:
        lines = (*lines, coupon)

    request_day = request.at.astimezone(tz).date()
    review_due: date | None = None
    arrival: ArrivalWindow | None = None
    warning_years: frozenset[int] = frozenset()
    if outcome.decision is Decision.REVIEW:
        due = calendar.add_working_days(request_day, review_business_days(policy, outcome.rule))
        review_due, warning_years = due.day, due.warning_years
        zh += f"需人工审核,最迟 {review_due.isoformat()} 前给出结果,逾期将自动升级处理。"
        en += f" A person reviews it by {review_due.isoformat()}; if not, it is escalated automatically."
    elif outcome.decision is Decision.AUTO_APPROVE:
        arrival, warning_years = arrival_window(order.channel, request_day, calendar)
        if order.channel is Channel.BALANCE:
            zh += "无需人工审核,立即退回平台余额。"
            en += " No review needed; the money returns to your balance at once."
        else:
            zh += f"无需人工审核,原路退回,预计 {arrival.earliest.isoformat()} 至 {arrival.latest.isoformat()} 到账。"
            en += (
                f" No review needed; it goes back to the original payment method and arrives between"
                f" {arrival.earliest.isoformat()} and {arrival.latest.isoformat()}."
            )
    else:
        zh += f"如有异议,可在 {APPEAL_DAYS} 天内申诉。"
        en += f" If you disagree, you may appeal within {APPEAL_DAYS} days."

    return Quote(
        decision=outcome.decision,
        refund=refund,
        rules=rules,
        lines=lines,
        explanation_zh=zh,
        explanation_en=en,
        review_due=review_due,
        arrival=arrival,
        calendar_warning=calendar_warning(warning_years),
        paid=period.paid,
        period_index=period.index,
    )


__all__ = [
    "ARRIVAL_WORKING_DAYS",
    "ArrivalWindow",
    "Decided",
    "Line",
    "Period",
    "Quote",
    "UsedShare",
    "add_months",
    "arrival_window",
    "clamp_fee",
    "coupon_returned",
    "decide_refund",
    "decide_refunds",
    "latest_period",
    "quote_refund",
    "term_end",
    "used_share",
]
