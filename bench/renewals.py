"""The renewal sweep over 1,000,000 subscriptions on PostgreSQL, and the charges drained after it.

A fresh database with the demo catalog and, written by SQL (not timed), 10,000 consumers and
1,000,000 paid, activated monthly passes with auto-renewal: their renewals spread evenly over 30
days from a day ago, as in steady state. Every renewal within the next 6 days was reminded a week
before it (``reminded_for`` set); those whose reminder is due today were not, and those due in
the past day were reminded but not yet charged. So one sweep does one day's work: about 1/30 of
the subscriptions get their reminder (message, outbox row, ``renewal_notice`` event) and 1/30 get
their charge request (``renewal_charges`` row, outbox row).

Timed, first: ``sweep_renewals`` (``subscriptions/renewals.py``), the worker's step, finding what
is due among the million and recording reminders and charge requests. Its count of each is checked
against SQL. Timed, second, for a fixed time: the outbox drained as the worker drains it (claim,
the simulator's ``RecurringCharges.charge``, apply), reported as renewal charges per second.

    .venv/bin/python bench/run.py --only renewals [--quick]
    .venv/bin/python bench/renewals.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from checkout import fresh_database
from sqlalchemy import func, select, text

from kameng import compose
from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.demo import seed_catalog
from kameng.domain.subscriptions import RenewalChargeStatus
from kameng.platform.db import migrate
from kameng.platform.outbox import OutboxKind, process_outbox
from kameng.settings import Settings
from kameng.subscriptions.models import RenewalChargeRow
from kameng.subscriptions.renewals import RenewalRules, sweep_renewals
from kameng.worker import outbox_handlers

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
USERS = 10_000
PERIOD_DAYS = 30


def _populate(url: str, subscriptions: int) -> None:
    container = compose.build(Settings(database_url=url, environment="test", secret_key="bench"))
    try:
        seed_catalog(container.uow(), NOW - timedelta(days=60))
        with container.uow() as uow:
            product = uow.session.scalar(select(ProductRow).where(ProductRow.slug == "monthly-pass"))
            assert product is not None
            policy_id = uow.session.scalar(
                select(func.max(PolicyVersion.id)).where(PolicyVersion.product_id == product.id)
            )
            product_id = product.id
        params = {
            "now": NOW,
            "n": subscriptions,
            "users": USERS,
            "product": product_id,
            "policy": policy_id,
            "spread": PERIOD_DAYS * 86400,
        }
        statements = [
            "INSERT INTO users (phone, email, password_hash, role, display_name, created_at)"
            " SELECT '150' || lpad(i::text, 8, '0'), NULL, 'x', 'consumer', '', :now - interval '90 days'"
            " FROM generate_series(1, :users) AS i",
            # Each subscription's renewal second: spread over the period from a day ago.
            "CREATE TEMP TABLE bench_subs AS SELECT i, :now - interval '1 day'"
            " + make_interval(secs => ((i::bigint * 7919) % :spread)) AS renews_at"
            " FROM generate_series(1, :n) AS i",
            "INSERT INTO orders (order_no, user_id, product_id, policy_version_id, status, channel, list_price_fen,"
            " coupon_fen, coupon_refundable, amount_fen, refunded_fen, bonus_fen, paid_at, expires_at, auto_renew,"
            " auto_renew_consent_at, created_at, updated_at)"
            " SELECT lpad(i::text, 14, '0'), (SELECT min(id) FROM users) + i % :users, :product, :policy, 'paid',"
            " 'alipay', 3000, 0, false, 3000, 0, 0, renews_at - interval '30 days', renews_at - interval '29 days',"
            " true, renews_at - interval '30 days', renews_at - interval '30 days', renews_at - interval '30 days'"
            " FROM bench_subs",
            # remind_at: the renewal whose reminder is still owed (those beyond the next 6 days).
            "INSERT INTO memberships (order_id, user_id, product_id, status, activated_at, expires_at, auto_renew,"
            " renews_at, remind_at, created_at)"
            " SELECT o.id, o.user_id, o.product_id, 'active', o.paid_at, o.paid_at + interval '30 days', true,"
            " o.paid_at + interval '30 days', CASE WHEN o.paid_at + interval '30 days' > :now + interval '6 days'"
            " THEN o.paid_at + interval '30 days' END, o.paid_at FROM orders o",
            "INSERT INTO subscriptions (sub_no, user_id, order_id, status, price_fen, consent_at, consent_terms,"
            " renewals, reminded_for, reminded_at, created_at, updated_at)"
            " SELECT 'S' || o.order_no, o.user_id, o.id, 'active', 3000, o.created_at, '{}',"
            " 0, CASE WHEN m.renews_at <= :now + interval '6 days' THEN m.renews_at END,"
            " CASE WHEN m.renews_at <= :now + interval '6 days' THEN m.renews_at - interval '7 days' END,"
            " o.created_at, o.created_at"
            " FROM orders o JOIN memberships m ON m.order_id = o.id",
            "ANALYZE",
        ]
        with container.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        container.dispose()


def _expected(url: str) -> tuple[int, int]:
    container = compose.build(Settings(database_url=url, environment="test", secret_key="bench"))
    try:
        with container.engine.connect() as conn:
            due = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE renews_at <= :now),"
                    " count(*) FILTER (WHERE renews_at > :now + interval '6 days'"
                    "  AND renews_at <= :now + interval '7 days')"
                    " FROM memberships"
                ),
                {"now": NOW},
            ).one()
        return int(due[0]), int(due[1])
    finally:
        container.dispose()


def bench_renewals(quick: bool) -> dict[str, Any]:
    subscriptions = 30_000 if quick else 1_000_000
    drain_seconds = 5.0 if quick else 30.0
    with fresh_database("postgresql") as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        _populate(url, subscriptions)
        populated = time.perf_counter() - started
        charges_due, reminders_due = _expected(url)

        container = compose.build(Settings(database_url=url, environment="test", secret_key="bench"))
        try:
            started = time.perf_counter()
            figures = sweep_renewals(container.uow, NOW, RenewalRules(), batch=1000)
            sweep_seconds = time.perf_counter() - started

            handlers = outbox_handlers(container)
            assert OutboxKind.CHARGE_RENEWAL in handlers
            started = time.perf_counter()
            drained = 0
            while time.perf_counter() - started < drain_seconds:
                done = process_outbox(container.uow, NOW + timedelta(seconds=1), handlers, batch=50)
                drained += done
                if done == 0:
                    break
            drain_elapsed = time.perf_counter() - started
            with container.uow() as uow:
                charged = uow.session.scalar(
                    select(func.count(RenewalChargeRow.id)).where(
                        RenewalChargeRow.status == RenewalChargeStatus.SUCCEEDED
                    )
                )
        finally:
            container.dispose()
    ok = figures["renewal_charges"] == charges_due and figures["renewal_reminders"] == reminders_due
    return {
        "subscriptions": subscriptions,
        "populate_s (not timed)": round(populated, 1),
        "sweep": {
            "seconds": round(sweep_seconds, 2),
            "under_120_s": sweep_seconds < 120,
            "reminders_recorded": figures["renewal_reminders"],
            "charge_requests_recorded": figures["renewal_charges"],
            "counts_match_sql": ok,
            "rows_per_second": round((figures["renewal_reminders"] + figures["renewal_charges"]) / sweep_seconds),
        },
        "charges_drained": {
            "seconds": round(drain_elapsed, 1),
            "outbox_rows_done": drained,
            "renewals_charged": charged,
            "charges_per_second": round((charged or 0) / drain_elapsed, 1),
        },
    }


if __name__ == "__main__":
    print(json.dumps(bench_renewals("--quick" in sys.argv), indent=2, ensure_ascii=False))
