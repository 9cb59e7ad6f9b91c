"""The simulator's recurring charges: a local channel behind
:class:`kameng.channels.ports.RecurringCharges`.

Like a real channel it keeps its own books (``sim_charges``) in its own transactions and answers
the same ``out_trade_no`` with the same result however many times it is asked: a charge asked
again after a crash is never taken twice. A refused charge is a result too: asking the same
``out_trade_no`` again is refused again; a retry is a new attempt under a new ``out_trade_no``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kameng.channels.ports import ChargeAnswer
from kameng.channels.simulator.models import SimCharge, SimChargeBehavior


class SimulatorCharges:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory
        self.calls = 0  # how many requests reached "the bank" (tests count resends)

    def set_behavior(self, agreement_no: str, charge: str) -> None:
        if charge not in {"ok", "fail"}:
            raise ValueError(f"unknown simulator behaviour {charge!r}")
        with self._sessions() as session, session.begin():
            row = session.get(SimChargeBehavior, agreement_no)
            if row is None:
                session.add(SimChargeBehavior(agreement_no=agreement_no, charge=charge))
            else:
                row.charge = charge

    def charge(self, agreement_no: str, out_trade_no: str, amount_fen: int, now: datetime) -> ChargeAnswer:
        self.calls += 1
        try:
            with self._sessions() as session, session.begin():
                existing = session.scalar(select(SimCharge).where(SimCharge.out_trade_no == out_trade_no))
                if existing is not None:
                    if existing.amount_fen != amount_fen or existing.agreement_no != agreement_no:
                        return ChargeAnswer(False, None, "out_trade_no reused with other content")
                    return _answer(existing)
                behavior = session.get(SimChargeBehavior, agreement_no)
                succeeded = behavior is None or behavior.charge == "ok"
                row = SimCharge(
                    out_trade_no=out_trade_no,
                    agreement_no=agreement_no,
                    amount_fen=amount_fen,
                    succeeded=succeeded,
                    transaction_id=_transaction_id(out_trade_no) if succeeded else None,
                    failure=None if succeeded else "insufficient funds",
                    created_at=now,
                )
                session.add(row)
                session.flush()
                return _answer(row)
        except IntegrityError:
            # Two workers asked at once: the first one's row is the answer for both.
            with self._sessions() as session:
                first = session.scalar(select(SimCharge).where(SimCharge.out_trade_no == out_trade_no))
                assert first is not None
                return _answer(first)


def _answer(row: SimCharge) -> ChargeAnswer:
    return ChargeAnswer(row.succeeded, row.transaction_id, row.failure)


def _transaction_id(out_trade_no: str) -> str:
    return "SIMC" + hashlib.sha256(out_trade_no.encode()).hexdigest()[:24].upper()
