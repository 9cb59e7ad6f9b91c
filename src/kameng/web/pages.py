"""Pages for people: consumers, staff. Server-rendered (Jinja2), Chinese first.

Every state-changing form is a POST carrying the session's CSRF token, answered with a redirect
(POST-redirect-GET), so a reload never buys twice. A form that a service refuses is shown again
with what was typed and the message beside the field the error names (``ServiceError.field``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from kameng.adapters.db.models import User
from kameng.domain.model import Channel, EventType
from kameng.services import accounts, catalog, orders
from kameng.services.errors import Conflict, InvalidInput, NotFound, ServiceError, not_found
from kameng.web.app import render
from kameng.web.deps import Container, ContainerDep, CsrfChecked, OptionalUser, request_lang, require_staff, viewer_of
from kameng.web.i18n import translate

router = APIRouter(include_in_schema=False)

CHANNELS = [c.value for c in Channel]
USAGE_ACTIONS = ("activate", "claim_trial", "use_benefit")


def _staff_page(user: OptionalUser) -> User:
    """``require_staff`` for pages: anyone else gets the site's own 404 page, not a JSON answer."""
    try:
        return require_staff(user)
    except HTTPException:
        raise NotFound("not_found", "页面不存在", "Page not found") from None


StaffUser = Depends(_staff_page)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _to_login(request: Request) -> RedirectResponse:
    return _redirect("/login?next=" + urlquote(request.url.path, safe="/"))


