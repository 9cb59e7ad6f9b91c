"""The storefront REST API end to end, in process: tokens, products, orders, events, quotes, payments."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kameng.demo import DEMO_PASSWORD
from kameng.platform.ledger import check_books
from kameng.web.app import create_app
from kameng.worker import run_tick
from tests.support.apps import app_settings, container_of

CARD_KEY_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # production needs its own card-key key
API = "/api/v1"
_phones = itertools.count(13700000100)


def consumer(client: TestClient) -> dict[str, str]:
    """A new consumer's Authorization header."""
    answer = client.post(f"{API}/auth/signup", json={"identifier": str(next(_phones)), "password": "long-enough-1"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def staff(client: TestClient) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"identifier": "agent@kameng.test", "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def buy(client: TestClient, auth: dict[str, str], key: str, **body: Any) -> Any:
    answer = client.post(f"{API}/orders", json={"channel": "alipay", **body}, headers={**auth, "Idempotency-Key": key})
    assert answer.status_code in {200, 201}, answer.text
    return answer.json()


def pay(client: TestClient, out_trade_no: str, outcome: str = "success") -> str:
    answer = client.post(f"{API}/payments/simulator/{out_trade_no}/pay", params={"outcome": outcome})
    assert answer.status_code == 200, answer.text
    result: str = answer.json()["result"]
    return result


def quote(client: TestClient, auth: dict[str, str], order_no: str, **params: str) -> Any:
    answer = client.get(f"{API}/orders/{order_no}/quote", params=params, headers=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def event(client: TestClient, auth: dict[str, str], order_no: str, **body: Any) -> Any:
    return client.post(f"{API}/orders/{order_no}/events", json=body, headers=auth)


# --------------------------------------------------------------------------------------------
# Auth


def test_a_new_consumer_signs_up_and_their_token_opens_their_empty_order_list(client: TestClient) -> None:
    auth = consumer(client)
    answer = client.get(f"{API}/orders", headers=auth)
    assert answer.status_code == 200
    assert answer.json() == []


def test_the_demo_consumer_exchanges_password_for_a_token_with_its_expiry(client: TestClient) -> None:
    answer = client.post(f"{API}/auth/token", json={"identifier": "13800000001", "password": DEMO_PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"]
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now().astimezone()
    orders = client.get(f"{API}/orders", headers={"Authorization": f"Bearer {body['token']}"})
    assert orders.status_code == 200
    assert orders.json(), "the demo consumer has orders in every state"


def test_a_wrong_password_answers_401_without_saying_which_part_was_wrong(client: TestClient) -> None:
    answer = client.post(f"{API}/auth/token", json={"identifier": "13800000001", "password": "not-the-password"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "bad_credentials"


@pytest.mark.parametrize(
    "header", [None, "Bearer forged.token.value", "Basic dXNlcjpwYXNz"], ids=["missing", "forged", "not-bearer"]
)
def test_orders_without_a_valid_token_answer_401_with_a_json_error(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = client.get(f"{API}/orders", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    error = answer.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["field"] == "Authorization"
    assert error["message"]


def test_signing_up_twice_with_the_same_phone_is_a_conflict(client: TestClient) -> None:
    answer = client.post(f"{API}/auth/signup", json={"identifier": "13800000001", "password": "long-enough-1"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "identifier_taken"


# --------------------------------------------------------------------------------------------
# Products


def test_products_carry_prices_as_yuan_strings_beside_integer_fen(client: TestClient) -> None:
    answer = client.get(f"{API}/products")
    assert answer.status_code == 200
    products = {product["slug"]: product for product in answer.json()}
    assert {"annual-card", "monthly-pass", "game-points-50", "top-up-100"} <= set(products)
    for product in products.values():
        assert isinstance(product["price_fen"], int)
        assert product["price"] == f"{product['price_fen'] // 100}.{product['price_fen'] % 100:02d}"
    assert products["game-points-50"]["needs_nonrefundable_ack"] is True
    assert products["monthly-pass"]["needs_nonrefundable_ack"] is False


def test_a_product_states_its_refund_terms_in_both_languages_and_its_policy_options(client: TestClient) -> None:
    answer = client.get(f"{API}/products/monthly-pass")
    assert answer.status_code == 200
    product = answer.json()
    assert product["refund_terms"]
    assert all(term["zh"] and term["en"] for term in product["refund_terms"])
    policy = product["policy"]
    assert policy["version"] >= 1
    assert policy["cooling_off"] in {"full_if_unused", "minus_used_days", "none"}
    assert policy["proration"] in {"by_day", "by_month", "by_benefit"}
    assert isinstance(policy["fee_percent"], str)
    assert isinstance(policy["fee_min_fen"], int)


def test_an_unknown_product_answers_404(client: TestClient) -> None:
    answer = client.get(f"{API}/products/no-such-thing")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


# --------------------------------------------------------------------------------------------
# Checkout


def test_a_retry_with_the_same_idempotency_key_returns_the_same_order_with_200(client: TestClient) -> None:
    auth = consumer(client)
    body = {"product": "monthly-pass", "channel": "alipay"}
    first = client.post(f"{API}/orders", json=body, headers={**auth, "Idempotency-Key": "retry-1"})
    again = client.post(f"{API}/orders", json=body, headers={**auth, "Idempotency-Key": "retry-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["order_no"] == again.json()["order_no"]
    assert again.json()["replayed"] is True
    placed = first.json()
    assert placed["status"] == "pending_payment"
    assert placed["amount"] == "30.00"
    assert placed["amount_fen"] == 3000
    assert placed["out_trade_no"]
    assert placed["pay_url"]
    assert len(client.get(f"{API}/orders", headers=auth).json()) == 1


def test_reusing_an_idempotency_key_for_another_product_is_a_conflict_not_the_old_order(client: TestClient) -> None:
    auth = consumer(client)
    buy(client, auth, "reused", product="monthly-pass")
    answer = client.post(
        f"{API}/orders",
        json={"product": "annual-card", "channel": "alipay"},
        headers={**auth, "Idempotency-Key": "reused"},
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_key_reused"


def test_a_new_key_for_the_same_product_within_24_hours_asks_you_already_bought_this(client: TestClient) -> None:
    auth = consumer(client)
    first = buy(client, auth, "dup-1", product="monthly-pass")
    refused = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay"},
        headers={**auth, "Idempotency-Key": "dup-2"},
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "duplicate_purchase"
    assert error["field"] == "duplicate_ack"
    assert first["order_no"] in error["message"]
    second = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay", "duplicate_ack": True},
        headers={**auth, "Idempotency-Key": "dup-2"},
    )
    assert second.status_code == 201
    assert second.json()["order_no"] != first["order_no"]


def test_an_order_without_an_idempotency_key_is_refused_naming_the_header(client: TestClient) -> None:
    answer = client.post(
        f"{API}/orders", json={"product": "monthly-pass", "channel": "alipay"}, headers=consumer(client)
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "Idempotency-Key"


def test_virtual_goods_without_the_nonrefundable_confirmation_answer_422_naming_the_field(client: TestClient) -> None:
    answer = client.post(
        f"{API}/orders",
        json={"product": "game-points-50", "channel": "alipay"},
        headers={**consumer(client), "Idempotency-Key": "no-ack"},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "nonrefundable_ack_required"
    assert error["field"] == "nonrefundable_ack"


def test_a_malformed_order_answers_422_with_one_readable_entry_per_field(client: TestClient) -> None:
    answer = client.post(
        f"{API}/orders",
        json={"channel": "paypal", "auto_renew": "perhaps", "surprise": 1},
        headers={**consumer(client), "Idempotency-Key": "bad-body"},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    fields = {problem["field"] for problem in error["errors"]}
    assert {"product", "channel", "auto_renew", "surprise"} <= fields
    assert all(problem["message"] for problem in error["errors"])
    assert "channel" in error["message"]


def test_an_unpaid_order_can_be_cancelled_once(client: TestClient) -> None:
    auth = consumer(client)
    order_no = buy(client, auth, "cancel-1", product="quarterly-pass")["order_no"]
    cancelled = client.post(f"{API}/orders/{order_no}/cancel", headers=auth)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"{API}/orders/{order_no}/cancel", headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_cancellable"


# --------------------------------------------------------------------------------------------
# Paying, using, quoting


def test_a_paid_monthly_pass_quotes_less_after_activation_and_a_benefit_used(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "journey", product="monthly-pass")
    assert client.get(f"{API}/orders/{placed['order_no']}/quote", headers=auth).status_code == 409  # unpaid
    assert pay(client, placed["out_trade_no"]) == "paid"
    order_no = placed["order_no"]

    untouched = quote(client, auth, order_no)
    assert untouched["order_no"] == order_no
    assert untouched["refund"] == "30.00"
    assert untouched["refund_fen"] == 3000
    assert {"decision", "currency", "rules", "lines", "explanation", "review_due", "arrival"} <= set(untouched)

    assert event(client, auth, order_no, type="activated").status_code == 201
    container = container_of(client)
    real_clock = container.clock
    later = real_clock() + timedelta(days=10)
    container.clock = lambda: later
    try:
        used = event(client, auth, order_no, type="benefit_used", benefit="video")
        assert used.status_code == 201
        assert used.json()["benefit"] == "video"
        after_use = quote(client, auth, order_no)
    finally:
        container.clock = real_clock
    assert after_use["refund_fen"] < untouched["refund_fen"]
    assert sum(line["amount_fen"] for line in after_use["lines"]) == after_use["refund_fen"]
    assert after_use["explanation"]["zh"]
    assert after_use["explanation"]["en"]

    detail = client.get(f"{API}/orders/{order_no}", headers=auth).json()
    assert detail["status"] == "paid"
    assert detail["membership"]["status"] == "active"
    assert [e["type"] for e in detail["events"]][-2:] == ["activated", "benefit_used"]


def test_the_quote_follows_the_reason_asked_for(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "reason", product="annual-card")
    pay(client, placed["out_trade_no"])
    event(client, auth, placed["order_no"], type="activated")
    fault = quote(client, auth, placed["order_no"], reason="platform_fault")
    assert fault["reason"] == "platform_fault"
    assert fault["refund_fen"] == placed["amount_fen"]
    bad = client.get(f"{API}/orders/{placed['order_no']}/quote", params={"reason": "bored"}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "reason"


def test_a_game_card_key_is_revealed_to_its_buyer_and_to_nobody_else(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "card", product="game-points-50", nonrefundable_ack=True)
    pay(client, placed["out_trade_no"])
    order_no = placed["order_no"]
    assert client.get(f"{API}/orders/{order_no}", headers=auth).json()["card_key_status"] == "delivered"

    revealed = client.post(f"{API}/orders/{order_no}/card-key", headers=auth)
    assert revealed.status_code == 200
    assert revealed.json()["code"]
    assert revealed.headers["cache-control"] == "no-store"
    detail = client.get(f"{API}/orders/{order_no}", headers=auth).json()
    assert detail["card_key_status"] == "revealed"
    assert "key_revealed" in [e["type"] for e in detail["events"]]
    assert revealed.json()["code"] not in json.dumps(detail)

    assert client.post(f"{API}/orders/{order_no}/card-key", headers=consumer(client)).status_code == 404
    assert client.post(f"{API}/orders/{order_no}/card-key", headers=staff(client)).status_code == 404


def test_a_second_consumer_gets_404_for_the_first_ones_order_and_its_quote(client: TestClient) -> None:
    owner = consumer(client)
    placed = buy(client, owner, "private", product="monthly-pass")
    pay(client, placed["out_trade_no"])
    order_no = placed["order_no"]
    stranger = consumer(client)
    for answer in (
        client.get(f"{API}/orders/{order_no}", headers=stranger),
        client.get(f"{API}/orders/{order_no}/quote", headers=stranger),
        client.post(f"{API}/orders/{order_no}/cancel", headers=stranger),
        event(client, stranger, order_no, type="activated"),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/orders/{order_no}", headers=staff(client)).status_code == 200
    assert client.get(f"{API}/orders/99999999999999", headers=owner).status_code == 404


def test_staff_record_an_outage_and_a_consumer_cannot(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "outage", product="annual-card")
    pay(client, placed["out_trade_no"])
    order_no = placed["order_no"]
    assert event(client, auth, order_no, type="outage", hours="5").status_code == 404
    missing_hours = event(client, staff(client), order_no, type="outage")
    assert missing_hours.status_code == 422
    assert missing_hours.json()["error"]["field"] == "hours"
    recorded = event(client, staff(client), order_no, type="outage", hours="5.5", note="CDN down")
    assert recorded.status_code == 201
    assert recorded.json()["type"] == "outage"
    assert recorded.json()["hours"] == "5.5"
    assert recorded.json()["actor_role"] == "agent"
    unknown = event(client, auth, order_no, type="refunded")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "type"


def test_a_failed_payment_leaves_the_order_unpaid_and_a_retry_in_the_payers_app_pays(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "fail", product="course-pack")
    assert pay(client, placed["out_trade_no"], "failure") == "failed"
    assert client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json()["status"] == "pending_payment"
    assert pay(client, placed["out_trade_no"]) == "paid"
    assert client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json()["status"] == "paid"


# --------------------------------------------------------------------------------------------
# The channel's callback


def signed_notification(client: TestClient, out_trade_no: str, amount_fen: int) -> tuple[bytes, str]:
    container = container_of(client)
    return container.payments.notification(out_trade_no, amount_fen, True, container.now())


def test_a_callback_with_a_forged_signature_answers_400_and_pays_nothing(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "forged", product="lifetime")
    body, signature = signed_notification(client, placed["out_trade_no"], placed["amount_fen"])
    forged = signature[:-4] + ("0000" if not signature.endswith("0000") else "1111")
    for sent_body, sent_signature in ((body, forged), (body.replace(b"SUCCESS", b"SUCCESS "), signature)):
        answer = client.post(
            f"{API}/payments/notify/simulator", content=sent_body, headers={"X-Sim-Signature": sent_signature}
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "bad_signature"
    missing = client.post(f"{API}/payments/notify/simulator", content=body)
    assert missing.status_code == 400
    assert client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json()["status"] == "pending_payment"


def test_a_replayed_callback_answers_duplicate_and_changes_nothing(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "replay", product="quarterly-pass")
    body, signature = signed_notification(client, placed["out_trade_no"], placed["amount_fen"])
    headers = {"X-Sim-Signature": signature}
    first = client.post(f"{API}/payments/notify/simulator", content=body, headers=headers)
    assert first.status_code == 200
    assert first.json() == {"result": "paid"}
    before = client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json()
    replay = client.post(f"{API}/payments/notify/simulator", content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json() == {"result": "duplicate"}
    assert client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json() == before
    assert check_books(container_of(client).uow()).ok


def test_money_arriving_after_the_order_expired_is_sent_back_and_the_books_balance(client: TestClient) -> None:
    auth = consumer(client)
    placed = buy(client, auth, "late", product="monthly-pass")
    container = container_of(client)
    later = container.now() + timedelta(minutes=20)
    container.clock = lambda: later
    assert run_tick(container, later)["orders_expired"] >= 1
    assert client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json()["status"] == "expired"

    assert pay(client, placed["out_trade_no"]) == "returned"
    run_tick(container, later)  # the refund goes to the channel
    run_tick(container, later + timedelta(minutes=2))  # and is confirmed
    detail = client.get(f"{API}/orders/{placed['order_no']}", headers=auth).json()
    assert detail["status"] == "expired"
    assert detail["payments"][0]["status"] == "returned"
    assert "late_payment_returned" in [e["type"] for e in detail["events"]]
    assert pay(client, placed["out_trade_no"]) == "duplicate"
    books = check_books(container.uow())
    assert books.ok, (books.unbalanced, books.balance_mismatches)
    assert books.accounts.get("late_payments", 0) == 0


def test_the_payer_simulator_is_not_offered_in_production(db_url: str) -> None:
    with TestClient(
        create_app(
            app_settings(db_url, KAMENG_ENV="production", KAMENG_AUTO_PREPARE="0", KAMENG_CARD_KEY_KEYS=CARD_KEY_KEY)
        )
    ) as client:
        answer = client.post(f"{API}/payments/simulator/P00000000000000/pay")
    assert answer.status_code == 404


# --------------------------------------------------------------------------------------------
# OpenAPI


def test_the_openapi_document_lists_every_endpoint_with_a_tag_and_a_summary(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    expected = {
        ("post", "/api/v1/auth/token"),
        ("post", "/api/v1/auth/signup"),
        ("get", "/api/v1/products"),
        ("get", "/api/v1/products/{slug}"),
        ("post", "/api/v1/orders"),
        ("get", "/api/v1/orders"),
        ("get", "/api/v1/orders/{order_no}"),
        ("post", "/api/v1/orders/{order_no}/cancel"),
        ("post", "/api/v1/orders/{order_no}/events"),
        ("get", "/api/v1/orders/{order_no}/quote"),
        ("post", "/api/v1/orders/{order_no}/card-key"),
        ("post", "/api/v1/payments/notify/simulator"),
        ("post", "/api/v1/payments/simulator/{out_trade_no}/pay"),
    }
    listed = {(method, path) for path, item in document["paths"].items() for method in item}
    assert expected <= listed
    for method, path in expected:
        operation = document["paths"][path][method]
        assert operation["tags"], (method, path)
        assert operation["summary"], (method, path)
    order_parameters = {p["name"] for p in document["paths"]["/api/v1/orders"]["post"]["parameters"]}
    assert "Idempotency-Key" in order_parameters
    placed = document["components"]["schemas"]["PlacedOrderOut"]["properties"]
    assert placed["amount"]["type"] == "string"
    assert placed["amount_fen"]["type"] == "integer"
