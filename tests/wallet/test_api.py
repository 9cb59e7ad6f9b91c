"""The wallet REST API end to end, in process, on SQLite and PostgreSQL: the balance and its live
quote, a withdrawal asked for with an Idempotency-Key (201, then 200 for the retry), someone
else's withdrawal (404), the staff's review with the live quote, and the movements."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kameng.platform.ledger import check_books
from tests.orders.test_api import API, buy, consumer, pay, staff
from tests.support.apps import container_of


def _spent_top_up(client: TestClient) -> dict[str, str]:
    """Seed 003's case through the API: 100.00 topped up (20.00 bonus), 30.00 spent from the balance."""
    auth = consumer(client)
    top_up = buy(client, auth, "top-up", product="top-up-100")
    assert pay(client, top_up["out_trade_no"]) == "paid"
    spent = buy(client, auth, "spend", product="monthly-pass", channel="balance")
    assert spent["status"] == "paid"
    return auth


def _withdraw(client: TestClient, auth: dict[str, str], amount: str, key: str) -> Any:
    return client.post(f"{API}/wallet/withdrawals", json={"amount": amount}, headers={**auth, "Idempotency-Key": key})


def test_the_wallet_shows_cash_and_bonus_apart_with_the_live_quote(client: TestClient) -> None:
    auth = _spent_top_up(client)
    wallet = client.get(f"{API}/wallet", headers=auth).json()
    assert (wallet["cash"], wallet["bonus"], wallet["held"], wallet["withdrawable"]) == (
        "90.00",
        "0.00",
        "0.00",
        "90.00",
    )
    assert (wallet["quote"]["payout"], wallet["quote"]["fee"], wallet["quote"]["decision"]) == (
        "89.00",
        "1.00",
        "review",
    )
    (leg,) = wallet["quote"]["legs"]
    assert (leg["rule"], leg["channel"], leg["net"]) == ("R2", "alipay", "89.00")
    part = client.get(f"{API}/wallet/quote", params={"amount": "50"}, headers=auth).json()
    assert (part["payout"], part["fee"]) == ("49.00", "1.00")
    refused = client.get(f"{API}/wallet/quote", params={"amount": "NaN"}, headers=auth)
    assert refused.status_code == 422
    types = [m["type"] for m in client.get(f"{API}/wallet/movements", headers=auth).json()]
    assert sorted(types) == ["bonus", "spend", "top_up"]


def test_a_withdrawal_is_held_replayed_by_its_key_and_hidden_from_others(client: TestClient) -> None:
    auth = _spent_top_up(client)
    created = _withdraw(client, auth, "90.00", "w-1")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["amount"], body["replayed"]) == ("in_review", "90.00", False)
    again = _withdraw(client, auth, "90.00", "w-1")
    assert again.status_code == 200
    assert again.json()["withdrawal_no"] == body["withdrawal_no"]
    assert again.json()["replayed"] is True
    reused = _withdraw(client, auth, "10.00", "w-1")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    wallet = client.get(f"{API}/wallet", headers=auth).json()
    assert (wallet["cash"], wallet["held"], wallet["withdrawable"]) == ("0.00", "90.00", "0.00")
    # The held money cannot be spent: the purchase of seed 003 is refused.
    spend = client.post(
        f"{API}/orders",
        json={"channel": "balance", "product": "monthly-pass", "duplicate_ack": True},
        headers={**auth, "Idempotency-Key": "after"},
    )
    assert spend.status_code == 422
    assert spend.json()["error"]["code"] == "insufficient_balance"
    stranger = consumer(client)
    number = body["withdrawal_no"]
    assert client.get(f"{API}/wallet/withdrawals/{number}", headers=stranger).status_code == 404
    assert client.post(f"{API}/wallet/withdrawals/{number}/cancel", headers=stranger).status_code == 404
    assert client.get(f"{API}/staff/withdrawals/{number}", headers=stranger).status_code == 404
    assert client.post(f"{API}/staff/withdrawals/{number}/approve", json={}, headers=stranger).status_code == 404
    assert client.post(f"{API}/staff/withdrawals/{number}/approve", json={}, headers=auth).status_code == 404
    too_much = _withdraw(client, stranger, "1.00", "s-1")
    assert too_much.status_code == 422
    assert too_much.json()["error"]["field"] == "amount"
    assert client.get(f"{API}/wallet", headers={}).status_code == 401


def test_staff_see_the_live_quote_and_approve_it(client: TestClient) -> None:
    auth = _spent_top_up(client)
    agent = staff(client)
    number = _withdraw(client, auth, "90.00", "w").json()["withdrawal_no"]
    waiting = [w["withdrawal_no"] for w in client.get(f"{API}/staff/withdrawals", headers=agent).json()]
    assert number in waiting
    review = client.get(f"{API}/staff/withdrawals/{number}", headers=agent).json()
    assert (review["live_quote"]["payout"], review["live_quote"]["fee"]) == ("89.00", "1.00")
    approved = client.post(f"{API}/staff/withdrawals/{number}/approve", json={"note": "核对无误"}, headers=agent)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["payout_fen"], body["fee_fen"]) == ("paying", 8900, 100)
    (leg,) = body["legs"]
    assert (leg["status"], leg["net_fen"], leg["out_refund_no"]) == ("sent", 8900, f"{number}01")
    again = client.post(f"{API}/staff/withdrawals/{number}/approve", json={}, headers=agent)
    assert again.status_code == 409
    mine = client.get(f"{API}/wallet/withdrawals/{number}", headers=auth).json()
    assert mine["status"] == "paying"
    types = [m["type"] for m in client.get(f"{API}/wallet/movements", headers=auth).json()]
    assert types[:3] == ["fee", "withdrawal", "hold"]
    report = check_books(container_of(client).uow())
    assert report.ok, report.balance_mismatches
    assert report.accounts["withdrawal_fee_income"] == -100


def test_a_withdrawal_in_review_can_be_cancelled_by_its_owner(client: TestClient) -> None:
    auth = _spent_top_up(client)
    number = _withdraw(client, auth, "40.00", "w").json()["withdrawal_no"]
    cancelled = client.post(f"{API}/wallet/withdrawals/{number}/cancel", headers=auth)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert client.get(f"{API}/wallet", headers=auth).json()["cash"] == "90.00"
    assert client.post(f"{API}/wallet/withdrawals/{number}/cancel", headers=auth).status_code == 409
