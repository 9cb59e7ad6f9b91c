"""The nouns of a refund decision: products, policies, orders, events and requests.

Everything here is immutable and validated on construction; an invalid value raises
:class:`DomainError` naming the field (``policy.fee_min``) so that every entry point (API, CLI,
scenario file, policy editor) can answer with what is wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# Upper bounds RULES.md does not state. Beyond them the dates a quote needs (a term's end, the
# window's end, the review deadline) fall past what ``datetime`` can hold, or counting working
# days one by one would take minutes: an API request or a scenario must get "what and where",
# never a crash or a hung worker. A century is far beyond any real membership or window.
MAX_TERM_DAYS = 36500
MAX_TERM_MONTHS = 1200
MAX_COOLING_OFF_DAYS = 36500
MAX_REVIEW_BUSINESS_DAYS = 365
FEE_PERCENT_PLACES = 6
FEE_PERCENT_STEP = Decimal(1).scaleb(-FEE_PERCENT_PLACES)
# An outage is told in hours to the hundredth (36 seconds), at most a year of them.
OUTAGE_HOURS_PLACES = 2
MAX_OUTAGE_HOURS = Decimal(24 * 366)


class DomainError(ValueError):
    """A value that breaks a rule; ``where`` is the dotted path of the offending field."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


class ProductKind(StrEnum):
    MEMBERSHIP = "membership"
    VIRTUAL_GOODS = "virtual_goods"
    RECHARGE = "recharge"


class CoolingOff(StrEnum):
    FULL_IF_UNUSED = "full_if_unused"
    MINUS_USED_DAYS = "minus_used_days"
    NONE = "none"


class Proration(StrEnum):
    BY_DAY = "by_day"
    BY_MONTH = "by_month"
    BY_BENEFIT = "by_benefit"


