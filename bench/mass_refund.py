"""Mass refund on PostgreSQL: N paid orders of one merchant seeded by bulk SQL, then the whole run
(tickets, timelines, ledger entries, refunds, outbox rows, messages) timed batch by batch.

The target (issue 11): 100,000 orders in under 5 minutes. ``--quick`` runs 2,000.
KAMENG_BENCH_MASS_ORDERS overrides the count. Then ``pgbench`` TPC-B on the same server, as the
other PostgreSQL sections do, for the machine's measure at the time."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from kameng import compose
from kameng.accounts import services as accounts
from kameng.demo import seed_catalog
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine
from kameng.settings import Settings

PG = os.environ.get("KAMENG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin(sql: str) -> None:
    engine = make_engine(PG, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def bench_mass_refund(quick: bool) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    from kameng.operator.mass_refunds import start_run
    from kameng.operator.mass_runner import drive, helpers

    orders = int(os.environ.get("KAMENG_BENCH_MASS_ORDERS", "2000" if quick else "100000"))
    name = f"kameng_bench_{secrets.token_hex(4)}"
    _admin(f'CREATE DATABASE "{name}"')
    url = make_url(PG).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        container = compose.build(Settings(database_url=url, environment="test", secret_key="bench"))
        now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        seed_catalog(container.uow(), now)
        buyer = accounts.sign_up(container.uow(), "13900000001", "bench-password-1", now)
        operator = accounts.sign_up(container.uow(), "ops@kameng.test", "bench-password-1", now, role=Role.OPERATOR)
        started = time.perf_counter()
        with container.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO orders (order_no, user_id, product_id, policy_version_id, status, channel,"
                    " list_price_fen, coupon_fen, coupon_refundable, amount_fen, refunded_fen, bonus_fen, paid_at,"
                    " expires_at, auto_renew, created_at, updated_at)"
                    " SELECT 'B' || lpad(i::text, 13, '0'), :user, p.id, v.id, 'paid', 'alipay', p.price_fen, 0,"
                    " false, p.price_fen, 0, 0, :paid, :paid, false, :paid, :paid"
                    " FROM generate_series(1, :n) AS i, products p"
                    " JOIN policy_versions v ON v.product_id = p.id"
                    " WHERE p.slug = 'annual-card' AND v.id = (SELECT max(id) FROM policy_versions"
                    " WHERE product_id = p.id)"
                ),
                {"user": buyer.id, "paid": now, "n": orders},
            )
        seeded = time.perf_counter() - started
        later = now + timedelta(days=40)
        started = time.perf_counter()
        run = start_run(container.uow(), Viewer(operator.id, Role.OPERATOR), 1, later, container.calendar)
        counted = time.perf_counter() - started
        started = time.perf_counter()
        processes = int(os.environ.get("KAMENG_BENCH_MASS_PROCESSES", "0")) or None
        clock, calendar = (lambda: later), container.calendar
        # Helper processes forked for the run (one per core by default), this one driving it too.
        with helpers(container.engine, container.uow, run.id, clock, calendar, 500, processes) as count:
            result = drive(container.uow, run.id, clock, calendar, 500)
        ran = time.perf_counter() - started
        rows = {}
        with container.engine.connect() as conn:
            for table in (
                "tickets",
                "ticket_timeline",
                "refunds",
                "journal_entries",
                "journal_lines",
                "outbox",
                "messages",
            ):
                rows[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        # What `kameng ledger check` proves: every entry balances, the advances net to zero and the
        # merchant owes the platform the run's paid total.
        from kameng.operator.mass_queries import get_run
        from kameng.platform.ledger import check_books

        books = check_books(container.uow())
        paid_fen = get_run(container.uow(), run.id).paid_fen
        ledger = {
            "balanced": books.ok,
            "entries": books.entries,
            "receivable_equals_paid": books.accounts.get("merchant_receivable:1", 0) == paid_fen,
            "platform_advance_fen": books.accounts.get("platform_advance", 0),
        }
        container.dispose()
        from checkout import run_pgbench

        scale, seconds = (1, 5) if quick else (10, 20)
        pgbench = run_pgbench(scale, clients=8, threads=2, seconds=seconds)
        minutes_for_target = round(100_000 / (orders / ran) / 60, 1) if ran else 0
        return {
            "orders": orders,
            "processes": count,
            "seed_seconds": round(seeded, 2),
            "confirmation_seconds": round(counted, 2),
            "run_seconds": round(ran, 2),
            "orders_per_second": round(orders / ran, 1) if ran else 0,
            "status": result.status.value,
            "rows": rows,
            "ledger": ledger,
            "pgbench": pgbench,
            "minutes_for_100000_at_this_rate": minutes_for_target,
            "targets": {"minutes_for_100000_max": 5, "met": minutes_for_target <= 5},
        }
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
