"""Auto-renewal over the REST API and the pages, in process on SQLite and PostgreSQL: the consent
and its terms, the step-up code and its limits, cancelling with an idempotency key, someone else's
subscription (404), the order page's and 我的会员's always-visible button and the receipt."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient

from kameng.messages.senders import LogSender
from kameng.web.app import create_app
from tests.support.apps import app_settings, container_of
from tests.support.pages import API, PASSWORD, csrf_of, log_in

_phones = iter(range(13700000100, 13700009999))


@dataclass(frozen=True)
class Member:
    phone: str
    auth: dict[str, str]
    order_no: str

    @property
    def sub_no(self) -> str:
        return f"S{self.order_no}"


def member(client: TestClient, auto_renew: bool = True) -> Member:
    phone = str(next(_phones))
    signed = client.post(f"{API}/auth/signup", json={"identifier": phone, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    order = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay", "auto_renew": auto_renew},
        headers={**auth, "Idempotency-Key": phone},
    )
    assert order.status_code == 201, order.text
    paid = client.post(f"{API}/payments/simulator/{order.json()['out_trade_no']}/pay")
    assert paid.json()["result"] == "paid", paid.text
    return Member(phone, auth, order.json()["order_no"])


def last_code(client: TestClient) -> str:
    sender = container_of(client).sender
    assert isinstance(sender, LogSender)
    found = re.search(r"\b(\d{6})\b", sender.sent[-1][1])
    assert found
    return found.group(1)


def test_the_consent_is_recorded_with_its_time_and_the_terms_shown(client: TestClient) -> None:
    m = member(client)
    [sub] = client.get(f"{API}/subscriptions", headers=m.auth).json()
    assert sub["sub_no"] == m.sub_no
    assert sub["status"] == "active"
    assert sub["price_fen"] == 3000
    assert sub["consent_at"]
    terms = sub["consent_terms"]
    assert terms["price_fen"] == 3000
    assert "30.00" in terms["text"]["zh"]
    assert "30 天" in terms["text"]["zh"]
    assert "取消" in terms["text"]["zh"]
    assert "cancel auto-renewal any time" in terms["text"]["en"]
    plain = member(client, auto_renew=False)  # opt-in only: no box ticked, no subscription
    assert client.get(f"{API}/subscriptions", headers=plain.auth).json() == []


def test_the_checkout_shows_the_terms_beside_a_box_that_is_not_ticked(client: TestClient) -> None:
    m = member(client)
    log_in(client, m.phone)
    page = client.get("/checkout/monthly-pass").text
    box = re.search(r'<input type="checkbox" name="auto_renew"[^>]*>', page)
    assert box
    assert "checked" not in box.group(0)
    assert 'id="auto-renew-terms"' in page
    assert "每期续费 30.00 元" in page


def test_cancelling_over_the_api_with_a_code_and_an_idempotency_key(client: TestClient) -> None:
    m = member(client)
    url = f"{API}/subscriptions/{m.sub_no}/cancel-auto-renewal"
    assert client.post(url, json={}, headers=m.auth).status_code == 422  # no Idempotency-Key
    asked = client.post(url, json={}, headers={**m.auth, "Idempotency-Key": "c1"})
    assert asked.status_code == 422
    assert asked.json()["error"]["code"] == "step_up_required"

    sent = client.post(f"{API}/subscriptions/{m.sub_no}/step-up-code", headers=m.auth)
    assert sent.status_code == 202, sent.text
    assert sent.json()["phone"].startswith(m.phone[:3])
    assert "****" in sent.json()["phone"]
    again = client.post(f"{API}/subscriptions/{m.sub_no}/step-up-code", headers=m.auth)
    assert again.status_code == 429
    assert again.headers["Retry-After"] == "60"
    assert again.json()["error"]["code"] == "code_too_soon"
    assert "60" in again.json()["error"]["message_zh"]

    done = client.post(url, json={"code": last_code(client), "reason": ""}, headers={**m.auth, "Idempotency-Key": "c1"})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["status"] == "cancelled"
    assert body["renews_at"] is None
    number = body["cancellation"]["cancellation_no"]
    assert re.fullmatch(r"C\d{14}", number)
    assert body["cancellation"]["step_up"] == "sms_code"
    replay = client.post(url, json={"code": "000000"}, headers={**m.auth, "Idempotency-Key": "c1"})
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    assert replay.json()["cancellation"]["cancellation_no"] == number
    kinds = [message["kind"] for message in client.get(f"{API}/messages", headers=m.auth).json()]
    assert kinds.count("auto_renew_cancelled") == 1
    [text] = [x["text_zh"] for x in client.get(f"{API}/messages", headers=m.auth).json() if number in x["text_zh"]]
    assert "立即生效" in text


def test_someone_elses_subscription_is_404_everywhere(client: TestClient) -> None:
    owner, other = member(client), member(client)
    base = f"{API}/subscriptions/{owner.sub_no}"
    assert client.get(base, headers=other.auth).status_code == 404
    assert client.post(f"{base}/step-up-code", headers=other.auth).status_code == 404
    cancel = client.post(
        f"{base}/cancel-auto-renewal", json={"password": PASSWORD}, headers={**other.auth, "Idempotency-Key": "x"}
    )
    assert cancel.status_code == 404
    assert client.get(f"{API}/subscriptions/Snot-a-number", headers=other.auth).status_code == 404
    assert client.get(base, headers=owner.auth).json()["status"] == "active"
    log_in(client, other.phone)
    assert client.get(f"/subscriptions/{owner.sub_no}/cancel").status_code == 404
    assert client.get(f"/subscriptions/{owner.sub_no}/receipt").status_code == 404


def test_the_pages_from_the_order_page_to_the_receipt_and_the_evidence_line(client: TestClient) -> None:
    m = member(client)
    log_in(client, m.phone)
    order_page = client.get(f"/orders/{m.order_no}").text
    assert f'id="cancel-auto-renew-{m.sub_no}"' in order_page
    assert "disabled" not in re.search(rf'<a[^>]*id="cancel-auto-renew-{m.sub_no}"[^>]*>', order_page).group(0)  # type: ignore[union-attr]
    assert f'id="cancel-auto-renew-{m.sub_no}"' in client.get("/memberships").text

    form = client.get(f"/subscriptions/{m.sub_no}/cancel").text
    csrf = csrf_of(form)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    sent = client.post(
        f"/subscriptions/{m.sub_no}/cancel/code", data={"csrf": csrf, "idempotency_key": key}, follow_redirects=True
    )
    assert 'id="code-sent"' in sent.text
    wrong = client.post(
        f"/subscriptions/{m.sub_no}/cancel",
        data={"csrf": csrf, "idempotency_key": key, "code": "12345", "reason": "太贵了"},
    )
    assert wrong.status_code == 422
    assert 'id="error-code"' in wrong.text
    assert 'value="太贵了"' in wrong.text  # what was typed is kept
    done = client.post(
        f"/subscriptions/{m.sub_no}/cancel",
        data={"csrf": csrf, "idempotency_key": key, "code": last_code(client), "reason": "太贵了"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert 'id="cancel-receipt"' in done.text
    number = re.search(r'data-cancellation-no="(C\d{14})"', done.text).group(1)  # type: ignore[union-attr]
    assert "太贵了" in done.text
    order_page = client.get(f"/orders/{m.order_no}").text
    assert f'id="cancel-auto-renew-{m.sub_no}"' not in order_page
    assert number in order_page

    # The evidence file of a later complaint carries the cancellation, and the consent's terms.
    asked = client.post(
        f"{API}/orders/{m.order_no}/refund-requests",
        data={"reason": "changed_mind"},
        headers={**m.auth, "Idempotency-Key": "after-cancel"},
    )
    assert asked.status_code == 201, asked.text
    evidence = client.get(f"{API}/tickets/{asked.json()['ticket_no']}/evidence", headers=m.auth).json()
    renewal = evidence["order"]["auto_renewal"]
    assert renewal["cancellation"]["cancellation_no"] == number
    assert renewal["cancellation"]["confirmed_by"] == "sms_code"
    assert "30.00" in renewal["consent_terms"]["text"]["zh"]
    assert any(line["type"] == "auto_renew_cancelled" and number in line["note"] for line in evidence["usage"])


def test_an_operators_offer_stands_beside_the_cancel_button_not_instead_of_it(db_url: str) -> None:
    settings = app_settings(
        db_url, KAMENG_RENEWAL_OFFER_ZH="续费 8 折", KAMENG_RENEWAL_OFFER_EN="20% off the next term"
    )
    with TestClient(create_app(settings)) as client:
        m = member(client)
        log_in(client, m.phone)
        for url in (f"/orders/{m.order_no}", "/memberships"):
            actions = re.search(r'<div class="actions sub-actions".*?</div>', client.get(url).text, re.S)
            assert actions
            assert f'id="cancel-auto-renew-{m.sub_no}"' in actions.group(0)
            assert "续费 8 折" in actions.group(0)
            assert actions.group(0).index("cancel-auto-renew") < actions.group(0).index("续费 8 折")
        form = client.get(f"/subscriptions/{m.sub_no}/cancel?lang=en").text
        assert "20% off the next term" in form
        assert 'id="confirm-cancel"' in form


def test_wrong_passwords_over_the_api_say_the_tries_left_then_how_long_to_wait(client: TestClient) -> None:
    m = member(client)
    url = f"{API}/subscriptions/{m.sub_no}/cancel-auto-renewal"
    for attempt in range(4):
        wrong = client.post(url, json={"password": "guess"}, headers={**m.auth, "Idempotency-Key": f"p{attempt}"})
        assert wrong.status_code == 422
        assert wrong.json()["error"]["code"] == "step_up_failed"
        assert f"{4 - attempt} tries left" in wrong.json()["error"]["message"]
    locked = client.post(url, json={"password": "guess"}, headers={**m.auth, "Idempotency-Key": "p4"})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "password_attempts_used"
    wait = int(locked.headers["Retry-After"])
    assert 14 * 60 < wait <= 15 * 60
    assert "分钟" in locked.json()["error"]["message_zh"]
    right = client.post(url, json={"password": PASSWORD}, headers={**m.auth, "Idempotency-Key": "p5"})
    assert right.status_code == 429  # even the right one waits
