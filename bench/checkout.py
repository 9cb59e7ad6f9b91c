"""Checkout throughput end to end through the API, on SQLite and on PostgreSQL, beside pgbench.

For each backend: a fresh database, the real app (``create_app``, migrated and seeded with the
demo catalog as at start-up) served by uvicorn in its own process(es) on 127.0.0.1, and N
consumers signed in through ``POST /api/v1/auth/token``, whose requests wrk sends (bench/load.py,
one connection per consumer). One *order* is the whole purchase a consumer makes:
``POST /api/v1/orders`` (with an Idempotency-Key) then
``POST /api/v1/payments/simulator/{out_trade_no}/pay``, which signs a notification and settles
the order (payment, journal entry, membership) — two HTTP requests. On PostgreSQL the CPU of the
API processes and of the database's backends, the commits and the rows fetched are read around
the timed orders (bench/costs.py). Afterwards the books are checked and every order must be paid.

Then ``pgbench`` TPC-B on the same PostgreSQL server in the same run (``-i -s 10`` into a fresh
database, ``-c 8 -j 2 -T 20``), so the ratio says how much of the database's raw capacity one
checkout costs.

    .venv/bin/python bench/run.py --only checkout [--quick]
    .venv/bin/python bench/checkout.py [--quick]            # this section alone

``KAMENG_BENCH_PG`` (else ``KAMENG_TEST_PG``, else the local trust-auth server) names the
PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from costs import REWARM_CONNECTIONS, REWARM_PER_CLIENT, CostMeter, per_request, populate, without_autovacuum
from load import Line, run_wrk
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from kameng import compose
from kameng.domain.states import OrderStatus
from kameng.orders.models import OrderRow
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import check_books
from kameng.settings import Settings

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PRODUCT = "monthly-pass"
PASSWORD = "bench-password-2026"
SERVER_START_TIMEOUT = 60.0


def pg_server_url() -> str:
    return os.environ.get("KAMENG_BENCH_PG") or os.environ.get("KAMENG_TEST_PG") or DEFAULT_PG


def _admin(sql: str) -> None:
    engine = make_engine(pg_server_url(), isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new, empty database for one run, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="kameng-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'kameng.db'}"
        return
    name = f"kameng_bench_{secrets.token_hex(5)}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_server_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# API processes behind the one port (production runs several; they share nothing but the database).
API_WORKERS = int(os.environ.get("KAMENG_BENCH_API_WORKERS", "1"))


@dataclass(frozen=True)
class Served:
    base: str
    pid: int


@contextmanager
def served(database_url: str) -> Iterator[str]:
    """The real app under uvicorn in a subprocess (its own GIL, as in production)."""
    with serving(database_url) as server:
        yield server.base


@contextmanager
def serving(database_url: str, workers: int | None = None) -> Iterator[Served]:
    """:func:`served`, telling the server's process id too (to read its CPU time)."""
    port = _free_port()
    env = {
        **os.environ,
        "KAMENG_ENV": "test",
        "KAMENG_DATABASE_URL": database_url,
        "KAMENG_SECRET_KEY": "bench-secret-" + "x" * 32,
        "KAMENG_EMBEDDED_WORKER": "0",
        # Eight clients from one address sign up and ask for refunds hundreds of times a minute:
        # the per-address limits would refuse them. The limits' own cost is not what is measured.
        "KAMENG_RATE_LIMITS_ENABLED": "0",
    }
    # The database is prepared here, once, as `kameng serve` does before it starts its processes:
    # several API processes preparing it at once raced on its CREATE TYPE statements.
    compose.prepare_database(Settings.from_env(env))
    env["KAMENG_AUTO_PREPARE"] = "0"
    command = [
        sys.executable, "-m", "uvicorn", "kameng.web.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--workers", str(workers or API_WORKERS),
    ]  # fmt: skip
    # The server's stderr goes to a file, not a pipe: nobody reads a pipe during the run, and a
    # server that logs errors filled one and then blocked its event loop on the next log line,
    # with wrk's connections waiting for ever (seen with two processes on December 7).
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while True:
                if process.poll() is not None:
                    errors.seek(0)
                    raise RuntimeError(f"the server stopped while starting: {errors.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start in time")
                time.sleep(0.1)
            yield Served(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _sign_in(base: str, index: int) -> str:
    identifier = f"bench{index}-{secrets.token_hex(3)}@kameng.test"
    body = {"identifier": identifier, "password": PASSWORD}
    with httpx.Client(base_url=base, timeout=30.0) as client:
        client.post("/api/v1/auth/signup", json=body).raise_for_status()
        response = client.post("/api/v1/auth/token", json=body)
        response.raise_for_status()
        return str(response.json()["token"])


def run_checkout(backend: str, orders: int, clients: int, api_workers: int = 1) -> dict[str, Any]:
    """``orders`` purchases by ``clients`` signed-in consumers through wrk (one connection each):
    each is the order, then its payment, on the same connection. On PostgreSQL, what they cost
    the API and the database."""
    with fresh_database(backend) as url, serving(url, api_workers) as server:
        base = server.base
        tokens = [_sign_in(base, i) for i in range(clients)]
        order = {"product": PRODUCT, "channel": "alipay", "duplicate_ack": True}

        def purchases(kind: str, count: int) -> list[Line]:
            """``count`` orders, each paid after, consumer after consumer (one per connection)."""
            return [
                Line("POST", "/api/v1/orders", tokens[n % clients], f"bench-{kind}-{n}", order, pay_after=True)
                for n in range(count)
            ]

        lines = purchases("order", orders)
        # as many as the timed part: the ANALYZE before it sees tables of the size it works on
        warm_up = purchases("warm", clients * 3 + orders)
        rewarm = purchases("rewarm", clients * REWARM_PER_CLIENT)
        meter = CostMeter(url, server.pid) if backend == "postgresql" else None
        try:
            if meter is not None:
                populate(url)
            # The first requests of each connection pay for its caches (prepared statements, the
            # server's catalog cache): not what a running service pays per order.
            run_wrk(base, warm_up, clients)
            if meter is not None:
                without_autovacuum(url)
                # Its ANALYZE and ALTER TABLEs emptied those caches again: fill them once more.
                run_wrk(base, rewarm, clients * REWARM_CONNECTIONS)
                idle, before = meter.read(), meter.read()
            load = run_wrk(base, lines, clients)
            costs = per_request(before, meter.read(), orders, idle) if meter is not None else {}
        finally:
            if meter is not None:
                meter.close()
        engine = make_engine(url)
        try:
            uow = UnitOfWork(make_session_factory(engine))
            with uow:
                paid = uow.session.scalar(
                    select(func.count(OrderRow.id)).where(
                        OrderRow.status == OrderStatus.PAID, OrderRow.idempotency_key.like("bench-order-%")
                    )
                )
            books_ok = check_books(uow).ok
        finally:
            engine.dispose()
    seconds = load["seconds"]
    return {
        "api_processes": api_workers,
        "orders": orders,
        "clients": clients,
        "failed": load["failed"],
        "first_failure": load["first_failure"],
        "paid_orders_in_db": paid,
        "books_balance": books_ok,
        "seconds": round(seconds, 2),
        "orders_per_s": round(orders / seconds, 1) if seconds else 0.0,
        # wrk times each HTTP request: an order is two (place, then pay).
        "latency_ms_p50_per_http_request": round(load["p50_us"] / 1000, 1),
        "latency_ms_p99_per_http_request": round(load["p99_us"] / 1000, 1),
        **{key.replace("_per_request", "_per_order"): value for key, value in costs.items()},
        "load_generator_cpu_ms_per_order": round(load["cpu_s"] * 1000 / orders, 3) if orders else None,
    }


def _pg_cli_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def run_pgbench(scale: int, clients: int, threads: int, seconds: int) -> dict[str, Any]:
    """TPC-B (pgbench's default script) into a fresh database on the same server."""
    with fresh_database("postgresql") as url:
        name = make_url(url).database or ""
        args, env = _pg_cli_args(url)
        subprocess.run(["pgbench", *args, "-i", "-q", "-s", str(scale), name], env=env, check=True, capture_output=True)
        done = subprocess.run(
            ["pgbench", *args, "-c", str(clients), "-j", str(threads), "-T", str(seconds), name],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if match is None:
        match = re.search(r"tps = ([\d.]+)", done.stdout)
    if match is None:
        raise RuntimeError(f"no tps in pgbench's output: {done.stdout[-500:]}")
    return {
        "command": f"pgbench -i -s {scale}; pgbench -c {clients} -j {threads} -T {seconds}",
        "tps": round(float(match.group(1)), 1),
    }


def bench_checkout(quick: bool) -> dict[str, Any]:
    orders, clients = (100, 4) if quick else (1000, 8)
    scale, seconds = (1, 5) if quick else (10, 20)
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    sqlite = run_checkout("sqlite", orders, clients)
    postgresql = run_checkout("postgresql", orders, clients)
    postgresql_two = run_checkout("postgresql", orders, clients, api_workers=2)
    pgbench = run_pgbench(scale, clients=8, threads=2, seconds=seconds)
    return {
        "product": PRODUCT,
        "load_generator": "wrk, one connection per client (bench/lua/requests.lua)",
        "sqlite_one_api_process": sqlite,
        "postgresql_one_api_process": postgresql,
        "postgresql_two_api_processes": postgresql_two,
        "pgbench": pgbench,
        # One checkout is 2 requests (place, then pay) against pgbench's 1 TPC-B transaction.
        "orders_per_pgbench_tps_two_processes": round(postgresql_two["orders_per_s"] / pgbench["tps"], 3),
        "targets": {
            "api_cpu_ms_per_order_max": 6,
            "postgresql_cpu_ms_per_order_max": 3,
            "orders_per_pgbench_tps_min": 0.05,
        },
        "load_average_1m_before_after": [load_before, round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    print(json.dumps(bench_checkout("--quick" in sys.argv[1:]), indent=2))
