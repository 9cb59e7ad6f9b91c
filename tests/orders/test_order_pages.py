"""The order pages' promises, server side, in process on both backends: an activation that
changes the refund is made only from its confirmation, a one-click refund only for the amount it
showed, the receipt only once the money arrived, the API offers what the page offers, and the
simulator's pay page never offers to pay an order that is gone (a late payment is told)."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from kameng.container import Container
from kameng.messages.models import MessageRow
from kameng.worker import run_tick
from tests.support.apps import container_of

PASSWORD = "kameng-test-2026"
_phones = itertools.count(13600000100)


def _csrf(page: Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _words(page: Response) -> str:
    """The page's text as a person reads it: no tags, single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))


class Shopper:
    """A consumer signed up on the pages, with their session cookie."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.phone = str(next(_phones))
        form = client.get("/signup")
        data = {"identifier": self.phone, "password": PASSWORD, "display_name": "页面测试", "csrf": _csrf(form)}
        assert client.post("/signup", data=data).status_code == 200
        self.csrf = _csrf(client.get("/orders"))

    def post(self, path: str, **data: str) -> Response:
        return self.client.post(path, data={"csrf": self.csrf, **data}, follow_redirects=False)

    def order(self, slug: str, *, pay: bool = True, coupon: str = "") -> str:
        placed = self.post(f"/checkout/{slug}", channel="alipay", coupon=coupon, idempotency_key=f"{slug}-{self.phone}")
        assert placed.status_code == 303, placed.text[:500]
        pay_url = placed.headers["location"]
        order_no = pay_url.rsplit("/P", 1)[1]
        if pay:
            assert self.post(pay_url, outcome="succeed").status_code == 303
        return order_no


def _clock(container: Container, at: datetime) -> None:
    container.clock = lambda: at


def test_an_activation_that_changes_the_refund_is_made_only_from_its_confirmation(client: TestClient) -> None:
    shopper = Shopper(client)
    order_no = shopper.order("monthly-pass-promo")
    page = client.get(f"/orders/{order_no}")
    assert f'href="/orders/{order_no}/confirm/activate"' in page.text  # a link to the confirmation, no form

    # A POST without the confirmation (a stale page, a hand-made request) lands on the confirmation.
    answer = shopper.post(f"/orders/{order_no}/usage", action="activate")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{order_no}/confirm/activate"
    assert 'data-status="pending_activation"' in client.get(f"/orders/{order_no}").text

    confirm = client.get(f"/orders/{order_no}/confirm/activate")
    words = _words(confirm)
    assert 'data-effect="non_refundable"' in confirm.text
    assert "这是限时优惠商品,一经激活即不可退款。" in words
    assert "现在申请退款 ¥9.90 一键退款,无需审核 P1" in words
    assert "激活后立即申请退款 ¥0.00" in words
    assert "P4" in words
    english = _words(client.get(f"/orders/{order_no}/confirm/activate?lang=en"))
    assert "once activated, it can no longer be refunded" in english
    client.get("/orders?lang=zh")

    assert shopper.post(f"/orders/{order_no}/usage", action="activate", confirmed="1").status_code == 303
    after = client.get(f"/orders/{order_no}")
    assert 'data-status="active"' in after.text
    assert 'data-rules="P4"' in after.text


def test_the_confirmation_of_a_membership_already_started_goes_back_to_the_order(client: TestClient) -> None:
    shopper = Shopper(client)
    order_no = shopper.order("monthly-pass")
    assert shopper.post(f"/orders/{order_no}/usage", action="use_benefit", benefit="video").status_code == 303
    # Used, hence activated: nothing is left to start, so there is nothing to confirm.
    page = client.get(f"/orders/{order_no}")
    assert 'data-status="active"' in page.text
    assert "/confirm/" not in page.text
    answer = client.get(f"/orders/{order_no}/confirm/activate", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/orders/{order_no}")


def test_a_one_click_refund_is_granted_only_for_the_amount_it_showed(client: TestClient) -> None:
    shopper = Shopper(client)
    order_no = shopper.order("quarterly-pass")
    form = client.get(f"/orders/{order_no}/refund")
    assert 'id="one-click"' in form.text
    assert 'id="description"' not in form.text
    assert 'type="file"' not in form.text
    words = _words(form)
    assert re.search(r"将退还 ¥60\.00,原路退回支付宝,预计 \d{4}-\d\d-\d\d 至 \d{4}-\d\d-\d\d 到账", words)
    assert 'name="confirmed_fen" value="6000"' in form.text

    for wrong in ("5999", "not-a-number"):
        refused = shopper.post(
            f"/orders/{order_no}/refund", reason="changed_mind", idempotency_key=f"k-{wrong}", confirmed_fen=wrong
        )
        assert refused.status_code == 409
        assert "可退金额或处理方式已变化,请查看最新报价后再确认。" in refused.text
        assert 'id="one-click"' in refused.text  # the quote as it is now, to confirm again
    assert 'id="order-ticket"' not in client.get(f"/orders/{order_no}").text

    granted = shopper.post(
        f"/orders/{order_no}/refund", reason="changed_mind", idempotency_key="k-ok", confirmed_fen="6000"
    )
    assert granted.status_code == 303
    assert re.fullmatch(r"/tickets/AS\d+", granted.headers["location"])


def test_a_request_that_needs_a_person_keeps_the_full_form(client: TestClient) -> None:
    shopper = Shopper(client)
    order_no = shopper.order("monthly-pass")
    shopper.post(f"/orders/{order_no}/usage", action="use_benefit", benefit="video")
    form = client.get(f"/orders/{order_no}/refund")
    assert 'data-decision="review"' in form.text
    assert 'id="description"' in form.text
    assert 'id="evidence"' in form.text
    assert 'id="one-click"' not in form.text


def test_a_refund_under_way_and_done_is_told_on_the_order_with_its_ticket_and_receipt(client: TestClient) -> None:
    container = container_of(client)
    start = container.now()
    shopper = Shopper(client)
    order_no = shopper.order("quarterly-pass")
    granted = shopper.post(
        f"/orders/{order_no}/refund", reason="changed_mind", idempotency_key="k", confirmed_fen="6000"
    )
    ticket_no = granted.headers["location"].rsplit("/", 1)[1]

    page = client.get(f"/orders/{order_no}")
    words = _words(page)
    assert 'id="refund-status"' in page.text
    assert 'id="quote"' not in page.text
    assert re.search(r"退款 ¥60\.00 正在原路退回支付宝,预计 \d{4}-\d\d-\d\d 至 \d{4}-\d\d-\d\d 到账。", words)
    for offered in ('id="request-refund"', 'id="activate"', 'id="claim-trial"'):
        assert offered not in page.text
    assert f'href="/tickets/{ticket_no}"' in page.text
    assert client.get(f"/tickets/{ticket_no}/receipt").status_code == 404  # no receipt before the money
    redirected = client.get(f"/orders/{order_no}/refund", follow_redirects=False)
    assert (redirected.status_code, redirected.headers["location"]) == (303, f"/orders/{order_no}")

    token = client.post("/api/v1/auth/token", json={"identifier": shopper.phone, "password": PASSWORD}).json()["token"]
    detail = client.get(f"/api/v1/orders/{order_no}", headers={"Authorization": f"Bearer {token}"}).json()
    assert not {"request_refund", "activate", "claim_trial"} & set(detail["actions"])

    for minutes in (1, 3, 5):
        run_tick(container, start + timedelta(minutes=minutes))
    page = client.get(f"/orders/{order_no}")
    words = _words(page)
    assert "订单支付后才能计算退款" not in words
    assert 'id="quote"' not in page.text
    assert re.search(r"退款 ¥60\.00 已于 \d{4}-\d\d-\d\d \d\d:\d\d 原路退回支付宝,订单已关闭。", words)
    assert "会员已随退款关闭" in words
    assert f'href="/tickets/{ticket_no}/receipt"' in page.text

    receipt = client.get(f"/tickets/{ticket_no}/receipt")
    assert receipt.status_code == 200
    words = _words(receipt)
    for shown in (order_no, ticket_no, "¥60.00", "原路退回支付宝", f"R{ticket_no}01", "SIMR"):
        assert shown in words, shown
    english = _words(client.get(f"/tickets/{ticket_no}/receipt?lang=en"))
    assert "Refund receipt" in english
    assert "to Alipay, the way you paid" in english


def test_the_pay_page_of_an_expired_order_offers_no_payment_and_a_late_one_is_told(client: TestClient) -> None:
    container = container_of(client)
    start = container.now()
    shopper = Shopper(client)
    order_no = shopper.order("monthly-pass", pay=False)
    pay_page = client.get(f"/pay/sim/P{order_no}")
    assert 'id="pay-confirm"' in pay_page.text

    run_tick(container, start + timedelta(minutes=16))  # the payment window (15 minutes) closed
    pay_page = client.get(f"/pay/sim/P{order_no}")
    assert 'id="pay-confirm"' not in pay_page.text
    assert 'id="pay-fail"' not in pay_page.text
    words = _words(pay_page)
    assert "订单状态 已过期" in words
    assert "待支付" not in words.split("付款状态")[0]
    assert "该订单已过期,无需支付,请勿再付款。" in words
    assert "This order has expired" in _words(client.get(f"/pay/sim/P{order_no}?lang=en"))
    client.get("/orders?lang=zh")
    assert "该订单未完成支付,没有可退的款项。" in _words(client.get(f"/orders/{order_no}"))

    # The payer's wallet still had the old page open and paid: the money goes back, and they are told.
    _clock(container, start + timedelta(minutes=17))
    assert shopper.post(f"/pay/sim/P{order_no}", outcome="succeed").status_code == 303
    words = _words(client.get(f"/orders/{order_no}"))
    assert re.search(r"订单已关闭\(已过期\)后,您的付款 ¥30\.00 才到账;我们正在原路退回支付宝", words)
    assert "订单支付后才能计算退款" not in words
    pay_page = client.get(f"/pay/sim/P{order_no}")
    assert 'id="pay-confirm"' not in pay_page.text
    assert "订单关闭后您完成的付款已到账,正在原路退回,无需任何操作。" in _words(pay_page)
    _assert_told(container, order_no, ["late_payment_returning"])

    for minutes in (18, 20, 22):
        run_tick(container, start + timedelta(minutes=minutes))
    words = _words(client.get(f"/orders/{order_no}"))
    assert re.search(r"订单关闭后到账的付款 ¥30\.00 已于 \S+ \S+ 原路退回支付宝。", words)
    _assert_told(container, order_no, ["late_payment_returning", "late_payment_returned"])
    messages = _words(client.get("/messages"))
    assert f"订单 {order_no} 已关闭(已过期)后,您的付款 30.00 元才到账" in messages
    assert f"订单 {order_no} 关闭后到账的付款 30.00 元已原路退回支付宝。" in messages


def _assert_told(container: Container, order_no: str, kinds: list[str]) -> None:
    with container.uow() as uow:
        rows = list(uow.session.scalars(select(MessageRow).where(MessageRow.kind.startswith("late_payment"))))
    mine = [row for row in rows if order_no in row.texts["zh"]]
    assert [row.kind for row in mine] == kinds
    assert all(order_no in row.texts["en"] for row in mine)
