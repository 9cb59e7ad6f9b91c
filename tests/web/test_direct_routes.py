"""The two hottest writes answered directly (web/direct.py): a plain request skips FastAPI's
per-request layers and gets the same answer; anything else reaches the FastAPI route as sent."""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest
from fastapi import routing as fastapi_routing
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from kameng.aftersales import api as aftersales_api
from kameng.orders import api as orders_api
from kameng.web.app import create_app
from kameng.web.direct import MOST_BODY_BYTES, DirectCall, DirectRoute, DirectRoutes
from kameng.web.params import OrderNo
from tests.support.apps import app_settings

API = "/api/v1"
_numbers = itertools.count(13700000100)
_keys = itertools.count(1)


# --------------------------------------------------------------------------------------------
# The middleware alone, around an app that records what reached it


class Echo(BaseModel):
    order_no: str
    said: str


class Said(BaseModel):
    said: str


def _echo(call: DirectCall) -> tuple[BaseModel, int]:
    assert isinstance(call.body, Said)
    return Echo(order_no=call.path["order_no"], said=call.body.said), 201


ROUTE = DirectRoute(
    template="/api/v1/orders/{order_no}/echo",
    parameters={"order_no": TypeAdapter(OrderNo)},
    body=Said,
    answer=_echo,
)
REGISTERED = Route("/api/v1/orders/{order_no}/echo", lambda request: None, methods=["POST"])


class Behind:
    """The app behind the middleware: what reached it, and the body it read."""

    def __init__(self) -> None:
        self.reached: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.reached.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"behind"})


class FakeApp:
    """What the middleware reads of ``scope["app"]``."""

    class state:  # noqa: N801 - read as request.app.state
        container = None
        rate_limits = None

    exception_handlers: ClassVar[dict[Any, Any]] = {}


def _post(
    middleware: DirectRoutes, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, bytes, Scope]:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "app": FakeApp(),
        "client": ("127.0.0.1", 5000),
    }
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    # On a thread of its own: a worker that holds Playwright's browser (the page tests) has an
    # event loop running on its main thread, and asyncio.run refuses to start a second one there.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, middleware(scope, receive, send)).result()
    status = int(sent[0]["status"])
    return status, b"".join(message.get("body", b"") for message in sent[1:]), scope


PLAIN = {"Authorization": "Bearer some-token", "Idempotency-Key": "k-1", "Content-Type": "application/json"}


@pytest.fixture
def behind() -> Behind:
    return Behind()


@pytest.fixture
def middleware(behind: Behind) -> DirectRoutes:
    return DirectRoutes(behind, routes=[ROUTE], registered=[REGISTERED])


def test_a_plain_request_is_answered_directly_and_names_the_registered_route(
    middleware: DirectRoutes, behind: Behind
) -> None:
    status, body, scope = _post(middleware, f"{API}/orders/20261207000001/echo", PLAIN, [b'{"said": "hi"}'])

    assert (status, behind.reached) == (201, [])
    assert Echo.model_validate_json(body) == Echo(order_no="20261207000001", said="hi")
    assert scope["route"] is REGISTERED  # the metrics name its template


@pytest.mark.parametrize(
    ("why", "headers", "path"),
    [
        ("no token", {**PLAIN, "Authorization": ""}, "20261207000001"),
        ("another scheme", {**PLAIN, "Authorization": "Basic abc"}, "20261207000001"),
        ("no idempotency key", {k: v for k, v in PLAIN.items() if k != "Idempotency-Key"}, "20261207000001"),
        ("a control character in the key", {**PLAIN, "Idempotency-Key": "k\x01"}, "20261207000001"),
        ("a multipart body", {**PLAIN, "Content-Type": "multipart/form-data; boundary=x"}, "20261207000001"),
        ("no content type", {k: v for k, v in PLAIN.items() if k != "Content-Type"}, "20261207000001"),
        ("an order number too long", PLAIN, "2" * 300),
    ],
)
def test_a_request_that_is_not_plain_reaches_the_route_behind_untouched(
    middleware: DirectRoutes, behind: Behind, why: str, headers: dict[str, str], path: str
) -> None:
    status, body, scope = _post(middleware, f"{API}/orders/{path}/echo", headers, [b'{"said": "hi"}'])

    assert (status, body, behind.reached) == (299, b"behind", [b'{"said": "hi"}']), why
    assert "route" not in scope


