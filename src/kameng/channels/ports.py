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
    """A refund's state in kameng's three words: PROCESSING (keep asking), SUCCESS, and ABNORMAL
    (failed for good: a new attempt needs a new ``out_refund_no``). A real channel's own word is
    kept in ``channel_status`` (WeChat's ABNORMAL, which is not final, is PROCESSING here; its
    CLOSED is ABNORMAL here)."""

    status: str  # PROCESSING | SUCCESS | ABNORMAL
    refund_id: str
    failure: str | None = None
    channel_status: str | None = None


class RefundChannel(Protocol):
    """Sending money back. The same ``out_refund_no`` always names the same refund."""

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer: ...

    def query_refund(self, out_refund_no: str, now: datetime, out_trade_no: str | None = None) -> RefundAnswer | None:
        """The refund's state now; None when the channel has no such refund. Alipay finds a refund
        by its trade too, hence ``out_trade_no``."""
        ...
