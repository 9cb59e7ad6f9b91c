"""Checkout throughput end to end through the API, on SQLite and on PostgreSQL, beside pgbench.

For each backend: a fresh database, the real app (``create_app``, migrated and seeded with the
demo catalog as at start-up) served by uvicorn in its own process on 127.0.0.1, and N concurrent
httpx clients, each signed in through ``POST /api/v1/auth/token``. One *order* is the whole
purchase a consumer makes: ``POST /api/v1/orders`` (with an Idempotency-Key) then
``POST /api/v1/payments/simulator/{out_trade_no}/pay``, which signs a notification and settles
the order (payment, journal entry, membership) — two HTTP requests and three transactions.
Afterwards the books are checked and every order must be paid.

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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from kameng.domain.states import OrderStatus
from kameng.orders.models import OrderRow
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.ledger import check_books

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


@contextmanager
def served(database_url: str) -> Iterator[str]:
    """The real app under uvicorn in a subprocess (its own GIL, as in production)."""
    port = _free_port()
    env = {
        **os.environ,
        "KAMENG_ENV": "test",
        "KAMENG_DATABASE_URL": database_url,
        "KAMENG_SECRET_KEY": "bench-secret-" + "x" * 32,
        "KAMENG_EMBEDDED_WORKER": "0",
        "KAMENG_AUTO_PREPARE": "1",
    }
    command = [
        sys.executable, "-m", "uvicorn", "kameng.web.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--workers", str(API_WORKERS),
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped while starting: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.1)
        yield base
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


def _client_loop(base: str, token: str, count: int, latencies: list[float], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    order = {"product": PRODUCT, "channel": "alipay", "duplicate_ack": True}
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
        for _ in range(count):
            start = time.perf_counter()
            placed = client.post("/api/v1/orders", json=order, headers={"Idempotency-Key": uuid.uuid4().hex})
            if placed.status_code != 201:
                errors.append(f"order {placed.status_code}: {placed.text[:200]}")
                continue
            out_trade_no = placed.json()["out_trade_no"]
            paid = client.post(f"/api/v1/payments/simulator/{out_trade_no}/pay")
            if paid.status_code != 200 or paid.json().get("result") != "paid":
                errors.append(f"pay {paid.status_code}: {paid.text[:200]}")
                continue
            latencies.append(time.perf_counter() - start)


def run_checkout(backend: str, orders: int, clients: int) -> dict[str, Any]:
    """``orders`` purchases by ``clients`` concurrent signed-in consumers; orders per second."""
    with fresh_database(backend) as url, served(url) as base:
        tokens = [_sign_in(base, i) for i in range(clients)]
        shares = [orders // clients + (1 if i < orders % clients else 0) for i in range(clients)]
        latencies: list[float] = []
        errors: list[str] = []
        threads = [
            threading.Thread(target=_client_loop, args=(base, token, share, latencies, errors))
            for token, share in zip(tokens, shares, strict=True)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        engine = make_engine(url)
        try:
            uow = UnitOfWork(make_session_factory(engine))
            with uow:
                paid = uow.session.scalar(select(func.count(OrderRow.id)).where(OrderRow.status == OrderStatus.PAID))
            books_ok = check_books(uow).ok
        finally:
            engine.dispose()
    latencies.sort()
    return {
        "orders": orders,
        "clients": clients,
        "succeeded": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "paid_orders_in_db": paid,  # includes the demo data's own paid orders
        "books_balance": books_ok,
        "seconds": round(elapsed, 2),
        "orders_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1) if latencies else None,
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
    orders, clients = (100, 4) if quick else (500, 8)
    scale, seconds = (1, 5) if quick else (10, 20)
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    sqlite = run_checkout("sqlite", orders, clients)
    postgresql = run_checkout("postgresql", orders, clients)
    pgbench = run_pgbench(scale, clients=8, threads=2, seconds=seconds)
    return {
        "product": PRODUCT,
        "server": "uvicorn, 1 process",
        "sqlite": sqlite,
        "postgresql": postgresql,
        "pgbench": pgbench,
        # One checkout is 2 requests and 3 transactions (place, read payment, settle) against
        # pgbench's 1 TPC-B transaction of 5 statements.
        "postgresql_orders_per_pgbench_tps": round(postgresql["orders_per_s"] / pgbench["tps"], 3),
        "sqlite_over_postgresql": round(sqlite["orders_per_s"] / postgresql["orders_per_s"], 2),
        "load_average_1m_before_after": [load_before, round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    print(json.dumps(bench_checkout("--quick" in sys.argv[1:]), indent=2))
