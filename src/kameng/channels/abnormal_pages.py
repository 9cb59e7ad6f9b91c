"""The staff's page of WeChat refunds stuck in ABNORMAL: ``/staff/abnormal-refunds``.

Each waiting refund with its one decision: send it on to the consumer's bank card (bank, card
number, holder's name, checked here and sent encrypted by the SDK) or to the consumer's kameng
balance. A POST carries the CSRF token and is idempotent (one decision per refund); the decision
is the audit record (who, when, where to, the card's last four digits). The refund is named by
the form's ``refund_no`` (each row's form carries its own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from kameng.payouts.abnormal import BANK_TYPES, decision_from, send_on, waiting_refunds
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, ServiceError
from kameng.web.deps import ContainerDep, CsrfChecked, request_lang
from kameng.web.forms import StaffUser, field_error, form_text, form_typed, redirect
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/staff/abnormal-refunds"
CARD_TEXT = inputs.TextRule(40)  # a card number as typed, spaces and dashes allowed, checked after
NAME_TEXT = inputs.TextRule(30)

REFUND_NO = inputs.TextRule(inputs.OUT_TRADE_NO.max_length, min_length=1)  # our out_refund_no


def _page(
    request: Request,
    container: ContainerDep,
    user: User,
    failed: str = "",
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "rows": waiting_refunds(container.uow()),
        "configured": isinstance(container.checkouts.get("wechat"), WeChatPayAdapter),
        "bank_types": BANK_TYPES,
        "failed": failed,
        "errors": errors or {},
        "typed": typed or {},
        "sent": request.query_params.get("sent", "")[:40],
    }
    return render(request, "channels/abnormal_refunds.html", context, status=status, user=user)


@router.get(PAGE, response_class=HTMLResponse)
def abnormal_refunds_page(request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    return _page(request, container, staff)


@router.post(PAGE, dependencies=[CsrfChecked])
async def send_abnormal_refund_on(request: Request, container: ContainerDep, staff: User = StaffUser) -> Response:
    form = await request.form()
    typed = {name: form_typed(form, name) for name in ("refund_no", "destination", "bank_type", "name")}
    out_refund_no = typed["refund_no"][: REFUND_NO.max_length]
    try:
        out_refund_no = form_text(form, "refund_no", REFUND_NO)
        decision = decision_from(
            form_text(form, "destination", inputs.CHOICE),
            form_text(form, "bank_type", inputs.CHOICE),
            form_text(form, "account", CARD_TEXT),
            form_text(form, "name", NAME_TEXT),
        )
        adapter = container.checkouts.get("wechat")
        if not isinstance(adapter, WeChatPayAdapter):
            raise ServiceError(ErrorCode.CHANNEL_UNAVAILABLE, "channels.abnormal.error.not_configured", "form")
        send_on(container.uow, adapter, out_refund_no, decision, staff.id, container.now())
    except ServiceError as error:
        # The card number is never shown again: typed afresh, as on a bank's own form.
        errors = field_error(error, request_lang(request))
        return _page(request, container, staff, out_refund_no, errors, typed, error.status)
    return redirect(f"{PAGE}?sent={out_refund_no}")
