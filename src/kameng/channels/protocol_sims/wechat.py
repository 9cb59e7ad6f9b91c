"""A local WeChat Pay (APIv3, public-key mode) for development and tests.

It speaks the real protocol: it checks the merchant's ``Authorization`` signature on every request,
answers with the ``Wechatpay-*`` headers signed by the platform key it generated at start, and
notifies with an AES-256-GCM ``resource`` under the merchant's APIv3 key. Its behaviour is set per
trade: a refund's states are a script (``["PROCESSING", "SUCCESS"]`` by default; ``CLOSED`` and
``ABNORMAL`` on demand), a failure or a delay can be queued, a notification can be sent twice.
When a refund reaches SUCCESS, ABNORMAL or CLOSED it posts ``REFUND.<state>`` to the refund's
notify URL, as WeChat Pay does. Tests set the behaviour in Python; ``make run`` and browser tests
over HTTP at ``/__sim__/behaviour`` (127.0.0.1 only, and only when started with ``controls``).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization

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
from kameng.channels.protocol_sims.wechat_books import (
    SimRefund,
    SimTrade,
    bill_csv,
    refund_body,
    trade_body,
    wechat_time,
)
from kameng.channels.protocol_sims.wechat_controls import Misbehaviour, WeChatControls
from kameng.channels.protocol_sims.wechat_envelope import NOTIFIED_REFUND_STATES, WeChatEnvelope
from kameng.domain.channel_limits import MAX_PARTIAL_REFUNDS, MIN_GAP_BETWEEN_REFUNDS, REFUND_WINDOW


class WeChatPaySimulator(WeChatEnvelope, WeChatControls):
    """The channel's side: its own books, its keys, its HTTP API and the payer's scan page."""

    def __init__(
        self,
        mchid: str,
        appid: str,
        merchant_public_pem: str,
        apiv3_key: str,
        clock: Callable[[], datetime] | None = None,
        port: int = 0,
        controls: bool = False,
    ) -> None:
        self.mchid, self.appid, self.apiv3_key = mchid, appid, apiv3_key
        self.controls = controls
        self._merchant_key = serialization.load_pem_public_key(merchant_public_pem.encode())
        self.platform: KeyPair = new_key_pair()
        self._platform_key = serialization.load_pem_private_key(self.platform.private_pem.encode(), password=None)
        self.public_key_id = "PUB_KEY_ID_SIM" + secrets.token_hex(8).upper()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.trades: dict[str, SimTrade] = {}
        self.refunds: dict[str, SimRefund] = {}
        self.scripts: dict[str, list[str]] = {}  # out_trade_no → the next refund's states
        self.misbehave = Misbehaviour()
        self.sent: list[tuple[dict[str, str], bytes, int]] = []  # notifications: headers, body, our answer
        self.requests: list[Received] = []
        self.bills: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._deliveries = Deliveries()
        self._server = LocalServer(self._handle, port)

    # ---------------------------------------------------------------------------------------
    # Life and controls

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> WeChatPaySimulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def script_refunds(self, out_trade_no: str, states: list[str]) -> None:
        """The states the next refund of this trade goes through: the first is the answer to the
        request, each query reveals the next (the last one stays)."""
        self.scripts[out_trade_no] = list(states)

    def scan_url(self, code_url: str) -> str:
        """Where the payer's phone "goes" after scanning ``code_url`` (a page of this server)."""
        token = parse_qs(urlsplit(code_url).query).get("pr", [""])[0]
        return f"{self.base_url}/pay/scan?pr={token}"

    def pay(self, out_trade_no: str, deliver: bool = True) -> list[tuple[dict[str, str], bytes]]:
        """The payer pays: the trade succeeds and the channel notifies (twice if told to)."""
        with self._lock:
            trade = self.trades[out_trade_no]
            if trade.state == "NOTPAY":
                trade.state = "SUCCESS"
                trade.transaction_id = "4200" + secrets.token_hex(12)
                trade.success_time = self.clock()
            resource = trade_body(trade, self.appid, self.mchid)
        notices = [self.notification("TRANSACTION.SUCCESS", "transaction", resource)]
        if self.misbehave.notify_twice:
            notices.append(notices[0])
        if deliver:
            for headers, body in notices:
                self.deliver(trade.notify_url, headers, body)
        return notices

    def deliver(self, url: str, headers: dict[str, str], body: bytes) -> int:
        try:
            status, _ = post(url, body, {**headers, "Content-Type": "application/json"})
        except OSError:
            status = 0  # nobody answered
        with self._lock:
            self.sent.append((headers, body, status))
        return status

    def wait_for_notifications(self) -> None:
        """Until every notification queued so far has been posted (tests)."""
        self._deliveries.join()

    def refund_notification(self, refund: SimRefund) -> tuple[dict[str, str], bytes]:
        """REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED for ``refund`` in its present state."""
        trade = self.trades[refund.out_trade_no]
        resource: dict[str, object] = {
            "mchid": self.mchid,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": trade.total,
                "refund": refund.amount,
                "payer_total": trade.total,
                "payer_refund": refund.amount,
            },
        }
        if refund.success_time is not None:
            resource["success_time"] = wechat_time(refund.success_time)
        return self.notification(f"REFUND.{refund.status}", "refund", resource)

    def _notify_refund(self, refund: SimRefund) -> None:
        """Queue the refund's notification (twice if told to) for after the current answer."""
        if refund.status not in NOTIFIED_REFUND_STATES or not self.misbehave.notify_refunds:
            return
        url = refund.notify_url or self.trades[refund.out_trade_no].notify_url
        if not url:
            return
        headers, body = self.refund_notification(refund)
        for _ in range(2 if self.misbehave.notify_twice else 1):
            self._deliveries.submit(lambda: self.deliver(url, headers, body))

    def advance_refund(self, out_refund_no: str) -> SimRefund | None:
        """The refund moves on to its next scripted state now, as time passing at WeChat would."""
        with self._lock:
            refund = self.refunds.get(out_refund_no)
            if refund is not None:
                self._advance(refund)
            return refund

    # ---------------------------------------------------------------------------------------
    # HTTP

    def _handle(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
        if self.misbehave.delay_seconds:
            time.sleep(self.misbehave.delay_seconds)
        path = urlsplit(request.path).path
        if path.startswith(CONTROL_PREFIX):
            return self._control(request, path)
        if path.startswith("/pay/scan"):
            return self._scan_page(request)
        if not self._authorized(request):
            return self._error(401, "SIGN_ERROR", "签名错误")
        for index, (prefix, status, code) in enumerate(self.misbehave.fail_next):
            if path.startswith(prefix):
                del self.misbehave.fail_next[index]
                return self._error(status, code, "模拟故障")
        with self._lock:
            return self._route(request, path)

    def _route(self, request: Received, path: str) -> Reply:
        parts = path.strip("/").split("/")
        if request.method == "POST" and path == "/v3/pay/transactions/native":
            return self._native(json.loads(request.body))
        if parts[:4] == ["v3", "pay", "transactions", "out-trade-no"] and len(parts) >= 5:
            trade = self.trades.get(parts[4])
            if trade is None:
                return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
            if request.method == "POST" and parts[5:] == ["close"]:
                if trade.state == "SUCCESS":
                    return self._error(400, "ORDERPAID", "订单已支付")
                trade.state = "CLOSED"
                return self._signed(204, "")
            return self._json(200, trade_body(trade, self.appid, self.mchid))
        if request.method == "POST" and path == "/v3/refund/domestic/refunds":
            return self._refund(json.loads(request.body))
        if parts[:4] == ["v3", "refund", "domestic", "refunds"] and len(parts) == 5 and request.method == "GET":
            refund = self.refunds.get(parts[4])
            if refund is None:
                return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            self._advance(refund)
            return self._json(200, refund_body(refund, self.trades[refund.out_trade_no]))
        if parts[:4] == ["v3", "refund", "domestic", "refunds"] and parts[5:] == ["apply-abnormal-refund"]:
            return self._abnormal(parts[4], json.loads(request.body))
        if path == "/v3/bill/tradebill":
            query = parse_qs(urlsplit(request.path).query)
            content = gzip.compress(self.bill_csv(query.get("bill_date", [""])[0]).encode("utf-8"))
            token = secrets.token_urlsafe(16)
            self.bills[token] = content
            return self._json(
                200,
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(content).hexdigest(),  # WeChat's own choice
                    "download_url": f"{self.base_url}/v3/billdownload/file?token={token}",
                },
            )
        if path == "/v3/billdownload/file":
            stored = self.bills.get(parse_qs(urlsplit(request.path).query).get("token", [""])[0])
            if stored is None:
                return self._error(404, "NO_STATEMENT_EXIST", "账单不存在")
            return Reply(200, stored, {"Content-Type": "application/octet-stream"})
        return self._error(404, "NOT_FOUND", "接口不存在")

    def _native(self, data: dict[str, object]) -> Reply:
        out_trade_no = str(data["out_trade_no"])
        amount = data["amount"]
        total = int(amount["total"]) if isinstance(amount, dict) else 0
        if data.get("mchid") != self.mchid or data.get("appid") != self.appid:
            return self._error(400, "PARAM_ERROR", "商户号或应用ID不匹配")
        trade = self.trades.get(out_trade_no)
        if trade is None:
            trade = SimTrade(
                out_trade_no,
                str(data["description"]),
                total,
                str(data.get("notify_url") or ""),
                secrets.token_urlsafe(12),
            )
            self.trades[out_trade_no] = trade
        elif trade.total != total:
            return self._error(400, "INVALID_REQUEST", "商户订单号重复")
        elif trade.state != "NOTPAY":
            return self._error(400, "ORDERPAID" if trade.state == "SUCCESS" else "ORDERCLOSED", "订单状态不允许下单")
        return self._json(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.token}"})

    def _refund(self, data: dict[str, object]) -> Reply:
        out_refund_no = str(data["out_refund_no"])
        existing = self.refunds.get(out_refund_no)
        if existing is not None:  # the same number names the same refund, whatever it came to
            return self._json(200, refund_body(existing, self.trades[existing.out_trade_no]))
        trade = self.trades.get(str(data.get("out_trade_no") or ""))
        amount = data.get("amount")
        if trade is None or trade.state not in {"SUCCESS", "REFUND"} or not isinstance(amount, dict):
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
        refund, total = int(amount.get("refund", 0)), int(amount.get("total", 0))
        now = self.clock()
        if total != trade.total:
            return self._error(400, "PARAM_ERROR", "订单金额与原订单不一致")
        if refund <= 0 or refund > trade.total - trade.refunded:
            return self._error(403, "NOT_ENOUGH", "可退金额不足")
        if trade.success_time is not None and now - trade.success_time > REFUND_WINDOW:
            return self._error(400, "INVALID_REQUEST", "订单已超过退款期限")
        if trade.refund_count >= MAX_PARTIAL_REFUNDS:
            return self._error(403, "INVALID_REQUEST", "部分退款次数超过限制")
        if trade.last_refund_at is not None and now - trade.last_refund_at < MIN_GAP_BETWEEN_REFUNDS:
            return self._error(429, "FREQUENCY_LIMITED", "频率限制")
        script = self.scripts.pop(trade.out_trade_no, None) or list(
            self.misbehave.refund_states or ["PROCESSING", "SUCCESS"]
        )
        row = SimRefund(
            out_refund_no,
            "5030" + secrets.token_hex(12),
            trade.out_trade_no,
            refund,
            script[0],
            script[1:],
            now,
            notify_url=str(data.get("notify_url") or trade.notify_url),
        )
        self.refunds[out_refund_no] = row
        trade.refunded += refund
        trade.refund_count += 1
        trade.last_refund_at = now
        trade.state = "REFUND"
        if row.status == "SUCCESS":
            row.success_time = now
        if row.status == "CLOSED":
            trade.refunded -= refund
        self._notify_refund(row)
        return self._json(200, refund_body(row, trade))

    def _advance(self, refund: SimRefund) -> None:
        """A query reveals the next scripted state; a closed refund gives its money back to the trade."""
        if refund.status in {"SUCCESS", "CLOSED"} or not refund.script:
            return
        if refund.status == "ABNORMAL" and refund.abnormal_to is None:
            return  # waits in the intermediate account until apply-abnormal-refund
        refund.status = refund.script.pop(0)
        if refund.status == "SUCCESS":
            refund.success_time = self.clock()
        if refund.status == "CLOSED":
            trade = self.trades[refund.out_trade_no]
            trade.refunded -= refund.amount
        self._notify_refund(refund)

    def _abnormal(self, refund_id: str, data: dict[str, object]) -> Reply:
        refund = next((r for r in self.refunds.values() if r.refund_id == refund_id), None)
        if refund is None or refund.out_refund_no != data.get("out_refund_no"):
            return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        if refund.status != "ABNORMAL":
            return self._error(400, "INVALID_REQUEST", "退款单状态不是异常")
        kind = str(data.get("type"))
        if kind not in {"USER_BANK_CARD", "MERCHANT_BANK_CARD"}:
            return self._error(400, "PARAM_ERROR", "异常退款处理方式错误")
        if kind == "USER_BANK_CARD":
            try:
                refund.bank_account = self._decrypt(str(data["bank_account"]))
                self._decrypt(str(data["real_name"]))
            except (KeyError, ValueError):
                return self._error(400, "PARAM_ERROR", "银行卡信息无法解密")
        refund.abnormal_to = kind
        refund.status = "PROCESSING"
        refund.script = ["SUCCESS"]
        return self._json(200, refund_body(refund, self.trades[refund.out_trade_no]))

    def bill_csv(self, bill_date: str) -> str:
        with self._lock:
            return bill_csv(
                bill_date,
                self.appid,
                self.mchid,
                list(self.trades.values()),
                list(self.refunds.values()),
                dict(self.trades),
            )

    # ---------------------------------------------------------------------------------------
    # The payer's page (what the WeChat app shows after scanning the code)

    def _scan_page(self, request: Received) -> Reply:
        query = parse_qs(urlsplit(request.path).query)
        if request.method == "POST":
            query = {**query, **parse_qs(request.body.decode())}
        token = query.get("pr", [""])[0]
        with self._lock:
            trade = next((t for t in self.trades.values() if secrets.compare_digest(t.token, token)), None)
        if trade is None:
            return Reply(404, "二维码已失效".encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if request.method == "POST" and trade.state == "NOTPAY":
            self.pay(trade.out_trade_no)
        amount = f"{trade.total // 100}.{trade.total % 100:02d}"
        if trade.state == "NOTPAY":
            action = (
                f'<form method="post"><input type="hidden" name="pr" value="{html.escape(token)}">'
                '<button type="submit" id="wechat-pay">确认支付 Pay</button></form>'
            )
        else:
            action = '<p id="wechat-paid">支付成功 Paid</p>'
        page = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>微信支付（模拟）</title>'
            f"<h1>微信支付（模拟） WeChat Pay (simulator)</h1><p>{html.escape(trade.description)}</p>"
            f'<p class="amount">¥{amount}</p>{action}</html>'
        )
        return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
