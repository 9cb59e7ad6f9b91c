"""The Alipay simulator's behaviour (what it is told to do wrong) and its control endpoint
(``/__sim__/behaviour``: docs/channels.md)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kameng.channels.protocol_sims.server import (
    CONTROL_PREFIX,
    Received,
    Reply,
    control_body,
    control_fields,
    control_refusal,
    json_reply,
)

MAX_SLOW_QUERIES = 20


@dataclass
class AliMisbehaviour:
    fail_next: list[tuple[str, str, str]] = field(default_factory=list)  # (method, sub_code, sub_msg)
    notify_twice: bool = False
    # out_trade_no → how many refund queries answer "not yet" before REFUND_SUCCESS (fund_change N)
    slow_refunds: dict[str, int] = field(default_factory=dict)
    notify_refunds: bool = True  # post trade_status_sync when a refund's money has moved

    def as_json(self) -> dict[str, object]:
        return {
            "fail_next": [{"method": m, "sub_code": c, "sub_msg": t} for m, c, t in self.fail_next],
            "notify_twice": self.notify_twice,
            "notify_refunds": self.notify_refunds,
            "slow_refunds": dict(self.slow_refunds),
        }


class AlipayControls:
    """Mixed into :class:`~kameng.channels.protocol_sims.alipay.AlipaySimulator`."""

    controls: bool
    misbehave: AliMisbehaviour
    _lock: threading.RLock

    def _control(self, request: Received, path: str) -> Reply:
        refused = control_refusal(request, self.controls)
        if refused is not None:
            return refused
        if path != CONTROL_PREFIX + "behaviour" or request.method not in {"GET", "POST"}:
            return json_reply(404, {"error": "no such control"})
        if request.method == "POST":
            data = control_body(request)
            if isinstance(data, Reply):
                return data
            problem = self._set_behaviour(data)
            if problem is not None:
                return json_reply(400, {"error": problem[1], "field": problem[0]})
        with self._lock:
            return json_reply(200, self.misbehave.as_json())

    def _set_behaviour(self, data: dict[str, object]) -> tuple[str, str] | None:
        """Check every field first, then change them all: a bad request changes nothing."""
        known = {"notify_twice", "notify_refunds", "fail_next", "slow_refunds"}
        changes, refused = control_fields(data, known, flags=("notify_twice", "notify_refunds"))
        if refused is not None:
            return refused
        if "fail_next" in data:
            failures = data["fail_next"]
            if not isinstance(failures, list):
                return "fail_next", "a list of {method, sub_code, sub_msg}"
            parsed: list[tuple[str, str, str]] = []
            for item in failures:
                if not isinstance(item, dict):
                    return "fail_next", "a list of {method, sub_code, sub_msg}"
                method, code = item.get("method"), item.get("sub_code", "ACQ.SYSTEM_ERROR")
                text = item.get("sub_msg", "模拟故障")
                if not isinstance(method, str) or not method.startswith("alipay."):
                    return "fail_next.method", "an Alipay method, e.g. alipay.trade.refund"
                if not isinstance(code, str) or not code or len(code) > 64:
                    return "fail_next.sub_code", "Alipay's sub_code, e.g. ACQ.SYSTEM_ERROR"
                if not isinstance(text, str) or len(text) > 128:
                    return "fail_next.sub_msg", "a text of at most 128 characters"
                parsed.append((method, code, text))
            changes["fail_next"] = parsed
        if "slow_refunds" in data:
            slow = data["slow_refunds"]
            if not isinstance(slow, dict):
                return "slow_refunds", "an object: out_trade_no → queries before REFUND_SUCCESS"
            for trade_no, count in slow.items():
                if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SLOW_QUERIES:
                    return f"slow_refunds.{trade_no}", f"a number of queries from 0 to {MAX_SLOW_QUERIES}"
            changes["slow_refunds"] = {str(k): int(v) for k, v in slow.items()}
        with self._lock:
            for name, value in changes.items():
                setattr(self.misbehave, name, value)
        return None
