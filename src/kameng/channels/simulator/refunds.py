"""The simulator's refunds: a local channel behind :class:`kameng.channels.ports.RefundChannel`.

The simulator keeps its own books (``sim_refunds``) in its own transactions, as a bank would:
the same ``out_refund_no`` always answers with the same refund, whatever number of times it is
sent, which is the guarantee WeChat Pay (out_refund_no) and Alipay (out_request_no) give.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kameng.channels.ports import ABNORMAL, PROCESSING, SUCCESS, RefundAnswer
from kameng.channels.simulator.models import SimBehavior, SimRefund


class SimulatorRefunds:
    """Refunds settle ``delay`` after acceptance; a trade marked ``fail`` is refused for good
    (as a cancelled card is); ``set_behavior`` is the failure-on-demand switch."""

    def __init__(self, session_factory: sessionmaker[Session], default_delay: timedelta = timedelta(0)) -> None:
        self._sessions = session_factory
        self._default_delay = default_delay
        self.calls = 0  # how many requests reached "the bank" (tests count resends)

    def set_behavior(self, out_trade_no: str, refund: str, delay_seconds: int = 0) -> None:
        if refund not in {"ok", "fail", "delay"}:
            raise ValueError(f"unknown simulator behaviour {refund!r}")
        with self._sessions() as session, session.begin():
            row = session.get(SimBehavior, out_trade_no)
            if row is None:
                session.add(SimBehavior(out_trade_no=out_trade_no, refund=refund, delay_seconds=delay_seconds))
            else:
                row.refund, row.delay_seconds = refund, delay_seconds

    def request_refund(self, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> RefundAnswer:
        self.calls += 1
        with self._sessions() as session, session.begin():
            existing = session.scalar(select(SimRefund).where(SimRefund.out_refund_no == out_refund_no))
            if existing is not None:
                if existing.amount_fen != amount_fen or existing.out_trade_no != out_trade_no:
                    # The real channels refuse a reused key with different content.
                    return RefundAnswer(ABNORMAL, existing.refund_id, "out_refund_no reused with other content")
                return self._settle(existing, now)
            behavior = session.get(SimBehavior, out_trade_no)
            mode = behavior.refund if behavior else "ok"
            delay = timedelta(seconds=behavior.delay_seconds) if behavior and mode == "delay" else self._default_delay
            row = SimRefund(
                out_refund_no=out_refund_no,
                out_trade_no=out_trade_no,
                amount_fen=amount_fen,
                status=ABNORMAL if mode == "fail" else PROCESSING,
                refund_id="SIMR" + hashlib.sha256(out_refund_no.encode()).hexdigest()[:20].upper(),
                settles_at=now + delay,
                created_at=now,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:  # the same request raced itself: answer as a resend
                session.rollback()
                return self.request_refund(out_refund_no, out_trade_no, amount_fen, now)
            return self._answer(row)

    def query_refund(self, out_refund_no: str, now: datetime, out_trade_no: str | None = None) -> RefundAnswer | None:
        with self._sessions() as session, session.begin():
            row = session.scalar(select(SimRefund).where(SimRefund.out_refund_no == out_refund_no))
            return None if row is None else self._settle(row, now)

    def _settle(self, row: SimRefund, now: datetime) -> RefundAnswer:
        if row.status == PROCESSING and now >= row.settles_at:
            row.status = SUCCESS
        return self._answer(row)

    @staticmethod
    def _answer(row: SimRefund) -> RefundAnswer:
        failure = "原卡已注销,无法原路退回 (card cancelled)" if row.status == ABNORMAL else None
        return RefundAnswer(row.status, row.refund_id, failure)
