"""The staff's page of WeChat refunds stuck in ABNORMAL (``/staff/abnormal-refunds``): listed, sent
on to the consumer's bank card or balance through the SDK's apply-abnormal-refund, validated in
words, CSRF-checked, idempotent and audited; settled by the next poll. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng.demo import DEMO_PASSWORD
from kameng.payouts.models import AbnormalRefundAction, RefundRow
from kameng.platform.ledger import check_books
from kameng.platform.ledger_models import BalanceRow
from kameng.worker import run_tick
from tests.channels.app_support import ask_refund, consumer, order_at, ticket_status
from tests.channels.test_through_the_app import pay_wechat
from tests.channels.wechat_support import WeChatWorld
from tests.support.apps import container_of
from tests.support.pages import csrf_of, log_in

PAGE = "/staff/abnormal-refunds"


def abnormal_refund(wired: TestClient, wechat: WeChatWorld) -> tuple[dict[str, str], dict[str, Any], str]:
    """A consumer's WeChat refund that WeChat answers ABNORMAL (their card was closed, say)."""
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    pay_wechat(wired, wechat, order)
    wechat.sim.script_refunds(order["out_trade_no"], ["PROCESSING", "ABNORMAL"])
    ticket = ask_refund(wired, auth, order["order_no"])
    container = container_of(wired)
    run_tick(container, container.now())
    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())
    [out_refund_no] = [n for n, r in wechat.sim.refunds.items() if r.out_trade_no == order["out_trade_no"]]
    assert wechat.sim.refunds[out_refund_no].status == "ABNORMAL"
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunding"
    return auth, ticket, out_refund_no


def abnormal_calls(wechat: WeChatWorld) -> int:
    return sum(1 for r in wechat.sim.requests if r.path.endswith("/apply-abnormal-refund"))


def test_staff_send_an_abnormal_refund_on_to_the_consumers_bank_card(wired: TestClient, wechat: WeChatWorld) -> None:
    auth, ticket, out_refund_no = abnormal_refund(wired, wechat)
    assert wired.get(PAGE, headers=auth, follow_redirects=False).status_code == 404  # not for consumers
    assert log_in(wired, "agent@kameng.test", DEMO_PASSWORD, "/staff").status_code == 303
    page = wired.get(PAGE)
    assert page.status_code == 200
    assert f'data-refund-no="{out_refund_no}"' in page.text
    assert "异常退款" in page.text
    csrf = csrf_of(page.text)
    card = {
        "refund_no": out_refund_no,
        "destination": "bank_card",
        "bank_type": "ICBC_DEBIT",
        "account": "6222 0202 0011 2233 445",
        "name": "张三",
    }

    no_token = wired.post(PAGE, data=card, follow_redirects=False)
    assert no_token.status_code in {303, 403}
    for bad, words in [
        ({"account": "6222-abc"}, "银行卡号应为 12 到 19 位数字"),
        ({"bank_type": "NOWHERE_BANK"}, "请从列表中选择开户银行"),
        ({"name": "<script>"}, "请填写持卡人姓名"),
        ({"name": ""}, "请填写持卡人姓名"),
        ({"destination": "cash"}, "请选择退到银行卡还是平台余额"),
    ]:
        refused = wired.post(PAGE, data={**card, **bad, "csrf": csrf}, follow_redirects=False)
        assert refused.status_code == 422, bad
        assert words in refused.text
        assert "6222 0202" not in refused.text  # the card number is never shown back
    for hostile in ("x" * 41, "", "R\x00"):
        refused = wired.post(PAGE, data={**card, "refund_no": hostile, "csrf": csrf}, follow_redirects=False)
        assert refused.status_code == 422, hostile
        assert "退款单号" in refused.text
    unknown = wired.post(PAGE, data={**card, "refund_no": "RNOSUCH0001", "csrf": csrf}, follow_redirects=False)
    assert unknown.status_code == 404
    assert abnormal_calls(wechat) == 0

    sent = wired.post(PAGE, data={**card, "csrf": csrf}, follow_redirects=False)
    assert (sent.status_code, sent.headers["location"]) == (303, f"{PAGE}?sent={out_refund_no}")
    again = wired.post(PAGE, data={**card, "csrf": csrf}, follow_redirects=False)
    assert again.status_code == 303  # a double submit: answered, nothing sent twice
    assert abnormal_calls(wechat) == 1
    at_wechat = wechat.sim.refunds[out_refund_no]
    assert (at_wechat.abnormal_to, at_wechat.bank_account) == ("USER_BANK_CARD", "6222020200112233445")
    container = container_of(wired)
    with container.uow() as uow:
        action = uow.session.scalar(select(AbnormalRefundAction))
        assert action is not None
        assert (action.destination, action.bank_type, action.account_tail, action.status) == (
            "bank_card",
            "ICBC_DEBIT",
            "3445",
            "sent",
        )
        assert action.actor_id is not None
    listed = wired.get(f"{PAGE}?sent={out_refund_no}")
    assert "已转到银行卡（尾号 3445）" in listed.text
    assert "6222020200112233445" not in listed.text

    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())  # the poll: SUCCESS
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
    assert f'data-refund-no="{out_refund_no}"' not in wired.get(PAGE).text


def test_staff_send_an_abnormal_refund_to_the_consumers_balance(wired: TestClient, wechat: WeChatWorld) -> None:
    auth, ticket, out_refund_no = abnormal_refund(wired, wechat)
    container = container_of(wired)
    assert log_in(wired, "agent@kameng.test", DEMO_PASSWORD, "/staff").status_code == 303
    csrf = csrf_of(wired.get(PAGE).text)
    sent = wired.post(
        PAGE,
        data={"refund_no": out_refund_no, "destination": "balance", "csrf": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert wechat.sim.refunds[out_refund_no].abnormal_to == "MERCHANT_BANK_CARD"
    wechat.clock.now += timedelta(minutes=2)
    run_tick(container, container.now())
    assert ticket_status(wired, auth, ticket["ticket_no"]) == "refunded"
    amount = wechat.sim.refunds[out_refund_no].amount
    with container.uow() as uow:
        owner = select(RefundRow.user_id).where(RefundRow.out_refund_no == out_refund_no).scalar_subquery()
        balance = uow.session.scalar(select(BalanceRow).where(BalanceRow.user_id == owner))
        assert balance is not None
        assert balance.cash_fen == amount
    assert check_books(container.uow()).ok


def test_the_page_in_english_and_without_wechat(client: TestClient) -> None:
    assert log_in(client, "agent@kameng.test", DEMO_PASSWORD, "/staff").status_code == 303
    page = client.get(PAGE, params={"lang": "en"})
    assert page.status_code == 200
    assert "No abnormal refund is waiting" in page.text
    assert "WeChat Pay is not configured" in page.text
    csrf = csrf_of(client.get("/staff/reconcile").text)
    form = {"refund_no": "R0000000001", "destination": "balance", "csrf": csrf}
    refused = client.post(PAGE, params={"lang": "en"}, data=form)
    assert refused.status_code == 400
    assert "WeChat Pay is not configured: abnormal refunds cannot be sent on" in refused.text
