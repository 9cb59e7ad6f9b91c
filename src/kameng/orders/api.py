"""The REST API, ``/api/v1``: products, orders, order events, the quote, payments.

Integrators sign in with ``POST /api/v1/auth/token`` and send ``Authorization: Bearer <token>``.
Every handler is a thin adapter: parse and validate the request (Pydantic), call one service,
shape the answer. Amounts travel as strings of yuan (``"9.90"``) beside integer fen
(``*_fen``), never as floats. Errors are ``{"error": {code, field, message, message_zh}}``; a
consumer asking for another consumer's order gets the same 404 as for one that does not exist.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kameng.domain.model import Channel, EventType, Reason
from kameng.domain.money import format_yuan
from kameng.domain.refund import Quote
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.models import OrderEventRow, OrderRow, PaymentRow
from kameng.orders.payments import cancel_unpaid_order, handle_payment_notification
from kameng.orders.queries import list_orders, order_view
from kameng.orders.usage import record_platform_event, record_usage, reveal_card_key
from kameng.platform.errors import Conflict, InvalidInput, ServiceError
from kameng.web.auth import CurrentUser, viewer
from kameng.web.deps import ContainerDep, IdempotencyKey
from kameng.web.errors import ERROR_RESPONSE, Text

router = APIRouter(prefix="/api/v1")
SIGNATURE_HEADER = "X-Sim-Signature"


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: str = Field(min_length=1, max_length=80, description="The product's slug", examples=["monthly-pass"])
    channel: Channel
    coupon: str | None = Field(default=None, max_length=40)
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
    benefit: str | None = Field(default=None, max_length=80)
    hours: Decimal | None = Field(default=None, gt=0, description="Outage length in hours")
    note: str = Field(default="", max_length=500)


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
    rules: list[str]
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


def _order_fields(order: OrderRow) -> dict[str, Any]:
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


def _event_out(row: OrderEventRow) -> EventOut:
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


def _payment_out(row: PaymentRow) -> PaymentOut:
    return PaymentOut(
        out_trade_no=row.out_trade_no,
        channel=row.channel.value,
        status=row.status.value,
        amount=format_yuan(row.amount_fen),
        amount_fen=row.amount_fen,
        settled_at=row.settled_at,
    )


def _quote_out(order_no: str, reason: Reason, at: datetime, quote: Quote) -> QuoteOut:
    data = quote.to_dict()
    lines = [QuoteLineOut.model_validate({**line.to_dict(), "amount_fen": line.amount}) for line in quote.lines]
    return QuoteOut.model_validate(
        {**data, "order_no": order_no, "reason": reason.value, "as_of": at, "refund_fen": quote.refund, "lines": lines}
    )


# --------------------------------------------------------------------------------------------
# Orders

OrderNo = Annotated[str, Path(min_length=1, max_length=20, description="14 digits")]


@router.post(
    "/orders",
    tags=["orders"],
    summary="Place an order",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A retry with an Idempotency-Key already used: the same order", "model": PlacedOrderOut},
        409: {"description": "`duplicate_purchase` (send duplicate_ack), `sold_out`, `idempotency_key_reused`"},
        422: ERROR_RESPONSE,
    },
)
def create_order(
    body: OrderRequest,
    response: Response,
    user: CurrentUser,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> PlacedOrderOut:
    """Create the order (and reserve its card key). Pay with the channel at ``pay_url``; a balance
    payment is settled at once."""
    placed = place_order(
        container.uow(),
        CheckoutRequest(
            user_id=user.id,
            product_slug=body.product,
            channel=body.channel,
            coupon_code=body.coupon or None,
            auto_renew=body.auto_renew,
            nonrefundable_ack=body.nonrefundable_ack,
            duplicate_ack=body.duplicate_ack,
            idempotency_key=idempotency_key,
        ),
        container.now(),
        container.payments,
    )
    if placed.replayed:
        response.status_code = status.HTTP_200_OK
    return PlacedOrderOut(
        order_no=placed.order_no,
        status=placed.status.value,
        amount=format_yuan(placed.amount_fen),
        amount_fen=placed.amount_fen,
        out_trade_no=placed.out_trade_no,
        pay_url=placed.pay_url,
        replayed=placed.replayed,
    )


@router.get("/orders", tags=["orders"], summary="My orders, newest first")
def get_orders(
    user: CurrentUser, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[OrderOut]:
    return [OrderOut(**_order_fields(order)) for order in list_orders(container.uow(), viewer(user), limit)]


@router.get(
    "/orders/{order_no}",
    tags=["orders"],
    summary="One order with its timeline",
    responses={404: {"description": "No such order, or another consumer's"}},
)
def get_order(order_no: OrderNo, user: CurrentUser, container: ContainerDep) -> OrderDetailOut:
    """The buyer sees their own orders; staff may read any. Card keys are never in this answer."""
    view = order_view(container.uow(), viewer(user), order_no, container.now(), container.calendar)
    membership = view.membership
    return OrderDetailOut(
        **_order_fields(view.order),
        membership=MembershipOut(
            status=membership.status.value,
            activated_at=membership.activated_at,
            expires_at=membership.expires_at,
            auto_renew=membership.auto_renew,
        )
        if membership
        else None,
        card_key_status=view.card_key.status.value if view.card_key else None,
        payments=[_payment_out(row) for row in view.payments],
        events=[_event_out(row) for row in view.events],
        actions=view.actions,
    )


@router.post(
    "/orders/{order_no}/cancel",
    tags=["orders"],
    summary="Cancel an unpaid order",
    responses={404: ERROR_RESPONSE, 409: {"description": "`not_cancellable`: only unpaid orders"}},
)
def cancel_order(order_no: OrderNo, user: CurrentUser, container: ContainerDep) -> OrderOut:
    uow_viewer = viewer(user)
    cancel_unpaid_order(container.uow(), uow_viewer, order_no, container.now())
    view = order_view(container.uow(), uow_viewer, order_no, container.now(), container.calendar)
    return OrderOut(**_order_fields(view.order))


BUYER_ACTIONS = {"activated": "activate", "trial_claimed": "claim_trial", "benefit_used": "use_benefit"}


@router.post(
    "/orders/{order_no}/events",
    tags=["order events"],
    summary="Record what happened: activation, benefit use, trial, outage, merchant gone",
    status_code=status.HTTP_201_CREATED,
    responses={404: ERROR_RESPONSE, 409: ERROR_RESPONSE, 422: ERROR_RESPONSE},
)
def create_event(order_no: OrderNo, body: EventRequest, user: CurrentUser, container: ContainerDep) -> EventOut:
    """The buyer records ``activated``, ``trial_claimed`` and ``benefit_used``; staff record
    ``outage`` (with ``hours``) and ``merchant_gone``. These are the events the refund engine reads."""
    who = viewer(user)
    if body.type in BUYER_ACTIONS:
        event = record_usage(container.uow(), who, order_no, BUYER_ACTIONS[body.type], container.now(), body.benefit)
    else:
        event = record_platform_event(
            container.uow(), who, order_no, EventType(body.type), container.now(), hours=body.hours, note=body.note
        )
    return _event_out(event)


@router.get(
    "/orders/{order_no}/quote",
    tags=["refunds"],
    summary="The refund quote as of now",
    responses={404: ERROR_RESPONSE, 409: {"description": "`not_paid`: only a paid order has a quote"}},
)
def get_quote(
    order_no: OrderNo,
    user: CurrentUser,
    container: ContainerDep,
    reason: Reason = Reason.CHANGED_MIND,
) -> QuoteOut:
    """What the engine would refund if asked now, with its lines and explanation (SCENARIOS.md shape)."""
    now = container.now()
    view = order_view(container.uow(), viewer(user), order_no, now, container.calendar, reason)
    if view.quote is None:
        raise Conflict("not_paid", "订单未支付或已关闭,没有退款报价", "Only a paid order has a refund quote", "status")
    return _quote_out(order_no, reason, now, view.quote)


@router.post(
    "/orders/{order_no}/card-key",
    tags=["orders"],
    summary="Reveal the card key (buyer only)",
    responses={404: ERROR_RESPONSE, 409: {"description": "`no_key`: nothing delivered"}},
)
def reveal_key(order_no: OrderNo, response: Response, user: CurrentUser, container: ContainerDep) -> CardKeyOut:
    """The delivered key's code, to its buyer only; the first reveal is recorded on the timeline."""
    code = reveal_card_key(container.uow(), viewer(user), order_no, container.now())
    response.headers["Cache-Control"] = "no-store"
    return CardKeyOut(order_no=order_no, code=code)


# --------------------------------------------------------------------------------------------
# Payments


@router.post(
    "/payments/notify/simulator",
    tags=["payments"],
    summary="The simulator channel's signed payment notification",
    responses={400: {"description": "`bad_signature`: the signature does not match the body"}, 404: ERROR_RESPONSE},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "description": "Signed as sent"}}},
        },
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "HMAC-SHA256 of the exact body bytes",
            }
        ],
    },
)
async def simulator_notify(request: Request, container: ContainerDep) -> PaymentResultOut:
    """Applied once: a replay answers ``duplicate`` and changes nothing. Money for an order that
    has already expired is sent back (``returned``)."""
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    try:
        result = await run_in_threadpool(
            handle_payment_notification, container.uow(), body, signature, container.payments, container.now()
        )
    except InvalidInput as error:
        if error.code != "bad_signature":
            raise
        # A forged or mangled callback is a bad request, not a form to correct.
        raise ServiceError(error.code, error.message_zh, error.message_en, SIGNATURE_HEADER) from None
    return PaymentResultOut.model_validate({"result": result})
