"""The ports when real channels are configured: each trade goes to the channel it was paid with.

A payment's ``pay_url`` becomes ``/pay/channel/<out_trade_no>`` (the page looks at the payment's
channel and sends the payer to WeChat Pay's code, Alipay's cashier, or the local simulator's page
for the others); a refund goes to the adapter of the trade's channel, or to the local channel
(bank card, and everything when no real channel is configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from kameng.channels.ports import PaymentChannel, PaymentNotification, RefundAnswer, RefundChannel


class RoutedPayments:
    """The payer is sent to /pay/channel/…; the local channel's own notifications are its own."""

    def __init__(self, local: PaymentChannel) -> None:
        self.local = local

    def pay_url(self, out_trade_no: str) -> str:
        return f"/pay/channel/{out_trade_no}"

    def verify(self, body: bytes, signature: str) -> PaymentNotification:
        return self.local.verify(body, signature)


class RoutedRefunds:
    """Each refund to the adapter of its trade's channel (``channel_of`` reads it from our rows)."""

    def __init__(
        self,
        local: RefundChannel,
        by_channel: Mapping[str, RefundChannel],
        channel_of: Callable[[str], str | None],
    ) -> None:
        self.local = local
        self._by_channel = dict(by_channel)
        self._channel_of = channel_of

    def _for(self, out_trade_no: str) -> RefundChannel:
        return self._by_channel.get(self._channel_of(out_trade_no) or "", self.local)

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer:
        return self._for(out_trade_no).request_refund(out_refund_no, out_trade_no, amount_fen, now)

    def query_refund(self, out_refund_no: str, now: datetime, out_trade_no: str | None = None) -> RefundAnswer | None:
        channel = self._for(out_trade_no) if out_trade_no else self.local
        return channel.query_refund(out_refund_no, now, out_trade_no)
