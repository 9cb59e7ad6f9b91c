"""The real channels inside kameng, on SQLite and PostgreSQL: an order paid at WeChat Pay or Alipay
(through their SDKs, against the protocol simulators), its notification applied through
``/api/v1/payments/notify/<channel>``, and its refund sent by the worker to the same channel."""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng import compose
from kameng.payouts.models import OrphanPaymentRow, RefundRow
from kameng.worker import run_tick
from tests.channels.alipay_support import AlipayWorld
from tests.channels.app_support import API, ask_refund, consumer, order_at, status, ticket_status
from tests.channels.wechat_support import WeChatWorld
from tests.support.apps import container_of


def pay_wechat(client: TestClient, wechat: WeChatWorld, order: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    wechat.adapter.checkout(
        order["out_trade_no"], "月度会员", order["amount_fen"], wechat.clock.now + timedelta(minutes=15)
    )
    [(headers, body)] = wechat.sim.pay(order["out_trade_no"], deliver=False)
    answer = client.post(f"{API}/payments/notify/wechat", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"code": "SUCCESS", "message": "OK"}
    return headers, body


def test_wechat_pay_then_refund_in_full_processing_then_success(wired: TestClient, wechat: WeChatWorld) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    assert status(wired, auth, order["order_no"]) == "paid"

    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())  # the worker sends it: WeChat answers PROCESSING
    [sent] = wechat.sim.refunds.values()
    assert (sent.out_trade_no, sent.amount, sent.status) == (order["out_trade_no"], order["amount_fen"], "PROCESSING")
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunding"
    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())  # the poll: SUCCESS
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
    assert status(wired, auth, order["order_no"]) == "refunded"


def test_wechat_closed_refund_fails_and_the_retry_goes_under_a_new_number(
    wired: TestClient, wechat: WeChatWorld
) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    wechat.sim.script_refunds(order["out_trade_no"], ["PROCESSING", "CLOSED"])
    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())
    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refund_failed"
    retry = wired.post(f"{API}/tickets/{ticket['ticket_no']}/retry-refund", headers=auth)
    assert retry.status_code == 200, retry.text
    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())
    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())
    numbers = list(wechat.sim.refunds)
    assert len(numbers) == 2
    assert numbers[0] != numbers[1]
    assert [wechat.sim.refunds[n].status for n in numbers] == ["CLOSED", "SUCCESS"]
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"


def test_alipay_pay_and_refund_with_fund_change(wired: TestClient, alipay: AlipayWorld) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "alipay")
    url = alipay.adapter.checkout(order["out_trade_no"], "月度会员", order["amount_fen"], alipay.clock.now).redirect_url
    assert url is not None
    assert url.startswith(alipay.sim.gateway + "?")
    with urllib.request.urlopen(url):  # the payer's browser at the cashier
        pass
    [notice] = alipay.sim.pay(order["out_trade_no"], deliver=False)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = wired.post(f"{API}/payments/notify/alipay", content=urlencode(notice), headers=form)
    assert (answer.status_code, answer.text) == (200, "success")
    assert status(wired, auth, order["order_no"]) == "paid"

    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"  # fund_change Y
    with container.uow() as uow:
        refund = uow.session.scalar(select(RefundRow).where(RefundRow.out_trade_no == order["out_trade_no"]))
        assert refund is not None
        out_refund_no = refund.out_refund_no
    # Alipay's trade_status_sync for the refund arrives afterwards: received, nothing changes.
    sync = alipay.sim.refund_notification(order["out_trade_no"], out_refund_no)
    again = wired.post(f"{API}/payments/notify/alipay", content=urlencode(sync), headers=form)
    assert (again.status_code, again.text) == (200, "success")
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"


def test_a_payment_for_a_trade_we_never_opened_is_sent_back(wired: TestClient, wechat: WeChatWorld) -> None:
    wechat.adapter.create_native("PSTRANGER1", "?", 4200, wechat.clock.now + timedelta(minutes=15))
    [(headers, body)] = wechat.sim.pay("PSTRANGER1", deliver=False)
    answer = wired.post(f"{API}/payments/notify/wechat", content=body, headers=headers)
    assert answer.status_code == 200
    container = container_of(wired)
    run_tick(container, container.now())  # the worker sends it back: PROCESSING
    wechat.clock.now += timedelta(minutes=5)
    run_tick(container, container.now())
    with container.uow() as uow:
        orphan = uow.session.scalar(select(OrphanPaymentRow))
        assert orphan is not None
        assert (orphan.out_trade_no, orphan.amount_fen, orphan.out_refund_no) == ("PSTRANGER1", 4200, "OPSTRANGER1")
        assert orphan.status == "succeeded"
    assert wechat.sim.refunds["OPSTRANGER1"].amount == 4200


def test_wechat_abnormal_refund_waits_and_is_settled_through_abnormal_refund(
    wired: TestClient, wechat: WeChatWorld
) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    wechat.sim.script_refunds(order["out_trade_no"], ["PROCESSING", "ABNORMAL"])
    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())
    for _ in range(3):  # ABNORMAL is not final: kameng keeps the refund under way and keeps asking
        wechat.clock.now += timedelta(minutes=31)
        run_tick(container, container.now())
        assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunding"
    [out_refund_no] = wechat.sim.refunds
    assert wechat.sim.refunds[out_refund_no].status == "ABNORMAL"
    answer = compose.settle_abnormal_refund(container, out_refund_no, ("ICBC_DEBIT", "6222020200112233445", "张三"))
    assert answer.channel_status == "PROCESSING"
    wechat.clock.now += timedelta(minutes=31)
    run_tick(container, container.now())
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
    assert wechat.sim.refunds[out_refund_no].abnormal_to == "USER_BANK_CARD"


def test_the_refund_history_the_wechat_limits_count(wired: TestClient, wechat: WeChatWorld) -> None:
    from kameng.payouts.services import refund_history

    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())
    [sent] = wechat.sim.refunds
    assert refund_history(container.uow(), order["out_trade_no"], "R-other") == (1, container.now())
    assert refund_history(container.uow(), order["out_trade_no"], sent) == (0, None)


def test_wechat_refund_notification_settles_the_refund_without_waiting_for_the_poll(
    wired: TestClient, wechat: WeChatWorld
) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())
    [refund] = wechat.sim.refunds.values()
    refund.status = "SUCCESS"
    resource = {
        "mchid": wechat.sim.mchid,
        "out_trade_no": order["out_trade_no"],
        "transaction_id": wechat.sim.trades[order["out_trade_no"]].transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": "SUCCESS",
        "amount": {"total": order["amount_fen"], "refund": refund.amount, "payer_total": order["amount_fen"]},
    }
    headers, body = wechat.sim.notification("REFUND.SUCCESS", "refund", resource)
    answer = wired.post(f"{API}/payments/notify/wechat", content=body, headers=headers)
    assert answer.status_code == 200
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
    # The same notification again: refused as a replay, answered as received, nothing changes.
    again = wired.post(f"{API}/payments/notify/wechat", content=body, headers=headers)
    assert again.status_code == 200
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
