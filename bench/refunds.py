"""Refund requests per second end to end through the API on PostgreSQL, beside pgbench.

A fresh database, the real app under uvicorn (``checkout.served``), N signed-in consumers. Not
timed: each consumer buys and pays its share of monthly passes through the API exactly as
``bench/checkout.py`` does. Timed: each consumer asks for its money back,
``POST /api/v1/orders/{order_no}/refund-requests`` with an ``Idempotency-Key`` and reason
``changed_mind``; the passes were never activated, so rule P1 approves each at once (the
one-click refund): ticket, hash-chained timeline rows, ledger entry, refund record, outbox rows,
all in one transaction. Afterwards every order must hold one ticket, refunded_fen must equal the
amount, and the books must balance. Then ``pgbench`` TPC-B on the same server.

    .venv/bin/python bench/run.py --only refunds [--quick]
    .venv/bin/python bench/refunds.py [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from typing import Any

import httpx
from checkout import PRODUCT, fresh_database, run_pgbench, serving
from checkout import _sign_in as sign_in
from costs import REWARM_CONNECTIONS, REWARM_PER_CLIENT, CostMeter, per_request, populate, without_autovacuum
from load import Line, run_wrk
from sqlalchemy import func, select

from kameng.aftersales.models import Ticket
from kameng.domain.model import Decision
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import check_books


def _buy(base: str, token: str, count: int, out: list[str], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    order = {"product": PRODUCT, "channel": "alipay", "duplicate_ack": True}
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
        for _ in range(count):
            placed = client.post("/api/v1/orders", json=order, headers={"Idempotency-Key": uuid.uuid4().hex})
            if placed.status_code != 201:
                errors.append(f"order {placed.status_code}: {placed.text[:200]}")
                continue
            body = placed.json()
            paid = client.post(f"/api/v1/payments/simulator/{body['out_trade_no']}/pay")
            if paid.status_code != 200 or paid.json().get("result") != "paid":
                errors.append(f"pay {paid.status_code}: {paid.text[:200]}")
                continue
            out.append(str(body["order_no"]))


def _in_threads(targets: list[tuple[Any, ...]], work: Any) -> float:
    threads = [threading.Thread(target=work, args=args) for args in targets]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def run_refunds(requests: int, clients: int, api_workers: int = 1, reads_between: bool = False) -> dict[str, Any]:
    """Prepare ``requests`` paid orders (not timed), then send one refund request for each through
    wrk, ``clients`` connections, and read what they cost the API and PostgreSQL. With
    ``reads_between``, each client reads its order (``GET /orders/{order_no}``) after each refund
    request: mixed traffic, whose reads end transactions that only read on the same pooled
    connections; the figures are then per refund request and the read after it."""
    with fresh_database("postgresql") as url, serving(url, api_workers) as server:
        base = server.base
        populate(url)
        tokens = [sign_in(base, i) for i in range(clients)]
        # Not timed: the first requests of each connection fill its caches, and a history as large
        # as the timed part gives the ANALYZE below tables of the size the timed part works on (a
        # nearly empty `tickets` table, grown forty-fold afterwards with autovacuum off, kept the
        # planner on plans for a tiny table: scans and walks of a consumer's tickets).
        warm = clients * 3 + requests
        warm += -warm % clients  # whole turns, so that the timed lines start with the first consumer
        total = requests + warm + clients * REWARM_PER_CLIENT
        shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
        bought: list[list[str]] = [[] for _ in tokens]
        errors: list[str] = []
        prepare_s = _in_threads(
            [
                (base, token, share, bought[i], errors)
                for i, (token, share) in enumerate(zip(tokens, shares, strict=True))
            ],
            _buy,
        )
        # Consumer after consumer, so that line n is consumer n % clients's, as in bench/checkout.py:
        # wrk's connection k sends lines k, k + clients, … (bench/lua/requests.lua), so each
        # connection is one consumer, as eight clients are eight people. Grouped by consumer
        # instead, the history before the ANALYZE held only the first consumers' tickets: the
        # planner took the others for consumers with none and walked all their tickets by user_id
        # when they had many, and the four connections sent one consumer's requests at once.
        lines = [
            Line(
                "POST",
                f"/api/v1/orders/{orders[turn]}/refund-requests",
                token,
                f"bench-refund-{orders[turn]}",
                {"reason": "changed_mind", "description": "bench"},
            )
            for turn in range(max(len(orders) for orders in bought))
            for token, orders in zip(tokens, bought, strict=True)
            if turn < len(orders)
        ]
        warm_up, lines = lines[:warm], lines[warm:]
        run_wrk(base, _with_reads(warm_up, clients) if reads_between else warm_up, clients)
        without_autovacuum(url)
        # The ANALYZE and the ALTER TABLEs invalidated every connection's cached plans and table
        # descriptions: filled again here, or the timed part pays for rebuilding them (catalog
        # rows fetched, PostgreSQL CPU) on each pooled connection, which a running service does not.
        rewarm, lines = lines[: clients * REWARM_PER_CLIENT], lines[clients * REWARM_PER_CLIENT :]
        run_wrk(base, _with_reads(rewarm, clients) if reads_between else rewarm, clients * REWARM_CONNECTIONS)
        asked = len(lines)
        if reads_between:
            lines = _with_reads(lines, clients)
        meter = CostMeter(url, server.pid)
        try:
            idle = meter.read()
            before = meter.read()  # what a window with no requests counts: subtracted below
            load = run_wrk(base, lines, clients)
            after = meter.read()
        finally:
            meter.close()
        engine = make_engine(url)
        try:
            uow = UnitOfWork(make_session_factory(engine))
            with uow:
                session = uow.session
                tickets = session.scalar(select(func.count(Ticket.id)).where(Ticket.description == "bench"))
                auto = session.scalar(
                    select(func.count(Ticket.id)).where(
                        Ticket.description == "bench", Ticket.decision == Decision.AUTO_APPROVE
                    )
                )
                refund_rows = session.scalar(select(func.count(RefundRow.id)))
                over = session.scalar(
                    select(func.count(OrderRow.id)).where(OrderRow.refunded_fen > OrderRow.amount_fen)
                )
            books_ok = check_books(uow).ok
        finally:
            engine.dispose()
    sent = len(lines)
    seconds = load["seconds"]
    return {
        "api_processes": api_workers,
        "requests": sent,
        "refund_requests": asked,
        "clients": clients,
        "prepare_errors": len(errors),
        "prepare_s": round(prepare_s, 2),
        "failed": load["failed"],
        "first_failure": load["first_failure"],
        "auto_approved_tickets": auto,
        "tickets_in_db": tickets,
        "refund_records_in_db": refund_rows,  # the demo data holds a few of its own
        "orders_over_refunded": over,
        "books_balance": books_ok,
        "seconds": round(seconds, 2),
        "requests_per_s": round(sent / seconds, 1) if seconds else 0.0,
        "latency_ms_p50": round(load["p50_us"] / 1000, 1),
        "latency_ms_p99": round(load["p99_us"] / 1000, 1),
        **per_request(before, after, asked, idle),
        "load_generator_cpu_ms_per_request": round(load["cpu_s"] * 1000 / sent, 3) if sent else None,
    }


def _with_reads(lines: list[Line], clients: int) -> list[Line]:
    """After each turn of refund requests (one line per client), the same clients read the
    orders they just asked about: wrk's connection k sends lines k, k + clients, …, so each
    connection alternates a refund request and a read."""
    mixed: list[Line] = []
    for start in range(0, len(lines), clients):
        turn = lines[start : start + clients]
        mixed.extend(turn)
        mixed.extend(Line("GET", line.path.removesuffix("/refund-requests"), line.token) for line in turn)
    return mixed


def bench_refunds(quick: bool) -> dict[str, Any]:
    requests, clients = (200, 4) if quick else (1000, 8)
    scale, seconds = (1, 5) if quick else (10, 20)
    load_before = round(os.getloadavg()[0], 2)
    one = run_refunds(requests, clients, api_workers=1)
    two = run_refunds(requests, clients, api_workers=2)
    # One client, one request at a time: what a request costs with no other in flight, to tell it
    # from what concurrency adds (locks, a busier PostgreSQL).
    alone = run_refunds(requests // 2, 1, api_workers=1)
    # Mixed traffic: a read of the order after each refund request, on the same connections.
    mixed = run_refunds(requests, clients, api_workers=1, reads_between=True)
    pgbench = run_pgbench(scale, clients=8, threads=2, seconds=seconds)
    ratio = round(two["requests_per_s"] / pgbench["tps"], 3)
    return {
        "product": PRODUCT,
        "reason": "changed_mind (P1, approved at once)",
        "load_generator": "wrk, one connection per client (bench/lua/requests.lua)",
        "one_api_process": one,
        "two_api_processes": two,
        "one_client": alone,
        "one_api_process_a_read_after_each": mixed,
        "pgbench": pgbench,
        "requests_per_pgbench_tps_two_processes": ratio,
        "targets": {
            "api_cpu_ms_per_request_max": 4,
            "postgresql_cpu_ms_per_request_max": 2,
            "commits_per_request": 1,
            "rows_fetched_per_request_max": 20,
            "latency_ms_p99_max": 50,
            "requests_per_pgbench_tps_min": 0.07,
        },
        "load_average_1m_before_after": [load_before, round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    print(json.dumps(bench_refunds("--quick" in sys.argv[1:]), indent=2))
