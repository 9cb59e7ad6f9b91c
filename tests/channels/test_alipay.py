"""Alipay end to end through the real python-alipay-sdk code against the protocol simulator."""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from kameng.channels.alipay.adapter import RefundSync
from kameng.channels.ports import ABNORMAL, PROCESSING, SUCCESS, NothingToApply, PaymentNotification
from tests.channels.alipay_support import AlipayWorld


def paid_trade(world: AlipayWorld, out_trade_no: str = "P20261120001", total: int = 3000) -> None:
    url = world.adapter.page_pay_url(out_trade_no, "月度会员", total, world.clock.now + timedelta(minutes=15))
    with urllib.request.urlopen(url) as page:  # the payer's browser opens the cashier
        assert "¥" in page.read().decode()
    world.sim.pay(out_trade_no, deliver=False)


def test_page_pay_opens_the_cashier_and_the_notification_verifies(alipay: AlipayWorld) -> None:
    url = alipay.adapter.page_pay_url("P1", "月度会员", 2590, alipay.clock.now + timedelta(minutes=15))
    params = parse_qs(urlsplit(url).query)
    assert params["method"] == ["alipay.trade.page.pay"]
    with urllib.request.urlopen(url) as page:
        text = page.read().decode()
    assert "¥25.90" in text
    assert 'id="alipay-pay"' in text
    [notice] = alipay.sim.pay("P1", deliver=False)
    note = alipay.adapter.read_notification_form(notice, alipay.clock.now)
    assert isinstance(note, PaymentNotification)
    assert (note.out_trade_no, note.amount_fen, note.succeeded) == ("P1", 2590, True)
    trade = alipay.adapter.query("P1")
    assert trade is not None
    assert (trade.status, trade.total_fen) == ("TRADE_SUCCESS", 2590)
    assert alipay.adapter.query("P-unknown") is None


def test_requests_are_stamped_in_beijing_time_whatever_the_container_zone(alipay: AlipayWorld) -> None:
    paid_trade(alipay)
    alipay.adapter.query("P20261120001")
    stamp = alipay.sim.requests[-1]["timestamp"]
    china = alipay.clock.now + timedelta(hours=8)
    assert stamp == china.strftime("%Y-%m-%d %H:%M:%S")  # the simulator refuses a stamp 8 hours off


def test_refund_in_full_with_fund_change_and_its_trade_closed_sync(alipay: AlipayWorld) -> None:
    paid_trade(alipay)
    answer = alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert (answer.status, answer.channel_status) == (SUCCESS, "FUND_CHANGE_Y")
    again = alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert again.channel_status == "FUND_CHANGE_N"  # the same out_request_no moves no money again
    sync = alipay.adapter.read_notification_form(alipay.sim.refund_notification("P20261120001", "R1"), alipay.clock.now)
    assert isinstance(sync, RefundSync)
    assert (sync.out_request_no, sync.refunded_total_fen, sync.full) == ("R1", 3000, True)


def test_two_partial_refunds_arrive_as_trade_success_with_refund_fee(alipay: AlipayWorld) -> None:
    paid_trade(alipay)
    alipay.adapter.request_refund("R1", "P20261120001", 1000, alipay.clock.now)
    first = alipay.adapter.read_notification_form(
        alipay.sim.refund_notification("P20261120001", "R1"), alipay.clock.now
    )
    alipay.adapter.request_refund("R2", "P20261120001", 500, alipay.clock.now)
    second = alipay.adapter.read_notification_form(
        alipay.sim.refund_notification("P20261120001", "R2"), alipay.clock.now
    )
    assert isinstance(first, RefundSync)
    assert isinstance(second, RefundSync)
    assert (first.refunded_total_fen, first.full) == (1000, False)
    assert (second.out_request_no, second.refunded_total_fen, second.full) == ("R2", 1500, False)


def test_without_fund_change_the_refund_is_queried_until_refund_success(alipay: AlipayWorld) -> None:
    paid_trade(alipay)
    alipay.sim.misbehave.slow_refunds["P20261120001"] = 2
    answer = alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert (answer.status, answer.channel_status) == (PROCESSING, "FUND_CHANGE_N")
    too_soon = alipay.adapter.query_refund("R1", alipay.clock.now + timedelta(seconds=5), "P20261120001")
    assert too_soon is not None
    assert too_soon.channel_status == "TOO_SOON"  # not asked sooner than 10 s
    alipay.clock.now += timedelta(minutes=1)
    waiting = alipay.adapter.query_refund("R1", alipay.clock.now, "P20261120001")
    assert waiting is not None
    assert waiting.status == PROCESSING
    done = alipay.adapter.query_refund("R1", alipay.clock.now, "P20261120001")
    assert done is not None
    assert (done.status, done.channel_status) == (SUCCESS, "REFUND_SUCCESS")


def test_a_signed_business_failure_is_a_refused_refund(alipay: AlipayWorld) -> None:
    paid_trade(alipay)
    alipay.sim.misbehave.fail_next.append(("alipay.trade.refund", "ACQ.TRADE_HAS_FINISHED", "交易已完结"))
    answer = alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert (answer.status, answer.channel_status) == (ABNORMAL, "REFUSED")
    assert answer.failure == "支付渠道拒绝了这笔退款"


def test_a_refund_past_365_days_is_refused_before_calling(alipay: AlipayWorld) -> None:
    paid_trade(alipay)
    alipay.clock.now += timedelta(days=366)
    answer = alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert answer.failure == "该笔支付已超过 365 天，支付渠道不再受理原路退款"
    assert [r["method"] for r in alipay.sim.requests][-1] == "alipay.trade.query"
    assert alipay.sim.refunds == {}


def test_closing_an_unpaid_trade(alipay: AlipayWorld) -> None:
    alipay.adapter.page_pay_url("P9", "月度会员", 100, alipay.clock.now + timedelta(minutes=15))
    with urllib.request.urlopen(alipay.adapter.page_pay_url("P9", "月度会员", 100, alipay.clock.now)):
        pass
    assert alipay.adapter.close("P9") is True
    paid_trade(alipay, "P10")
    assert alipay.adapter.close("P10") is False


def test_a_wait_buyer_pay_notification_is_received_and_changes_nothing(alipay: AlipayWorld) -> None:
    alipay.adapter.page_pay_url("P11", "月度会员", 100, alipay.clock.now)
    fields = {"out_trade_no": "P11", "trade_status": "WAIT_BUYER_PAY", "total_amount": "1.00"}
    notice = alipay.sim.notification(fields)
    body = urlencode(notice).encode()
    with pytest.raises(NothingToApply):
        alipay.adapter.read_notification({}, body, alipay.clock.now)
    assert alipay.adapter.acknowledge(True).body == b"success"
