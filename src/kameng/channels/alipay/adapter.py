"""Alipay behind kameng's ports, on the maintained SDK ``python-alipay-sdk`` (RSA2).

What the SDK does not do, the adapter does:

- **The gateway** is chosen by ``debug`` (sandbox or production, ``_gateway``); :func:`retarget`
  moves it to the configured address and refuses an SDK without it.
- **The time zone**: the SDK stamps requests with ``datetime.now()``, naive local time, 8 hours
  off in a UTC container (Alipay refuses them); :class:`_BeijingAliPay` stamps Beijing time.
- **Business failures** (``code`` 40004, signed) are returned by the SDK, not raised: every answer
  is checked for ``code == "10000"``.
- **Refunds** carry our refund's id as ``out_request_no`` on every retry. ``fund_change == "Y"``
  means the money moved; otherwise ``alipay.trade.fastpay.refund.query`` (never sooner than 10
  seconds later) must say ``REFUND_SUCCESS``.
- **Notifications**: a refund has none of its own: it arrives as ``trade_status_sync`` on the
  payment's notify URL (a partial one as ``TRADE_SUCCESS`` with ``refund_fee``, ``gmt_refund``,
  ``out_biz_no``; a full one as ``TRADE_CLOSED``). Verified over every field but ``sign`` and
  ``sign_type``; de-duplicated by ``notify_id``; the answer is the text ``success``.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from alipay import AliPay

from kameng.channels.alipay.bill import BillError, parse_bill_zip
from kameng.channels.notices import NoticeBook, SeenNotices
from kameng.channels.ports import (
    ABNORMAL,
    PROCESSING,
    SUCCESS,
    Acknowledgement,
    BadSignature,
    ChannelRefused,
    ChannelUnavailable,
    Checkout,
    NothingToApply,
    PaymentNotification,
    RefundAnswer,
    RefundNotice,
)
from kameng.domain.channel_limits import refund_refusal
from kameng.domain.money import MoneyError, format_yuan, parse_yuan
from kameng.domain.reconciliation import BillLine
from kameng.platform.i18n import translate

log = logging.getLogger("kameng.channels.alipay")

GATEWAY_ATTRIBUTE = "_gateway"  # python-alipay-sdk 3.4.x sets it in BaseAliPay.__init__
CHINA = timezone(timedelta(hours=8))  # China keeps no daylight saving time
NOTIFICATION_WINDOW = timedelta(minutes=5)
QUERY_NOT_BEFORE = timedelta(seconds=10)
OK = "10000"


@dataclass(frozen=True, slots=True)
class AlipayConfig:
    app_id: str
    app_private_key_pem: str
    alipay_public_key_pem: str
    notify_url: str
    return_url: str
    gateway: str = "https://openapi.alipay.com/gateway.do"

    def __repr__(self) -> str:  # never print a key
        return f"AlipayConfig(app_id={self.app_id!r}, gateway={self.gateway!r})"


@dataclass(frozen=True, slots=True)
class AliTradeFacts:
    out_trade_no: str
    status: str  # WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED, TRADE_FINISHED
    total_fen: int
    trade_no: str
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class RefundSync:
    """A refund told by trade_status_sync: our ``out_request_no`` and the trade's refunded total."""

    out_trade_no: str
    out_request_no: str
    refunded_total_fen: int
    at: datetime
    full: bool
    notice_id: str = ""


