"""Withdrawals from the balance, on SQLite and PostgreSQL (seed 003, RULES.md R1/R2): the amount
held at once, the fee booked as the platform's income, the legs newest payment first each with
its own refund number, a refused leg back as cash, a failed-for-good refund withdrawable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from kameng.accounts.models import User
from kameng.aftersales.refunds import refund_to_balance
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel, Decision, Reason
from kameng.domain.states import OrderStatus, RefundStatus
from kameng.domain.tickets import TicketStatus
from kameng.domain.wallet import LegStatus, WithdrawalStatus
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, InvalidInput, NotFound
from kameng.platform.ledger_models import BalanceRow
from kameng.wallet.checks import check_wallet
from kameng.wallet.queries import wallet_view
from kameng.wallet.services import approve_withdrawal, cancel_withdrawal, reject_withdrawal, request_withdrawal
from kameng.worker import run_tick
from tests.support.shop import buy
from tests.support.tickets import Bought, staff, submit, ticket, worker
from tests.wallet.support import CALENDAR, books, held, spent_top_up, viewer, withdrawal, withdrawal_refunds

pytestmark = pytest.mark.usefixtures("catalog")


def test_the_amount_asked_for_is_held_and_cannot_be_spent_while_in_review(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, _ = spent_top_up(uow, channel, make_user, now)
    at = now + timedelta(days=10)  # past the cooling-off window: R2, a person reviews it
    view = wallet_view(uow, consumer, at, CALENDAR)
    assert (view.cash_fen, view.bonus_fen, view.withdrawable_fen) == (9000, 0, 9000)
    assert (view.quote.payout, view.quote.fee) == (8900, 100)
    asked, replayed = request_withdrawal(uow, consumer, 9000, "w-1", at, CALENDAR)
    assert not replayed
    assert asked.status is WithdrawalStatus.IN_REVIEW
    assert asked.decision is Decision.REVIEW
    assert held(uow, consumer.user_id) == (0, 0, 9000)
    # Seed 003: "a withdrawal quoted at 89.00 can be followed by a 50.00 purchase" — no longer.
    with pytest.raises(InvalidInput) as error:
        buy(uow, channel, consumer.user_id, "monthly-pass", at + timedelta(minutes=1), via=Channel.BALANCE)
    assert error.value.code == "insufficient_balance"
    # Nor can the held money be asked for twice.
    with pytest.raises(InvalidInput) as error:
        request_withdrawal(uow, consumer, 100, "w-2", at, CALENDAR)
    assert error.value.code == "amount_out_of_range"
    accounts = books(uow)
    assert accounts[f"balance_held:{consumer.user_id}"] == -9000


def test_a_retry_with_the_same_key_is_the_same_withdrawal_and_another_amount_is_refused(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, _ = spent_top_up(uow, channel, make_user, now)
    at = now + timedelta(days=10)
    first, _ = request_withdrawal(uow, consumer, 5000, "same", at, CALENDAR)
    again, replayed = request_withdrawal(uow, consumer, 5000, "same", at + timedelta(seconds=5), CALENDAR)
    assert replayed
    assert again.withdrawal_no == first.withdrawal_no
    assert held(uow, consumer.user_id) == (4000, 0, 5000)
    with pytest.raises(Conflict) as error:
        request_withdrawal(uow, consumer, 4000, "same", at, CALENDAR)
    assert error.value.code == "idempotency_key_reused"
    books(uow)


def test_the_fee_is_the_platforms_income_and_nothing_stays_behind(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, top_up = spent_top_up(uow, channel, make_user, now)
    agent = staff(uow, now)
    at = now + timedelta(days=10)
    asked, _ = request_withdrawal(uow, consumer, 9000, "all", at, CALENDAR)
    approved = approve_withdrawal(uow, agent, asked.withdrawal_no, "", at + timedelta(hours=1), CALENDAR)
    assert (approved.status, approved.payout_fen, approved.fee_fen) == (WithdrawalStatus.PAYING, 8900, 100)
    assert held(uow, consumer.user_id) == (0, 0, 0)  # the 1.00 fee does not stay behind as spendable cash
    accounts = books(uow)
    assert accounts["withdrawal_fee_income"] == -100
    assert accounts[f"refunds_payable:{consumer.user_id}"] == -8900
    run_tick(worker(engine), at + timedelta(hours=2))
    run_tick(worker(engine), at + timedelta(hours=3))
    (refund,) = withdrawal_refunds(uow, asked.withdrawal_no)
    assert (refund.status, refund.amount_fen, refund.channel) == (RefundStatus.SUCCEEDED, 8900, Channel.ALIPAY)
    assert refund.out_trade_no == f"P{top_up}"
    done = withdrawal(uow, asked.withdrawal_no)
    assert done.status is WithdrawalStatus.DONE
    assert [leg.status for leg in done.legs] == [LegStatus.PAID]
    accounts = books(uow)
    assert accounts.get(f"refunds_payable:{consumer.user_id}", 0) == 0
    assert accounts["withdrawal_fee_income"] == -100
    types = [m.type for m in wallet_view(uow, consumer, at + timedelta(hours=4), CALENDAR).movements]
    assert types[:3] == ["fee", "withdrawal", "hold"]
    assert set(types[3:]) == {"spend", "top_up", "bonus"}


def test_legs_go_to_the_newest_payment_first_each_with_its_own_refund_number(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    consumer = viewer(user)
    older = buy(uow, channel, user.id, "top-up-100", now)
    newer = buy(uow, channel, user.id, "top-up-100", now + timedelta(hours=2), duplicate_ack=True)
    at = now + timedelta(days=1)  # both in their cooling-off window, nothing spent: R1, no fee, at once
    asked, _ = request_withdrawal(uow, consumer, 15000, "two-legs", at, CALENDAR)
    assert asked.status is WithdrawalStatus.PAYING
    legs = withdrawal(uow, asked.withdrawal_no).legs
    assert [(leg.position, leg.rule, leg.gross_fen, leg.fee_fen) for leg in legs] == [
        (1, "R1", 10000, 0),
        (2, "R1", 5000, 0),
    ]
    first, second = withdrawal_refunds(uow, asked.withdrawal_no)
    assert first.out_trade_no == f"P{newer.order_no}"
    assert second.out_trade_no == f"P{older.order_no}"
    assert first.out_refund_no != second.out_refund_no
    # R1 takes the bonus credit back with the cash: all of the newer top-up's, half the older's.
    assert held(uow, consumer.user_id) == (5000, 4000 - 2000 - 1000, 0)
    run_tick(worker(engine), at + timedelta(minutes=1))
    run_tick(worker(engine), at + timedelta(hours=1))
    assert [r.status for r in withdrawal_refunds(uow, asked.withdrawal_no)] == [RefundStatus.SUCCEEDED] * 2
    assert withdrawal(uow, asked.withdrawal_no).status is WithdrawalStatus.DONE
    accounts = books(uow)
    assert accounts["bonus_expense"] == 4000 - 3000


def test_a_leg_the_channel_refuses_comes_back_as_cash_with_its_fee(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, top_up = spent_top_up(uow, channel, make_user, now)
    deps = worker(engine)
    deps.refunds.set_behavior(f"P{top_up}", "fail")  # type: ignore[attr-defined]
    agent = staff(uow, now)
    at = now + timedelta(days=10)
    asked, _ = request_withdrawal(uow, consumer, 9000, "refused", at, CALENDAR)
    approve_withdrawal(uow, agent, asked.withdrawal_no, "", at, CALENDAR)
    run_tick(deps, at + timedelta(minutes=1))
    done = withdrawal(uow, asked.withdrawal_no)
    assert (done.status, done.returned_fen) == (WithdrawalStatus.DONE, 9000)
    assert [leg.status for leg in done.legs] == [LegStatus.RETURNED]
    assert held(uow, consumer.user_id) == (9000, 0, 0)
    accounts = books(uow)
    assert accounts.get("withdrawal_fee_income", 0) == 0


def test_reject_and_cancel_release_the_hold(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, _ = spent_top_up(uow, channel, make_user, now)
    agent = staff(uow, now)
    at = now + timedelta(days=10)
    first, _ = request_withdrawal(uow, consumer, 3000, "a", at, CALENDAR)
    second, _ = request_withdrawal(uow, consumer, 2000, "b", at, CALENDAR)
    assert held(uow, consumer.user_id) == (4000, 0, 5000)
    assert reject_withdrawal(uow, agent, first.withdrawal_no, "核实中", at).status is WithdrawalStatus.REJECTED
    assert cancel_withdrawal(uow, consumer, second.withdrawal_no, at).status is WithdrawalStatus.CANCELLED
    assert held(uow, consumer.user_id) == (9000, 0, 0)
    with pytest.raises(Conflict):
        approve_withdrawal(uow, agent, first.withdrawal_no, "", at, CALENDAR)
    books(uow)


def test_no_one_withdraws_or_cancels_from_someone_elses_account(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    owner, _ = spent_top_up(uow, channel, make_user, now)
    stranger = viewer(make_user())
    at = now + timedelta(days=10)
    asked, _ = request_withdrawal(uow, owner, 1000, "mine", at, CALENDAR)
    with pytest.raises(NotFound):
        cancel_withdrawal(uow, stranger, asked.withdrawal_no, at)
    with pytest.raises(InvalidInput) as error:  # the stranger has nothing: their own balance is empty
        request_withdrawal(uow, stranger, 1000, "mine", at, CALENDAR)
    assert error.value.code == "amount_out_of_range"
    assert withdrawal(uow, asked.withdrawal_no).status is WithdrawalStatus.IN_REVIEW


def test_a_refund_that_failed_for_good_lands_as_withdrawable_cash(
    uow: UnitOfWork, engine: Engine, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    deps = worker(engine)
    user = make_user()
    placed = buy(uow, channel, user.id, "monthly-pass", now)
    assert placed.out_trade_no
    deps.refunds.set_behavior(placed.out_trade_no, "fail")  # type: ignore[attr-defined]
    bought = Bought(placed.order_no, placed.out_trade_no, placed.amount_fen, viewer(user))
    created = submit(uow, bought, now + timedelta(minutes=1), reason=Reason.CHANGED_MIND)  # P1: refunded at once
    run_tick(deps, now + timedelta(minutes=2))
    refund_to_balance(uow, bought.consumer, created.ticket_no, now + timedelta(days=1), CALENDAR)
    assert held(uow, user.id) == (3000, 0, 0)
    view = wallet_view(uow, bought.consumer, now + timedelta(days=1), CALENDAR)
    assert view.withdrawable_fen == 3000
    assert "refund_in" in [m.type for m in view.movements]
    deps.refunds.set_behavior(placed.out_trade_no, "ok")  # type: ignore[attr-defined]
    asked, _ = request_withdrawal(uow, bought.consumer, 3000, "back", now + timedelta(days=2), CALENDAR)
    assert asked.status is WithdrawalStatus.PAYING  # the consumer's own refund: no review, no fee
    (leg,) = withdrawal(uow, asked.withdrawal_no).legs
    assert (leg.rule, leg.fee_fen, leg.net_fen) == ("refund_in", 0, 3000)
    run_tick(deps, now + timedelta(days=2, minutes=1))
    run_tick(deps, now + timedelta(days=2, hours=1))
    assert withdrawal(uow, asked.withdrawal_no).status is WithdrawalStatus.DONE
    assert held(uow, user.id) == (0, 0, 0)
    assert ticket(uow, created.ticket_no).status is TicketStatus.REFUNDED  # the after-sales side is closed
    books(uow)
    with pytest.raises(InvalidInput):  # taken once: nothing left to withdraw
        request_withdrawal(uow, bought.consumer, 1, "again", now + timedelta(days=3), CALENDAR)


def test_the_ledger_check_covers_the_wallets_holds_and_fees(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, _ = spent_top_up(uow, channel, make_user, now)
    agent = staff(uow, now)
    at = now + timedelta(days=10)
    first, _ = request_withdrawal(uow, consumer, 3000, "a", at, CALENDAR)
    request_withdrawal(uow, consumer, 2000, "b", at, CALENDAR)
    approve_withdrawal(uow, agent, first.withdrawal_no, "", at, CALENDAR)
    assert check_wallet(uow) == []
    with uow:  # a hold changed behind the wallet's back
        row = uow.session.get(BalanceRow, consumer.user_id)
        assert row is not None
        row.held_fen += 1
        uow.commit()
    assert check_wallet(uow) == [f"user {consumer.user_id}: held 2001, withdrawals in review 2000"]


def test_an_approval_that_finds_no_source_left_gives_the_whole_hold_back(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    consumer, top_up = spent_top_up(uow, channel, make_user, now)
    agent = staff(uow, now)
    at = now + timedelta(days=10)
    asked, _ = request_withdrawal(uow, consumer, 9000, "gone", at, CALENDAR)
    with uow:  # the top-up went back another way while the withdrawal waited (its order closed)
        row = uow.session.scalar(select(OrderRow).where(OrderRow.order_no == top_up))
        assert row is not None
        row.status = OrderStatus.REFUNDED
        uow.commit()
    done = approve_withdrawal(uow, agent, asked.withdrawal_no, "", at, CALENDAR)
    assert (done.status, done.payout_fen, done.released_fen) == (WithdrawalStatus.DONE, 0, 9000)
    assert held(uow, consumer.user_id) == (9000, 0, 0)
    assert withdrawal_refunds(uow, asked.withdrawal_no) == []
    assert check_wallet(uow) == []
