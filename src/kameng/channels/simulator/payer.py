"""The payer's side of the simulator: someone pays (or fails to) and the channel tells us.

In production this is a person in the WeChat or Alipay app; here it is a button on the
simulator's page (and a call in the demo and the tests). Either way the result reaches kameng the
only way a real channel's does: as a signed notification to our notify handler.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kameng.channels.ports import PaymentChannel
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.orders.models import PaymentRow
from kameng.orders.payments import handle_payment_notification
from kameng.platform import inputs
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import not_found


def simulate_payer(uow: UnitOfWork, out_trade_no: str, succeed: bool, channel: PaymentChannel, now: datetime) -> str:
    """What the payer's app does in the simulator: pay (or fail), and the channel notifies us."""
    channel = getattr(channel, "local", channel)  # behind the router when real channels are configured
    if not isinstance(channel, SimulatorChannel):
        raise not_found("payment")  # a real channel is configured: nobody pays here
    if not inputs.could_be(out_trade_no, inputs.OUT_TRADE_NO):
        raise not_found("payment")
    with uow:
        payment = uow.session.scalar(select(PaymentRow).where(PaymentRow.out_trade_no == out_trade_no))
        if payment is None:
            raise not_found("payment")
        amount = payment.amount_fen
    body, signature = channel.notification(out_trade_no, amount, succeed, now, None if succeed else "simulated failure")
    return handle_payment_notification(uow, body, signature, channel, now)
