"""A local Alipay open gateway (``gateway.do``, RSA2) for development and tests.

It checks the app's signature over every request's sorted parameters, answers signed
``{"<method>_response": {...}, "sign": ...}`` (a business failure: ``code`` 40004), shows the payer
a page for ``alipay.trade.page.pay``, and posts ``trade_status_sync`` as Alipay does, signed over
every field but ``sign``/``sign_type``, expecting ``success``: a payment; a refund once its money
has moved (``refund_fee``, ``gmt_refund``, ``out_biz_no``; ``TRADE_CLOSED`` once all is back),
twice if told to. Behaviour and HTTP controls: ``alipay_controls.py``."""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kameng.channels.protocol_sims.alipay_bill import bill_zip
from kameng.channels.protocol_sims.alipay_controls import AliMisbehaviour, AlipayControls
from kameng.channels.protocol_sims.server import (
    CONTROL_PREFIX,
    Deliveries,
    KeyPair,
    LocalServer,
    Received,
    Reply,
    new_key_pair,
    post,
)
from kameng.domain.money import format_yuan, parse_yuan

CHINA = timezone(timedelta(hours=8))
REQUEST_CLOCK_SKEW = timedelta(minutes=10)  # Alipay refuses a request stamped far from its own time


def alipay_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def signing_text(params: dict[str, str]) -> str:
    """Alipay's string to sign or verify: every field but ``sign`` and ``sign_type``, sorted, raw."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in {"sign", "sign_type"} and v != "")


@dataclass
class AliTrade:
    out_trade_no: str
    subject: str
    total: int
    notify_url: str
    return_url: str
    status: str = "WAIT_BUYER_PAY"  # TRADE_SUCCESS, TRADE_CLOSED
    trade_no: str = ""
    paid_at: datetime | None = None
    refunded: int = 0


@dataclass
class AliRefund:
    out_request_no: str
    out_trade_no: str
    amount: int
    at: datetime
    settled: bool
    queries_until_settled: int = 0


class AlipaySimulator(AlipayControls):
    def __init__(
        self,
        app_id: str,
        app_public_pem: str,
        clock: Callable[[], datetime] | None = None,
        port: int = 0,
        controls: bool = False,
    ) -> None:
        self.app_id = app_id
        self.controls = controls
        self._app_key = serialization.load_pem_public_key(app_public_pem.encode())
        self.keys: KeyPair = new_key_pair()
        self._key = serialization.load_pem_private_key(self.keys.private_pem.encode(), password=None)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.trades: dict[str, AliTrade] = {}
        self.refunds: dict[tuple[str, str], AliRefund] = {}
        self.misbehave = AliMisbehaviour()
        self.sent: list[tuple[dict[str, str], int, bytes]] = []
        self.requests: list[dict[str, str]] = []
        self.bills: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._deliveries = Deliveries()
        self._server = LocalServer(self._handle, port)

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def gateway(self) -> str:
        return self.base_url + "/gateway.do"

    def start(self) -> AlipaySimulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    # ---------------------------------------------------------------------------------------
    # The payer and the notifications

    def pay(self, out_trade_no: str, deliver: bool = True) -> list[dict[str, str]]:
        with self._lock:
            trade = self.trades[out_trade_no]
            if trade.status == "WAIT_BUYER_PAY":
                trade.status = "TRADE_SUCCESS"
                trade.trade_no = "2026" + secrets.token_hex(10)
                trade.paid_at = self.clock()
            fields = self._trade_fields(trade)
            fields["gmt_payment"] = alipay_time(trade.paid_at or self.clock())
        notices = [self.notification(fields)]
        if self.misbehave.notify_twice:
            notices.append(notices[0])
        if deliver:
            for notice in notices:
                self.deliver(trade.notify_url, notice)
        return notices

    def refund_notification(self, out_trade_no: str, out_request_no: str) -> dict[str, str]:
        """What Alipay posts after a refund: trade_status_sync on the payment's notify URL."""
        with self._lock:
            trade = self.trades[out_trade_no]
            refund = self.refunds[(out_trade_no, out_request_no)]
            fields = self._trade_fields(trade)
            fields.update(
                refund_fee=format_yuan(trade.refunded),
                gmt_refund=alipay_time(refund.at) + ".000",
                out_biz_no=out_request_no,
            )
        return self.notification(fields)

    def notification(self, fields: dict[str, str]) -> dict[str, str]:
        params = {
            **fields,
            "notify_time": alipay_time(self.clock()),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
        }
        params["sign"] = self._sign(signing_text(params))
        return params

    def deliver(self, url: str, params: dict[str, str]) -> int:
        try:
            status, body = post(url, urlencode(params).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        except OSError:
            status, body = 0, b""  # nobody answered
        with self._lock:
            self.sent.append((params, status, body))
        return status

    def wait_for_notifications(self) -> None:
        """Until every notification queued so far has been posted (tests)."""
        self._deliveries.join()

    def _notify_refund(self, refund: AliRefund) -> None:
        """Queue the refund's trade_status_sync (twice, the same notify_id, if told to)."""
        trade = self.trades[refund.out_trade_no]
        if not self.misbehave.notify_refunds or not trade.notify_url:
            return
        params = self.refund_notification(refund.out_trade_no, refund.out_request_no)
        url = trade.notify_url
        for _ in range(2 if self.misbehave.notify_twice else 1):
            self._deliveries.submit(lambda: self.deliver(url, params))

    # ---------------------------------------------------------------------------------------
    # HTTP

    def _handle(self, request: Received) -> Reply:
        split = urlsplit(request.path)
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if request.method == "POST" and request.headers.get("content-type", "").startswith("application/x-www-form"):
            params.update({k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()})
        if split.path == "/pay/confirm":
            return self._confirm(params)
        if split.path == "/bill/download":
            bill = self.bills.get(params.get("token", ""))
            if bill is None:
                return Reply(404, b"not found", {"Content-Type": "text/plain"})
            return Reply(200, bill, {"Content-Type": "application/zip"})
        if split.path.startswith(CONTROL_PREFIX):
            return self._control(request, split.path)
        if split.path != "/gateway.do":
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        method = params.get("method", "")
        response_type = method.replace(".", "_") + "_response"
        if not self._authorized(params):
            return self._answer(response_type, self._failure("40002", "isv.invalid-signature", "验签出错"))
        with self._lock:
            self.requests.append(params)
            for index, (failing, sub_code, sub_msg) in enumerate(self.misbehave.fail_next):
                if failing == method:
                    del self.misbehave.fail_next[index]
                    return self._answer(response_type, self._failure("40004", sub_code, sub_msg))
            try:
                biz = json.loads(params.get("biz_content") or "{}")
            except ValueError:
                return self._answer(response_type, self._failure("40002", "isv.invalid-biz-content", "参数无效"))
            if method == "alipay.trade.page.pay":
                return self._page(params, biz)
            routes = {
                "alipay.trade.query": self._query,
                "alipay.trade.close": self._close,
                "alipay.trade.refund": self._refund,
                "alipay.trade.fastpay.refund.query": self._refund_query,
                "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
            }
            if method not in routes:
                return self._answer(response_type, self._failure("40004", "isv.invalid-method", "不存在的方法名"))
            return self._answer(response_type, routes[method](biz))

    def _page(self, params: dict[str, str], biz: dict[str, str]) -> Reply:
        out_trade_no = str(biz.get("out_trade_no", ""))
        total = parse_yuan(str(biz.get("total_amount", "")))
        trade = self.trades.get(out_trade_no)
        if trade is None:
            trade = AliTrade(
                out_trade_no,
                str(biz.get("subject", "")),
                total,
                params.get("notify_url", ""),
                params.get("return_url", ""),
            )
            self.trades[out_trade_no] = trade
        if trade.status == "TRADE_SUCCESS":
            action = '<p id="alipay-paid">支付成功 Paid</p>'
        else:
            action = (
                f'<form method="post" action="/pay/confirm"><input type="hidden" name="out_trade_no" '
                f'value="{html.escape(out_trade_no)}">'
                '<button type="submit" id="alipay-pay">确认付款 Pay</button></form>'
            )
        page = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>支付宝（模拟）</title>'
            f"<h1>支付宝收银台（模拟） Alipay (simulator)</h1><p>{html.escape(trade.subject)}</p>"
            f'<p class="amount">¥{format_yuan(trade.total)}</p>{action}</html>'
        )
        return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _confirm(self, params: dict[str, str]) -> Reply:
        trade = self.trades.get(params.get("out_trade_no", ""))
        if trade is None:
            return Reply(404, "交易不存在".encode(), {"Content-Type": "text/plain; charset=utf-8"})
        self.pay(trade.out_trade_no)
        back = trade.return_url or "/"
        query = urlencode({"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no})
        return Reply(303, b"", {"Location": f"{back}{'&' if '?' in back else '?'}{query}"})

    def _bill_url(self, biz: dict[str, str]) -> dict[str, str]:
        token = secrets.token_urlsafe(16)
        self.bills[token] = bill_zip(
            self.app_id, str(biz.get("bill_date", "")), self.trades.values(), self.refunds.values()
        )
        return {"code": "10000", "msg": "Success", "bill_download_url": f"{self.base_url}/bill/download?token={token}"}

    def _query(self, biz: dict[str, str]) -> dict[str, str]:
        trade = self.trades.get(str(biz.get("out_trade_no", "")))
        if trade is None:
            return self._failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        return {"code": "10000", "msg": "Success", **self._trade_fields(trade)}

    def _close(self, biz: dict[str, str]) -> dict[str, str]:
        trade = self.trades.get(str(biz.get("out_trade_no", "")))
        if trade is None:
            return self._failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status != "WAIT_BUYER_PAY":
            return self._failure("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no}

    def _refund(self, biz: dict[str, str]) -> dict[str, str]:
        trade = self.trades.get(str(biz.get("out_trade_no", "")))
        out_request_no = str(biz.get("out_request_no") or biz.get("out_trade_no") or "")
        if trade is None or trade.status == "WAIT_BUYER_PAY":
            return self._failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        amount = parse_yuan(str(biz.get("refund_amount", "")))
        existing = self.refunds.get((trade.out_trade_no, out_request_no))
        if existing is not None:  # the same out_request_no: the same refund, no money moves again
            if existing.amount != amount:
                return self._failure("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原请求不一致")
            return self._refund_fields(trade, fund_change="N")
        if amount <= 0 or amount > trade.total - trade.refunded:
            return self._failure("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        slow = self.misbehave.slow_refunds.pop(trade.out_trade_no, 0)
        refund = AliRefund(
            out_request_no, trade.out_trade_no, amount, self.clock(), settled=slow == 0, queries_until_settled=slow
        )
        self.refunds[(trade.out_trade_no, out_request_no)] = refund
        trade.refunded += amount
        if trade.refunded == trade.total:
            trade.status = "TRADE_CLOSED"
        if refund.settled:
            self._notify_refund(refund)
        return self._refund_fields(trade, fund_change="Y" if slow == 0 else "N")

    def _refund_query(self, biz: dict[str, str]) -> dict[str, str]:
        key = (str(biz.get("out_trade_no", "")), str(biz.get("out_request_no", "")))
        refund = self.refunds.get(key)
        if refund is None:  # Alipay answers success with no refund in it
            return {"code": "10000", "msg": "Success", "out_trade_no": key[0], "out_request_no": key[1]}
        if not refund.settled:
            refund.queries_until_settled -= 1
            refund.settled = refund.queries_until_settled <= 0
            if not refund.settled:
                return {"code": "10000", "msg": "Success", "out_trade_no": key[0], "out_request_no": key[1]}
            self._notify_refund(refund)
        trade = self.trades[refund.out_trade_no]
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "out_request_no": refund.out_request_no,
            "total_amount": format_yuan(trade.total),
            "refund_amount": format_yuan(refund.amount),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": alipay_time(refund.at),
        }

    # ---------------------------------------------------------------------------------------
    # The protocol's envelope

    def _authorized(self, params: dict[str, str]) -> bool:
        if params.get("app_id") != self.app_id or params.get("sign_type") != "RSA2":
            return False
        try:
            stamp = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
        except ValueError:
            return False
        if abs(stamp - self.clock()) > REQUEST_CLOCK_SKEW:
            return False  # the SDK's naive local time in a UTC container lands here, 8 hours off
        # Requests are signed over every parameter except sign (sign_type included).
        text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
        assert isinstance(self._app_key, rsa.RSAPublicKey)
        try:
            self._app_key.verify(
                base64.b64decode(params.get("sign", "")), text.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _sign(self, text: str) -> str:
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return base64.b64encode(self._key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    def _answer(self, response_type: str, content: dict[str, str]) -> Reply:
        inner = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        raw = f'{{"{response_type}":{inner},"sign":"{self._sign(inner)}"}}'
        return Reply(200, raw.encode(), {"Content-Type": "application/json; charset=utf-8"})

    @staticmethod
    def _failure(code: str, sub_code: str, sub_msg: str) -> dict[str, str]:
        return {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _trade_fields(self, trade: AliTrade) -> dict[str, str]:
        fields = {
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status,
            "total_amount": format_yuan(trade.total),
            "subject": trade.subject,
        }
        if trade.trade_no:
            fields.update(trade_no=trade.trade_no, receipt_amount=format_yuan(trade.total), buyer_id="2088" + "1" * 12)
        if trade.paid_at is not None:
            fields["send_pay_date"] = alipay_time(trade.paid_at)
        return fields

    def _refund_fields(self, trade: AliTrade, fund_change: str) -> dict[str, str]:
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "csq***@sandbox.com",
            "fund_change": fund_change,
            "refund_fee": format_yuan(trade.refunded),
            "gmt_refund_pay": alipay_time(self.clock()),
        }
