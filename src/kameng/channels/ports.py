"""What kameng asks of a payment channel, whatever channel it is.

Services and the worker depend on these protocols only; the composition root (``kameng.compose``)
decides which adapter stands behind them: the local simulator in development and tests, WeChat
Pay or Alipay in production. Every call that moves money carries our own idempotency key
(``out_trade_no`` for a payment, ``out_refund_no`` for a refund), derived from our rows, so a
retry after a crash is answered with the first result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# A refund's state at the channel, spelled as WeChat Pay spells it.
PROCESSING, SUCCESS, ABNORMAL = "PROCESSING", "SUCCESS", "ABNORMAL"


class BadSignature(ValueError):
    """A notification whose signature or body does not check out: nothing in it is believed."""


@dataclass(frozen=True, slots=True)
class PaymentNotification:
    """A payment result the channel told us about, after its signature was verified."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    succeeded: bool
    at: datetime
    failure: str | None = None


class PaymentChannel(Protocol):
    """Taking payments: where the payer goes to pay, and reading the channel's notifications."""

    def pay_url(self, out_trade_no: str) -> str: ...

    def verify(self, body: bytes, signature: str) -> PaymentNotification: ...


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    status: str  # PROCESSING | SUCCESS | ABNORMAL
    refund_id: str
    failure: str | None = None


class RefundChannel(Protocol):
    """Sending money back. The same ``out_refund_no`` always names the same refund."""

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer: ...

    def query_refund(self, out_refund_no: str, now: datetime) -> RefundAnswer | None: ...


@dataclass(frozen=True, slots=True)
class ChargeAnswer:
    """The channel's answer to a charge: taken (with its transaction id) or refused, and why."""

    succeeded: bool
    transaction_id: str | None
    failure: str | None = None


class RecurringCharges(Protocol):
    """Charging a consumer under the auto-renewal agreement they signed (WeChat Pay 委托代扣,
    Alipay 周期扣款). The same ``out_trade_no`` always names the same charge: asking again, after
    a timeout or a crash, returns the first answer and never takes the money twice."""

    def charge(self, agreement_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> ChargeAnswer: ...
