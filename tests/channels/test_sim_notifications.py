"""The simulators post refund notifications by themselves, over HTTP, as the channels do, and kameng
reads them through the SDKs: WeChat Pay's REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED
(resource encrypted under the APIv3 key, signed with the platform key), Alipay's trade_status_sync
with refund_fee, gmt_refund and out_biz_no; either can be sent twice."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from kameng.channels.alipay.adapter import RefundSync
from kameng.channels.ports import ABNORMAL, PROCESSING, SUCCESS, BadSignature, RefundNotice
from kameng.worker import run_tick
from tests.channels.alipay_support import AlipayWorld, alipay_world
from tests.channels.app_support import ask_refund, consumer, order_at, ticket_status
from tests.channels.inbox_support import Inbox, serve_inbox
from tests.channels.test_alipay import paid_trade as alipay_paid
from tests.channels.test_through_the_app import pay_wechat
from tests.channels.test_wechatpay import paid_trade as wechat_paid
from tests.channels.wechat_support import WeChatWorld, wechat_world
from tests.support.apps import container_of

WECHAT_NOTIFY = "/api/v1/payments/notify/wechat"
ALIPAY_NOTIFY = "/api/v1/payments/notify/alipay"
PASSED_ON = {
    "content-type",
    "wechatpay-timestamp",
    "wechatpay-nonce",
    "wechatpay-signature",
    "wechatpay-serial",
    "wechatpay-signature-type",
}


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    yield from serve_inbox()


@pytest.fixture
def wechat(inbox: tuple[Inbox, str]) -> Iterator[WeChatWorld]:
    yield from wechat_world(notify_url=inbox[1] + WECHAT_NOTIFY)


@pytest.fixture
def alipay(inbox: tuple[Inbox, str]) -> Iterator[AlipayWorld]:
    yield from alipay_world(notify_url=inbox[1] + ALIPAY_NOTIFY)


def arrived(inbox: tuple[Inbox, str], *sims: Any) -> list[tuple[str, dict[str, str], bytes]]:
    for sim in sims:
        sim.wait_for_notifications()
    return [(r.path, r.headers, r.body) for r in inbox[0].take()]


def forward(client: TestClient, posts: list[tuple[str, dict[str, str], bytes]]) -> list[Response]:
    """Hand what crossed HTTP to the app, headers and body as they came."""
    return [
        client.post(path, content=body, headers={k: v for k, v in headers.items() if k.lower() in PASSED_ON})
        for path, headers, body in posts
    ]


# ---------------------------------------------------------------------------------------------
# WeChat Pay: the adapter alone


@pytest.mark.parametrize(
    ("script", "event", "status", "channel_status"),
    [
        (["PROCESSING", "SUCCESS"], "REFUND.SUCCESS", SUCCESS, "SUCCESS"),
        (["PROCESSING", "CLOSED"], "REFUND.CLOSED", ABNORMAL, "CLOSED"),
        (["PROCESSING", "ABNORMAL"], "REFUND.ABNORMAL", PROCESSING, "ABNORMAL"),
    ],
)
def test_wechat_simulator_posts_the_refund_notification_when_the_refund_settles(
    wechat: WeChatWorld, inbox: tuple[Inbox, str], script: list[str], event: str, status: str, channel_status: str
) -> None:
    wechat_paid(wechat)
    wechat.sim.script_refunds("P20261120001", script)
    answer = wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert answer.channel_status == "PROCESSING"
    assert arrived(inbox, wechat.sim) == []  # nothing to say while it is processing
    wechat.sim.advance_refund("R1")  # time passes at WeChat
    [(path, headers, body)] = arrived(inbox, wechat.sim)
    assert path == WECHAT_NOTIFY
    assert headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    envelope = json.loads(body)
    assert envelope["event_type"] == event
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert b"out_refund_no" not in body  # the refund travels encrypted (base64 has no "_")
    notice = wechat.adapter.read_notification(headers, body, wechat.clock.now)
    assert isinstance(notice, RefundNotice)
    assert (notice.out_refund_no, notice.out_trade_no) == ("R1", "P20261120001")
    assert (notice.answer.status, notice.answer.channel_status) == (status, channel_status)


def test_a_refund_that_succeeds_at_once_is_notified_at_once(wechat: WeChatWorld, inbox: tuple[Inbox, str]) -> None:
    wechat_paid(wechat)
    wechat.sim.script_refunds("P20261120001", ["SUCCESS"])
    wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    [(_, headers, body)] = arrived(inbox, wechat.sim)
    notice = wechat.adapter.read_notification(headers, body, wechat.clock.now)
    assert isinstance(notice, RefundNotice)
    assert notice.answer.status == SUCCESS


def test_wechat_refund_notification_sent_twice_is_a_replay_the_second_time(
    wechat: WeChatWorld, inbox: tuple[Inbox, str]
) -> None:
    wechat_paid(wechat)
    wechat.sim.misbehave.notify_twice = True
    wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    wechat.adapter.query_refund("R1", wechat.clock.now)  # the poll reveals SUCCESS: WeChat notifies
    first, second = arrived(inbox, wechat.sim)
    assert first == second
    notice = wechat.adapter.read_notification(first[1], first[2], wechat.clock.now)
    wechat.adapter.remember(notice.notice_id, wechat.clock.now)
    with pytest.raises(BadSignature, match="replayed"):
        wechat.adapter.read_notification(second[1], second[2], wechat.clock.now)


def test_abnormal_then_sent_on_to_a_card_is_notified_again_as_success(
    wechat: WeChatWorld, inbox: tuple[Inbox, str]
) -> None:
    wechat_paid(wechat)
    wechat.sim.script_refunds("P20261120001", ["ABNORMAL"])
    wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    [abnormal] = arrived(inbox, wechat.sim)
    assert json.loads(abnormal[2])["event_type"] == "REFUND.ABNORMAL"
    wechat.adapter.abnormal_refund("R1", ("ICBC_DEBIT", "6222020200112233445", "张三"))
    wechat.adapter.query_refund("R1", wechat.clock.now)
    [(_, headers, body)] = arrived(inbox, wechat.sim)
    notice = wechat.adapter.read_notification(headers, body, wechat.clock.now)
    assert isinstance(notice, RefundNotice)
    assert notice.answer.channel_status == "SUCCESS"


# ---------------------------------------------------------------------------------------------
# Alipay: the adapter alone


def test_alipay_posts_trade_status_sync_after_a_refund_with_fund_change(
    alipay: AlipayWorld, inbox: tuple[Inbox, str]
) -> None:
    alipay_paid(alipay)
    alipay.adapter.request_refund("R1", "P20261120001", 1000, alipay.clock.now)
    [(path, _, body)] = arrived(inbox, alipay.sim)
    assert path == ALIPAY_NOTIFY
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert (form["notify_type"], form["trade_status"]) == ("trade_status_sync", "TRADE_SUCCESS")
    assert (form["refund_fee"], form["out_biz_no"]) == ("10.00", "R1")
    assert form["gmt_refund"].endswith(".000")
    sync = alipay.adapter.read_notification_form(form, alipay.clock.now)
    assert isinstance(sync, RefundSync | RefundNotice)


def test_alipay_slow_refund_is_notified_once_its_money_moved_and_twice_if_told(
    alipay: AlipayWorld, inbox: tuple[Inbox, str]
) -> None:
    alipay_paid(alipay)
    alipay.sim.misbehave.slow_refunds["P20261120001"] = 1
    alipay.sim.misbehave.notify_twice = True
    alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert arrived(inbox, alipay.sim) == []  # fund_change N: nothing has moved yet
    alipay.clock.now += timedelta(minutes=1)
    done = alipay.adapter.query_refund("R1", alipay.clock.now, "P20261120001")
    assert done is not None
    assert done.status == SUCCESS
    first, second = arrived(inbox, alipay.sim)
    assert first[2] == second[2]  # the same notify_id, as Alipay's retry
    form = {k: v[0] for k, v in parse_qs(first[2].decode()).items()}
    assert (form["trade_status"], form["out_biz_no"], form["refund_fee"]) == ("TRADE_CLOSED", "R1", "30.00")


# ---------------------------------------------------------------------------------------------
# Through the app (SQLite and PostgreSQL): the notification settles the refund before any poll


def test_wechat_refund_settled_by_the_simulators_own_notification(
    wired: TestClient, wechat: WeChatWorld, inbox: tuple[Inbox, str]
) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    wechat.sim.misbehave.notify_twice = True
    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())  # sent: PROCESSING
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunding"
    [out_refund_no] = wechat.sim.refunds
    wechat.sim.advance_refund(out_refund_no)  # WeChat finishes it by itself, and says so twice
    first, second = forward(wired, arrived(inbox, wechat.sim))
    assert (first.status_code, first.json()) == (200, {"code": "SUCCESS", "message": "OK"})
    assert second.status_code == 200  # the replay is answered as received and changes nothing
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"


def test_alipay_refund_sync_arrives_twice_and_changes_nothing_more(
    wired: TestClient, alipay: AlipayWorld, inbox: tuple[Inbox, str]
) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "alipay")
    url = alipay.adapter.checkout(order["out_trade_no"], "月度会员", order["amount_fen"], alipay.clock.now).redirect_url
    assert url is not None
    with urllib.request.urlopen(url):  # the payer's browser at the cashier
        pass
    alipay.sim.pay(order["out_trade_no"])  # posted to the notify URL over HTTP
    paid = forward(wired, arrived(inbox, alipay.sim))
    assert [(a.status_code, a.text) for a in paid] == [(200, "success")]
    alipay.sim.misbehave.notify_twice = True
    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())  # fund_change Y: refunded, and Alipay notifies twice
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
    answers = forward(wired, arrived(inbox, alipay.sim))
    assert [(a.status_code, a.text) for a in answers] == [(200, "success"), (200, "success")]
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
