"""The operator's pages and REST API for outages and mass refunds, in process on SQLite and
PostgreSQL with the demo loaded: a run started from the confirmation (count and total), taken by
the worker's tick, its page refreshing itself while it runs and showing the summary once done;
outages recorded once; everything refused to anyone but an operator, and bad input answered with
what is wrong and where, never a 500."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response

from kameng.demo import DEMO_PASSWORD
from kameng.operator.mass_runner import continue_runs
from tests.support.apps import container_of

API = "/api/v1/operator"


def _csrf(page: Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def token(client: TestClient, identifier: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", json={"identifier": identifier, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def sign_in(client: TestClient, identifier: str) -> str:
    form = client.get("/login")
    data = {"identifier": identifier, "password": DEMO_PASSWORD, "csrf": _csrf(form)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return _csrf(client.get("/operator/mass-refunds")) if identifier.startswith("operator") else ""


def finish_runs(client: TestClient) -> None:
    container = container_of(client)
    while continue_runs(container.uow, container.now(), container.calendar):
        pass


def test_a_mass_refund_through_the_api(client: TestClient) -> None:
    operator = token(client, "operator@kameng.test")
    agent = token(client, "agent@kameng.test")
    assert client.get(f"{API}/mass-refunds/preview?merchant=1", headers=agent).status_code == 404
    preview = client.get(f"{API}/mass-refunds/preview?merchant=1", headers=operator)
    assert preview.status_code == 200, preview.text
    orders = preview.json()["orders"]
    assert orders > 0
    for bad in (
        {"merchant": "abc", "confirmed_orders": 1},
        {"merchant": "1", "confirmed_orders": -1},
        {"merchant": "1"},
    ):
        assert client.post(f"{API}/mass-refunds", json=bad, headers=operator).status_code == 422
    wrong = client.post(f"{API}/mass-refunds", json={"merchant": "1", "confirmed_orders": orders + 1}, headers=operator)
    assert wrong.status_code == 409
    assert (
        client.post(f"{API}/mass-refunds", json={"merchant": "99", "confirmed_orders": 0}, headers=operator).status_code
        == 404
    )
    started = client.post(f"{API}/mass-refunds", json={"merchant": "1", "confirmed_orders": orders}, headers=operator)
    assert started.status_code == 201, started.text
    run = started.json()
    assert (run["status"], run["orders_total"]) == ("running", orders)
    again = client.post(f"{API}/mass-refunds", json={"merchant": "1", "confirmed_orders": orders}, headers=operator)
    assert again.status_code == 409  # one open run per merchant: a retry starts nothing
    finish_runs(client)
    done = client.get(f"{API}/mass-refunds/{run['id']}", headers=operator).json()
    assert done["status"] == "done"
    assert done["orders_done"] == orders
    assert sum(done["outcomes"].values()) == orders
    assert done["paid_count"] + done["review_count"] + done["other_count"] == orders
    assert client.get(f"{API}/mass-refunds/nope", headers=operator).status_code == 422  # not a number
    assert client.get(f"{API}/mass-refunds/999999", headers=operator).status_code == 404
    assert client.post(f"{API}/mass-refunds/{run['id']}/explode", headers=operator).status_code == 422
    assert client.post(f"{API}/mass-refunds/{run['id']}/stop", headers=operator).status_code == 409


def test_an_outage_through_the_api_is_recorded_once(client: TestClient) -> None:
    operator = token(client, "operator@kameng.test")
    now = container_of(client).now()
    body = {
        "scope": "platform",
        "starts_at": (now - timedelta(hours=5)).isoformat(),
        "ends_at": (now - timedelta(hours=1)).isoformat(),
        "note": "CDN down",
    }
    first = client.post(f"{API}/outages", json=body, headers=operator)
    assert first.status_code == 200, first.text
    assert first.json()["created"] is True
    second = client.post(f"{API}/outages", json=body, headers=operator).json()
    assert (second["created"], second["marked_now"], second["id"]) == (False, 0, first.json()["id"])
    assert [o["id"] for o in client.get(f"{API}/outages", headers=operator).json()] == [second["id"]]
    backwards = client.post(f"{API}/outages", json={**body, "ends_at": body["starts_at"]}, headers=operator)
    assert backwards.status_code == 422
    assert backwards.json()["error"]["field"] == "ends_at"
    naive = client.post(f"{API}/outages", json={**body, "starts_at": "2026-01-01T00:00"}, headers=operator)
    assert naive.status_code == 422
    unknown = client.post(f"{API}/outages", json={**body, "scope": "product", "target": "nope"}, headers=operator)
    assert unknown.status_code == 404


def test_the_pages_start_a_run_show_its_progress_and_its_summary(client: TestClient) -> None:
    csrf = sign_in(client, "operator@kameng.test")
    listing = client.get("/operator/mass-refunds")
    assert listing.status_code == 200
    assert 'id="mass-preview"' in listing.text
    confirm = client.get("/operator/mass-refunds/confirm?merchant=1&note=%E5%95%86%E5%AE%B6%E8%B7%91%E8%B7%AF")
    assert confirm.status_code == 200
    orders = re.search(r'id="confirm-orders">(\d+)<', confirm.text)
    assert orders is not None
    assert int(orders.group(1)) > 0
    bad = client.get("/operator/mass-refunds/confirm?merchant=x1")
    assert bad.status_code == 422
    assert 'id="error-form"' in bad.text
    started = client.post(
        "/operator/mass-refunds",
        data={"csrf": csrf, "merchant": "1", "orders": orders.group(1), "note": ""},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text[:500]
    run_url = started.headers["location"]
    running = client.get(run_url)
    assert 'http-equiv="refresh"' in running.text
    assert 'data-status="running"' in running.text
    finish_runs(client)
    done = client.get(run_url)
    assert 'http-equiv="refresh"' not in done.text
    assert 'data-status="done"' in done.text
    assert 'id="run-summary"' in done.text
    assert client.get("/operator/mass-refunds/12345").status_code == 404
    stale = client.post(
        "/operator/mass-refunds", data={"csrf": csrf, "merchant": "1", "orders": "999999"}, follow_redirects=False
    )
    assert stale.status_code == 409


def test_the_outage_page_records_once_and_names_what_is_wrong(client: TestClient) -> None:
    csrf = sign_in(client, "operator@kameng.test")
    page = client.get("/operator/outages")
    assert page.status_code == 200
    assert 'id="outage-form"' in page.text
    data = {"csrf": csrf, "scope": "platform", "starts_at": "2020-01-01T08:00", "ends_at": "2020-01-01T10:00"}
    first = client.post("/operator/outages", data=data)
    assert first.status_code == 200
    assert 'id="outage-done"' in first.text
    again = client.post("/operator/outages", data=data)
    assert "已记录过" in again.text
    assert again.text.count('class="outage"') == 1
    for bad in ({"starts_at": "yesterday"}, {"ends_at": "2019-01-01T00:00"}, {"scope": "moon"}):
        answer = client.post("/operator/outages", data={**data, **bad})
        assert answer.status_code == 422, answer.text[:300]
        assert 'id="error-form"' in answer.text


def test_the_console_sections_are_the_operators_alone(client: TestClient) -> None:
    assert client.get("/operator/mass-refunds").status_code == 404
    sign_in(client, "agent@kameng.test")
    for path in ("/operator/mass-refunds", "/operator/outages", "/operator/mass-refunds/1"):
        assert client.get(path).status_code == 404
