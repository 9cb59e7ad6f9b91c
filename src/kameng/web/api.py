"""The REST API, ``/api/v1``: products, orders, order events, the quote, payments.

Integrators sign in with ``POST /api/v1/auth/token`` and send ``Authorization: Bearer <token>``.
Every handler is a thin adapter: parse and validate the request (Pydantic), call one service,
shape the answer. Amounts travel as strings of yuan (``"9.90"``) beside integer fen
(``*_fen``), never as floats. Errors are ``{"error": {code, field, message, message_zh}}``; a
consumer asking for another consumer's order gets the same 404 as for one that does not exist.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature as BadTokenSignature
from itsdangerous import SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kameng.adapters.db.models import OrderEventRow, OrderRow, PaymentRow, User
from kameng.domain.model import Channel, EventType, Reason
from kameng.domain.money import format_yuan
from kameng.domain.refund import Quote
from kameng.services.accounts import authenticate, get_user, sign_up
from kameng.services.catalog import CatalogItem, get_catalog_item, list_catalog
from kameng.services.errors import Conflict, InvalidInput, ServiceError, not_found
from kameng.services.orders import (
    CheckoutRequest,
    Viewer,
    cancel_unpaid_order,
    handle_payment_notification,
    list_orders,
    order_view,
    place_order,
    record_platform_event,
    record_usage,
    reveal_card_key,
    simulate_payer,
)
from kameng.web.deps import Container, ContainerDep, IdempotencyKey

router = APIRouter(prefix="/api/v1")

TOKEN_SALT = "kameng-api-token"
TOKEN_TTL_SECONDS = 24 * 3600
SIGNATURE_HEADER = "X-Sim-Signature"

ERROR_RESPONSE: dict[str, Any] = {"description": '`{"error": {code, field, message, message_zh}}`'}


# --------------------------------------------------------------------------------------------
# Errors


class Unauthorized(ServiceError):
    status = 401


def _unauthorized(en: str, zh: str) -> Unauthorized:
    return Unauthorized("unauthorized", zh, en, "Authorization")


def _field_name(loc: tuple[int | str, ...]) -> str:
    """``("body", "product")`` → ``product``; ``("header", "Idempotency-Key")`` → ``Idempotency-Key``."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"} and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if not request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, error)
    problems = [
        {"field": _field_name(tuple(item.get("loc", ()))), "message": str(item.get("msg", "invalid"))}
        for item in error.errors()
    ]
    names = ", ".join(dict.fromkeys(problem["field"] or "body" for problem in problems))
    body = {
        "error": {
            "code": "invalid_request",
            "field": problems[0]["field"] if problems else None,
            "message": f"Check these fields: {names}",
            "message_zh": f"请检查以下字段:{names}",
            "errors": problems,
        }
    }
    return JSONResponse(jsonable_encoder(body), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors on ``/api/`` paths answer 422 with one readable entry per field; page
    requests keep FastAPI's default answer."""
    app.add_exception_handler(RequestValidationError, _validation_error)


# --------------------------------------------------------------------------------------------
# Tokens and the current user


def _serializer(container: Container) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(container.settings.secret_key, salt=TOKEN_SALT)


def issue_token(container: Container, user_id: int) -> tuple[str, datetime]:
    # itsdangerous stamps and checks tokens against the wall clock, so expires_at is told on that
    # clock too (not container.now(), which tests move).
    token = _serializer(container).dumps({"uid": user_id})
    return token, datetime.fromtimestamp(int(time.time()) + TOKEN_TTL_SECONDS, UTC)


bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def current_user(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The signed-in user from the bearer token, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("Send Authorization: Bearer <token>", "请在 Authorization 头中携带 Bearer 令牌")
    try:
        data = _serializer(container).loads(credentials.credentials, max_age=TOKEN_TTL_SECONDS)
    except SignatureExpired:
        raise _unauthorized("The token has expired; ask for a new one", "令牌已过期,请重新获取") from None
    except BadTokenSignature:
        raise _unauthorized("The token is not valid", "令牌无效") from None
    user_id = data.get("uid") if isinstance(data, dict) else None
    user = get_user(container.uow(), user_id) if isinstance(user_id, int) else None
    if user is None:
        raise _unauthorized("The token's account no longer exists", "令牌对应的账户不存在")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def viewer(user: User) -> Viewer:
    return Viewer(user.id, user.role)


# --------------------------------------------------------------------------------------------
# Models


class Text(BaseModel):
    zh: str
    en: str


class TokenRequest(BaseModel):
    identifier: str = Field(min_length=1, max_length=254, examples=["13800000001"])
    password: str = Field(min_length=1, max_length=200, examples=["kameng-demo-2026"])


class SignupRequest(TokenRequest):
    display_name: str = Field(default="", max_length=100)


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


class SignupOut(TokenOut):
    user_id: int
    role: str


class PolicyOut(BaseModel):
    version: int
    cooling_off_days: int
    cooling_off: str
    proration: str
    fee_percent: str = Field(description='Exact decimal text, e.g. "1.5"')
    fee_min: str
    fee_min_fen: int
    fee_max: str | None
    fee_max_fen: int | None
    review_business_days: int
    trial_counts_as_activation: bool


class ProductOut(BaseModel):
    slug: str
    kind: str
    name: Text
    description: Text
    price: str
    price_fen: int
    term_days: int | None
    term_months: int | None
    promo: bool
    benefits: dict[str, int]
    bonus: str
    bonus_fen: int
    renewable: bool
    card_keys: bool
    needs_nonrefundable_ack: bool
    merchant: Text


class ProductDetailOut(ProductOut):
    refund_terms: list[Text] = Field(description="Generated from the policy, in the engine's order")
    policy: PolicyOut


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


# --------------------------------------------------------------------------------------------
# Shaping rows into answers


def _product_out(item: CatalogItem) -> dict[str, Any]:
    row = item.row
    return {
        "slug": row.slug,
        "kind": row.kind.value,
        "name": {"zh": row.name_zh, "en": row.name_en},
        "description": {"zh": row.description_zh, "en": row.description_en},
        "price": format_yuan(row.price_fen),
        "price_fen": row.price_fen,
        "term_days": row.term_days,
        "term_months": row.term_months,
        "promo": row.promo,
        "benefits": {str(k): int(v) for k, v in (row.benefits or {}).items()},
        "bonus": format_yuan(row.bonus_fen),
        "bonus_fen": row.bonus_fen,
        "renewable": row.renewable,
        "card_keys": row.uses_card_keys,
        "needs_nonrefundable_ack": row.kind.value == "virtual_goods",
        "merchant": {"zh": row.merchant.name_zh, "en": row.merchant.name_en},
    }


def _product_detail(item: CatalogItem) -> ProductDetailOut:
    policy = item.policy_row
    return ProductDetailOut(
        **_product_out(item),
        refund_terms=[Text(zh=zh, en=en) for zh, en in item.terms],
        policy=PolicyOut(
            version=policy.version,
            cooling_off_days=policy.cooling_off_days,
            cooling_off=policy.cooling_off.value,
            proration=policy.proration.value,
            fee_percent=policy.fee_percent,
            fee_min=format_yuan(policy.fee_min_fen),
            fee_min_fen=policy.fee_min_fen,
            fee_max=format_yuan(policy.fee_max_fen) if policy.fee_max_fen is not None else None,
            fee_max_fen=policy.fee_max_fen,
            review_business_days=policy.review_business_days,
            trial_counts_as_activation=policy.trial_counts_as_activation,
        ),
    )


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
# Auth


@router.post(
    "/auth/token",
    tags=["auth"],
    summary="Get a bearer token",
    responses={401: ERROR_RESPONSE},
)
def create_token(body: TokenRequest, container: ContainerDep) -> TokenOut:
    """Exchange a phone number or e-mail and password for a signed token, valid for 24 hours."""
    user = authenticate(container.uow(), body.identifier, body.password)
    if user is None:
        raise Unauthorized(
            "bad_credentials", "手机号/邮箱或密码不正确", "Wrong phone number, e-mail or password", "identifier"
        )
    token, expires_at = issue_token(container, user.id)
    return TokenOut(token=token, expires_at=expires_at)


@router.post(
    "/auth/signup",
    tags=["auth"],
    summary="Sign up as a consumer",
    status_code=status.HTTP_201_CREATED,
    responses={409: ERROR_RESPONSE, 422: ERROR_RESPONSE},
)
def create_account(body: SignupRequest, container: ContainerDep) -> SignupOut:
    """A new consumer account (phone number or e-mail, password of 8+ characters), with a token."""
    user = sign_up(container.uow(), body.identifier, body.password, container.now(), display_name=body.display_name)
    token, expires_at = issue_token(container, user.id)
    return SignupOut(user_id=user.id, role=user.role.value, token=token, expires_at=expires_at)


# --------------------------------------------------------------------------------------------
# Products


@router.get("/products", tags=["products"], summary="List the products on sale")
def get_products(container: ContainerDep) -> list[ProductOut]:
    return [ProductOut(**_product_out(item)) for item in list_catalog(container.uow())]


@router.get(
    "/products/{slug}",
    tags=["products"],
    summary="One product with its refund terms and policy",
    responses={404: ERROR_RESPONSE},
)
def get_product(slug: Annotated[str, Path(max_length=80)], container: ContainerDep) -> ProductDetailOut:
    """The product, its refund terms in plain words (zh and en) and the current policy version."""
    return _product_detail(get_catalog_item(container.uow(), slug))


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
        container.channel,
    )
    if placed.replayed:
        _check_same_request(container, user, placed.order_no, body)
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


def _check_same_request(container: Container, user: User, order_no: str, body: OrderRequest) -> None:
    """A key names one purchase: reusing it for a different product or channel is a client bug
    that would otherwise be answered, silently, with the wrong order."""
    order = order_view(container.uow(), viewer(user), order_no, container.now(), container.calendar).order
    if order.product.slug != body.product or order.channel is not body.channel:
        raise Conflict(
            "idempotency_key_reused",
            f"该幂等键已用于另一笔订单({order_no}),请为新的购买使用新的键",
            f"This Idempotency-Key was used for a different order ({order_no}); use a new key for a new purchase",
            "Idempotency-Key",
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
            handle_payment_notification, container.uow(), body, signature, container.channel, container.now()
        )
    except InvalidInput as error:
        if error.code != "bad_signature":
            raise
        # A forged or mangled callback is a bad request, not a form to correct.
        raise ServiceError(error.code, error.message_zh, error.message_en, SIGNATURE_HEADER) from None
    return PaymentResultOut.model_validate({"result": result})


@router.post(
    "/payments/simulator/{out_trade_no}/pay",
    tags=["payments"],
    summary="Act as the payer in the simulator (not in production)",
    responses={404: ERROR_RESPONSE},
)
def simulator_pay(
    out_trade_no: Annotated[str, Path(max_length=64)],
    container: ContainerDep,
    outcome: Literal["success", "failure"] = "success",
) -> PaymentResultOut:
    """The payer pays (or fails) in the simulator; the channel then notifies us as it would."""
    if container.settings.production:
        raise not_found("支付单", "Payment")
    result = simulate_payer(container.uow(), out_trade_no, outcome == "success", container.channel, container.now())
    return PaymentResultOut.model_validate({"result": result})
