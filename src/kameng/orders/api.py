"""The orders REST API, ``/api/v1``: orders, order events, the quote, payments.

Integrators sign in with ``POST /api/v1/auth/token`` and send ``Authorization: Bearer <token>``.
Every handler is a thin adapter: parse and validate the request (Pydantic), call one service,
shape the answer. Amounts travel as strings of yuan (``"9.90"``) beside integer fen
(``*_fen``), never as floats. Errors are ``{"error": {code, field, message, message_zh}}``; a
consumer asking for another consumer's order gets the same 404 as for one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from kameng.accounts.sessions import BearerSignIn, SessionKind
from kameng.container import Container
from kameng.domain.model import EventType, Reason
from kameng.domain.money import format_yuan
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.payments import cancel_unpaid_order, handle_payment_notification
from kameng.orders.queries import list_orders, order_view
from kameng.orders.schemas import (
    CardKeyOut,
    EventOut,
    EventRequest,
    MembershipOut,
    OrderDetailOut,
    OrderOut,
    OrderRequest,
    PaymentResultOut,
    PlacedOrderOut,
    QuoteOut,
    event_out,
    order_fields,
    payment_out,
    quote_out,
)
from kameng.orders.usage import record_platform_event, record_usage, reveal_card_key
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, ServiceError
from kameng.web.auth import BearerSecret, CurrentUser, user_in, wall_now
from kameng.web.deps import ContainerDep, IdempotencyKey, json_answer, viewer_of
from kameng.web.direct import DirectCall, DirectRoute
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import OrderNo
from kameng.web.rate_limits import limited

router = APIRouter(prefix="/api/v1")
SIGNATURE_HEADER = "X-Sim-Signature"


# --------------------------------------------------------------------------------------------
# Orders


@router.post(
    "/orders",
    tags=["orders"],
    summary="Place an order",
    status_code=status.HTTP_201_CREATED,
    response_model=PlacedOrderOut,
    responses={
        200: {"description": "A retry with an Idempotency-Key already used: the same order", "model": PlacedOrderOut},
        409: {"description": "`duplicate_purchase` (send duplicate_ack), `sold_out`, `idempotency_key_reused`"},
        422: ERROR_RESPONSE,
    },
)
def create_order(
    body: OrderRequest,
    token: BearerSecret,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Create the order (and reserve its card key). Pay with the channel at ``pay_url``; a balance
    payment is settled at once."""
    return json_answer(*_placed(container, token, body, idempotency_key))


def _placed(container: Container, token: str, body: OrderRequest, idempotency_key: str) -> tuple[PlacedOrderOut, int]:
    # The token is looked up in this worker thread, the one that places the order (one hop), and
    # in the transaction that places it. On one database the checkout's reads look it up, in their
    # one statement: a statement fewer. Distributed, that statement would read the buyer's orders
    # before the buyer is known, and so could not run on one node: the token is looked up alone.
    uow = container.uow()
    with uow:
        buyer = (
            user_in(uow, token).id
            if container.settings.distributed_database
            else BearerSignIn(SessionKind.API, token, wall_now())
        )
        placed = place_order(
            uow,
            CheckoutRequest(
                buyer=buyer,
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
    answer = PlacedOrderOut(
        order_no=placed.order_no,
        status=placed.status.value,
        amount=format_yuan(placed.amount_fen),
        amount_fen=placed.amount_fen,
        out_trade_no=placed.out_trade_no,
        pay_url=placed.pay_url,
        replayed=placed.replayed,
    )
    return answer, status.HTTP_200_OK if placed.replayed else status.HTTP_201_CREATED


def _placed_directly(call: DirectCall) -> tuple[PlacedOrderOut, int]:
    assert isinstance(call.body, OrderRequest)
    return _placed(call.container, call.token, call.body, call.idempotency_key)


# The same route for a plain request (a bearer token, a JSON body): web/direct.py.
DIRECT_ORDER = DirectRoute(template="/api/v1/orders", parameters={}, body=OrderRequest, answer=_placed_directly)


@router.get("/orders", tags=["orders"], summary="My orders, newest first")
def get_orders(
    user: CurrentUser, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[OrderOut]:
    return [OrderOut(**order_fields(order)) for order in list_orders(container.uow(), viewer_of(user), limit)]


@router.get(
    "/orders/{order_no}",
    tags=["orders"],
    summary="One order with its timeline",
    responses={404: {"description": "No such order, or another consumer's"}, 429: ERROR_RESPONSE},
    dependencies=[limited("order_lookup")],
)
def get_order(order_no: OrderNo, user: CurrentUser, container: ContainerDep) -> OrderDetailOut:
    """The buyer sees their own orders; staff may read any. Card keys are never in this answer."""
    view = order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    membership = view.membership
    return OrderDetailOut(
        **order_fields(view.order),
        membership=MembershipOut(
            status=membership.status.value,
            activated_at=membership.activated_at,
            expires_at=membership.expires_at,
            auto_renew=membership.auto_renew,
        )
        if membership
        else None,
        card_key_status=view.card_key.status.value if view.card_key else None,
        payments=[payment_out(row) for row in view.payments],
        events=[event_out(row) for row in view.events],
        actions=view.actions,
    )


@router.post(
    "/orders/{order_no}/cancel",
    tags=["orders"],
    summary="Cancel an unpaid order",
    responses={404: ERROR_RESPONSE, 409: {"description": "`not_cancellable`: only unpaid orders"}},
)
def cancel_order(order_no: OrderNo, user: CurrentUser, container: ContainerDep) -> OrderOut:
    uow_viewer = viewer_of(user)
    cancel_unpaid_order(container.uow(), uow_viewer, order_no, container.now())
    view = order_view(container.uow(), uow_viewer, order_no, container.now(), container.calendar)
    return OrderOut(**order_fields(view.order))


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
    who = viewer_of(user)
    if body.type in BUYER_ACTIONS:
        event = record_usage(container.uow(), who, order_no, BUYER_ACTIONS[body.type], container.now(), body.benefit)
    else:
        event = record_platform_event(
            container.uow(), who, order_no, EventType(body.type), container.now(), hours=body.hours, note=body.note
        )
    return event_out(event)


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
    view = order_view(container.uow(), viewer_of(user), order_no, now, container.calendar, reason)
    if view.quote is None:
        raise Conflict(ErrorCode.NOT_PAID, "error.not_paid.2", "status")
    return quote_out(order_no, reason, now, view.quote)


@router.post(
    "/orders/{order_no}/card-key",
    tags=["orders"],
    summary="Reveal the card key (buyer only)",
    responses={404: ERROR_RESPONSE, 409: {"description": "`no_key`: nothing delivered"}},
)
def reveal_key(order_no: OrderNo, response: Response, user: CurrentUser, container: ContainerDep) -> CardKeyOut:
    """The delivered key's code, to its buyer only; the first reveal is recorded on the timeline."""
    code = reveal_card_key(container.uow(), viewer_of(user), order_no, container.now())
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
        raise ServiceError(error.code, error.key, SIGNATURE_HEADER, **error.params) from None
    return PaymentResultOut.model_validate({"result": result})
