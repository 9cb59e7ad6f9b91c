"""Fakes of the ports (refund channel, message sender, clock), for tests that mean to script the
outside world: what a channel answers, whether it is reachable, what was sent to whom.

They keep the contracts the real adapters keep: the same ``out_refund_no`` always names the same
refund, and a message is sent once per idempotency key, however many times it is handed over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kameng.channels.ports import PROCESSING, RefundAnswer
from kameng.messages.senders import Outgoing


@dataclass
class ScriptedRefundChannel:
    """A refund channel whose answers a test decides: ``answers`` are given out in turn to new
    refunds (a ``ConnectionError`` in the script means the channel could not be reached), and a
    refund, once created, keeps its answer until ``settle`` changes it."""

    answers: list[RefundAnswer | Exception] = field(default_factory=list)
    calls: list[tuple[str, str, int]] = field(default_factory=list)  # (out_refund_no, out_trade_no, fen)
    refunds: dict[str, RefundAnswer] = field(default_factory=dict)

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer:
        self.calls.append((out_refund_no, out_trade_no, amount_fen))
        if out_refund_no in self.refunds:
            return self.refunds[out_refund_no]
        scripted = self.answers.pop(0) if self.answers else RefundAnswer(PROCESSING, f"R-{out_refund_no}")
        if isinstance(scripted, Exception):
            raise scripted
        self.refunds[out_refund_no] = scripted
        return scripted

    def query_refund(self, out_refund_no: str, now: datetime, out_trade_no: str | None = None) -> RefundAnswer | None:
        return self.refunds.get(out_refund_no)

    def settle(self, out_refund_no: str, answer: RefundAnswer) -> None:
        self.refunds[out_refund_no] = answer


@dataclass
class RecordingSender:
    """A message sender that remembers what it delivered, once per idempotency key."""

    sent: dict[str, Outgoing] = field(default_factory=dict)
    handed_over: int = 0

    def send(self, message: Outgoing) -> None:
        self.handed_over += 1
        self.sent.setdefault(message.idempotency_key, message)


@dataclass
class SteppingClock:
    """A clock that stands still until a test moves it."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> datetime:
        self.at += by
        return self.at

    def ticks(self, step: timedelta, count: int) -> Iterator[datetime]:
        for _ in range(count):
            yield self.advance(step)
