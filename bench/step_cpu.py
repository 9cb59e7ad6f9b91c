"""The refund request's step in process on PostgreSQL: the Python CPU it costs, by thread time.

What the refund section reads from ``/proc`` is the whole API process under wrk: on a shared
2-core machine it moved by 30 % from one run to the next, more than most changes it was to judge.
This section runs only the worker thread's part of ``POST /orders/{order_no}/refund-requests``
(``aftersales.api._submit_for_token``: the bearer token's look-up and the request step, in their
one transaction) and reads ``time.thread_time()`` around each call: the CPU of that thread alone,
without HTTP, without the database's time, and without what other processes take. The HTTP side
is the difference to the refund section's API CPU.

Not timed: a fresh database with the demo, consumers signed in, and for each request a monthly
pass bought and paid through the same services the API calls. Timed: one refund request per order
(reason ``changed_mind``, approved at once by rule P1), after a warm-up, one at a time.

    .venv/bin/python bench/run.py --only step_cpu [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
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
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.settings import Settings

CONSUMERS = 4
WARM_UP = 40  # requests not counted: the pool's connections and their prepared statements


def _paid_orders(container: Container, count: int) -> list[tuple[str, str]]:
    """``count`` paid monthly passes, shared among the consumers: (their token, order number)."""
    now = container.now()
    tokens = []
    users = []
    for index in range(CONSUMERS):
        user = sign_up(container.uow(), f"1390000{index:04d}", "long-enough-1", now)
        users.append(user)
        tokens.append(sessions.start(container.uow(), user.id, sessions.SessionKind.API, datetime.now(UTC)).secret)
    orders = []
    for number in range(count):
        owner = number % CONSUMERS
        request = CheckoutRequest(
            user_id=users[owner].id, product_slug=PRODUCT, channel=Channel.ALIPAY, duplicate_ack=True
        )
        placed = place_order(container.uow(), request, now, container.payments)
        assert placed.out_trade_no is not None
        assert simulate_payer(container.uow(), placed.out_trade_no, True, container.payments, now) == "paid"
        orders.append((tokens[owner], placed.order_no))
    return orders


def run_step_cpu(requests: int) -> dict[str, Any]:
    with fresh_database("postgresql") as url:
        settings = Settings.from_env(
            {
                "KAMENG_DATABASE_URL": url,
                "KAMENG_ENV": "test",
                "KAMENG_SECRET_KEY": "bench-secret-" + "0" * 32,
                "KAMENG_EMBEDDED_WORKER": "0",
            }
        )
        compose.prepare_database(settings)
        container = compose.build(settings)
        try:
            body = ({"reason": Reason.CHANGED_MIND, "description": "bench"}, [])
            spent = []
            for number, (token, order_no) in enumerate(_paid_orders(container, WARM_UP + requests)):
                started = time.thread_time()
                ticket, _ = _submit_for_token(container, token, order_no, body, uuid.uuid4().hex)
                if number >= WARM_UP:
                    spent.append(time.thread_time() - started)
                assert ticket.decision.value == "auto_approve", ticket.decision
        finally:
            container.dispose()
    spent.sort()
    return {
        "requests": len(spent),
        "step_cpu_ms_mean": round(statistics.mean(spent) * 1000, 2),
        "step_cpu_ms_p10": round(spent[len(spent) // 10] * 1000, 2),
        "step_cpu_ms_p50": round(spent[len(spent) // 2] * 1000, 2),
        "step_cpu_ms_p90": round(spent[len(spent) * 9 // 10] * 1000, 2),
    }


def bench_step_cpu(quick: bool) -> dict[str, Any]:
    return {
        "path": "refund request (P1, approved at once): token look-up and request step, no HTTP",
        "measured": "time.thread_time() of the calling thread, one request at a time",
        **run_step_cpu(100 if quick else 500),
    }


if __name__ == "__main__":
    print(bench_step_cpu("--quick" in sys.argv[1:]))