@pytest.mark.parametrize(
    "chunks",
    [
        [b'{"said": '],  # not JSON
        [b'{"said": 7}'],  # not the model
        [b"[1, 2"],
        [b'{"said": "', b"x" * MOST_BODY_BYTES, b'"}'],  # more than the direct way reads
    ],
)
def test_a_body_the_direct_way_does_not_take_reaches_the_route_behind_byte_for_byte(
    middleware: DirectRoutes, behind: Behind, chunks: list[bytes]
) -> None:
    status, _, _ = _post(middleware, f"{API}/orders/20261207000001/echo", PLAIN, chunks)

    assert (status, behind.reached) == (299, [b"".join(chunks)])


def test_other_methods_and_addresses_reach_the_app_behind(middleware: DirectRoutes, behind: Behind) -> None:
    assert _post(middleware, f"{API}/orders/20261207000001/echoes", PLAIN, [b"{}"])[0] == 299
    assert _post(middleware, f"{API}/orders/2026/12/echo", PLAIN, [b"{}"])[0] == 299
    assert len(behind.reached) == 2


def test_a_direct_route_must_be_registered_with_the_app_too() -> None:
    with pytest.raises(LookupError, match=r"/api/v1/orders/\{order_no\}/echo"):
        DirectRoutes(Behind(), routes=[ROUTE], registered=[])


# --------------------------------------------------------------------------------------------
# In the app: the same answers by either way


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths FastAPI solved a route's dependencies for (every route it answers itself)."""
    paths: list[str] = []
    original = fastapi_routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        paths.append(kwargs["request"].url.path)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi_routing, "solve_dependencies", counting)
    return paths


def _consumer(client: TestClient) -> dict[str, str]:
    body = {"identifier": str(next(_numbers)), "password": "long-enough-1"}
    answer = client.post(f"{API}/auth/signup", json=body)
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _paid_order(client: TestClient, auth: dict[str, str]) -> str:
    placed = client.post(
        f"{API}/orders",
        json={"product": "monthly-pass", "channel": "alipay"},
        headers={**auth, "Idempotency-Key": f"order-{next(_keys)}"},
    )
    assert placed.status_code == 201, placed.text
    paid = client.post(f"{API}/payments/simulator/{placed.json()['out_trade_no']}/pay")
    assert paid.json()["result"] == "paid", paid.text
    return str(placed.json()["order_no"])


def _ask(client: TestClient, auth: dict[str, str], order_no: str, fields: dict[str, str], key: str) -> Any:
    return client.post(
        f"{API}/orders/{order_no}/refund-requests", json=fields, headers={**auth, "Idempotency-Key": key}
    )


def _without_request_id(answer: Any) -> Any:
    body = answer.json()
    body.get("error", {}).pop("request_id", None)
    return answer.status_code, body


def test_placing_an_order_and_asking_for_a_refund_skip_fastapis_layers_when_plain(
    client: TestClient, solved: list[str]
) -> None:
    auth = _consumer(client)
    order_no = _paid_order(client, auth)
    solved.clear()
    asked = _ask(client, auth, order_no, {"reason": "changed_mind", "description": "不想要了"}, "direct-1")

    assert asked.status_code == 201, asked.text
    assert asked.json()["decision"] == "auto_approve"
    assert asked.headers["content-type"] == "application/json"
    assert asked.headers["x-request-id"]
    assert asked.headers["x-content-type-options"] == "nosniff"
    assert solved == []
    replayed = _ask(client, auth, order_no, {"reason": "changed_mind", "description": "不想要了"}, "direct-1")
    assert (replayed.status_code, replayed.json()["ticket_no"]) == (200, asked.json()["ticket_no"])
    assert replayed.json()["replayed"] is True
    assert solved == []
    metrics = client.get("/metrics").text
    assert 'route="/api/v1/orders/{order_no}/refund-requests",status="201"' in metrics
    assert 'route="/api/v1/orders",status="201"' in metrics


def test_a_refusal_is_the_same_answer_by_either_way(client: TestClient, solved: list[str]) -> None:
    auth, stranger = _consumer(client), _consumer(client)
    order_no = _paid_order(client, auth)
    path = f"{API}/orders/{order_no}/refund-requests"
    fields = {"reason": "changed_mind", "description": "不想要了"}
    first = client.post(path, json=fields, headers={**auth, "Idempotency-Key": "first"})
    assert first.status_code == 201
    solved.clear()

    # The same refusals, once as JSON (the direct way) and once as a form (FastAPI's route).
    for headers in (
        {**auth, "Idempotency-Key": "second"},  # 409: a ticket is open
        {**stranger, "Idempotency-Key": "third"},  # 404: another consumer's order
        {"Authorization": "Bearer not-a-token", "Idempotency-Key": "fourth"},  # 401
    ):
        direct = client.post(path, json=fields, headers=headers)
        routed = client.post(path, data=fields, headers=headers)
        assert _without_request_id(direct) == _without_request_id(routed)
        assert direct.status_code in (401, 404, 409)
        assert direct.headers.get("www-authenticate") == routed.headers.get("www-authenticate")
    assert solved == [path] * 3  # the forms only


