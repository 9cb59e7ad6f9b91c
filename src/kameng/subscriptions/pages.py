"""我的会员 and cancelling auto-renewal, as pages: the cancel button is always there (never greyed
out, never behind a retention page); the step-up check and an optional reason on one form; the
receipt after. From the order page or 我的会员: the button, "send code", the code, "confirm"."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.platform import inputs
from kameng.platform.errors import InvalidInput, TooManyRequests
from kameng.subscriptions.services import (
    CancelAutoRenewal,
    cancel_auto_renewal,
    my_subscriptions,
    renewal_offer,
    subscription,
)
from kameng.subscriptions.stepup import CANCEL_AUTO_RENEWAL, send_code
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, viewer_of
from kameng.web.forms import form_key, form_text, form_typed, redirect, to_login
from kameng.web.params import SubNo
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

# A password is taken as typed (every character counts), and may be left empty for a code.
PASSWORD_FIELD = inputs.TextRule(inputs.PASSWORD.max_length, strip=False)


@router.get("/memberships", response_class=HTMLResponse)
def memberships_page(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    views = my_subscriptions(container.uow(), viewer_of(user))
    return render(
        request,
        "subscriptions/memberships.html",
        {"subs": views, "offer": renewal_offer(container.settings)},
        user=user,
    )


def _cancel_page(
    request: Request,
    container: ContainerDep,
    user: User,
    sub_no: str,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    sent: str | None = None,
) -> Response:
    view = subscription(container.uow(), viewer_of(user), sub_no)
    if not view.cancellable:
        return redirect(f"/subscriptions/{sub_no}/receipt" if view.row.cancellation_no else "/memberships")
    context = {
        "sub": view,
        "errors": errors or {},
        "values": values or {"idempotency_key": uuid.uuid4().hex},
        "sent": sent,
        "offer": renewal_offer(container.settings),
        "has_phone": bool(user.phone),
    }
    status = 422 if errors else 200
    return render(request, "subscriptions/cancel.html", context, user=user, status=status)


@router.get("/subscriptions/{sub_no}/cancel", response_class=HTMLResponse)
def cancel_form(sub_no: SubNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    sent = request.session.pop("sub_code_sent", None)
    key = request.session.pop("sub_cancel_key", None)
    values = {"idempotency_key": key if isinstance(key, str) else uuid.uuid4().hex}
    return _cancel_page(request, container, user, sub_no, values=values, sent=sent if isinstance(sent, str) else None)


@router.post("/subscriptions/{sub_no}/cancel/code", dependencies=[CsrfChecked])
async def cancel_send_code(sub_no: SubNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    key = form_key(form)
    subscription(container.uow(), viewer_of(user), sub_no)  # someone else's: 404
    lang = request_lang(request)
    try:
        sent = send_code(
            container.uow(),
            container.sender,
            user.id,
            CANCEL_AUTO_RENEWAL,
            container.now(),
            container.settings.secret_key.get_secret_value(),
        )
    except (InvalidInput, TooManyRequests) as error:
        values = {"idempotency_key": key}
        return _cancel_page(request, container, user, sub_no, errors={"code": error.message(lang)}, values=values)
    request.session["sub_code_sent"] = sent.phone
    request.session["sub_cancel_key"] = key  # the same cancellation after the round trip
    return redirect(f"/subscriptions/{sub_no}/cancel#code")


@router.post("/subscriptions/{sub_no}/cancel", dependencies=[CsrfChecked])
async def cancel_submit(sub_no: SubNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    lang = request_lang(request)
    values = {"idempotency_key": form_typed(form, "idempotency_key"), "reason": form_typed(form, "reason")}
    try:
        command = CancelAutoRenewal(
            sub_no=sub_no,
            code=form_text(form, "code", inputs.CHOICE),
            password=form_text(form, "password", PASSWORD_FIELD),
            reason=form_text(form, "reason", inputs.NOTE),
            idempotency_key=form_key(form),
        )
        cancel_auto_renewal(
            container.uow(), viewer_of(user), command, container.now(), container.settings.secret_key.get_secret_value()
        )
    except (InvalidInput, TooManyRequests) as error:
        errors = {error.field or "form": error.message(lang)}
        return _cancel_page(request, container, user, sub_no, errors=errors, values=values)
    return redirect(f"/subscriptions/{sub_no}/receipt")


@router.get("/subscriptions/{sub_no}/receipt", response_class=HTMLResponse)
def cancel_receipt(sub_no: SubNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    view = subscription(container.uow(), viewer_of(user), sub_no)
    if view.row.cancellation_no is None:
        return redirect(f"/subscriptions/{sub_no}/cancel")
    return render(request, "subscriptions/receipt.html", {"sub": view}, user=user)
