"""Pages for people: consumers, staff. Server-rendered (Jinja2), Chinese first.

Every state-changing form is a POST carrying the session's CSRF token, answered with a redirect
(POST-redirect-GET), so a reload never buys twice. A form that a service refuses is shown again
with what was typed and the message beside the field the error names (``ServiceError.field``).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.aftersales.queries import refund_progress
from kameng.catalog import services as catalog
from kameng.container import Container
from kameng.domain.model import Channel, EventType
from kameng.domain.refund import arrival_window
from kameng.domain.states import OrderStatus
from kameng.domain.tickets import local_date
from kameng.orders.checkout import CheckoutRequest, place_order, preview_checkout
from kameng.orders.payments import cancel_unpaid_order
from kameng.orders.queries import (
    STARTING_EVENTS,
    activation_preview,
    find_orders,
    list_orders,
    order_view,
    preview_activation,
)
from kameng.orders.usage import record_platform_event, record_usage, reveal_card_key
from kameng.platform import inputs
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, NotFound
from kameng.platform.i18n import Lang, translate
from kameng.subscriptions.services import renewal_offer, subscription_of_order
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, viewer_of
from kameng.web.forms import StaffUser, field_error, form_key, form_text, form_typed, redirect, to_login
from kameng.web.params import Action, CouponQuery, OrderNo, SearchQuery, Slug
from kameng.web.rate_limits import limited
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

CHANNELS = [c.value for c in Channel]
USAGE_ACTIONS = ("activate", "claim_trial", "use_benefit")


def _checkout_context(
    container: ContainerDep, user: User, slug: str, values: dict[str, Any], errors: dict[str, str], lang: Lang
) -> dict[str, Any]:
    item = catalog.get_catalog_item(container.uow(), slug)
    coupon = values.get("coupon") or None
    try:
        preview = preview_checkout(container.uow(), user.id, slug, coupon, container.now())
    except InvalidInput as error:
        # A bad coupon: show the price without it, and say why beside the coupon field.
        errors = {**field_error(error, lang), **errors}
        preview = preview_checkout(container.uow(), user.id, slug, None, container.now())
    return {"item": item, "preview": preview, "values": values, "errors": errors, "channels": CHANNELS}


@router.get("/checkout/{slug}", response_class=HTMLResponse)
def checkout_form(
    slug: Slug, request: Request, container: ContainerDep, user: OptionalUser, coupon: CouponQuery = ""
) -> Response:
    if user is None:
        return to_login(request)
    # A fresh key per rendered form: a double click or a resent POST finds the first order.
    values = {"channel": "", "coupon": coupon, "idempotency_key": uuid.uuid4().hex}
    context = _checkout_context(container, user, slug, values, {}, request_lang(request))
    return render(request, "orders/checkout.html", context, user=user)


CHECKOUT_FIELDS = frozenset({"coupon", "channel", "nonrefundable_ack", "auto_renew", "product", "status"})


@router.post("/checkout/{slug}", dependencies=[CsrfChecked])
async def checkout(slug: Slug, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    lang = request_lang(request)
    values: dict[str, Any] = {
        "channel": form_typed(form, "channel"),
        "coupon": "",
        "nonrefundable_ack": form.get("nonrefundable_ack") == "1",
        "auto_renew": form.get("auto_renew") == "1",
        "idempotency_key": uuid.uuid4().hex,
    }
    errors: dict[str, str] = {}
    duplicate: str | None = None
    try:
        values["channel"] = form_text(form, "channel", inputs.CHOICE)
        values["coupon"] = form_text(form, "coupon", inputs.COUPON_CODE)
        values["idempotency_key"] = form_key(form)
    except InvalidInput as error:
        # Said beside its field (a hidden field's above the form), with the price before any
        # coupon, what was typed, and a fresh key for the next try.
        field = error.field if error.field in CHECKOUT_FIELDS else "form"
        refused = {field: error.message(lang)}
        context = _checkout_context(container, user, slug, {**values, "coupon": ""}, refused, lang)
        context["values"] = {**values, "coupon": form_typed(form, "coupon")}
        return render(request, "orders/checkout.html", context, status=error.status, user=user)
    if form.get("apply_coupon") == "1":
        # Only recompute the price with the coupon; nothing is bought until "place order".
        context = _checkout_context(container, user, slug, values, errors, lang)
        return render(request, "orders/checkout.html", context, status=422 if context["errors"] else 200, user=user)
    if values["channel"] not in CHANNELS:
        errors["channel"] = translate("choose_channel", lang)
    else:
        try:
            placed = place_order(
                container.uow(),
                CheckoutRequest(
                    buyer=user.id,
                    product_slug=slug,
                    channel=Channel(values["channel"]),
                    coupon_code=values["coupon"] or None,
                    auto_renew=values["auto_renew"],
                    nonrefundable_ack=values["nonrefundable_ack"],
                    duplicate_ack=form.get("duplicate_ack") == "1",
                    idempotency_key=values["idempotency_key"],
                ),
                container.now(),
                container.payments,
            )
        except Conflict as error:
            if error.code == "duplicate_purchase":
                duplicate = error.message(lang)
            else:
                errors = field_error(error, lang)
        except InvalidInput as error:
            errors = field_error(error, lang)
        else:
            return redirect(placed.pay_url or f"/orders/{placed.order_no}")
    context = _checkout_context(container, user, slug, values, errors, lang)
    context["duplicate"] = duplicate
    return render(request, "orders/checkout.html", context, status=409 if duplicate else 422, user=user)


# --------------------------------------------------------------------------------------------
# Orders


@router.get("/orders", response_class=HTMLResponse)
def my_orders(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    rows = list_orders(container.uow(), viewer_of(user))
    return render(request, "orders/orders.html", {"orders": rows}, user=user)


@router.get("/orders/{order_no}", response_class=HTMLResponse, dependencies=[limited("order_lookup")])
def order_page(order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    return _order_page(request, container, user, order_no)


def _order_page(
    request: Request, container: Container, user: User, order_no: str, card_code: str | None = None
) -> Response:
    now, calendar, viewer = container.now(), container.calendar, viewer_of(user)
    view = order_view(container.uow(), viewer, order_no, now, calendar)
    order = view.order
    error = request.session.pop("flash_error", None)
    # A refund under way or done is told in words, with its ticket and receipt, instead of a quote.
    progress = None
    if view.ticket_no is not None and (view.refund_under_way or order.status is OrderStatus.REFUNDED):
        progress = refund_progress(container.uow(), viewer, view.ticket_no, calendar)
    # Activating or claiming a trial that changes the refund goes through a confirmation first.
    confirm_first = {
        action
        for action in STARTING_EVENTS
        if action in view.actions and preview_activation(view, action, now, calendar).change
    }
    late_arrivals = {
        refund.id: arrival_window(refund.channel, local_date(refund.created_at), calendar)[0]
        for refund in view.late_refunds
    }
    context = {
        "view": view,
        "progress": progress,
        "confirm_first": confirm_first,
        "late_arrivals": late_arrivals,
        "card_code": card_code if order.user_id == user.id else None,
        "flash_error": error if isinstance(error, dict) else None,
        "is_buyer": order.user_id == user.id,
        "benefits": list((order.product.benefits or {}).keys()),
        "subscription": subscription_of_order(container.uow(), order.id),
        "offer": renewal_offer(container.settings),
    }
    response = render(request, "orders/order.html", context, user=user)
    if card_code is not None:
        # The key is in this answer only: never in a cookie, a redirect URL or a cache.
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/orders/{order_no}/confirm/{action}", response_class=HTMLResponse)
def confirm_usage(
    order_no: OrderNo, action: Action, request: Request, container: ContainerDep, user: OptionalUser
) -> Response:
    """Before activating or claiming a trial: what it does to the refund, in the engine's figures,
    and a button that does it. A page and a form, so it works without JavaScript."""
    if user is None:
        return to_login(request)
    if action not in STARTING_EVENTS:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    preview = activation_preview(
        container.uow(), viewer_of(user), order_no, action, container.now(), container.calendar
    )
    if preview.view.order.user_id != user.id or action not in preview.view.actions:
        return redirect(f"/orders/{order_no}")  # not theirs to do (any more): the order says why
    return render(request, "orders/confirm_usage.html", {"preview": preview, "view": preview.view}, user=user)


@router.post("/orders/{order_no}/usage", dependencies=[CsrfChecked])
async def order_usage(order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    action = form_text(form, "action", inputs.CHOICE)
    if action not in USAGE_ACTIONS:
        raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "error.unknown_action", "action")
    if action in STARTING_EVENTS and form.get("confirmed") != "1":
        # The server holds the line, not the page: an activation that changes the refund is made
        # only from the confirmation that showed how (a stale page or a hand-made POST lands there).
        preview = activation_preview(
            container.uow(), viewer_of(user), order_no, action, container.now(), container.calendar
        )
        if preview.change is not None and preview.view.order.user_id == user.id:
            return redirect(f"/orders/{order_no}/confirm/{action}")
    try:
        benefit = form_text(form, "benefit", inputs.BENEFIT) or None
        record_usage(container.uow(), viewer_of(user), order_no, action, container.now(), benefit=benefit)
    except (Conflict, InvalidInput) as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
    return redirect(f"/orders/{order_no}")


@router.post("/orders/{order_no}/cancel", dependencies=[CsrfChecked])
def order_cancel(order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    try:
        cancel_unpaid_order(container.uow(), viewer_of(user), order_no, container.now())
    except Conflict as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
    return redirect(f"/orders/{order_no}")


@router.post("/orders/{order_no}/reveal", dependencies=[CsrfChecked])
def order_reveal(order_no: OrderNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    try:
        code = reveal_card_key(container.uow(), viewer_of(user), order_no, container.now())
    except Conflict as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
        return redirect(f"/orders/{order_no}")
    # Shown in the answer to the POST itself (a reload asks again, and is recorded again only
    # the first time): the code never travels in the session cookie.
    return _order_page(request, container, user, order_no, card_code=code)


@router.post("/orders/{order_no}/platform-event", dependencies=[CsrfChecked])
async def order_platform_event(
    order_no: OrderNo, request: Request, container: ContainerDep, staff: User = StaffUser
) -> Response:
    form = await request.form()
    kind = form_text(form, "type", inputs.CHOICE)
    if kind not in {EventType.OUTAGE.value, EventType.MERCHANT_GONE.value}:
        raise InvalidInput(ErrorCode.BAD_EVENT, "error.bad_event", "type")
    try:
        hours: Decimal | None = None
        if kind == EventType.OUTAGE.value:
            # The one decimal parser: "NaN", "Infinity", "1e400" or "0.001" are refused, named.
            typed = form_text(form, "hours", inputs.AMOUNT_TEXT)
            hours = inputs.decimal_input(typed, inputs.HOURS, "hours") if typed else None
        record_platform_event(
            container.uow(),
            viewer_of(staff),
            order_no,
            EventType(kind),
            container.now(),
            hours=hours,
            note=form_text(form, "note", inputs.NOTE),
        )
    except InvalidInput as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
    return redirect(f"/orders/{order_no}")


# --------------------------------------------------------------------------------------------
# Staff


@router.get("/staff/orders", response_class=HTMLResponse)
def staff_orders(
    request: Request, container: ContainerDep, staff: User = StaffUser, q: SearchQuery = ""
) -> HTMLResponse:
    rows = find_orders(container.uow(), viewer_of(staff), q) if q else []
    return render(request, "orders/staff_orders.html", {"q": q, "orders": rows}, user=staff)
