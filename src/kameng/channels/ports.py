"""What kameng asks of a payment channel, whatever channel it is.

Services and the worker depend on these protocols only; the composition root (``kameng.compose``)
decides which adapter stands behind them: the local simulator in development and tests, WeChat
Pay or Alipay in production. Every call that moves money carries our own idempotency key
(``out_trade_no`` for a payment, ``out_refund_no`` for a refund), derived from our rows, so a
retry after a crash is answered with the first result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from kameng.domain.reconciliation import BillLine

# A refund's state at the channel, spelled as WeChat Pay spells it.
PROCESSING, SUCCESS, ABNORMAL = "PROCESSING", "SUCCESS", "ABNORMAL"


class BadSignature(ValueError):
    """A notification whose signature or body does not check out: nothing in it is believed."""


class NothingToApply(Exception):
    """A genuine notification that changes nothing here (Alipay's WAIT_BUYER_PAY): received."""


class ChannelUnavailable(RuntimeError):
    """A real channel gave no usable answer (network, 5xx, a rate limit): try again later with the
    same idempotency key. The outbox retries a handler that raises it."""


class ChannelRefused(ValueError):
    """A real channel (or its limits, checked before calling) refused the request for good;
    ``key`` names the reason in the catalog (channels_real.po)."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.key = key


@dataclass(frozen=True, slots=True)
class PaymentNotification:
    """A payment result the channel told us about, after its signature was verified."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    succeeded: bool
    at: datetime
    failure: str | None = None
    notice_id: str = ""  # a real channel's notification id (remembered once applied)


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


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """A refund's state told by a channel's notification (WeChat's REFUND.*, Alipay's
    trade_status_sync with a refund in it), after its signature was verified."""

    out_refund_no: str
    out_trade_no: str
    answer: RefundAnswer
    notice_id: str = ""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What we answer the channel's notification with, in its own words."""

    status_code: int
    media_type: str
    body: bytes


class NotifyingChannel(Protocol):
    """A real channel's notifications: verified (signature, time window, replay) and read into
    kameng's words, and the answer the channel expects. ``read_notification`` raises
    :class:`BadSignature` with the reason for anything it does not believe."""

    name: str

    def read_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification | RefundNotice: ...

    def acknowledge(self, accepted: bool, reason: str = "") -> Acknowledgement: ...

    def remember(self, notice_id: str, now: datetime) -> None:
        """The notification was applied (or verified and found not applicable): a replay of it
        is refused from now on."""
        ...


@dataclass(frozen=True, slots=True)
class Checkout:
    """Where the payer pays at a real channel: a page to send the browser to (Alipay), or a code
    to scan (WeChat Native: ``code_url`` drawn as ``qr_png``). ``scan_url`` is set only when the
    channel is a local simulator: its page that plays the payer's phone."""

    redirect_url: str | None = None
    code_url: str | None = None
    qr_png: bytes | None = None
    scan_url: str | None = None


class HostedCheckout(Protocol):
    """A real channel's way of taking a payment for one of our trades (the same trade, the same
    checkout: asking again is harmless)."""

    def checkout(self, out_trade_no: str, subject: str, amount_fen: int, expires_at: datetime) -> Checkout: ...


class BillingChannel(Protocol):
    """A real channel's bill of one day, read into reconciliation lines. Raises
    :class:`ChannelUnavailable` or :class:`ChannelRefused`."""

    def trade_bill(self, day: date) -> list[BillLine]: ...
