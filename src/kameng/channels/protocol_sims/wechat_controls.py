"""The WeChat Pay simulator's behaviour (what it is told to do wrong) and its control endpoint
(``/__sim__/behaviour``, ``/__sim__/refunds/<out_refund_no>/advance``: docs/channels.md)."""

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
from kameng.channels.protocol_sims.wechat_books import SimRefund

REFUND_STATES = ("PROCESSING", "SUCCESS", "ABNORMAL", "CLOSED")
MAX_DELAY_SECONDS = 30.0


@dataclass
class Misbehaviour:
    """What the simulator is told to do wrong next (tests and demos)."""

    fail_next: list[tuple[str, int, str]] = field(default_factory=list)  # (path prefix, status, code)
    delay_seconds: float = 0.0
    notify_twice: bool = False
    notify_refunds: bool = True  # post REFUND.* when a refund settles
    refund_states: list[str] | None = None  # every next refund's script, unless its trade has one

    def as_json(self) -> dict[str, object]:
        return {
            "fail_next": [{"path": p, "status": s, "code": c} for p, s, c in self.fail_next],
            "delay_seconds": self.delay_seconds,
            "notify_twice": self.notify_twice,
            "notify_refunds": self.notify_refunds,
            "refund_states": self.refund_states,
        }


class WeChatControls:
    """Mixed into :class:`~kameng.channels.protocol_sims.wechat.WeChatPaySimulator`."""

    controls: bool
    misbehave: Misbehaviour
    _lock: threading.RLock

    def advance_refund(self, out_refund_no: str) -> SimRefund | None:
        raise NotImplementedError

    def script_refunds(self, out_trade_no: str, states: list[str]) -> None:
        raise NotImplementedError

    def _control(self, request: Received, path: str) -> Reply:
        refused = control_refusal(request, self.controls)
        if refused is not None:
            return refused
        if path == CONTROL_PREFIX + "behaviour" and request.method == "GET":
            with self._lock:
                return json_reply(200, self.misbehave.as_json())
        if path == CONTROL_PREFIX + "behaviour" and request.method == "POST":
            data = control_body(request)
            if isinstance(data, Reply):
                return data
            problem = self._set_behaviour(data)
            if problem is not None:
                return json_reply(400, {"error": problem[1], "field": problem[0]})
            with self._lock:
                return json_reply(200, self.misbehave.as_json())
        parts = path.removeprefix(CONTROL_PREFIX).split("/")
        if request.method == "POST" and len(parts) == 3 and parts[0] == "refunds" and parts[2] == "advance":
            refund = self.advance_refund(parts[1])
            if refund is None:
                return json_reply(404, {"error": "no such refund", "field": "out_refund_no"})
            return json_reply(200, {"out_refund_no": refund.out_refund_no, "status": refund.status})
        return json_reply(404, {"error": "no such control"})

    def _set_behaviour(self, data: dict[str, object]) -> tuple[str, str] | None:
        """Check every field first, then change them all: a bad request changes nothing."""
        known = {"delay_seconds", "notify_twice", "notify_refunds", "fail_next", "refund_states", "script"}
        changes, refused = control_fields(data, known, flags=("notify_twice", "notify_refunds"))
        if refused is not None:
            return refused
        if "delay_seconds" in data:
            delay = data["delay_seconds"]
            if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY_SECONDS:
                return "delay_seconds", f"a number of seconds from 0 to {MAX_DELAY_SECONDS:g}"
            changes["delay_seconds"] = float(delay)
        if "fail_next" in data:
            failures = data["fail_next"]
            if not isinstance(failures, list):
                return "fail_next", "a list of {path, status, code}"
            parsed: list[tuple[str, int, str]] = []
            for item in failures:
                if not isinstance(item, dict):
                    return "fail_next", "a list of {path, status, code}"
                prefix, status, code = item.get("path"), item.get("status"), item.get("code", "SYSTEM_ERROR")
                if not isinstance(prefix, str) or not prefix.startswith("/v3/"):
                    return "fail_next.path", "an API path prefix starting with /v3/"
                if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                    return "fail_next.status", "an HTTP status from 400 to 599"
                if not isinstance(code, str) or not code or len(code) > 32:
                    return "fail_next.code", "WeChat's error code, e.g. SYSTEM_ERROR"
                parsed.append((prefix, status, code))
            changes["fail_next"] = parsed
        if "refund_states" in data:
            states = data["refund_states"]
            if states is not None:
                problem = _check_states(states)
                if problem:
                    return "refund_states", problem
            changes["refund_states"] = states
        script: tuple[str, list[str]] | None = None
        if "script" in data:
            item = data["script"]
            if not isinstance(item, dict) or not isinstance(item.get("out_trade_no"), str) or not item["out_trade_no"]:
                return "script.out_trade_no", "the trade whose next refund follows the script"
            problem = _check_states(item.get("states"))
            if problem:
                return "script.states", problem
            states_list = item["states"]
            assert isinstance(states_list, list)
            script = (str(item["out_trade_no"]), [str(state) for state in states_list])
        with self._lock:
            for name, value in changes.items():
                setattr(self.misbehave, name, value)
            if script is not None:
                self.script_refunds(*script)
        return None


def _check_states(states: object) -> str | None:
    """A refund script: one to six of WeChat's refund states; what is wrong with it, or None."""
    if not isinstance(states, list) or not 1 <= len(states) <= 6:
        return f"a list of one to six states among {', '.join(REFUND_STATES)}"
    for state in states:
        if state not in REFUND_STATES:
            return f"unknown state {state!r}; one of {', '.join(REFUND_STATES)}"
    return None
