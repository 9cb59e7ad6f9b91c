"""The wallet's use cases: ask for a withdrawal (the amount held at once), approve it (the hold
becomes legs paid back to the original channels, the fee the platform's income), reject or cancel
it (the hold released). Each owns its transaction; every movement of the balance is a ledger entry
whose key is derived from the withdrawal, so a retry moves nothing twice.

Every path that moves a consumer's balance takes their balance row's lock first (a purchase from
the balance does too, and so does a withdrawal leg's answer from the channel): the balance, then
the withdrawal, then anything an order row is touched for. One order, so no two of them deadlock,
and the sources read under that lock cannot change underneath."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select

from kameng.domain.calendar import SHANGHAI, WorkCalendar
from kameng.domain.model import Decision
from kameng.domain.money import format_yuan
from kameng.domain.states import RefundStatus
from kameng.domain.wallet import (
    WITHDRAWAL,
    LegStatus,
    SourceKind,
    WithdrawalPlan,
    WithdrawalStatus,
    plan_withdrawal,
    withdrawable,
)
from kameng.orders.models import OrderRow
from kameng.orders.numbers import payment_out_trade_no
from kameng.payouts.models import RefundRow
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, not_found
from kameng.platform.ledger import post_entry
from kameng.platform.ledger_models import BalanceRow
from kameng.platform.outbox import OutboxKind, enqueue
from kameng.wallet.balance import (
    WITHDRAWAL_PURPOSE,
    lock_balance,
    order_numbers,
    plan_json,
    release_hold,
    tell_withdrawal,
)
from kameng.wallet.models import WithdrawalLegRow, WithdrawalRow
from kameng.wallet.sources import withdrawal_sources


def _new_withdrawal_no(now: datetime) -> str:
    return "W" + now.astimezone(SHANGHAI).strftime("%y%m%d") + f"{secrets.randbelow(10**8):08d}"


def _find_by_key(uow: UnitOfWork, user_id: int, key: str) -> WithdrawalRow | None:
    return uow.session.scalar(
        select(WithdrawalRow).where(WithdrawalRow.user_id == user_id, WithdrawalRow.idempotency_key == key)
    )


def _replayed(found: WithdrawalRow, amount_fen: int) -> WithdrawalRow:
    if found.asked_fen != amount_fen:
        raise Conflict(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "wallet.error.key_reused",
            "idempotency_key",
            withdrawal_no=found.withdrawal_no,
        )
    return found


def request_withdrawal(
    uow: UnitOfWork,
    viewer: Viewer,
    amount_fen: int,
    idempotency_key: str,
    now: datetime,
    calendar: WorkCalendar,
) -> tuple[WithdrawalRow, bool]:
    """Ask for ``amount_fen`` of cash back. The amount is held in the same transaction: it cannot
    be spent (a purchase from the balance sees only cash and bonus) nor asked for twice. A plan of
    R1 parts and refunds already owed is approved at once; one with an R2 part waits for a person.
    Returns the withdrawal and whether this was a retry of an earlier request (same key)."""
    with uow:
        found = _find_by_key(uow, viewer.user_id, idempotency_key)
        if found is not None:
            return _replayed(found, amount_fen), True
        balance = lock_balance(uow, viewer.user_id, now)
        sources = withdrawal_sources(uow, viewer.user_id, now, calendar)
        found = _find_by_key(uow, viewer.user_id, idempotency_key)  # a duplicate that waited for the lock
        if found is not None:
            return _replayed(found, amount_fen), True
        available = withdrawable(sources, balance.cash_fen)
        if amount_fen <= 0:
            raise InvalidInput(ErrorCode.BAD_AMOUNT, "wallet.error.amount_positive", "amount")
        if amount_fen > available:
            raise InvalidInput(
                ErrorCode.AMOUNT_OUT_OF_RANGE, "wallet.error.too_much", "amount", available=format_yuan(available)
            )
        plan = plan_withdrawal(sources, amount_fen)
        if plan.decision is Decision.REJECT:
            raise InvalidInput(
                ErrorCode.AMOUNT_OUT_OF_RANGE, "wallet.error.all_fee", "amount", fee=format_yuan(plan.fee)
            )
        withdrawal = WithdrawalRow(
            withdrawal_no=_new_withdrawal_no(now),
            user_id=viewer.user_id,
            status=WithdrawalStatus.IN_REVIEW,
            decision=plan.decision,
            asked_fen=amount_fen,
            quote=plan_json(plan, order_numbers(uow, [leg.source.order_id for leg in plan.legs])),
            idempotency_key=idempotency_key,
            created_at=now,
        )
        uow.session.add(withdrawal)
        uow.session.flush()
        balance.cash_fen -= amount_fen
        balance.held_fen += amount_fen
        balance.updated_at = now
        post_entry(
            uow,
            kind="wallet_hold",
            key=f"wallet_hold:{withdrawal.id}",
            user_id=viewer.user_id,
            now=now,
            lines=[(f"balance_cash:{viewer.user_id}", amount_fen), (f"balance_held:{viewer.user_id}", -amount_fen)],
            memo=f"hold for withdrawal {withdrawal.withdrawal_no}",
        )
        if plan.decision is Decision.AUTO_APPROVE:
            _approve(uow, withdrawal, balance, plan, now, None)
        else:
            tell_withdrawal(uow, withdrawal, "in_review", now)
        uow.commit()
        return withdrawal, False


def _owner_of(uow: UnitOfWork, withdrawal_no: str, viewer: Viewer | None) -> int:
    """The consumer a withdrawal belongs to (their rows are locked before the withdrawal's)."""
    query = select(WithdrawalRow).where(WithdrawalRow.withdrawal_no == withdrawal_no)
    if viewer is not None:
        query = query.where(WithdrawalRow.user_id == viewer.user_id)  # another's: the same 404
    user_id = uow.session.scalar(query.with_only_columns(WithdrawalRow.user_id))
    if user_id is None:
        raise not_found("withdrawal")
    return int(user_id)


def approve_withdrawal(
    uow: UnitOfWork, staff: Viewer, withdrawal_no: str, note: str, now: datetime, calendar: WorkCalendar
) -> WithdrawalRow:
    """A person approves what they saw: the plan is made again now (the live quote), for the held
    amount; what the sources no longer cover goes back to the balance."""
    if not staff.is_staff:
        raise not_found("withdrawal")
    note = inputs.clean_text(note, inputs.NOTE, "note")
    with uow:
        user_id = _owner_of(uow, withdrawal_no, None)
        balance = lock_balance(uow, user_id, now)
        withdrawal = _locked(uow, withdrawal_no)
        _ensure(withdrawal, "approve")
        sources = withdrawal_sources(uow, user_id, now, calendar)
        plan = plan_withdrawal(sources, withdrawal.asked_fen)
        withdrawal.decision_note = note
        _approve(uow, withdrawal, balance, plan, now, staff.user_id)
        uow.commit()
        return withdrawal


def reject_withdrawal(uow: UnitOfWork, staff: Viewer, withdrawal_no: str, note: str, now: datetime) -> WithdrawalRow:
    """Refused: the whole hold goes back to the balance as cash."""
    if not staff.is_staff:
        raise not_found("withdrawal")
    note = inputs.clean_text(note, inputs.NOTE, "note")
    return _release_all(uow, None, withdrawal_no, "reject", note, now, staff.user_id)


def cancel_withdrawal(uow: UnitOfWork, viewer: Viewer, withdrawal_no: str, now: datetime) -> WithdrawalRow:
    """The consumer takes back a withdrawal still in review: the hold goes back to the balance."""
    return _release_all(uow, viewer, withdrawal_no, "cancel", "", now, viewer.user_id)


def _release_all(
    uow: UnitOfWork, viewer: Viewer | None, withdrawal_no: str, action: str, note: str, now: datetime, by: int
) -> WithdrawalRow:
    with uow:
        user_id = _owner_of(uow, withdrawal_no, viewer)
        balance = lock_balance(uow, user_id, now)
        withdrawal = _locked(uow, withdrawal_no)
        _ensure(withdrawal, action)
        withdrawal.status = WITHDRAWAL.apply(withdrawal.status, action)
        withdrawal.decided_at, withdrawal.decided_by, withdrawal.decision_note = now, by, note
        withdrawal.released_fen = withdrawal.asked_fen
        release_hold(uow, withdrawal, balance, withdrawal.asked_fen, now)
        tell_withdrawal(uow, withdrawal, "rejected" if action == "reject" else "cancelled", now)
        uow.commit()
        return withdrawal


def _locked(uow: UnitOfWork, withdrawal_no: str) -> WithdrawalRow:
    withdrawal = uow.session.scalar(
        select(WithdrawalRow).where(WithdrawalRow.withdrawal_no == withdrawal_no).with_for_update()
    )
    assert withdrawal is not None
    return withdrawal


def _ensure(withdrawal: WithdrawalRow, action: str) -> None:
    if not WITHDRAWAL.allows(withdrawal.status, action):
        raise Conflict(ErrorCode.INVALID_TRANSITION, "wallet.error.not_in_review", "withdrawal")


def _approve(
    uow: UnitOfWork,
    withdrawal: WithdrawalRow,
    balance: BalanceRow,
    plan: WithdrawalPlan,
    now: datetime,
    decided_by: int | None,
) -> None:
    """The hold becomes: the payout (owed to the consumer until each leg arrives), the fee (the
    platform's income, never left in the balance), and a release of what is no longer covered.
    Each leg is a refund of its own, queued for the worker after the commit."""
    session = uow.session
    user = withdrawal.user_id
    withdrawal.status = WITHDRAWAL.apply(withdrawal.status, "approve")
    withdrawal.decided_at, withdrawal.decided_by = now, decided_by
    withdrawal.payout_fen, withdrawal.fee_fen, withdrawal.released_fen = plan.payout, plan.fee, plan.shortfall
    balance.held_fen -= plan.covered
    balance.updated_at = now
    if plan.payout:
        post_entry(
            uow,
            kind="withdrawal",
            key=f"withdrawal:{withdrawal.id}",
            user_id=user,
            now=now,
            lines=[(f"balance_held:{user}", plan.payout), (f"refunds_payable:{user}", -plan.payout)],
            memo=f"withdrawal {withdrawal.withdrawal_no}",
        )
    if plan.fee:
        post_entry(
            uow,
            kind="withdrawal_fee",
            key=f"withdrawal_fee:{withdrawal.id}",
            user_id=user,
            now=now,
            lines=[(f"balance_held:{user}", plan.fee), ("withdrawal_fee_income", -plan.fee)],
            memo=f"fee of withdrawal {withdrawal.withdrawal_no}",
        )
    release_hold(uow, withdrawal, balance, plan.shortfall, now)
    # R1 takes the top-up's bonus credit back with it, as far as it is still there.
    bonus_left = balance.bonus_fen
    bonus_taken_total = 0
    orders = {
        order.id: order
        for order in session.scalars(
            select(OrderRow).where(OrderRow.id.in_([leg.source.order_id for leg in plan.legs]))
        )
    }
    for position, leg in enumerate(plan.legs, start=1):
        order = orders[leg.source.order_id]
        bonus_taken = min(leg.bonus_taken, bonus_left)
        bonus_left -= bonus_taken
        bonus_taken_total += bonus_taken
        refund = RefundRow(
            purpose=WITHDRAWAL_PURPOSE,
            ticket_id=None,
            order_id=order.id,
            user_id=user,
            out_refund_no=f"{withdrawal.withdrawal_no}{position:02d}",  # our idempotency key at the channel
            out_trade_no=payment_out_trade_no(order.order_no),
            channel=leg.source.channel,
            amount_fen=leg.net,
            status=RefundStatus.PENDING,
            created_at=now,
        )
        session.add(refund)
        session.flush()
        if leg.source.kind is SourceKind.TOP_UP:
            if order.refunded_fen + leg.net > order.amount_fen:
                raise Conflict(ErrorCode.EXCEEDS_CAPTURED, "error.exceeds_captured", "amount")
            order.refunded_fen += leg.net
        session.add(
            WithdrawalLegRow(
                withdrawal_id=withdrawal.id,
                position=position,
                user_id=user,
                order_id=order.id,
                refund_id=refund.id,
                source_kind=leg.source.kind,
                source_refund_id=leg.source.refund_id,
                rule=leg.source.rule,
                gross_fen=leg.gross,
                fee_fen=leg.fee,
                net_fen=leg.net,
                bonus_taken_fen=bonus_taken,
                status=LegStatus.SENT,
            )
        )
        enqueue(uow, OutboxKind.SEND_REFUND, f"send_refund:{refund.id}", {"refund_id": refund.id}, now)
    if bonus_taken_total:
        taken = bonus_taken_total
        balance.bonus_fen -= taken
        post_entry(
            uow,
            kind="bonus_withdrawn",
            key=f"bonus_withdrawn:{withdrawal.id}",
            user_id=user,
            now=now,
            lines=[(f"balance_bonus:{user}", taken), ("bonus_expense", -taken)],
            memo=f"bonus credit taken back with withdrawal {withdrawal.withdrawal_no} (R1)",
        )
    if not plan.legs:
        # Nothing is covered any more (the sources went back another way while it was in review):
        # the whole hold is cash again, and the withdrawal ends here.
        withdrawal.status = WITHDRAWAL.apply(withdrawal.status, "settle")
        withdrawal.settled_at = now
        tell_withdrawal(uow, withdrawal, "released", now)
    else:
        tell_withdrawal(uow, withdrawal, "approved", now)
    session.flush()
    session.expire(withdrawal, ["legs"])
