"""The refund request's step in process on PostgreSQL: the Python CPU it costs, by thread time;
and the same request through the whole app in process, by the direct way and by FastAPI's route.

What the refund section reads from ``/proc`` is the whole API process under wrk: on a shared
2-core machine it moved by 30 % from one run to the next, more than most changes it was to judge.
This section runs only the worker thread's part of ``POST /orders/{order_no}/refund-requests``
(``aftersales.api._submit_for_token``: the bearer token's look-up and the request step, in their
one transaction) and reads ``time.thread_time()`` around each call: the CPU of that thread alone,
without HTTP, without the database's time, and without what other processes take.

The second part sends the same request through the whole ASGI app, called in process (no socket,
no uvicorn), and reads ``time.process_time()``: the event loop and the worker thread. App minus
step is what the middleware, the routing and the answer cost; it is measured once by the direct way
(web/direct.py) and once with it left out, every request through FastAPI's route. What the refund
section's API CPU holds beyond the app is the server's: uvicorn, the sockets, the threads' wake-ups.

Not timed: a fresh database with the demo, consumers signed in, and for each request a monthly
pass bought and paid through the same services the API calls. Timed: one refund request per order
(reason ``changed_mind``, approved at once by rule P1), after a warm-up, one at a time.

    .venv/bin/python bench/run.py --only step_cpu [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from checkout import PRODUCT, fresh_database

from kameng import compose
from kameng.accounts import sessions
from kameng.accounts.services import sign_up
from kameng.aftersales.api import _submit_for_token
from kameng.channels.simulator.payer import simulate_payer
from kameng.container import Container
from kameng.domain.model import Channel, Reason
from kameng.orders.api import _placed
from kameng.orders.schemas import OrderRequest
from kameng.settings import Settings
from kameng.web.app import create_app
from kameng.web.direct import DirectRoutes

CONSUMERS = 4
WARM_UP = 40  # requests not counted: the pool's connections and their prepared statements


def consumers(container: Container) -> list[tuple[int, str]]:
    """The bench's consumers, signed up and signed in: (their id, their bearer token)."""
    now = container.now()
    signed_in = []
    for index in range(CONSUMERS):
        user = sign_up(container.uow(), f"1390000{index:04d}", "long-enough-1", now)
        signed_in.append(
            (user.id, sessions.start(container.uow(), user.id, sessions.SessionKind.API, datetime.now(UTC)).secret)
        )
    return signed_in


def check_out(container: Container, token: str) -> str:
    """One order as the checkout section's is: a monthly pass placed with a bearer token and an
    idempotency key, and paid through the simulator, by the functions that its two API routes
    call. Its order number."""
    body = OrderRequest.model_validate({"product": PRODUCT, "channel": Channel.ALIPAY, "duplicate_ack": True})
    placed, status = _placed(container, token, body, uuid.uuid4().hex)
    assert status == 201
    assert placed.out_trade_no is not None
    assert simulate_payer(container.uow(), placed.out_trade_no, True, container.payments, container.now()) == "paid"
    return placed.order_no


def _paid_orders(container: Container, count: int) -> list[tuple[str, str]]:
    """``count`` paid monthly passes, shared among the consumers: (their token, order number)."""
    signed_in = consumers(container)
    orders = []
    for number in range(count):
        _, token = signed_in[number % CONSUMERS]
        orders.append((token, check_out(container, token)))
    return orders


def _settings(url: str) -> Settings:
    return Settings.from_env(
        {
            "KAMENG_DATABASE_URL": url,
            "KAMENG_ENV": "test",
            "KAMENG_SECRET_KEY": "bench-secret-" + "0" * 32,
            "KAMENG_EMBEDDED_WORKER": "0",
            "KAMENG_RATE_LIMITS_ENABLED": "0",
        }
    )


