"""Reconciliation: each channel's bill (served by its simulator in the channel's own format, read
through its SDK) against kameng's records of the day, with a seeded difference of every kind."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from kameng import compose
from kameng.channels.alipay.bill import parse_bill_zip
from kameng.channels.protocol_sims.alipay_bill import bill_zip
from kameng.channels.wechatpay.bill import BillError, parse_trade_bill
from kameng.demo import DEMO_PASSWORD
from kameng.domain.reconciliation import BillLine, LineKind
from kameng.worker import run_tick
from tests.channels.alipay_support import AlipayWorld
from tests.channels.app_support import API, ask_refund, consumer, order_at
from tests.channels.test_through_the_app import pay_wechat
from tests.channels.wechat_support import WeChatWorld
from tests.support.apps import container_of
from tests.support.pages import log_in

CHINA = timezone(timedelta(hours=8))


def bill_noon() -> datetime:
    """Noon (Beijing) three days on: one bill day for everything a test does, and none of the demo
    data's (paid through the local simulator today)."""
    day = datetime.now(CHINA) + timedelta(days=3)
    return day.replace(hour=12, minute=0, second=0, microsecond=0).astimezone(UTC)


def test_wechat_bill_with_a_difference_of_every_kind(wired: TestClient, wechat: WeChatWorld) -> None:
    container = container_of(wired)
    noon = bill_noon()
    wechat.clock.now = noon
    day = noon.astimezone(CHINA).date()
    matching = order_at(wired, consumer(wired), "wechat")
    pay_wechat(wired, wechat, matching)

    # Missing here: WeChat took money for a trade whose notification never reached us.
    wechat.adapter.create_native("PGHOST0001", "?", 1234, noon + timedelta(minutes=15))
    wechat.sim.pay("PGHOST0001", deliver=False)

    # Missing there: our records say paid at WeChat, WeChat has no such trade.
    phantom = order_at(wired, consumer(wired), "wechat")
    assert wired.post(f"{API}/payments/simulator/{phantom['out_trade_no']}/pay").json()["result"] == "paid"

    # Amount mismatch: WeChat's bill says one fen more than we booked.
    skewed = order_at(wired, consumer(wired), "wechat")
    pay_wechat(wired, wechat, skewed)
    wechat.sim.trades[skewed["out_trade_no"]].total += 1

    # Status mismatch: WeChat finished a refund we still think is on its way.
    auth = consumer(wired)
    refunded = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, refunded)
    ask_refund(wired, auth, refunded["order_no"])
    run_tick(container, container.now())
    [refund] = wechat.sim.refunds.values()
    refund.status = "SUCCESS"

    findings = compose.reconcile_channel(container, "wechat", day)
    found = {(f.difference.value, f.kind.value, f.number) for f in findings}
    assert found == {
        ("missing_here", "payment", "PGHOST0001"),
        ("missing_there", "payment", phantom["out_trade_no"]),
        ("amount_mismatch", "payment", skewed["out_trade_no"]),
        ("status_mismatch", "refund", refund.out_refund_no),
    }
    skew = next(f for f in findings if f.difference.value == "amount_mismatch")
    assert skew.ours is not None
    assert skew.theirs is not None
    assert skew.theirs.amount_fen - skew.ours.amount_fen == 1
    # Nothing else differs: the matching payment and the refunded order's payment are on both sides.
    assert all(f.number != matching["out_trade_no"] for f in findings)


def test_wechat_bill_format_backticks_and_a_summary_that_must_add_up(wechat: WeChatWorld) -> None:
    wechat.adapter.create_native("PB1", "月度会员", 2500, wechat.clock.now + timedelta(minutes=15))
    wechat.sim.pay("PB1", deliver=False)
    text = wechat.sim.bill_csv(wechat.clock.now.astimezone(CHINA).date().isoformat())
    assert "`PB1" in text
    assert "总交易单数" in text
    assert parse_trade_bill(text) == [BillLine(LineKind.PAYMENT, "PB1", 2500, "SUCCESS")]
    with pytest.raises(BillError, match="summary"):
        parse_trade_bill(text.replace("`25.00", "`25.01", 1))


def test_alipay_bill_is_a_zip_of_gbk_csv_read_through_the_sdk(wired: TestClient, alipay: AlipayWorld) -> None:
    container = container_of(wired)
    noon = bill_noon()
    alipay.clock.now = noon
    auth = consumer(wired)
    order = order_at(wired, auth, "alipay")
    alipay.adapter.page_pay_url(order["out_trade_no"], "月度会员", order["amount_fen"], noon)
    url = alipay.adapter.page_pay_url(order["out_trade_no"], "月度会员", order["amount_fen"], noon)
    with urllib.request.urlopen(url):
        pass
    [notice] = alipay.sim.pay(order["out_trade_no"], deliver=False)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert wired.post(f"{API}/payments/notify/alipay", content=urlencode(notice), headers=form).text == "success"
    ask_refund(wired, auth, order["order_no"])
    run_tick(container, container.now())  # fund_change Y: refunded at once
    # Missing here: a payment at Alipay we never heard of.
    with urllib.request.urlopen(alipay.adapter.page_pay_url("PALI0GHOST", "?", 500, noon)):
        pass
    alipay.sim.pay("PALI0GHOST", deliver=False)

    findings = compose.reconcile_channel(container, "alipay", noon.astimezone(CHINA).date())
    assert {(f.difference.value, f.kind.value, f.number) for f in findings} == {
        ("missing_here", "payment", "PALI0GHOST")
    }
    raw = bill_zip("app", "2026-11-20", [], [])
    assert parse_bill_zip(raw) == []


def test_the_operator_page_shows_each_difference_in_words(wired: TestClient, wechat: WeChatWorld) -> None:
    noon = bill_noon()
    wechat.clock.now = noon
    wechat.adapter.create_native("PGHOST0002", "?", 777, noon + timedelta(minutes=15))
    wechat.sim.pay("PGHOST0002", deliver=False)
    assert log_in(wired, "agent@kameng.test", DEMO_PASSWORD, "/staff").status_code == 303
    day = noon.astimezone(CHINA).date().isoformat()
    page = wired.get("/staff/reconcile", params={"channel": "wechat", "date": day})
    assert page.status_code == 200
    assert 'data-difference="missing_here"' in page.text
    assert "渠道有、我方无" in page.text
    assert "PGHOST0002" in page.text
    assert "missing_here</td>" not in page.text  # the words, not the code
    bad = wired.get("/staff/reconcile", params={"channel": "wechat", "date": "2026-13-45"})
    assert "请选择已配置的渠道" in bad.text


def test_the_operator_page_is_for_staff_and_says_when_no_channel_is_configured(client: TestClient) -> None:
    assert client.get("/staff/reconcile", follow_redirects=False).status_code in {303, 403, 404}
    assert log_in(client, "agent@kameng.test", DEMO_PASSWORD, "/staff").status_code == 303
    page = client.get("/staff/reconcile")
    assert page.status_code == 200
    assert "没有配置真实支付渠道" in page.text
