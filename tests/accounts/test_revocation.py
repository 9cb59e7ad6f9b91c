"""Tokens and page sessions are rows: sign-out, a password change, "end the others" and an
operator disabling an account refuse the very next request, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kameng.demo import DEMO_PASSWORD

API = "/api/v1"
CONSUMER = "13800000001"


def token_for(client: TestClient, identifier: str = CONSUMER, password: str = DEMO_PASSWORD) -> str:
    answer = client.post(f"{API}/auth/token", json={"identifier": identifier, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(browser: TestClient, path: str) -> str:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def sign_in(browser: TestClient, identifier: str = CONSUMER, password: str = DEMO_PASSWORD) -> None:
    csrf = csrf_of(browser, "/login")
    answer = browser.post(
        "/login", data={"csrf": csrf, "identifier": identifier, "password": password}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def signed_in(browser: TestClient) -> bool:
    answer = browser.get("/orders", follow_redirects=False)
    return answer.status_code == 200 and 'id="signed-in"' in answer.text


def second_browser(client: TestClient) -> TestClient:
    # Another browser on the same app: its own cookie jar, the same server and database.
    return TestClient(client.app)


def test_a_token_answers_401_at_once_after_signing_out(client: TestClient) -> None:
    token, other = token_for(client), token_for(client)
    assert client.get(f"{API}/orders", headers=bearer(token)).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=bearer(token)).status_code == 204
    refused = client.get(f"{API}/orders", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    # Signing out is this token only: the person's other token goes on.
    assert client.get(f"{API}/orders", headers=bearer(other)).status_code == 200


def test_tokens_are_opaque_and_stored_only_as_a_hash(client: TestClient) -> None:
    from sqlalchemy import select

    from kameng.accounts.models import AuthSession
    from tests.support.apps import container_of

    token = token_for(client)
    assert token.startswith("km_tok_")
    assert "." not in token
    with container_of(client).uow() as uow:
        stored = list(uow.session.scalars(select(AuthSession.secret_hash)))
    assert stored
    assert token not in stored


def test_a_password_change_ends_every_other_token_and_session_at_once(client: TestClient) -> None:
    changer, elsewhere = token_for(client), token_for(client)
    browser = second_browser(client)
    sign_in(browser)
    assert signed_in(browser)

    answer = client.post(
        f"{API}/auth/password",
        headers=bearer(changer),
        json={"current_password": DEMO_PASSWORD, "new_password": "a-brand-new-password"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["sessions_ended"] == 2

    assert client.get(f"{API}/orders", headers=bearer(elsewhere)).status_code == 401
    assert not signed_in(browser)
    assert client.get(f"{API}/orders", headers=bearer(changer)).status_code == 200
    old = client.post(f"{API}/auth/token", json={"identifier": CONSUMER, "password": DEMO_PASSWORD})
    assert old.status_code == 401
    assert token_for(client, password="a-brand-new-password")


def test_a_password_change_needs_the_current_password(client: TestClient) -> None:
    token, other = token_for(client), token_for(client)
    answer = client.post(
        f"{API}/auth/password",
        headers=bearer(token),
        json={"current_password": "not-the-password", "new_password": "a-brand-new-password"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "current_password"
    assert client.get(f"{API}/orders", headers=bearer(other)).status_code == 200


def test_a_page_session_ends_when_signed_out_elsewhere(client: TestClient) -> None:
    laptop, phone = second_browser(client), second_browser(client)
    sign_in(laptop)
    sign_in(phone)
    assert signed_in(laptop)
    assert signed_in(phone)

    csrf = csrf_of(phone, "/account/sessions")
    ended = phone.post("/account/sessions/end-others", data={"csrf": csrf}, follow_redirects=False)
    assert ended.status_code == 303
    assert not signed_in(laptop)
    assert signed_in(phone)

    # Signing out on the phone ends the phone's session on the server, not just its cookie.
    cookie = dict(phone.cookies)
    csrf = csrf_of(phone, "/account/sessions")
    assert phone.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    replayed = second_browser(client)
    replayed.cookies.update(cookie)
    assert not signed_in(replayed)


def test_the_sessions_page_lists_where_one_is_signed_in_and_ends_one(client: TestClient) -> None:
    browser = second_browser(client)
    sign_in(browser)
    token = token_for(client)
    page = browser.get("/account/sessions")
    assert page.status_code == 200
    assert 'id="this-session"' in page.text
    rows = re.findall(r'id="session-(\d+)"', page.text)
    assert len(rows) == 2  # this browser and the API token
    listed = client.get(f"{API}/auth/sessions", headers=bearer(token)).json()
    token_row = next(row for row in listed if row["current"])
    assert token_row["kind"] == "api"
    csrf = csrf_of(browser, "/account/sessions")
    answer = browser.post(f"/account/sessions/{token_row['id']}/end", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get(f"{API}/orders", headers=bearer(token)).status_code == 401


def test_nobody_ends_another_persons_session(client: TestClient) -> None:
    mine = token_for(client)
    theirs = token_for(client, "13800000002")
    their_id = next(row["id"] for row in client.get(f"{API}/auth/sessions", headers=bearer(theirs)).json())
    answer = client.delete(f"{API}/auth/sessions/{their_id}", headers=bearer(mine))
    assert answer.status_code == 404
    assert client.get(f"{API}/orders", headers=bearer(theirs)).status_code == 200


def test_an_operator_disabling_a_staff_member_ends_their_sessions_and_sign_in(client: TestClient) -> None:
    agent_token = token_for(client, "agent@kameng.test")
    agent_browser = second_browser(client)
    sign_in(agent_browser, "agent@kameng.test")
    assert agent_browser.get("/staff", follow_redirects=False).status_code == 200
    assert len(client.get(f"{API}/auth/sessions", headers=bearer(agent_token)).json()) == 2

    from sqlalchemy import select

    from kameng.accounts.models import User
    from tests.support.apps import container_of

    with container_of(client).uow() as uow:
        user_id = uow.session.scalar(select(User.id).where(User.email == "agent@kameng.test"))
    operator = token_for(client, "operator@kameng.test")
    agent_cannot = client.post(f"{API}/staff/users/{user_id}/disable", headers=bearer(agent_token))
    assert agent_cannot.status_code == 404
    answer = client.post(f"{API}/staff/users/{user_id}/disable", headers=bearer(operator))
    assert answer.status_code == 200, answer.text

    assert client.get(f"{API}/staff/tickets", headers=bearer(agent_token)).status_code == 401
    assert agent_browser.get("/staff", follow_redirects=False).status_code == 404
    again = client.post(f"{API}/auth/token", json={"identifier": "agent@kameng.test", "password": DEMO_PASSWORD})
    assert again.status_code == 401


def test_the_write_routes_that_look_their_token_up_with_the_request_step_refuse_a_revoked_token_at_once(
    client: TestClient,
) -> None:
    # Placing an order and asking for a refund look the token up in the worker thread of the
    # request step itself: the same live look-up, so signing out refuses the very next call.
    token = token_for(client)
    assert client.post(f"{API}/auth/logout", headers=bearer(token)).status_code == 204
    order = client.post(
        f"{API}/orders",
        headers={**bearer(token), "Idempotency-Key": "revoked-order"},
        json={"product": "monthly-pass", "channel": "alipay"},
    )
    refund = client.post(
        f"{API}/orders/26010100000001/refund-requests",
        headers={**bearer(token), "Idempotency-Key": "revoked-refund"},
        json={"reason": "changed_mind"},
    )
    # A body the route would refuse is not looked at before the token is: still 401.
    refund_with_a_bad_body = client.post(
        f"{API}/orders/26010100000001/refund-requests",
        headers={**bearer(token), "Idempotency-Key": "revoked-refund-2"},
        content=b"{not json",
    )

    for answer in (order, refund, refund_with_a_bad_body):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