def _safe_next(value: object) -> str:
    """Only a local path: a login link must never send anyone to another site."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/orders"


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _field_error(error: ServiceError, lang: str) -> dict[str, str]:
    return {error.field or "form": error.message(lang)}


# --------------------------------------------------------------------------------------------
# Accounts


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "signup.html", {"values": {}, "errors": {}}, user=user)


@router.post("/signup", dependencies=[CsrfChecked])
async def signup(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    values = {"identifier": _text(form, "identifier"), "display_name": _text(form, "display_name")}
    password = form.get("password")
    try:
        created = accounts.sign_up(
            container.uow(),
            values["identifier"],
            password if isinstance(password, str) else "",
            container.now(),
            display_name=values["display_name"],
        )
    except (InvalidInput, Conflict) as error:
        errors = _field_error(error, request_lang(request))
        return render(request, "signup.html", {"values": values, "errors": errors}, status=error.status)
    _start_session(request, created)
    return _redirect("/")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser) -> HTMLResponse:
    next_url = _safe_next(request.query_params.get("next"))
    return render(request, "login.html", {"values": {}, "errors": {}, "next": next_url}, user=user)


@router.post("/login", dependencies=[CsrfChecked])
async def login(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    identifier = _text(form, "identifier")
    password = form.get("password")
    next_url = _safe_next(form.get("next"))
    found = accounts.authenticate(container.uow(), identifier, password if isinstance(password, str) else "")
    if found is None:
        context = {"values": {"identifier": identifier}, "errors": {"password": "bad_login"}, "next": next_url}
        return render(request, "login.html", context, status=401)
    _start_session(request, found)
    return _redirect(next_url)


def _start_session(request: Request, user: User) -> None:
    # A fresh session on sign-in: nothing (not even the CSRF token) carries over from before it.
    lang = request.session.get("lang")
    request.session.clear()
    request.session["user_id"] = user.id
    if lang:
        request.session["lang"] = lang


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return _redirect("/")


# --------------------------------------------------------------------------------------------
# Product and checkout


@router.get("/products/{slug}", response_class=HTMLResponse)
def product_page(slug: str, request: Request, container: ContainerDep, user: OptionalUser) -> HTMLResponse:
    item = catalog.get_catalog_item(container.uow(), slug)
    return render(request, "product.html", {"item": item}, user=user)


def _checkout_context(
    container: ContainerDep, user: User, slug: str, values: dict[str, Any], errors: dict[str, str], lang: str
) -> dict[str, Any]:
    item = catalog.get_catalog_item(container.uow(), slug)
    coupon = values.get("coupon") or None
    try:
        preview = orders.preview_checkout(container.uow(), user.id, slug, coupon, container.now())
    except InvalidInput as error:
        # A bad coupon: show the price without it, and say why beside the coupon field.
        errors = {**_field_error(error, lang), **errors}
        preview = orders.preview_checkout(container.uow(), user.id, slug, None, container.now())
    return {"item": item, "preview": preview, "values": values, "errors": errors, "channels": CHANNELS}


@router.get("/checkout/{slug}", response_class=HTMLResponse)
def checkout_form(slug: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    values = {"channel": "", "coupon": request.query_params.get("coupon", "").strip()}
    context = _checkout_context(container, user, slug, values, {}, request_lang(request))
    return render(request, "checkout.html", context, user=user)


@router.post("/checkout/{slug}", dependencies=[CsrfChecked])
async def checkout(slug: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    form = await request.form()
    lang = request_lang(request)
    values: dict[str, Any] = {
        "channel": _text(form, "channel"),
        "coupon": _text(form, "coupon"),
        "nonrefundable_ack": form.get("nonrefundable_ack") == "1",
        "auto_renew": form.get("auto_renew") == "1",
    }
    errors: dict[str, str] = {}
    duplicate: str | None = None
    if form.get("apply_coupon") == "1":
        # Only recompute the price with the coupon; nothing is bought until "place order".
        context = _checkout_context(container, user, slug, values, errors, lang)
        return render(request, "checkout.html", context, status=422 if context["errors"] else 200, user=user)
    if values["channel"] not in CHANNELS:
        errors["channel"] = translate("choose_channel", lang)
    else:
        try:
            placed = orders.place_order(
                container.uow(),
                orders.CheckoutRequest(
                    user_id=user.id,
                    product_slug=slug,
                    channel=Channel(values["channel"]),
                    coupon_code=values["coupon"] or None,
                    auto_renew=values["auto_renew"],
                    nonrefundable_ack=values["nonrefundable_ack"],
                    duplicate_ack=form.get("duplicate_ack") == "1",
                ),
                container.now(),
                container.channel,
            )
        except Conflict as error:
            if error.code == "duplicate_purchase":
                duplicate = error.message(lang)
            else:
                errors = _field_error(error, lang)
        except InvalidInput as error:
            errors = _field_error(error, lang)
        else:
            return _redirect(placed.pay_url or f"/orders/{placed.order_no}")
    context = _checkout_context(container, user, slug, values, errors, lang)
    context["duplicate"] = duplicate
    return render(request, "checkout.html", context, status=409 if duplicate else 422, user=user)


# --------------------------------------------------------------------------------------------
# The payment simulator's page (what the payer's wallet app would show)


@router.get("/pay/sim/{out_trade_no}", response_class=HTMLResponse)
def pay_page(out_trade_no: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    order_no = out_trade_no.removeprefix("P")
    view = orders.order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    payment = next((p for p in view.payments if p.out_trade_no == out_trade_no), None)
    if payment is None or view.order.user_id != user.id:
        raise not_found("支付单", "Payment")
    return render(request, "pay_sim.html", {"view": view, "payment": payment}, user=user)


@router.post("/pay/sim/{out_trade_no}", dependencies=[CsrfChecked])
async def pay(out_trade_no: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    order_no = out_trade_no.removeprefix("P")
    view = orders.order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    if view.order.user_id != user.id or not any(p.out_trade_no == out_trade_no for p in view.payments):
        raise not_found("支付单", "Payment")
    form = await request.form()
    succeed = form.get("outcome") != "fail"
    orders.simulate_payer(container.uow(), out_trade_no, succeed, container.channel, container.now())
    return _redirect(f"/orders/{order_no}")


# --------------------------------------------------------------------------------------------
# Orders


@router.get("/orders", response_class=HTMLResponse)
def my_orders(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    rows = orders.list_orders(container.uow(), viewer_of(user))
    return render(request, "orders.html", {"orders": rows}, user=user)


@router.get("/orders/{order_no}", response_class=HTMLResponse)
def order_page(order_no: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    return _order_page(request, container, user, order_no)


def _order_page(
    request: Request, container: Container, user: User, order_no: str, card_code: str | None = None
) -> Response:
    view = orders.order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    error = request.session.pop("flash_error", None)
    context = {
        "view": view,
        "card_code": card_code if view.order.user_id == user.id else None,
        "flash_error": error if isinstance(error, dict) else None,
        "is_buyer": view.order.user_id == user.id,
        "benefits": list((view.order.product.benefits or {}).keys()),
    }
    response = render(request, "order.html", context, user=user)
    if card_code is not None:
        # The key is in this answer only: never in a cookie, a redirect URL or a cache.
        response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/orders/{order_no}/usage", dependencies=[CsrfChecked])
async def order_usage(order_no: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    form = await request.form()
    action = _text(form, "action")
    if action not in USAGE_ACTIONS:
        raise InvalidInput("unknown_action", "未知操作", "Unknown action", "action")
    benefit = _text(form, "benefit") or None
    try:
        orders.record_usage(container.uow(), viewer_of(user), order_no, action, container.now(), benefit=benefit)
    except (Conflict, InvalidInput) as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
    return _redirect(f"/orders/{order_no}")


@router.post("/orders/{order_no}/cancel", dependencies=[CsrfChecked])
def order_cancel(order_no: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    try:
        orders.cancel_unpaid_order(container.uow(), viewer_of(user), order_no, container.now())
    except Conflict as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
    return _redirect(f"/orders/{order_no}")


@router.post("/orders/{order_no}/reveal", dependencies=[CsrfChecked])
def order_reveal(order_no: str, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return _to_login(request)
    try:
        code = orders.reveal_card_key(container.uow(), viewer_of(user), order_no, container.now())
    except Conflict as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
        return _redirect(f"/orders/{order_no}")
    # Shown in the answer to the POST itself (a reload asks again, and is recorded again only
    # the first time): the code never travels in the session cookie.
    return _order_page(request, container, user, order_no, card_code=code)


@router.post("/orders/{order_no}/platform-event", dependencies=[CsrfChecked])
async def order_platform_event(
    order_no: str, request: Request, container: ContainerDep, staff: User = StaffUser
) -> Response:
    form = await request.form()
    kind = _text(form, "type")
    hours: Decimal | None = None
    if kind == EventType.OUTAGE.value:
        try:
            hours = Decimal(_text(form, "hours"))
        except InvalidOperation:
            hours = Decimal(0)  # refused below with the service's own message
    elif kind != EventType.MERCHANT_GONE.value:
        raise InvalidInput("bad_event", "不支持的事件类型", "Unsupported event type", "type")
    try:
        orders.record_platform_event(
            container.uow(),
            viewer_of(staff),
            order_no,
            EventType(kind),
            container.now(),
            hours=hours,
            note=_text(form, "note"),
        )
    except InvalidInput as error:
        request.session["flash_error"] = {"zh": error.message_zh, "en": error.message_en}
    return _redirect(f"/orders/{order_no}")


# --------------------------------------------------------------------------------------------
# Staff


@router.get("/staff/orders", response_class=HTMLResponse)
def staff_orders(request: Request, container: ContainerDep, staff: User = StaffUser) -> HTMLResponse:
    query = request.query_params.get("q", "").strip()
    rows = orders.find_orders(container.uow(), viewer_of(staff), query) if query else []
    return render(request, "staff_orders.html", {"q": query, "orders": rows}, user=staff)
