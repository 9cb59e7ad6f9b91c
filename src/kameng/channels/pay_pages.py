"""Paying at a real channel: ``/pay/channel/<out_trade_no>`` sends the payer where the trade's
channel takes the money: WeChat Pay's code to scan (drawn here as an image), Alipay's cashier (a
link to it), or the local simulator's page for a channel without a real adapter."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from kameng.channels.ports import ChannelRefused, ChannelUnavailable
from kameng.domain.states import OrderStatus, PaymentStatus
from kameng.orders.queries import order_view
from kameng.platform import inputs
from kameng.platform.errors import Conflict, ErrorCode, not_found
from kameng.platform.inputs import text_validator
from kameng.web.deps import ContainerDep, OptionalUser, viewer_of
from kameng.web.forms import redirect, to_login
from kameng.web.params import OutTradeNo
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/pay/channel/return")
def back_from_channel(
    out_trade_no: Annotated[
        str, Query(min_length=1, max_length=inputs.OUT_TRADE_NO.max_length), text_validator(inputs.OUT_TRADE_NO)
    ],
) -> Response:
    """Alipay's return URL (it appends the trade): back to the order, whose page tells whether the
    money has arrived (the notification decides that, never this redirect)."""
    return redirect(f"/orders/{out_trade_no.removeprefix('P')}")


@router.get("/pay/channel/{out_trade_no}", response_class=HTMLResponse)
def pay_at_channel(out_trade_no: OutTradeNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    order_no = out_trade_no.removeprefix("P")
    view = order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    payment = next((p for p in view.payments if p.out_trade_no == out_trade_no), None)
    if payment is None or view.order.user_id != user.id:
        raise not_found("payment")
    order = view.order
    if order.status is not OrderStatus.PENDING_PAYMENT or payment.status is not PaymentStatus.PENDING:
        return redirect(f"/orders/{order_no}")
    hosted = container.checkouts.get(payment.channel.value)
    if hosted is None:
        return redirect(f"/pay/sim/{out_trade_no}")
    subject = order.product.name_zh
    try:
        checkout = hosted.checkout(out_trade_no, subject, payment.amount_fen, order.expires_at)
    except (ChannelUnavailable, ChannelRefused):
        raise Conflict(ErrorCode.CHANNEL_UNAVAILABLE, "channels.refusal.payment", "channel") from None
    if checkout.redirect_url:
        # A link, not a redirect: this page is reached from the checkout form, and the site's CSP
        # (form-action 'self') rightly stops a form's navigation from ending at another origin.
        return render(
            request,
            "channels/pay_alipay.html",
            {"view": view, "payment": payment, "cashier": checkout.redirect_url},
            user=user,
        )
    qr = base64.b64encode(checkout.qr_png or b"").decode()
    return render(
        request,
        "channels/pay_wechat.html",
        {"view": view, "payment": payment, "qr": qr, "scan_url": checkout.scan_url},
        user=user,
    )
