"""The wallet's pages: 我的钱包 (cash and bonus apart, the live quote, every movement, the
withdrawal form), one withdrawal with its legs, and the staff's review of withdrawals with the
live quote. Forms are POSTs carrying the CSRF token, answered with a redirect."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.domain.money import format_yuan
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput, ServiceError
from kameng.platform.i18n import Lang
from kameng.wallet.queries import review_view, wallet_view, withdrawal_of, withdrawals_in_review
from kameng.wallet.services import approve_withdrawal, cancel_withdrawal, reject_withdrawal, request_withdrawal
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, viewer_of
from kameng.web.forms import StaffUser, field_error, form_key, form_text, form_typed, redirect, to_login
from kameng.web.params import Action, WithdrawalNo
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)


def _wallet_page(
    request: Request,
    container: ContainerDep,
    user: User,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    view = wallet_view(container.uow(), viewer_of(user), container.now(), container.calendar)
    values = values or {"amount": format_yuan(view.withdrawable_fen), "idempotency_key": uuid.uuid4().hex}
    context: dict[str, Any] = {"view": view, "values": values, "errors": errors or {}}
    return render(request, "wallet/wallet.html", context, status=status, user=user)


@router.get("/wallet", response_class=HTMLResponse)
def wallet_page(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    return _wallet_page(request, container, user)


@router.post("/wallet/withdrawals", dependencies=[CsrfChecked])
async def withdraw(request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    form = await request.form()
    lang: Lang = request_lang(request)
    typed = {"amount": form_typed(form, "amount"), "idempotency_key": uuid.uuid4().hex}
    try:
        key = form_key(form)
        amount = inputs.yuan_input(form_text(form, "amount", inputs.AMOUNT_TEXT), "amount")
        row, _replayed = request_withdrawal(
            container.uow(), viewer_of(user), amount, key, container.now(), container.calendar
        )
    except ServiceError as error:
        errors = field_error(error, lang)
        return _wallet_page(request, container, user, typed, errors, status=error.status)
    return redirect(f"/wallet/withdrawals/{row.withdrawal_no}")


@router.get("/wallet/withdrawals/{withdrawal_no}", response_class=HTMLResponse)
def withdrawal_page(
    withdrawal_no: WithdrawalNo, request: Request, container: ContainerDep, user: OptionalUser
) -> Response:
    if user is None:
        return to_login(request)
    detail = withdrawal_of(container.uow(), viewer_of(user), withdrawal_no)
    return render(request, "wallet/withdrawal.html", {"detail": detail, "staff": False}, user=user)


@router.post("/wallet/withdrawals/{withdrawal_no}/cancel", dependencies=[CsrfChecked])
def cancel(withdrawal_no: WithdrawalNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    cancel_withdrawal(container.uow(), viewer_of(user), withdrawal_no, container.now())
    return redirect(f"/wallet/withdrawals/{withdrawal_no}")


# --------------------------------------------------------------------------------------------
# Staff


@router.get("/staff/withdrawals", response_class=HTMLResponse)
def staff_withdrawals(request: Request, container: ContainerDep, user: User = StaffUser) -> Response:
    rows = withdrawals_in_review(container.uow())
    return render(request, "wallet/staff_withdrawals.html", {"rows": rows}, user=user)


@router.get("/staff/withdrawals/{withdrawal_no}", response_class=HTMLResponse)
def staff_withdrawal(
    withdrawal_no: WithdrawalNo, request: Request, container: ContainerDep, user: User = StaffUser
) -> Response:
    view = review_view(container.uow(), withdrawal_no, container.now(), container.calendar)
    return render(request, "wallet/staff_withdrawal.html", {"review": view, "errors": {}}, user=user)


@router.post("/staff/withdrawals/{withdrawal_no}/{action}", dependencies=[CsrfChecked])
async def staff_decide(
    withdrawal_no: WithdrawalNo, action: Action, request: Request, container: ContainerDep, user: User = StaffUser
) -> Response:
    form = await request.form()
    staff = viewer_of(user)
    try:
        note = form_text(form, "note", inputs.NOTE)
        if action == "approve":
            approve_withdrawal(container.uow(), staff, withdrawal_no, note, container.now(), container.calendar)
        elif action == "reject":
            reject_withdrawal(container.uow(), staff, withdrawal_no, note, container.now())
        else:
            raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "wallet.error.unknown_decision", "action")
    except ServiceError as error:
        view = review_view(container.uow(), withdrawal_no, container.now(), container.calendar)
        context = {"review": view, "errors": field_error(error, request_lang(request))}
        return render(request, "wallet/staff_withdrawal.html", context, status=error.status, user=user)
    return redirect(f"/staff/withdrawals/{withdrawal_no}")