def _figures(prefix: str, spent: list[float]) -> dict[str, Any]:
    spent.sort()
    return {
        f"{prefix}_ms_mean": round(statistics.mean(spent) * 1000, 2),
        f"{prefix}_ms_p10": round(spent[len(spent) // 10] * 1000, 2),
        f"{prefix}_ms_p50": round(spent[len(spent) // 2] * 1000, 2),
        f"{prefix}_ms_p90": round(spent[len(spent) * 9 // 10] * 1000, 2),
    }


# The timed request's body: a change of mind, approved at once by rule P1.
BODY: tuple[dict[str, Any], list[Any]] = ({"reason": Reason.CHANGED_MIND, "description": "bench"}, [])


@contextmanager
def demo_shop() -> Iterator[Container]:
    """A fresh PostgreSQL database with the demo, and the services on it."""
    with fresh_database("postgresql") as url:
        settings = _settings(url)
        compose.prepare_database(settings)
        container = compose.build(settings)
        try:
            yield container
        finally:
            container.dispose()


@contextmanager
def orders_to_refund(count: int) -> Iterator[tuple[Container, list[tuple[str, str]]]]:
    """A fresh PostgreSQL database with the demo, and ``count`` paid orders to ask refunds of."""
    with demo_shop() as container:
        yield container, _paid_orders(container, count)


def run_step_cpu(requests: int) -> dict[str, Any]:
    with orders_to_refund(WARM_UP + requests) as (container, orders):
        spent = []
        for number, (token, order_no) in enumerate(orders):
            started = time.thread_time()
            ticket, _ = _submit_for_token(container, token, order_no, BODY, uuid.uuid4().hex)
            if number >= WARM_UP:
                spent.append(time.thread_time() - started)
            assert ticket.decision.value == "auto_approve", ticket.decision
    return {"requests": len(spent), **_figures("step_cpu", spent)}


@contextmanager
def app_with_orders(count: int, direct: bool = True) -> Iterator[tuple[Any, list[tuple[str, str]]]]:
    """The whole ASGI app on a fresh PostgreSQL database with the demo, and ``count`` paid orders
    to ask refunds of. With ``direct`` False the direct way (web/direct.py) is left out, so every
    request takes FastAPI's route."""
    with fresh_database("postgresql") as url:
        settings = _settings(url)
        compose.prepare_database(settings)
        app = create_app(settings, run_worker=False)
        if not direct:
            for middleware in app.user_middleware:
                if middleware.cls is DirectRoutes:
                    middleware.kwargs["routes"] = []
        container: Container = app.state.container
        try:
            yield app, _paid_orders(container, count)
        finally:
            container.dispose()


def run_app_cpu(requests: int, direct: bool) -> dict[str, Any]:
    """The same request through the whole ASGI app, called in process (no socket, no uvicorn):
    the process's CPU, event loop and worker thread, per request."""
    with app_with_orders(WARM_UP + requests, direct) as (app, orders):
        spent = asyncio.run(_through_app(app, orders))
    return _figures("app_cpu", spent[WARM_UP:])


async def _through_app(app: Any, orders: list[tuple[str, str]]) -> list[float]:
    return [await through_app(app, token, order_no) for token, order_no in orders]


_APP_BODY = json.dumps({"reason": "changed_mind", "description": "bench"}).encode()


async def through_app(app: Any, token: str, order_no: str) -> float:
    """One refund request through ``app``: the process CPU time it took."""
    path = f"/api/v1/orders/{order_no}/refund-requests"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"idempotency-key", uuid.uuid4().hex.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_APP_BODY)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": _APP_BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.process_time()
    await app(scope, receive, send)
    spent = time.process_time() - started
    assert sent[0]["status"] == 201, sent
    return spent


def bench_step_cpu(quick: bool) -> dict[str, Any]:
    return {
        "path": "refund request (P1, approved at once): token look-up and request step, no HTTP",
        "measured": "time.thread_time() of the calling thread, one request at a time",
        **run_step_cpu(100 if quick else 500),
        "app": "the same request through the whole app, in process: process time, event loop and thread",
        **run_app_cpu(100 if quick else 500, direct=True),
        "fastapi_route": "the same, with the direct way (web/direct.py) left out",
        **{
            key.replace("app_cpu", "fastapi_route_cpu"): value
            for key, value in run_app_cpu(100 if quick else 500, direct=False).items()
        },
    }


if __name__ == "__main__":
    print(bench_step_cpu("--quick" in sys.argv[1:]))