class Channel(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    BANK_CARD = "bank_card"
    BALANCE = "balance"


class Reason(StrEnum):
    CHANGED_MIND = "changed_mind"
    MISTAKEN_PURCHASE = "mistaken_purchase"
    DUPLICATE_PURCHASE = "duplicate_purchase"
    NOT_AS_DESCRIBED = "not_as_described"
    PLATFORM_FAULT = "platform_fault"
    NOT_DELIVERED = "not_delivered"
    MERCHANT_GONE = "merchant_gone"
    RENEWAL_WITHOUT_NOTICE = "renewal_without_notice"


class EventType(StrEnum):
    ACTIVATED = "activated"
    BENEFIT_USED = "benefit_used"
    TRIAL_CLAIMED = "trial_claimed"
    DELIVERED = "delivered"
    OUTAGE = "outage"
    RENEWAL_NOTICE = "renewal_notice"
    RENEWED = "renewed"
    MERCHANT_GONE = "merchant_gone"
    SPENT = "spent"


class OrderEventType(StrEnum):
    """Everything written on an order's timeline: the engine's evidence (the values of
    :class:`EventType`, same spelling) and the platform's own record of each status change."""

    ACTIVATED = "activated"
    BENEFIT_USED = "benefit_used"
    TRIAL_CLAIMED = "trial_claimed"
    DELIVERED = "delivered"
    OUTAGE = "outage"
    RENEWAL_NOTICE = "renewal_notice"
    RENEWED = "renewed"
    MERCHANT_GONE = "merchant_gone"
    SPENT = "spent"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    ORDER_EXPIRED = "order_expired"
    ORDER_CANCELLED = "order_cancelled"
    KEY_RESERVED = "key_reserved"
    KEY_RELEASED = "key_released"
    KEY_REVEALED = "key_revealed"
    MEMBERSHIP_EXPIRED = "membership_expired"
    CLOSED = "closed"
    COUPON_RETURNED = "coupon_returned"  # a refund gave the order's coupon back, as a new coupon
    LATE_PAYMENT_RETURNING = "late_payment_returning"
    LATE_PAYMENT_RETURNED = "late_payment_returned"
    LATE_PAYMENT_RETURN_FAILED = "late_payment_return_failed"
    # Auto-renewal (subscriptions): the record of each decision and failure, beside `renewed`.
    AUTO_RENEW_CANCELLED = "auto_renew_cancelled"
    RENEWAL_CHARGE_FAILED = "renewal_charge_failed"
    AUTO_RENEW_LAPSED = "auto_renew_lapsed"


class Decision(StrEnum):
    AUTO_APPROVE = "auto_approve"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Term:
    """A membership's length: ``days`` or calendar ``months``, or ``permanent`` (neither)."""

    days: int | None = None
    months: int | None = None

    def __post_init__(self) -> None:
        if self.days is not None and self.months is not None:
            raise DomainError("product.term", "give either days or months, not both")
        for name, value in (("days", self.days), ("months", self.months)):
            if value is not None and value < 1:
                raise DomainError(f"product.term.{name}", f"must be a whole number ≥ 1, got {value}")
        for name, value, most in (("days", self.days, MAX_TERM_DAYS), ("months", self.months, MAX_TERM_MONTHS)):
            if value is not None and value > most:
                raise DomainError(f"product.term.{name}", f"must be at most {most}, got {value}")

    @property
    def permanent(self) -> bool:
        return self.days is None and self.months is None

    def describe(self) -> tuple[str, str]:
        """(zh, en) words for the term."""
        if self.days is not None:
            return f"{self.days} 天", f"{self.days} days"
        if self.months is not None:
            return f"{self.months} 个月", f"{self.months} months"
        return "永久", "permanent"


PERMANENT = Term()


@dataclass(frozen=True, slots=True)
class Product:
    kind: ProductKind
    price: int
    term: Term | None = None
    promo: bool = False
    benefits: dict[str, int] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind is ProductKind.MEMBERSHIP and self.term is None:
            raise DomainError("product.term", "a membership needs a term ({days: N}, {months: N} or permanent)")
        if self.kind is not ProductKind.MEMBERSHIP and self.term is not None:
            raise DomainError("product.term", f"only a membership has a term, not {self.kind.value}")
        if self.price < 0:
            raise DomainError("product.price", "must not be negative")
        for benefit, count in self.benefits.items():
            if count < 1:
                raise DomainError(f"product.benefits.{benefit}", f"must be a whole number ≥ 1, got {count}")

    @property
    def total_benefits(self) -> int:
        return sum(self.benefits.values())


@dataclass(frozen=True, slots=True)
class Policy:
    """A product's refund options (RULES.md section 2). Validate against a product with
    :meth:`check_against` before use: some combinations only make sense for some terms."""

    cooling_off_days: int = 7
    cooling_off: CoolingOff = CoolingOff.FULL_IF_UNUSED
    proration: Proration = Proration.BY_DAY
    fee_percent: Decimal = Decimal(0)
    fee_min: int = 0
    fee_max: int | None = None
    review_business_days: int = 2
    trial_counts_as_activation: bool = True

    def __post_init__(self) -> None:
        if self.cooling_off_days < 0:
            raise DomainError("policy.cooling_off_days", f"must not be negative, got {self.cooling_off_days}")
        if self.cooling_off_days > MAX_COOLING_OFF_DAYS:
            raise DomainError(
                "policy.cooling_off_days", f"must be at most {MAX_COOLING_OFF_DAYS}, got {self.cooling_off_days}"
            )
        if not self.fee_percent.is_finite() or not Decimal(0) <= self.fee_percent <= Decimal(100):
            raise DomainError("policy.fee_percent", f"must be between 0 and 100, got {self.fee_percent}")
        if self.fee_percent != self.fee_percent.quantize(FEE_PERCENT_STEP):
            # Also a guard: "1e-10000000" is between 0 and 100, but its exact ratio has a
            # ten-million-digit denominator, and computing the fee with it takes minutes.
            raise DomainError("policy.fee_percent", f"must have at most 6 decimals, got {self.fee_percent}")
        if self.fee_min < 0:
            raise DomainError("policy.fee_min", "must not be negative")
        if self.fee_max is not None and self.fee_max < 0:
            raise DomainError("policy.fee_max", "must not be negative")
        if self.fee_max is not None and self.fee_min > self.fee_max:
            raise DomainError("policy.fee_min", "must not be greater than policy.fee_max")
        if self.review_business_days < 1:
            raise DomainError("policy.review_business_days", f"must be at least 1, got {self.review_business_days}")
        if self.review_business_days > MAX_REVIEW_BUSINESS_DAYS:
            raise DomainError(
                "policy.review_business_days",
                f"must be at most {MAX_REVIEW_BUSINESS_DAYS}, got {self.review_business_days}",
            )

    def check_against(self, product: Product) -> None:
        """Reject a policy that cannot be applied to this product, naming the option."""
        if self.proration is Proration.BY_MONTH and product.term is not None and product.term.days is not None:
            raise DomainError("policy.proration", "by_month cannot measure a term given in days; use by_day")
        if self.proration is Proration.BY_BENEFIT and not product.benefits:
            raise DomainError(
                "policy.proration", "by_benefit needs the product's countable benefits (product.benefits)"
            )


@dataclass(frozen=True, slots=True)
class Coupon:
    value: int
    refundable: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    paid: int
    paid_at: datetime
    channel: Channel
    bonus: int = 0
    coupon: Coupon | None = None
    auto_renew: bool = False

    def __post_init__(self) -> None:
        if self.paid_at.tzinfo is None:
            raise DomainError("order.paid_at", "needs a time zone offset")


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to an order; the engine reads only these, never free text."""

    at: datetime
    type: EventType
    benefit: str | None = None
    count: int = 1
    hours: Decimal = Decimal(0)
    amount: int = 0  # fen: `paid` of a `renewed` event, `amount` of a `spent` event


@dataclass(frozen=True, slots=True)
class RefundRequest:
    at: datetime
    reason: Reason
