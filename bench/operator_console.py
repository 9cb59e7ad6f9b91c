"""The operator console's reading over a large history on PostgreSQL: search, totals, exports and
reports.

A fresh database with the demo catalog and, written by SQL (not timed), 10,000 consumers,
1,000,000 paid orders over the year before ``NOW`` (200,000 in ``--quick``), and a ticket on one
order in five (decided, a few breached, some refunded). Timed, each a few times (the median):

- the order search's first page with the whole set's totals (no filter; one product and a month;
  a phone number), and the ticket search's;
- the CSV export of one month of orders (rows per second, the bytes streamed and discarded) and
  the Excel export of a week's;
- every report over 30 days and over a year.

    .venv/bin/python bench/run.py --only operator [--quick]
    .venv/bin/python bench/operator_console.py [--quick]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from checkout import fresh_database
from sqlalchemy import func, select, text

from kameng import compose
from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.demo import seed_catalog
from kameng.domain.users import Role
from kameng.operator import exports
from kameng.operator.reports import build_reports, period
from kameng.operator.search import Filters, iter_orders, order_filters, search_orders
from kameng.operator.ticket_search import search_tickets
from kameng.platform.access import Viewer
from kameng.platform.db import migrate
from kameng.settings import Settings

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
USERS = 10_000
OPERATOR = Viewer(1, Role.OPERATOR)


def _populate(url: str, orders: int) -> None:
    container = compose.build(Settings(database_url=url, environment="test", secret_key="bench"))
    try:
        seed_catalog(container.uow(), NOW - timedelta(days=400))
        with container.uow() as uow:
            products = uow.session.execute(
                select(ProductRow.id, func.max(PolicyVersion.id))
                .join(PolicyVersion, PolicyVersion.product_id == ProductRow.id)
                .group_by(ProductRow.id)
            ).all()
        ids = ",".join(str(product) for product, _ in products)
        policies = ",".join(str(policy) for _, policy in products)
        params = {"now": NOW, "n": orders, "users": USERS, "spread": 365 * 86400}
        statements = [
            "INSERT INTO users (phone, email, password_hash, role, display_name, created_at)"
            " SELECT '150' || lpad(i::text, 8, '0'), NULL, 'x', 'consumer', '', :now - interval '400 days'"
            " FROM generate_series(1, :users) AS i",
            f"CREATE TEMP TABLE bench_products AS SELECT * FROM unnest(ARRAY[{ids}], ARRAY[{policies}])"
            " WITH ORDINALITY AS p(product_id, policy_id, k)",
            "INSERT INTO orders (order_no, user_id, product_id, policy_version_id, status, channel, list_price_fen,"
            " coupon_fen, coupon_refundable, amount_fen, refunded_fen, bonus_fen, paid_at, expires_at, auto_renew,"
            " created_at, updated_at)"
            " SELECT lpad(i::text, 14, '0'), (SELECT min(id) FROM users) + i % :users, p.product_id, p.policy_id,"
            " CASE WHEN i % 10 = 0 THEN 'refunded' ELSE 'paid' END, CASE WHEN i % 2 = 0 THEN 'alipay' ELSE 'wechat'"
            " END, 3000 + (i % 7) * 1000, 0, false, 3000 + (i % 7) * 1000,"
            " CASE WHEN i % 10 = 0 THEN 3000 ELSE 0 END, 0, t + interval '1 minute', t + interval '365 days', false,"
            " t, t"
            " FROM (SELECT i, :now - make_interval(secs => ((i::bigint * 7919) % :spread)) AS t"
            "       FROM generate_series(1, :n) AS i) AS g"
            " JOIN bench_products p ON p.k = 1 + i % (SELECT count(*) FROM bench_products)",
            "INSERT INTO tickets (ticket_no, order_id, user_id, reason, description, status, decision, rules, quote,"
            " quoted_fen, approved_fen, approve_reason, priority, breached, decided_at, reject_comment,"
            " timeline_head, timeline_rows, created_at, updated_at)"
            " SELECT 'AS' || lpad(o.id::text, 14, '0'), o.id, o.user_id,"
            " (ARRAY['changed_mind','not_as_described','platform_fault','not_delivered'])[1 + o.id % 4],"
            " '', CASE WHEN o.id % 10 = 0 THEN 'refunded' WHEN o.id % 3 = 0 THEN 'rejected' ELSE 'in_review' END,"
            " (ARRAY['auto_approve','review','reject'])[1 + o.id % 3], 'S4', '{}', o.amount_fen,"
            " CASE WHEN o.id % 10 = 0 THEN 3000 END, '', 1, o.id % 50 = 0,"
            " CASE WHEN o.id % 3 = 0 OR o.id % 10 = 0"
            "  THEN o.created_at + make_interval(mins => (o.id % 2000)::int) END,"
            " '', '', 0, o.created_at + interval '1 hour', o.created_at + interval '1 hour'"
            " FROM orders o WHERE o.id % 5 = 0",
            "ANALYZE",
        ]
        with container.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        container.dispose()


def _median_ms(run: Callable[[], object], times: int = 5) -> float:
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        taken.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(taken), 1)


def bench_operator(quick: bool) -> dict[str, Any]:
    orders = 200_000 if quick else 1_000_000
    with fresh_database("postgresql") as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        _populate(url, orders)
        populated = time.perf_counter() - started
        container = compose.build(Settings(database_url=url, environment="test", secret_key="bench"))
        try:
            uow = container.uow
            month = {"date_from": "2026-01-01", "date_to": "2026-01-31"}
            search: dict[str, Any] = {
                "orders_no_filter_ms": _median_ms(lambda: search_orders(uow(), OPERATOR, Filters())),
                "orders_product_month_ms": _median_ms(
                    lambda: search_orders(uow(), OPERATOR, order_filters(product="monthly-pass", **month))
                ),
                "orders_phone_ms": _median_ms(lambda: search_orders(uow(), OPERATOR, order_filters(q="15000000042"))),
                "tickets_no_filter_ms": _median_ms(lambda: search_tickets(uow(), OPERATOR, Filters())),
            }
            monthly = order_filters(**month)
            started = time.perf_counter()
            rows = 0
            size = 0
            for chunk in exports.csv_stream(
                exports.order_header("zh"), exports.order_rows(iter_orders(uow(), OPERATOR, monthly), "zh")
            ):
                size += len(chunk)
                rows += chunk.count(b"\n")
            csv_seconds = time.perf_counter() - started
            week = order_filters(date_from="2026-01-01", date_to="2026-01-07")
            started = time.perf_counter()
            lines = list(iter_orders(uow(), OPERATOR, week))
            xlsx_size = sum(
                len(chunk)
                for chunk in exports.xlsx_stream("orders", exports.order_header("zh"), exports.order_rows(lines, "zh"))
            )
            xlsx_seconds = time.perf_counter() - started
            reports = {
                "reports_30_days_ms": _median_ms(lambda: build_reports(uow(), OPERATOR, period("", "", NOW)), 3),
                "reports_one_year_ms": _median_ms(
                    lambda: build_reports(uow(), OPERATOR, period("2025-03-03", "2026-03-02", NOW)), 3
                ),
            }
        finally:
            container.dispose()
    return {
        "orders": orders,
        "tickets": orders // 5,
        "populate_s": round(populated, 1),
        "search": search,
        "csv_export": {
            "rows": rows - 1,
            "bytes": size,
            "wall_s": round(csv_seconds, 2),
            "rows_per_s": round((rows - 1) / csv_seconds),
        },
        "xlsx_export": {
            "rows": len(lines),
            "bytes": xlsx_size,
            "wall_s": round(xlsx_seconds, 2),
            "rows_per_s": round(len(lines) / xlsx_seconds),
        },
        "reports": reports,
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_operator("--quick" in sys.argv), indent=2))
