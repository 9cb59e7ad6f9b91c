"""WeChat Pay behind kameng's ports, on the maintained SDK ``wechatpayv3`` (APIv3, public-key mode).

What the SDK does not do, the adapter does:

- **The gateway** is hard-coded in ``Core.__init__`` (``_gate_way``); :func:`retarget` moves it to
  the configured address (the local simulator in development) and refuses an SDK without it.
- **Public-key mode** (``public_key``, ``public_key_id``): in certificate mode the SDK would fetch
  ``/v3/certificates`` from the real host in its constructor.
- **Notifications**: the SDK checks the signature and decrypts the ``resource`` (AES-256-GCM under
  the APIv3 key) but never looks at the timestamp; the adapter refuses one outside ±5 minutes and
  one whose ``id`` it has already accepted (a replay).
- **Refund states** are WeChat's: ``SUCCESS``; ``PROCESSING``; ``ABNORMAL`` is *not* final (the
  money waits in WeChat's intermediate account until :meth:`abnormal_refund` sends it on), so it
  is answered as processing; ``CLOSED`` is final and a new attempt needs a new ``out_refund_no``,
  which kameng's failed-refund path already gives (``retry_refund``).
- **Limits** (365 days, 50 partial refunds, one a minute) are checked before calling.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import qrcode
from wechatpayv3 import WeChatPay, WeChatPayType

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
    PaymentNotification,
    RefundAnswer,
    RefundNotice,
)
from kameng.channels.wechatpay.bill import BillError, parse_trade_bill
from kameng.channels.wechatpay.config import WeChatPayConfig
from kameng.domain.channel_limits import refund_refusal
from kameng.domain.reconciliation import BillLine
from kameng.platform.i18n import translate

log = logging.getLogger("kameng.channels.wechatpay")

GATEWAY_ATTRIBUTE = "_gate_way"  # wechatpayv3 2.0.x sets it in Core.__init__
NOTIFICATION_WINDOW = timedelta(minutes=5)
TIMEOUT = (5, 20)  # seconds to connect, to read


@dataclass(frozen=True, slots=True)
class Trade:
    out_trade_no: str
    state: str  # NOTPAY, SUCCESS, CLOSED, REFUND, PAYERROR, USERPAYING, REVOKED
    total_fen: int
    transaction_id: str
    success_time: datetime | None


@dataclass(frozen=True, slots=True)
class Notice:
    """A verified notification: its id, its event and its decrypted resource."""

    notice_id: str
    event_type: str
    resource: dict[str, Any]


def retarget(sdk: WeChatPay, gateway: str) -> None:
    """Point the SDK at ``gateway``. The attribute is private to wechatpayv3: a version that renames
    it must fail here, at start-up, not send our requests to the real host."""
    core = getattr(sdk, "_core", None)
    if core is None or not isinstance(getattr(core, GATEWAY_ATTRIBUTE, None), str):
        raise RuntimeError(f"wechatpayv3 has no Core.{GATEWAY_ATTRIBUTE}: check the pinned version")
    setattr(core, GATEWAY_ATTRIBUTE, gateway.rstrip("/"))


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a WeChat time carries its offset")
    return moment.astimezone(UTC)


class WeChatPayAdapter:
    """Native payments (a QR code), notifications, queries, closing, refunds and their states."""

    name = "wechat"

    def __init__(
        self,
        config: WeChatPayConfig,
        remembered_notices: int = 10_000,
        refund_history: Callable[[str, str], tuple[int, datetime | None]] | None = None,
    ) -> None:
        self.config = config
        # (out_trade_no, out_refund_no) → refunds of the trade already accepted, and the last one's time
        self._refund_history = refund_history
        self._sdk = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=config.mchid,
            private_key=config.private_key_pem,
            cert_serial_no=config.cert_serial_no,
            appid=config.appid,
            apiv3_key=config.apiv3_key,
            notify_url=config.notify_url,
            public_key=config.public_key_pem,
            public_key_id=config.public_key_id,
            timeout=TIMEOUT,
        )
        retarget(self._sdk, config.gateway)
        self._seen: NoticeBook = SeenNotices(remembered_notices)

    # ---------------------------------------------------------------------------------------
    # Calls

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            code, text = call(*args, **kwargs)
        except Exception as error:  # the SDK raises bare Exception for a bad signature, requests for the network
            log.warning("wechatpay %s: no usable answer (%s)", what, type(error).__name__)
            raise ChannelUnavailable(f"wechatpay {what}: {type(error).__name__}") from None
        if code >= 500 or code == 429:
            raise ChannelUnavailable(f"wechatpay {what}: HTTP {code}")
        if not text:
            return code, {}
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise ChannelUnavailable(f"wechatpay {what}: unreadable answer") from None
        if not isinstance(data, dict):
            raise ChannelUnavailable(f"wechatpay {what}: unreadable answer")
        if code >= 400 and data.get("code") in {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR"}:
            raise ChannelUnavailable(f"wechatpay {what}: {data.get('code')}")
        return code, data

    def create_native(self, out_trade_no: str, description: str, amount_fen: int, expires_at: datetime) -> str:
        """The ``code_url`` the payer scans. Asking again for the same trade gives the same code."""
        code, data = self._call(
            "native",
            self._sdk.pay,
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"},
            time_expire=expires_at.astimezone(UTC).isoformat(timespec="seconds"),
        )
        if code != 200 or not isinstance(data.get("code_url"), str):
            raise ChannelRefused("channels.refusal.payment", str(data.get("code")))
        return str(data["code_url"])

    def checkout(self, out_trade_no: str, subject: str, amount_fen: int, expires_at: datetime) -> Checkout:
        code_url = self.create_native(out_trade_no, subject, amount_fen, expires_at)
        scan_url = None
        if self.config.scan_page:
            scan_url = self.config.scan_page + "?" + urlsplit(code_url).query
        return Checkout(code_url=code_url, qr_png=self.qr_png(code_url), scan_url=scan_url)

    @staticmethod
    def qr_png(code_url: str) -> bytes:
        """The code drawn as a PNG image, for the payer to scan."""
        image = qrcode.make(code_url, box_size=8, border=2)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def query(self, out_trade_no: str) -> Trade | None:
        code, data = self._call("query", self._sdk.query, out_trade_no=out_trade_no)
        if code == 404:
            return None
        if code != 200:
            raise ChannelUnavailable(f"wechatpay query: {data.get('code')}")
        return self._trade(data)

    def close(self, out_trade_no: str) -> bool:
        """Close an unpaid trade; False when it was paid meanwhile (the notification will come)."""
        code, data = self._call("close", self._sdk.close, out_trade_no=out_trade_no)
        if code == 204:
            return True
        if data.get("code") == "ORDERPAID":
            return False
        raise ChannelRefused("channels.refusal.close", str(data.get("code")))

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer:
        """The port's refund: a refusal for good (a limit, a trade not paid) is answered as a failed
        refund with the reason in words, so that the consumer is offered another way at once."""
        so_far, last = self._refund_history(out_trade_no, out_refund_no) if self._refund_history else (0, None)
        try:
            return self.refund(out_refund_no, out_trade_no, amount_fen, now, so_far, last)
        except ChannelRefused as refused:
            log.info("wechatpay refund %s refused: %s", out_refund_no, refused)
            return RefundAnswer(ABNORMAL, "", translate(refused.key, "zh"), channel_status="REFUSED")

    def refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        amount_fen: int,
        now: datetime,
        refunds_so_far: int = 0,
        last_refund_at: datetime | None = None,
    ) -> RefundAnswer:
        """Refund ``amount_fen`` of the trade under our ``out_refund_no`` (the same on every retry)."""
        trade = self.query(out_trade_no)
        if trade is None or trade.success_time is None:
            raise ChannelRefused("channels.refusal.not_paid", out_trade_no)
        refusal = refund_refusal(trade.success_time, now, refunds_so_far, last_refund_at)
        if refusal is not None and refusal.final:
            raise ChannelRefused(refusal.key)
        if refusal is not None:
            raise ChannelUnavailable(refusal.key)
        code, data = self._call(
            "refund",
            self._sdk.refund,
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            amount={"refund": amount_fen, "total": trade.total_fen, "currency": "CNY"},
        )
        if code != 200:
            raise ChannelRefused("channels.refusal.refund", f"{data.get('code')}: {data.get('message')}")
        return self._answer(data)

    def query_refund(self, out_refund_no: str, now: datetime, out_trade_no: str | None = None) -> RefundAnswer | None:
        code, data = self._call("query_refund", self._sdk.query_refund, out_refund_no=out_refund_no)
        if code == 404:
            return None
        if code != 200:
            raise ChannelUnavailable(f"wechatpay query_refund: {data.get('code')}")
        return self._answer(data)

    def abnormal_refund(self, out_refund_no: str, to_user_card: tuple[str, str, str] | None = None) -> RefundAnswer:
        """Send an ABNORMAL refund on: to the consumer's bank card (bank type, account, name; the
        SDK encrypts the last two with WeChat's public key) or, without one, to the merchant's
        account (from where kameng pays the consumer otherwise)."""
        code, data = self._call("query_refund", self._sdk.query_refund, out_refund_no=out_refund_no)
        if code != 200 or data.get("status") != "ABNORMAL":
            raise ChannelRefused("channels.refusal.not_abnormal", str(data.get("status") or data.get("code")))
        if to_user_card is not None:
            bank_type, account, name = to_user_card
            args = {"type": "USER_BANK_CARD", "bank_type": bank_type, "bank_account": account, "real_name": name}
        else:
            args = {"type": "MERCHANT_BANK_CARD"}
        code, data = self._call(
            "abnormal_refund",
            self._sdk.abnormal_refund,
            refund_id=data["refund_id"],
            out_refund_no=out_refund_no,
            **args,
        )
        if code != 200:
            raise ChannelRefused("channels.refusal.refund", f"{data.get('code')}: {data.get('message')}")
        return self._answer(data)

    def trade_bill(self, day: date) -> list[BillLine]:
        """The day's trade bill, downloaded (gzip) and read (:mod:`kameng.channels.wechatpay.bill`)."""
        code, data = self._call("trade_bill", self._sdk.trade_bill, bill_date=day.isoformat())
        if code != 200 or not isinstance(data.get("download_url"), str):
            raise ChannelRefused("channels.refusal.bill", str(data.get("code")))
        try:
            code, content = self._sdk.download_bill(data["download_url"])
            text = gzip.decompress(content).decode("utf-8")
        except Exception as error:  # requests, gzip, a non-bytes answer
            raise ChannelUnavailable(f"wechatpay bill: {type(error).__name__}") from None
        if code != 200:
            raise ChannelUnavailable(f"wechatpay bill: HTTP {code}")
        try:
            return parse_trade_bill(text)
        except BillError as error:
            raise ChannelRefused("channels.refusal.bill", str(error)) from None

    # ---------------------------------------------------------------------------------------
    # Notifications

    def verify_notice(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notice:
        """Signature (through the SDK), timestamp window, decryption, de-duplication. Raises
        :class:`BadSignature` with the reason; nothing in a refused notification is believed."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            stamp = datetime.fromtimestamp(int(lowered.get("wechatpay-timestamp", "")), UTC)
        except (ValueError, OverflowError, OSError):
            raise BadSignature("no timestamp") from None
        if abs(now - stamp) > NOTIFICATION_WINDOW:
            raise BadSignature("stale timestamp")
        try:
            text = body.decode("utf-8")
            # The SDK's FastAPI spelling: lower-case header names.
            result = self._sdk.callback(lowered, text)
        except Exception:  # the SDK raises a bare Exception on an unknown algorithm
            raise BadSignature("unreadable notification") from None
        if not result or not isinstance(result.get("resource"), dict):
            raise BadSignature("signature or resource does not verify")
        notice_id = str(result.get("id") or "")
        self._seen.check(notice_id)
        return Notice(notice_id, str(result.get("event_type")), result["resource"])

    def read_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification | RefundNotice:
        """The port's reading: a payment (TRANSACTION.*) or a refund (REFUND.*)."""
        notice = self.verify_notice(headers, body, now)
        if notice.event_type.startswith("REFUND."):
            return self._refund_notice(notice)
        return self._payment_notice(notice, now)

    def remember(self, notice_id: str, now: datetime) -> None:
        self._seen.remember(notice_id, now)

    def keep_notices_in(self, book: NoticeBook) -> None:
        """De-duplicate against ``book`` from now on (the database's, shared by every process)."""
        self._seen = book

    def acknowledge(self, accepted: bool, reason: str = "") -> Acknowledgement:
        """WeChat Pay takes 200 (or 204) as received; anything else is retried, at most 15 times
        over 24 hours, so a refused notification ends by itself."""
        if accepted:
            return Acknowledgement(200, "application/json", b'{"code":"SUCCESS","message":"OK"}')
        body = json.dumps({"code": "FAIL", "message": reason[:120]}).encode()
        return Acknowledgement(400, "application/json", body)

    def payment_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotification:
        """A payment notification, verified, in the port's shape."""
        return self._payment_notice(self.verify_notice(headers, body, now), now)

    def _payment_notice(self, notice: Notice, now: datetime) -> PaymentNotification:
        resource = notice.resource
        if notice.event_type != "TRANSACTION.SUCCESS":
            raise BadSignature(f"not a payment: {notice.event_type}")
        if resource.get("mchid") != self.config.mchid or resource.get("appid") != self.config.appid:
            raise BadSignature("another merchant's notification")
        try:
            trade = self._trade(resource)
        except (KeyError, TypeError, ValueError):
            raise BadSignature("notification body is malformed") from None
        return PaymentNotification(
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.transaction_id,
            amount_fen=trade.total_fen,
            succeeded=trade.state == "SUCCESS",
            at=trade.success_time or now,
            failure=None if trade.state == "SUCCESS" else trade.state,
            notice_id=notice.notice_id,
        )

    def _refund_notice(self, notice: Notice) -> RefundNotice:
        """REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED: our refund number and the answer."""
        resource = dict(notice.resource)
        if resource.get("mchid") != self.config.mchid:
            raise BadSignature("another merchant's notification")
        resource.setdefault("status", resource.get("refund_status"))
        try:
            answer = self._answer(resource)
            return RefundNotice(str(resource["out_refund_no"]), str(resource["out_trade_no"]), answer, notice.notice_id)
        except (KeyError, TypeError, ValueError):
            raise BadSignature("notification body is malformed") from None

    # ---------------------------------------------------------------------------------------
    # WeChat's words to the port's

    @staticmethod
    def _trade(data: dict[str, Any]) -> Trade:
        amount = data["amount"]
        total = amount["total"]
        if isinstance(total, bool) or not isinstance(total, int):
            raise ValueError("amount")
        success = data.get("success_time")
        return Trade(
            out_trade_no=str(data["out_trade_no"]),
            state=str(data["trade_state"]),
            total_fen=total,
            transaction_id=str(data.get("transaction_id") or ""),
            success_time=parse_time(success) if isinstance(success, str) else None,
        )

    @staticmethod
    def _answer(data: dict[str, Any]) -> RefundAnswer:
        status = str(data["status"])
        refund_id = str(data.get("refund_id") or "")
        if status == "SUCCESS":
            return RefundAnswer(SUCCESS, refund_id, channel_status=status)
        if status == "PROCESSING":
            return RefundAnswer(PROCESSING, refund_id, channel_status=status)
        if status == "ABNORMAL":
            # Not final: the money waits at WeChat until abnormal_refund sends it on.
            return RefundAnswer(PROCESSING, refund_id, "退款异常，待处理 (abnormal: waiting)", channel_status=status)
        if status == "CLOSED":
            # Final: kameng's failed-refund path asks again under a new out_refund_no.
            return RefundAnswer(ABNORMAL, refund_id, "退款关闭 (refund closed)", channel_status=status)
        raise ValueError(f"unknown WeChat refund status {status!r}")
