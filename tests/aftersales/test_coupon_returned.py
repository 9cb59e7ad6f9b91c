"""A coupon the quote promises back ("优惠券 10.00 元以优惠券形式退回") comes back when the refund
arrives: as a new coupon of the consumer's own, on the order's timeline, in the ledger and in the
arrival message, once however many times the channel says the money arrived."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from kameng.accounts.models import User
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.catalog.models import CouponRow
from kameng.catalog.services import issue_returned_coupon, returned_coupon_code
from kameng.channels.ports import SUCCESS, RefundAnswer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.model import Channel, Reason
from kameng.domain.users import Role
from kameng.messages.models import MessageRow
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.payouts.models import RefundRow
from kameng.payouts.services import _apply_answer
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput
from tests.support.shop import assert_books_balance, buy, coupon, events, journal, order, send_queued_refunds
from tests.support.tickets import CALENDAR

SORRY10 = "SORRY10"  # the demo's refundable 10.00 coupon, open to anyone


def _refund_in_one_click(uow: UnitOfWork, user: User, order_no: str, now: datetime) -> str:
    ticket = submit_request(
        uow, Viewer(user.id, Role.CONSUMER), RefundRequestCommand(order_no, Reason.CHANGED_MIND), now, CALENDAR
    )
    assert ticket.decision.value == "auto_approve"  # not activated: P1, the full cash paid
    return ticket.ticket_no


def _messages(uow: UnitOfWork, user_id: int, kind: str) -> list[MessageRow]:
    with uow:
        return list(
            uow.session.scalars(
                select(MessageRow).where(MessageRow.user_id == user_id, MessageRow.kind == kind).order_by(MessageRow.id)
            )
        )


def _refund(uow: UnitOfWork, order_id: int) -> RefundRow:
    with uow:
        row = uow.session.scalar(select(RefundRow).where(RefundRow.order_id == order_id))
        assert row is not None
        return row


def test_the_coupon_comes_back_as_the_consumers_own_when_the_refund_arrives(
    catalog: UnitOfWork,
    uow: UnitOfWork,
    engine: Engine,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    buyer, stranger = make_user(), make_user()
    placed = buy(uow, channel, buyer.id, "monthly-pass", now, coupon_code=SORRY10)
    assert placed.amount_fen == 2000  # 30.00 less the 10.00 coupon
    ticket_no = _refund_in_one_click(uow, buyer, placed.order_no, now + timedelta(minutes=5))
    assert returned_coupon_code(placed.order_no) not in {c.code for c in _all_coupons(uow)}  # not before the money

    send_queued_refunds(engine, now + timedelta(minutes=6))
    paid = order(uow, placed.order_no)
    assert paid.status.value == "refunded"
    given = coupon(uow, returned_coupon_code(placed.order_no))
    assert (given.user_id, given.value_fen, given.refundable, given.used_by_order_id) == (buyer.id, 1000, True, None)
    assert coupon(uow, SORRY10).used_by_order_id == paid.id  # the refunded order keeps what it was paid with

    [returned] = events(uow, placed.order_no, "coupon_returned")
    assert (returned.amount_fen, returned.note) == (1000, given.code)
    [entry] = [e for e in journal(uow, placed.order_no) if e.kind == "coupon_returned"]
    assert sorted((line.account, line.amount_fen) for line in entry.lines) == [
        ("coupon_expense", -1000),
        (f"merchant_payable:{paid.product.merchant_id}", 1000),
    ]
    assert_books_balance(uow)
    [arrived] = _messages(uow, buyer.id, "arrived")
    assert given.code in arrived.texts["zh"]
    assert "优惠券 10.00 元已退回" in arrived.texts["zh"]
    assert given.code in arrived.texts["en"]
    assert "coupon came back" in arrived.texts["en"]
    assert ticket_no

    # The old code stays used; the new one is the buyer's alone, once.
    with pytest.raises(InvalidInput) as used:
        place_order(uow, _checkout(buyer.id, SORRY10, "again-1"), now + timedelta(hours=1), channel)
    assert used.value.code == "coupon_used"
    with pytest.raises(InvalidInput) as not_theirs:
        place_order(uow, _checkout(stranger.id, given.code, "stranger-1"), now + timedelta(hours=1), channel)
    assert not_theirs.value.code == "bad_coupon"
    again = place_order(uow, _checkout(buyer.id, given.code, "again-2"), now + timedelta(hours=1), channel)
    assert again.amount_fen == 5000  # the quarterly pass, 60.00 less the 10.00 given back
    with pytest.raises(InvalidInput) as twice:
        place_order(uow, _checkout(buyer.id, given.code, "again-3"), now + timedelta(hours=1), channel)
    assert twice.value.code == "coupon_used"


def test_a_second_arrival_notice_gives_nothing_twice(
    catalog: UnitOfWork,
    uow: UnitOfWork,
    uow_factory: Callable[[], UnitOfWork],
    engine: Engine,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    buyer = make_user()
    placed = buy(uow, channel, buyer.id, "monthly-pass", now, coupon_code=SORRY10)
    _refund_in_one_click(uow, buyer, placed.order_no, now + timedelta(minutes=5))
    send_queued_refunds(engine, now + timedelta(minutes=6))
    refund = _refund(uow, order(uow, placed.order_no).id)
    assert refund.status.value == "succeeded"

    # The channel's callback repeats what the poll already applied.
    answer = RefundAnswer(SUCCESS, refund.channel_refund_no or "")
    _apply_answer(uow_factory(), refund.id, answer, now + timedelta(minutes=30), CALENDAR)
    _apply_answer(uow_factory(), refund.id, answer, now + timedelta(hours=2), CALENDAR)
    send_queued_refunds(engine, now + timedelta(hours=3))

    assert [c.code for c in _all_coupons(uow) if c.user_id == buyer.id] == [returned_coupon_code(placed.order_no)]
    assert len(events(uow, placed.order_no, "coupon_returned")) == 1
    assert [e.kind for e in journal(uow, placed.order_no)].count("coupon_returned") == 1
    assert len(_messages(uow, buyer.id, "arrived")) == 1
    assert_books_balance(uow)


def test_issuing_the_returned_coupon_twice_makes_one(
    catalog: UnitOfWork, uow: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    buyer = make_user()
    with uow:
        used = uow.session.scalar(select(CouponRow).where(CouponRow.code == SORRY10))
        assert used is not None
        first = issue_returned_coupon(uow, used, buyer.id, "26030200000001", None, now)
        second = issue_returned_coupon(uow, used, buyer.id, "26030200000001", None, now)
        uow.commit()
    assert first is not None
    assert second is None
    assert [c.code for c in _all_coupons(uow) if c.user_id == buyer.id] == ["RT26030200000001"]


def test_the_coupon_comes_back_with_the_time_it_had_left(
    catalog: UnitOfWork,
    uow: UnitOfWork,
    engine: Engine,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    buyer = make_user()
    with uow:
        uow.session.add(
            CouponRow(
                code="TENDAYS",
                value_fen=500,
                min_spend_fen=0,
                refundable=True,
                user_id=buyer.id,
                expires_at=now + timedelta(days=10),
                created_at=now,
            )
        )
        uow.commit()
    placed = buy(uow, channel, buyer.id, "quarterly-pass", now, coupon_code="TENDAYS")
    _refund_in_one_click(uow, buyer, placed.order_no, now + timedelta(days=3))
    send_queued_refunds(engine, now + timedelta(days=3, minutes=1))
    given = coupon(uow, returned_coupon_code(placed.order_no))
    settled = _refund(uow, order(uow, placed.order_no).id).settled_at
    assert settled is not None
    assert given.expires_at is not None
    # Ten days were left when it was used; ten days are left from the day it came back.
    assert given.expires_at - settled == timedelta(days=10)
    [arrived] = _messages(uow, buyer.id, "arrived")
    assert "有效期至" in arrived.texts["zh"]
    assert "valid until" in arrived.texts["en"]


def test_a_coupon_that_is_not_refundable_stays_with_the_order(
    catalog: UnitOfWork,
    uow: UnitOfWork,
    engine: Engine,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    buyer = make_user()
    placed = buy(uow, channel, buyer.id, "annual-card", now, coupon_code="WELCOME20")  # refundable: no
    ticket = submit_request(
        uow,
        Viewer(buyer.id, Role.CONSUMER),
        RefundRequestCommand(placed.order_no, Reason.CHANGED_MIND),
        now + timedelta(minutes=5),
        CALENDAR,
    )
    assert any("作废" in line.get("detail_zh", "") for line in ticket.quote["lines"])
    send_queued_refunds(engine, now + timedelta(minutes=6))
    assert order(uow, placed.order_no).status.value == "refunded"
    assert [c for c in _all_coupons(uow) if c.user_id == buyer.id] == []
    assert events(uow, placed.order_no, "coupon_returned") == []
    assert "coupon_returned" not in [e.kind for e in journal(uow, placed.order_no)]
    [arrived] = _messages(uow, buyer.id, "arrived")
    assert "优惠券" not in arrived.texts["zh"]
    assert_books_balance(uow)


def _checkout(user_id: int, code: str, key: str) -> CheckoutRequest:
    return CheckoutRequest(
        buyer=user_id,
        product_slug="quarterly-pass",
        channel=Channel.ALIPAY,
        coupon_code=code,
        duplicate_ack=True,
        idempotency_key=key,
    )


def _all_coupons(uow: UnitOfWork) -> list[CouponRow]:
    with uow:
        return list(uow.session.scalars(select(CouponRow).order_by(CouponRow.id)))
