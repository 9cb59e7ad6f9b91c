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
import statistics
import sys
import threading
import time
import uuid
from typing import Any

import httpx
from checkout import PRODUCT, fresh_database, run_pgbench, served
from checkout import _sign_in as sign_in
from sqlalchemy import func, select

from kameng.aftersales.models import Ticket
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


def _ask(
    base: str, token: str, order_nos: list[str], latencies: list[float], decisions: list[str], errors: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
        for order_no in order_nos:
            start = time.perf_counter()
            answer = client.post(
                f"/api/v1/orders/{order_no}/refund-requests",
                json={"reason": "changed_mind", "description": "bench"},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            elapsed = time.perf_counter() - start
            if answer.status_code != 201:
                errors.append(f"refund {answer.status_code}: {answer.text[:200]}")
                continue
            latencies.append(elapsed)
            decisions.append(str(answer.json()["quote"]["decision"]))


def _in_threads(targets: list[tuple[Any, ...]], work: Any) -> float:
    threads = [threading.Thread(target=work, args=args) for args in targets]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def _percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 1)


def run_refunds(requests: int, clients: int) -> dict[str, Any]:
    with fresh_database("postgresql") as url, served(url) as base:
        tokens = [sign_in(base, i) for i in range(clients)]
        shares = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
        bought: list[list[str]] = [[] for _ in tokens]
        errors: list[str] = []
        prepare_s = _in_threads(
            [
                (base, token, share, bought[i], errors)
                for i, (token, share) in enumerate(zip(tokens, shares, strict=True))
            ],
            _buy,
        )
        latencies: list[float] = []
        decisions: list[str] = []
        elapsed = _in_threads(
            [(base, token, bought[i], latencies, decisions, errors) for i, token in enumerate(tokens)], _ask
        )
        engine = make_engine(url)
        try:
            uow = UnitOfWork(make_session_factory(engine))
            with uow:
                session = uow.session
                tickets = session.scalar(select(func.count(Ticket.id)).where(Ticket.description == "bench"))
                refund_rows = session.scalar(select(func.count(RefundRow.id)))
                over = session.scalar(
                    select(func.count(OrderRow.id)).where(OrderRow.refunded_fen > OrderRow.amount_fen)
                )
            books_ok = check_books(uow).ok
        finally:
            engine.dispose()
    latencies.sort()
    return {
        "requests": requests,
        "clients": clients,
        "orders_prepared": sum(len(b) for b in bought),
        "prepare_s": round(prepare_s, 2),
        "succeeded": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "auto_approved": decisions.count("auto_approve"),
        "tickets_in_db": tickets,
        "refund_records_in_db": refund_rows,  # the demo data holds a few of its own
        "orders_over_refunded": over,
        "books_balance": books_ok,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p99": _percentile(latencies, 0.99),
    }


def bench_refunds(quick: bool) -> dict[str, Any]:
    requests, clients = (100, 4) if quick else (500, 8)
    scale, seconds = (1, 5) if quick else (10, 20)
    load_before = round(os.getloadavg()[0], 2)
    postgresql = run_refunds(requests, clients)
    pgbench = run_pgbench(scale, clients=8, threads=2, seconds=seconds)
    ratio = round(postgresql["requests_per_s"] / pgbench["tps"], 3)
    return {
        "product": PRODUCT,
        "reason": "changed_mind (P1, approved at once)",
        "server": "uvicorn, 1 process",
        "postgresql": postgresql,
        "pgbench": pgbench,
        "refund_requests_per_pgbench_tps": ratio,
        "target_ratio": 0.3,
        "target_met": ratio >= 0.3,
        "load_average_1m_before_after": [load_before, round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    print(json.dumps(bench_refunds("--quick" in sys.argv[1:]), indent=2))