def test_an_invalid_body_gets_fastapis_own_answer(client: TestClient, solved: list[str]) -> None:
    auth = _consumer(client)
    order_no = _paid_order(client, auth)
    solved.clear()
    answer = _ask(client, auth, order_no, {"reason": "bored", "description": "x"}, "bad-body")

    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "reason"
    assert solved == [f"{API}/orders/{order_no}/refund-requests"]


def test_the_refund_requests_rate_limit_counts_each_direct_request_once(db_url: str) -> None:
    settings = app_settings(db_url, KAMENG_RATE_LIMIT_REFUND_REQUEST="3/minute")
    with TestClient(create_app(settings, run_worker=False)) as client:
        auth = _consumer(client)
        answers = [
            client.post(
                f"{API}/orders/20260101000000/refund-requests",
                json={"reason": "changed_mind", "description": ""},
                headers={**auth, "Idempotency-Key": f"limited-{n}"},
            )
            for n in range(4)
        ]

    assert [answer.status_code for answer in answers] == [404, 404, 404, 429]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert int(answers[3].headers["retry-after"]) > 0


# --------------------------------------------------------------------------------------------
# The direct ways and their FastAPI routes take the same inputs


def _inputs_of(route: Any) -> dict[str, Any]:
    dependant = route.dependant
    return {
        "path": sorted(param.alias for param in dependant.path_params),
        "query": sorted(param.alias for param in dependant.query_params),
        "headers": sorted(param.alias for param in dependant.header_params),
        "cookies": sorted(param.alias for param in dependant.cookie_params),
        "body": sorted(param.alias for param in dependant.body_params),
        "dependencies": sorted(getattr(d.call, "__qualname__", "") for d in dependant.dependencies),
    }


@pytest.mark.parametrize(
    ("direct", "inputs"),
    [
        (
            orders_api.DIRECT_ORDER,
            {
                "path": [],
                "query": [],
                "headers": ["Idempotency-Key"],
                "cookies": [],
                "body": ["body"],
                "dependencies": ["bearer_secret", "get_container"],
            },
        ),
        (
            aftersales_api.DIRECT_REFUND_REQUEST,
            {
                "path": ["order_no"],
                "query": [],
                "headers": ["Idempotency-Key"],
                "cookies": [],
                "body": [],  # read by the route itself: JSON or multipart
                "dependencies": ["bearer_secret", "get_container", "limited.<locals>.check"],
            },
        ),
    ],
    ids=["order", "refund request"],
)
def test_a_direct_way_knows_every_input_its_fastapi_route_takes(direct: DirectRoute, inputs: dict[str, Any]) -> None:
    # A parameter or dependency added to one of these routes must be taken by its direct way too
    # (web/direct.py), or the direct way would answer without it: this list is the reminder.
    registered = DirectRoutes(
        Behind(), routes=[direct], registered=[*orders_api.router.routes, *aftersales_api.router.routes]
    )
    route = registered.routes[0][2]

    assert _inputs_of(route) == inputs
    assert sorted(direct.parameters) == inputs["path"]


def test_a_failure_the_direct_way_did_not_expect_is_the_usual_500_with_the_request_id(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug in the step")

    monkeypatch.setattr(aftersales_api, "_submit_for_token", broken)
    path = f"{API}/orders/20260101000000/refund-requests"
    fields = {"reason": "changed_mind", "description": ""}
    with TestClient(create_app(app_settings(db_url), run_worker=False), raise_server_exceptions=False) as client:
        auth = _consumer(client)
        direct = client.post(path, json=fields, headers={**auth, "Idempotency-Key": "broken-1"})
        routed = client.post(path, data=fields, headers={**auth, "Idempotency-Key": "broken-2"})

    assert (direct.status_code, routed.status_code) == (500, 500)
    assert direct.json()["error"]["code"] == routed.json()["error"]["code"] == "internal_error"
    assert direct.json()["error"]["request_id"] == direct.headers["x-request-id"]
