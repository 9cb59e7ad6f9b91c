"""A local payment channel that behaves like a real one, for development and tests.

Like WeChat Pay and Alipay, it confirms a payment asynchronously with a signed notification
(HMAC-SHA256 over the exact body bytes), identifies the trade by our ``out_trade_no`` and gives
its own ``transaction_id``. A notification is checked with a constant-time comparison, and its
``notify_id`` makes a replay recognisable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from kameng.channels.ports import BadSignature, PaymentNotification


class SimulatorChannel:
    """Signs and verifies the simulator's notifications."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("kameng-simulator:" + secret).encode()).digest()

    def pay_url(self, out_trade_no: str) -> str:
        return f"/pay/sim/{out_trade_no}"

    def transaction_id(self, out_trade_no: str) -> str:
        # Deterministic, as a real channel's id is stable for one trade.
        return "SIM" + hashlib.sha256(self._key + out_trade_no.encode()).hexdigest()[:24].upper()

    def sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def notification(
        self, out_trade_no: str, amount_fen: int, succeeded: bool, at: datetime, failure: str | None = None
    ) -> tuple[bytes, str]:
        """The body and signature the channel would POST to our notify URL."""
        body = json.dumps(
            {
                "out_trade_no": out_trade_no,
                "transaction_id": self.transaction_id(out_trade_no),
                "amount": amount_fen,
                "trade_state": "SUCCESS" if succeeded else "PAYERROR",
                "failure": failure,
                "success_time": at.isoformat(),
            },
            sort_keys=True,
        ).encode()
        return body, self.sign(body)

    def verify(self, body: bytes, signature: str) -> PaymentNotification:
        if not hmac.compare_digest(self.sign(body), signature or ""):
            raise BadSignature("signature does not match the body")
        try:
            data = json.loads(body)
            at = datetime.fromisoformat(data["success_time"])
            amount = data["amount"]
            if isinstance(amount, bool) or not isinstance(amount, int) or at.tzinfo is None:
                raise ValueError
            return PaymentNotification(
                out_trade_no=str(data["out_trade_no"]),
                transaction_id=str(data["transaction_id"]),
                amount_fen=amount,
                succeeded=data["trade_state"] == "SUCCESS",
                at=at,
                failure=data.get("failure"),
            )
        except (ValueError, KeyError, TypeError):
            raise BadSignature("notification body is malformed") from None
