"""The books: every journal entry balances after a mix of everything the storefront does, and
`kameng ledger check` says so (exit 0) on a seeded database. Both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kameng import compose
from kameng.accounts.models import User
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.demo import seed_demo
from kameng.domain.model import Channel
from kameng.orders.payments import cancel_unpaid_order, expire_unpaid_orders
from kameng.orders.usage import reveal_card_key
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ServiceError
from kameng.platform.ledger import UnbalancedEntry, check_books, post_entry
from kameng.platform.ledger_models import BalanceRow, JournalLine
from tests.support.shop import buy, send_queued_refunds

KAMENG = Path(sys.executable).parent / "kameng"


@pytest.mark.usefixtures("catalog")
def test_the_books_balance_after_a_mix_of_everything(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime, engine: Engine
) -> None:
    alice, bob = make_user(), make_user()
    viewer = Viewer(alice.id, alice.role)
    buy(uow, channel, alice.id, "top-up-100", now)
    buy(uow, channel, alice.id, "top-up-100", now + timedelta(minutes=1), duplicate_ack=True)
    buy(uow, channel, alice.id, "annual-card", now, via=Channel.BALANCE, coupon_code="WELCOME20")
    buy(uow, channel, alice.id, "monthly-pass", now, via=Channel.BALANCE, coupon_code="SORRY10")
    keyed = buy(uow, channel, alice.id, "game-points-50", now, via=Channel.WECHAT, nonrefundable_ack=True)
    reveal_card_key(uow, viewer, keyed.order_no, now)
    buy(uow, channel, bob.id, "quarterly-pass", now, via=Channel.BANK_CARD)
    late = buy(uow, channel, bob.id, "lifetime", now, pay=False)
    buy(uow, channel, bob.id, "monthly-pass-promo", now, pay=False)
    cancelled = buy(uow, channel, bob.id, "game-points-50", now, pay=False, nonrefundable_ack=True)
    cancel_unpaid_order(uow, Viewer(bob.id, bob.role), cancelled.order_no, now)
    with pytest.raises(ServiceError):
        buy(uow, channel, bob.id, "monthly-pass", now, via=Channel.BALANCE)  # no money: nothing happens
    assert expire_unpaid_orders(uow, now + timedelta(minutes=30)) == 2
    assert late.out_trade_no
    assert simulate_payer(uow, late.out_trade_no, True, channel, now + timedelta(hours=1)) == "returned"
    send_queued_refunds(engine, now + timedelta(hours=1))

    report = check_books(uow)
    assert report.ok, (report.unbalanced, report.balance_mismatches)
    assert report.total_fen == 0
    assert report.entries >= 8
    # Alice: 2 × (100 + 20 bonus) = 240 in, 179 + 20 paid from the balance, bonus first.
    with uow:
        stored = uow.session.get(BalanceRow, alice.id)
        assert stored is not None
        assert (stored.cash_fen, stored.bonus_fen) == (24000 - 17900 - 2000, 0)
    assert report.accounts["late_payments"] == 0


def test_a_balance_changed_behind_the_ledgers_back_is_reported(uow: UnitOfWork, make_user: Callable[..., User]) -> None:
    user = make_user()
    with uow:
        row = uow.session.get(BalanceRow, user.id)
        assert row is not None
        row.cash_fen = 100
        uow.commit()
    report = check_books(uow)
    assert not report.ok
    assert report.balance_mismatches == [
        f"user {user.id}: stored cash 100 bonus 0 held 0, ledger cash 0 bonus 0 held 0"
    ]


def test_an_unbalanced_entry_cannot_be_posted(uow: UnitOfWork, now: datetime) -> None:
    with uow:
        with pytest.raises(UnbalancedEntry):
            post_entry(uow, kind="sale", key="x", lines=[("a", 100), ("b", -99)], now=now)
        assert uow.session.scalars(select(JournalLine)).all() == []


def test_kameng_ledger_check_exits_0_on_a_seeded_database(db_url: str, container: Container, now: datetime) -> None:
    assert seed_demo(container, compose.simulator_payer(container.payments), now)
    env = {**os.environ, "KAMENG_DATABASE_URL": db_url, "KAMENG_ENV": "test"}
    done = subprocess.run([str(KAMENG), "ledger", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "the books balance" in done.stdout


def test_kameng_ledger_check_exits_1_when_the_books_do_not_balance(
    db_url: str, uow: UnitOfWork, make_user: Callable[..., User]
) -> None:
    user = make_user()
    with uow:
        row = uow.session.get(BalanceRow, user.id)
        assert row is not None
        row.bonus_fen = 1
        uow.commit()
    env = {**os.environ, "KAMENG_DATABASE_URL": db_url, "KAMENG_ENV": "test"}
    done = subprocess.run([str(KAMENG), "ledger", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "BALANCE MISMATCH" in done.stderr
