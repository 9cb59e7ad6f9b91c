"""The payer's side of the simulator: someone pays (or fails to) and the channel tells us.

In production this is a person in the WeChat or Alipay app; here it is a button on the
simulator's page (and a call in the demo and the tests). Either way the result reaches kameng the
only way a real channel's does: as a signed notification to our notify handler.
"""

from __future__ import annotations

from datetime import datetime

from kameng.channels.ports import PaymentChannel
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.orders.locked_payments import locked_payment
from kameng.orders.payments import apply_in_open_uow, verified_notification
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
    # One transaction: the simulator reads the amount it notifies from the payment that the
    # notification then settles, locked once. The notification is still signed and verified as
    # a real channel's is; only the second read (and its transaction) of the same rows is saved.
    with uow:
        locked = locked_payment(uow, out_trade_no)
        if locked is None:
            raise not_found("payment")
        payment = locked[0]
        failure = None if succeed else "simulated failure"
        body, signature = channel.notification(out_trade_no, payment.amount_fen, succeed, now, failure)
        note = verified_notification(body, signature, channel)
        return apply_in_open_uow(uow, note, now, locked=locked)