class _BeijingAliPay(AliPay):  # type: ignore[misc]  # the SDK is untyped
    """The SDK with its request timestamp in Beijing time, whatever the container's zone."""

    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

    def build_body(self, method: str, biz_content: Any = None, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = self.clock().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        return data


def retarget(sdk: AliPay, gateway: str) -> None:
    if not isinstance(getattr(sdk, GATEWAY_ATTRIBUTE, None), str):
        raise RuntimeError(f"python-alipay-sdk has no {GATEWAY_ATTRIBUTE}: check the pinned version")
    setattr(sdk, GATEWAY_ATTRIBUTE, gateway)


def beijing(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).astimezone(UTC)


class AlipayAdapter:
    """Page payments, trade_status_sync notifications, queries, closing, refunds and their queries."""

    name = "alipay"

    def __init__(
        self, config: AlipayConfig, clock: Callable[[], datetime] | None = None, remembered: int = 10_000
    ) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sdk = _BeijingAliPay(
            appid=config.app_id,
            app_notify_url=config.notify_url,
            app_private_key_string=config.app_private_key_pem,
            alipay_public_key_string=config.alipay_public_key_pem,
            sign_type="RSA2",
        )
        self._sdk.clock = self._clock
        retarget(self._sdk, config.gateway)
        self._seen: NoticeBook = SeenNotices(remembered)
        self._remembered = remembered
        self._sent_at: dict[str, datetime] = {}
        self._sent_trade: dict[str, str] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------
    # Calls

    def _call(self, what: str, call: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = call(**kwargs)
        except Exception as error:  # AliPayException, AliPayValidationError, URLError, timeouts
            log.warning("alipay %s: no usable answer (%s)", what, type(error).__name__)
            raise ChannelUnavailable(f"alipay {what}: {type(error).__name__}") from None
        if not isinstance(answer, dict):
            raise ChannelUnavailable(f"alipay {what}: unreadable answer")
        if answer.get("code") == "20000":  # service temporarily unavailable
            raise ChannelUnavailable(f"alipay {what}: {answer.get('sub_code')}")
        return answer

    def page_pay_url(self, out_trade_no: str, subject: str, amount_fen: int, expires_at: datetime) -> str:
        """Where the payer's browser goes: the gateway with the signed request (no call is made)."""
        query = self._sdk.api_alipay_trade_page_pay(
            subject=subject[:256],
            out_trade_no=out_trade_no,
            total_amount=format_yuan(amount_fen),
            return_url=self.config.return_url,
            notify_url=self.config.notify_url,
            time_expire=expires_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        )
        return f"{self.config.gateway}?{query}"

    def checkout(self, out_trade_no: str, subject: str, amount_fen: int, expires_at: datetime) -> Checkout:
        return Checkout(redirect_url=self.page_pay_url(out_trade_no, subject, amount_fen, expires_at))

    def query(self, out_trade_no: str) -> AliTradeFacts | None:
        answer = self._call("query", self._sdk.api_alipay_trade_query, out_trade_no=out_trade_no)
        if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return None
        if answer.get("code") != OK:
            raise ChannelUnavailable(f"alipay query: {answer.get('sub_code')}")
        paid = answer.get("send_pay_date")
        return AliTradeFacts(
            out_trade_no=str(answer["out_trade_no"]),
            status=str(answer["trade_status"]),
            total_fen=parse_yuan(str(answer["total_amount"])),
            trade_no=str(answer.get("trade_no") or ""),
            paid_at=beijing(paid) if isinstance(paid, str) else None,
        )

    def close(self, out_trade_no: str) -> bool:
        answer = self._call("close", self._sdk.api_alipay_trade_close, out_trade_no=out_trade_no)
        if answer.get("code") == OK:
            return True
        if answer.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            return False
        raise ChannelRefused("channels.refusal.close", str(answer.get("sub_code")))

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer:
        try:
            return self.refund(out_refund_no, out_trade_no, amount_fen, now)
        except ChannelRefused as refused:
            log.info("alipay refund %s refused: %s", out_refund_no, refused)
            return RefundAnswer(ABNORMAL, "", translate(refused.key, "zh"), channel_status="REFUSED")

    def refund(self, out_request_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer:
        trade = self.query(out_trade_no)
        if trade is None or trade.paid_at is None:
            raise ChannelRefused("channels.refusal.not_paid", out_trade_no)
        refusal = refund_refusal(trade.paid_at, now)
        if refusal is not None:
            raise ChannelRefused(refusal.key)
        answer = self._call(
            "refund",
            self._sdk.api_alipay_trade_refund,
            refund_amount=format_yuan(amount_fen),
            out_trade_no=out_trade_no,
            out_request_no=out_request_no,
        )
        if answer.get("code") != OK:  # a signed business failure: returned, not raised
            raise ChannelRefused("channels.refusal.refund", f"{answer.get('sub_code')}: {answer.get('sub_msg')}")
        with self._lock:
            self._sent_at[out_request_no] = now
            self._sent_trade[out_request_no] = out_trade_no
        if answer.get("fund_change") == "Y":
            return RefundAnswer(SUCCESS, str(answer.get("trade_no") or ""), channel_status="FUND_CHANGE_Y")
        return RefundAnswer(PROCESSING, str(answer.get("trade_no") or ""), channel_status="FUND_CHANGE_N")

    def query_refund(self, out_refund_no: str, now: datetime, out_trade_no: str | None = None) -> RefundAnswer | None:
        """REFUND_SUCCESS or still processing; asked again with the same out_request_no."""
        with self._lock:
            sent = self._sent_at.get(out_refund_no)
            trade_no = out_trade_no or self._sent_trade.get(out_refund_no)
        if trade_no is None:
            return None  # Alipay finds a refund by its trade: without it there is nothing to ask
        if sent is not None and now - sent < QUERY_NOT_BEFORE:
            return RefundAnswer(PROCESSING, "", channel_status="TOO_SOON")
        answer = self._call(
            "refund_query",
            self._sdk.api_alipay_trade_fastpay_refund_query,
            out_request_no=out_refund_no,
            out_trade_no=trade_no,
        )
        if answer.get("code") != OK:
            raise ChannelUnavailable(f"alipay refund query: {answer.get('sub_code')}")
        if answer.get("refund_status") == "REFUND_SUCCESS":
            return RefundAnswer(SUCCESS, str(answer.get("trade_no") or ""), channel_status="REFUND_SUCCESS")
        return RefundAnswer(PROCESSING, str(answer.get("trade_no") or ""), channel_status="NOT_YET")

    def trade_bill(self, day: date) -> list[BillLine]:
        """The day's bill: its address asked of the gateway, the zip downloaded and read."""
        answer = self._call(
            "bill",
            self._sdk.server_api,
            api_name="alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": day.isoformat()},
        )
        url = answer.get("bill_download_url")
        if answer.get("code") != OK or not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ChannelRefused("channels.refusal.bill", str(answer.get("sub_code")))
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # scheme checked above
                content = response.read()
        except OSError as error:
            raise ChannelUnavailable(f"alipay bill: {type(error).__name__}") from None
        try:
            return parse_bill_zip(content)
        except BillError as error:
            raise ChannelRefused("channels.refusal.bill", str(error)) from None

    # ---------------------------------------------------------------------------------------
    # Notifications (trade_status_sync)

    def verify_notice(self, form: dict[str, str], now: datetime) -> dict[str, str]:
        data = dict(form)
        signature = data.pop("sign", "")
        if not signature:
            raise BadSignature("unsigned notification")
        if data.get("app_id") != self.config.app_id:
            raise BadSignature("another app's notification")
        try:
            verified = self._sdk.verify(dict(data), signature)  # over every field but sign and sign_type
        except Exception:  # a wrong sign_type, undecodable base64
            verified = False
        if not verified:
            raise BadSignature("signature does not verify")
        try:
            stamp = beijing(data.get("notify_time", ""))
        except ValueError:
            raise BadSignature("no notify_time") from None
        if abs(now - stamp) > NOTIFICATION_WINDOW:
            raise BadSignature("stale notification")
        self._seen.check(data.get("notify_id", ""))
        return data

    def read_notification_form(self, form: dict[str, str], now: datetime) -> PaymentNotification | RefundSync:
        """A verified trade_status_sync: a payment, or a refund (partial or full)."""
        data = self.verify_notice(form, now)
        try:
            if data.get("out_biz_no") or data.get("refund_fee"):
                refunded = parse_yuan(data["refund_fee"])
                return RefundSync(
                    out_trade_no=data["out_trade_no"],
                    out_request_no=data.get("out_biz_no", ""),
                    refunded_total_fen=refunded,
                    at=beijing(data.get("gmt_refund", data["notify_time"])),
                    full=data.get("trade_status") == "TRADE_CLOSED",
                    notice_id=data.get("notify_id", ""),
                )
            status = data["trade_status"]
            if status == "WAIT_BUYER_PAY":
                raise NothingToApply("the trade waits for the payer")
            return PaymentNotification(
                out_trade_no=data["out_trade_no"],
                transaction_id=data["trade_no"],
                amount_fen=parse_yuan(data["total_amount"]),
                succeeded=status in {"TRADE_SUCCESS", "TRADE_FINISHED"},
                at=beijing(data.get("gmt_payment", data["notify_time"])),
                failure=None if status in {"TRADE_SUCCESS", "TRADE_FINISHED"} else status,
            )
        except (KeyError, ValueError, MoneyError):
            raise BadSignature("notification body is malformed") from None

    def read_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification | RefundNotice:
        """The port's reading of a form-encoded trade_status_sync. A refund in it is SUCCESS: Alipay
        tells a refund only once its money has moved."""
        try:
            form = {
                k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True).items()
            }
        except (UnicodeDecodeError, ValueError):
            raise BadSignature("unreadable notification") from None
        read = self.read_notification_form(form, now)
        if isinstance(read, RefundSync):
            answer = RefundAnswer(SUCCESS, "", channel_status="TRADE_CLOSED" if read.full else "REFUND_FEE")
            return RefundNotice(read.out_request_no, read.out_trade_no, answer, read.notice_id)
        return replace(read, notice_id=form.get("notify_id", ""))

    def remember(self, notice_id: str, now: datetime) -> None:
        self._seen.remember(notice_id, now)

    def keep_notices_in(self, book: NoticeBook) -> None:
        """De-duplicate against ``book`` from now on (the database's, shared by every process)."""
        self._seen = book

    def acknowledge(self, accepted: bool, reason: str = "") -> Acknowledgement:
        """Alipay stops sending once it reads the text ``success``; anything else is retried
        (8 times over about a day), so a refused notification ends by itself."""
        return Acknowledgement(200, "text/plain", b"success" if accepted else b"fail")
