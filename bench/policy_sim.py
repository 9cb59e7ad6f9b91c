"""The policy simulation over 1,000,000 historical refund requests read from PostgreSQL, beside
pgbench in the same run.

A fresh database with the demo catalog and, written by SQL (not timed), 10,000 consumers and
1,000,000 paid annual cards (199.00, by_month, 5 % fee at most 20.00), each with one refund
request (a ticket) at some moment of the past 400 days: about three in four activated an hour after
payment, one in ten with an outage of 50 hours, one in twenty with a benefit used; reasons spread
over all eight. Timed: ``kameng.operator.simulation.simulate`` (what ``kameng policy simulate``
runs) replaying every request under a draft with a 20 % fee and no clamp and under the current
version, through the engine's decision (``decide_refunds``: both policies, one walk of the order's
story). Then pgbench TPC-B on the same server.

    .venv/bin/python bench/run.py --only policy_sim [--quick]
    .venv/bin/python bench/policy_sim.py [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from checkout import fresh_database, run_pgbench
from sqlalchemy import func, select, text

from kameng import compose
from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.demo import seed_catalog
from kameng.operator.policies import draft_of
from kameng.operator.simulation import count_requests, simulate
from kameng.platform.db import migrate
from kameng.settings import Settings

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
USERS = 10_000
PRODUCT = "annual-card"
TARGET_S = 60.0
# Worker processes replaying slices of the history side by side (the machine has two cores).
PROCESSES = int(os.environ.get("KAMENG_BENCH_POLICY_PROCESSES", "2"))
REASONS = [
    "changed_mind",
    "mistaken_purchase",
    "duplicate_purchase",
    "not_as_described",
    "platform_fault",
    "not_delivered",
    "merchant_gone",
    "renewal_without_notice",
]


def _settings(url: str) -> Settings:
    return Settings(database_url=url, environment="test", secret_key="bench")


def _populate(url: str, requests: int) -> None:
    container = compose.build(_settings(url))
    try:
        seed_catalog(container.uow(), NOW - timedelta(days=800))
        with container.uow() as uow:
            product = uow.session.scalar(select(ProductRow).where(ProductRow.slug == PRODUCT))
            assert product is not None
            policy_id = uow.session.scalar(
                select(func.max(PolicyVersion.id)).where(PolicyVersion.product_id == product.id)
            )
            product_id = product.id
        params = {"now": NOW, "n": requests, "users": USERS, "product": product_id, "policy": policy_id}
        reasons = "ARRAY[" + ",".join(f"'{reason}'" for reason in REASONS) + "]"
        statements = [
            "INSERT INTO users (phone, email, password_hash, role, display_name, created_at)"
            " SELECT '151' || lpad(i::text, 8, '0'), NULL, 'x', 'consumer', '', :now - interval '900 days'"
            " FROM generate_series(1, :users) AS i",
            # Paid over the past 400 days; the request from an hour to 380 days after payment.
            "CREATE TEMP TABLE bench_hist AS SELECT i,"
            " :now - interval '400 days' + make_interval(secs => ((i::bigint * 7919) % (400 * 86400))) AS paid_at,"
            " make_interval(secs => 3600 + ((i::bigint * 104729) % (380 * 86400))) AS after"
            " FROM generate_series(1, :n) AS i",
            "INSERT INTO orders (order_no, user_id, product_id, policy_version_id, status, channel, list_price_fen,"
            " coupon_fen, coupon_refundable, amount_fen, refunded_fen, bonus_fen, paid_at, expires_at, auto_renew,"
            " created_at, updated_at)"
            " SELECT lpad(i::text, 14, '0'), (SELECT min(id) FROM users) + i % :users, :product, :policy, 'paid',"
            " 'alipay', 19900, 0, false, 19900, 0, 0, paid_at, paid_at + interval '15 minutes', false,"
            " paid_at - interval '1 minute', paid_at"
            " FROM bench_hist",
            "INSERT INTO order_events (order_id, user_id, type, at, actor_role, count, amount_fen, note, created_at)"
            " SELECT o.id, o.user_id, 'activated', o.paid_at + interval '1 hour', 'consumer', 1, 0, '',"
            " o.paid_at + interval '1 hour' FROM orders o WHERE o.id % 4 <> 0",
            "INSERT INTO order_events (order_id, user_id, type, at, actor_role, count, hours, amount_fen, note,"
            " created_at)"
            " SELECT o.id, o.user_id, 'outage', o.paid_at + interval '2 days', 'operator', 1, '50', 0, '',"
            " o.paid_at + interval '2 days' FROM orders o WHERE o.id % 10 = 3",
            "INSERT INTO order_events (order_id, user_id, type, at, actor_role, benefit, count, amount_fen, note,"
            " created_at)"
            " SELECT o.id, o.user_id, 'benefit_used', o.paid_at + interval '3 hours', 'consumer', 'default', 1, 0,"
            " '', o.paid_at + interval '3 hours' FROM orders o WHERE o.id % 20 = 7",
            "INSERT INTO tickets (ticket_no, order_id, user_id, reason, description, status, decision, rules, quote,"
            " quoted_fen, approve_reason, priority, breached, reject_comment, timeline_head, timeline_rows,"
            " created_at, updated_at)"
            f" SELECT 'AS' || lpad(o.id::text, 14, '0'), o.id, o.user_id, ({reasons})[1 + o.id % 8], '',"
            " 'in_review', 'review', 'P9', '{}', 0, '', 1, false, '', '', 0,"
            " o.paid_at + h.after, o.paid_at + h.after"
            " FROM orders o JOIN bench_hist h ON o.order_no = lpad(h.i::text, 14, '0')",
            "ANALYZE",
        ]
        with container.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        container.dispose()


def run_simulation(url: str) -> dict[str, Any]:
    container = compose.build(_settings(url))
    try:
        draft = draft_of(container.uow(), {"product": PRODUCT, "fee_percent": "20", "fee_max": ""})
        since = NOW - timedelta(days=1000)
        total = count_requests(container.uow(), draft.product_id, since)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu_before = time.process_time()
        workers_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = simulate(
            container.uow(),
            draft,
            since,
            review_minutes=15,
            workday_minutes=420,
            chunk=5000,
            processes=PROCESSES,
            database_url=url,
        )
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        workers_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = (workers_after.ru_utime + workers_after.ru_stime) - (
            workers_before.ru_utime + workers_before.ru_stime
        )
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        container.dispose()
    return {
        "requests": total,
        "replayed": result.requests,
        "seconds": round(elapsed, 1),
        "under_60_s": elapsed < TARGET_S,
        "requests_per_second": round(result.requests / elapsed),
        "processes": PROCESSES,
        "parent_cpu_s": round(cpu, 1),
        # CPU per request drifts far less than the wall clock with what else runs on the machine.
        "workers_cpu_s": round(workers_cpu, 1),
        "cpu_us_per_request": round((cpu + workers_cpu) / max(result.requests, 1) * 1e6),
        "parent_max_rss_growth_mib": round((rss_after - rss_before) / 1024, 1),
        "current": {
            "auto_approved": result.current.auto_approved,
            "reviewed": result.current.reviewed,
            "rejected": result.current.rejected,
            "refunded_yuan": result.current.refunded_fen / 100,
        },
        "draft": {
            "auto_approved": result.draft.auto_approved,
            "reviewed": result.draft.reviewed,
            "rejected": result.draft.rejected,
            "refunded_yuan": result.draft.refunded_fen / 100,
        },
        "changed": result.changed,
    }


def bench_policy_sim(quick: bool) -> dict[str, Any]:
    requests = int(os.environ.get("KAMENG_BENCH_POLICY_REQUESTS", 50_000 if quick else 1_000_000))
    scale, seconds = (1, 5) if quick else (10, 20)
    load_before = round(os.getloadavg()[0], 2)
    with fresh_database("postgresql") as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        _populate(url, requests)
        populated = time.perf_counter() - started
        simulation = run_simulation(url)
    pgbench = run_pgbench(scale, clients=8, threads=2, seconds=seconds)
    return {
        "load_average_before": load_before,
        "populate_s (not timed)": round(populated, 1),
        "simulation": simulation,
        "pgbench": pgbench,
    }


if __name__ == "__main__":
    print(json.dumps(bench_policy_sim("--quick" in sys.argv), indent=2, ensure_ascii=False))
