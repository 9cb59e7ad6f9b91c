"""The shapes of orders on the REST API: request and response models, and how rows map onto them.

Amounts travel as strings of yuan beside integer fen, never as floats. Other features' APIs reuse
:class:`EventOut` and :func:`event_out` from here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kameng.domain.model import Channel, Reason
from kameng.domain.money import format_yuan
from kameng.domain.refund import Quote
from kameng.orders.models import OrderEventRow, OrderRow, PaymentRow
from kameng.platform.inputs import BenefitName, CouponCode, Hours, Note, SlugText
from kameng.web.errors import Text


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: SlugText = Field(description="The product's slug", examples=["monthly-pass"])
    channel: Channel
    coupon: CouponCode | None = None
    auto_renew: bool = Field(default=False, description="Consent to auto-renewal; never assumed")
    nonrefundable_ack: bool = Field(default=False, description="Required for virtual goods")
    duplicate_ack: bool = Field(default=False, description="Buy again although bought within 24 hours")


class PlacedOrderOut(BaseModel):
    order_no: str
    status: str
    amount: str
    amount_fen: int
    out_trade_no: str | None
    pay_url: str | None
    replayed: bool = Field(description="True when an earlier request with the same Idempotency-Key made it")


class OrderOut(BaseModel):
    order_no: str
    status: str
    product: str
    product_name: Text
    kind: str
    channel: str
    list_price: str
    list_price_fen: int
    coupon: str
    coupon_fen: int
    amount: str
    amount_fen: int
    bonus: str
    bonus_fen: int
    auto_renew: bool
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None


class MembershipOut(BaseModel):
    status: str
    activated_at: datetime | None
    expires_at: datetime | None
    auto_renew: bool


class PaymentOut(BaseModel):
    out_trade_no: str
    channel: str
    status: str
    amount: str
    amount_fen: int
    settled_at: datetime | None


class EventOut(BaseModel):
    type: str
    at: datetime
    actor_role: str
    benefit: str | None
    hours: str | None
    amount: str
    amount_fen: int
    note: str


class OrderDetailOut(OrderOut):
    membership: MembershipOut | None
    card_key_status: str | None = Field(description="The key itself only via POST .../card-key")
    payments: list[PaymentOut]
    events: list[EventOut]
    actions: list[str]


class EventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["activated", "trial_claimed", "benefit_used", "outage", "merchant_gone"]
    benefit: BenefitName | None = None
    hours: Hours | None = Field(
        default=None, description='Outage length in hours, to the hundredth: "1.5" (more than 0, at most 8784)'
    )
    note: Note = ""


class QuoteLineOut(BaseModel):
    code: str
    amount: str
    amount_fen: int
    detail: str | None = None
    detail_zh: str | None = None


class ArrivalOut(BaseModel):
    earliest: date
    latest: date


class QuoteOut(BaseModel):
    order_no: str
    reason: str
    as_of: datetime
    decision: str
    refund: str
    refund_fen: int
    currency: str
    rules: list[str] = Field(
        description="Rule ids of RULES.md, the deciding one first; when a statutory rule matched, the"
        " change-of-mind rule it was compared with second (RULES.md §3a)"
    )
    lines: list[QuoteLineOut]
    explanation: Text
    review_due: date | None
    arrival: ArrivalOut | None
    calendar_warning: str | None


class CardKeyOut(BaseModel):
    order_no: str
    code: str


class PaymentResultOut(BaseModel):
    result: Literal["paid", "failed", "returned", "duplicate"]


def order_fields(order: OrderRow) -> dict[str, Any]:
    product = order.product
    return {
        "order_no": order.order_no,
        "status": order.status.value,
        "product": product.slug,
        "product_name": {"zh": product.name_zh, "en": product.name_en},
        "kind": product.kind.value,
        "channel": order.channel.value,
        "list_price": format_yuan(order.list_price_fen),
        "list_price_fen": order.list_price_fen,
        "coupon": format_yuan(order.coupon_fen),
        "coupon_fen": order.coupon_fen,
        "amount": format_yuan(order.amount_fen),
        "amount_fen": order.amount_fen,
        "bonus": format_yuan(order.bonus_fen),
        "bonus_fen": order.bonus_fen,
        "auto_renew": order.auto_renew,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
    }


def event_out(row: OrderEventRow) -> EventOut:
    return EventOut(
        type=row.type,
        at=row.at,
        actor_role=row.actor_role,
        benefit=row.benefit,
        hours=row.hours,
        amount=format_yuan(row.amount_fen),
        amount_fen=row.amount_fen,
        note=row.note,
    )


def payment_out(row: PaymentRow) -> PaymentOut:
    return PaymentOut(
        out_trade_no=row.out_trade_no,
        channel=row.channel.value,
        status=row.status.value,
        amount=format_yuan(row.amount_fen),
        amount_fen=row.amount_fen,
        settled_at=row.settled_at,
    )


def quote_out(order_no: str, reason: Reason, at: datetime, quote: Quote) -> QuoteOut:
    data = quote.to_dict()
    lines = [QuoteLineOut.model_validate({**line.to_dict(), "amount_fen": line.amount}) for line in quote.lines]
    return QuoteOut.model_validate(
        {**data, "order_no": order_no, "reason": reason.value, "as_of": at, "refund_fen": quote.refund, "lines": lines}
    )
