"""The simulator's pay page: the payer chooses to pay or fail, and the channel notifies us."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kameng.channels.simulator.payer import simulate_payer
from kameng.orders.queries import order_view
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput, not_found
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, viewer_of
from kameng.web.forms import form_text, redirect, to_login
from kameng.web.params import OutTradeNo
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)
PAYER_CHOICES = ("succeed", "fail")  # the two buttons of the pay page

# --------------------------------------------------------------------------------------------
# The payment simulator's page (what the payer's wallet app would show)


@router.get("/pay/sim/{out_trade_no}", response_class=HTMLResponse)
def pay_page(out_trade_no: OutTradeNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    order_no = out_trade_no.removeprefix("P")
    view = order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    payment = next((p for p in view.payments if p.out_trade_no == out_trade_no), None)
    if payment is None or view.order.user_id != user.id:
        raise not_found("payment")
    return render(request, "channels/pay_sim.html", {"view": view, "payment": payment}, user=user)


@router.post("/pay/sim/{out_trade_no}", dependencies=[CsrfChecked])
async def pay(out_trade_no: OutTradeNo, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    if user is None:
        return to_login(request)
    order_no = out_trade_no.removeprefix("P")
    view = order_view(container.uow(), viewer_of(user), order_no, container.now(), container.calendar)
    if view.order.user_id != user.id or not any(p.out_trade_no == out_trade_no for p in view.payments):
        raise not_found("payment")
    form = await request.form()
    outcome = form_text(form, "outcome", inputs.CHOICE)
    if outcome not in PAYER_CHOICES:
        raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "error.unknown_action", "outcome")
    succeed = outcome == "succeed"
    simulate_payer(container.uow(), out_trade_no, succeed, container.payments, container.now())
    return redirect(f"/orders/{order_no}")
