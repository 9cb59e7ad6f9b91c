"""What one request costs the machine: CPU of the API processes, CPU of PostgreSQL, commits and
rows, read before and after the timed requests.

Throughput on a shared 2-core machine drifts from run to run with whatever else runs; the CPU time
a request takes does not (much). So the benchmarks report both, and the targets are set on the
CPU time (issue "the write path at a fraction of today's cost", docs/performance.md).

- API CPU: user + system time of the uvicorn process and its children (``--workers N`` forks
  them), from ``/proc/<pid>/stat`` (fields 14 and 15, in clock ticks).
- PostgreSQL CPU: the same summed over the backends connected to the benchmark's database
  (``pg_stat_activity``), so that other databases on a shared server are not counted; the WAL
  writer and checkpointer, shared by every database, are left out too.
- Commits and rows fetched: ``pg_stat_database`` for the benchmark's own database
  (``xact_commit``, ``tup_fetched``), read through a separate connection after
  ``pg_stat_clear_snapshot()`` (the statistics are flushed by the backends at the end of each
  transaction, within ~1 s: the reader waits for them to settle).
- The load generator's own CPU: the same for its process (wrk, or this Python process).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from kameng.platform.db.database import make_engine

TICKS = os.sysconf("SC_CLK_TCK")
# Requests per client sent after :func:`without_autovacuum`, before the timed part: enough for every
# pooled connection the load reaches to plan (and psycopg to prepare, after 5 uses) its statements.
REWARM_PER_CLIENT = 20
# The rewarm runs with this many times the timed part's connections. wrk's connections are shared
# among the API processes as the kernel hands them out, afresh at each run: with two processes, one
# could get more of the timed part's connections than it had in the warm-up, and open database
# connections of its own during the timed part (new backends: catalogs read, statements planned
# again). Twice as many in the rewarm leaves each process's pool as many warm connections as the
# timed part can ask of it. The meter counts the connections opened in the timed part
# (``new_database_connections``).
REWARM_CONNECTIONS = 2
PGSTAT_IDLE_INTERVAL_S = 11.0


def _cpu_of(pid: int) -> float:
    """Seconds of CPU (user + system) a process has used, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ")" of the command name, field 3 of stat is index 0: utime is field 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / TICKS


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            found.extend(int(c) for c in children)
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


@dataclass
class Reading:
    api_cpu_s: float
    # CPU seconds so far of each PostgreSQL backend serving the benchmark's database.
    pg_backends_cpu_s: dict[int, float]
    commits: int
    rows_fetched: int
    at: float
    # Per table (user tables and catalogs alike): rows fetched by index scans, rows read by
    # sequential scans. Where the rows fetched come from, and the scans they do not count.
    by_table: dict[str, tuple[int, int]] = field(default_factory=dict)


class CostMeter:
    """Reads the counters before and after; the difference divided by the requests is the cost.

    The API's process tree is read at both ends (the workers of ``uvicorn --workers`` live as long
    as the server), PostgreSQL's processes likewise; a backend that exits between the readings takes
    its CPU with it, which the benchmarks avoid by keeping their connection pools open.
    """

    def __init__(self, database_url: str, api_pid: int) -> None:
        self.database = make_url(database_url).database or ""
        self.api_pid = api_pid
        # No pre-ping: the ping is a transaction of its own, which pg_stat_database would count.
        self.engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
        self._pg_cpu_seen: dict[int, float] = {}

    def close(self) -> None:
        self.engine.dispose()

    def _db_counters(self) -> tuple[int, int, dict[str, tuple[int, int]]]:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = conn.execute(
                text("SELECT xact_commit, tup_fetched FROM pg_stat_database WHERE datname = :name"),
                {"name": self.database},
            ).one()
            tables = conn.execute(
                text(
                    "SELECT relname, coalesce(idx_tup_fetch, 0), coalesce(seq_tup_read, 0)"
                    " FROM pg_stat_all_tables WHERE schemaname NOT LIKE 'pg_toast%'"
                )
            ).all()
            conn.rollback()
        by_table: dict[str, tuple[int, int]] = {}
        for name, fetched, scanned in tables:  # a catalog's name may repeat across schemas: add up
            was = by_table.get(name, (0, 0))
            by_table[name] = (was[0] + int(fetched), was[1] + int(scanned))
        return int(row[0]), int(row[1]), by_table

    def _backends(self) -> list[int]:
        """The server processes serving the benchmark's database, but the meter's own: other
        databases on the same server (tests run beside the benchmark on a shared machine) and
        the server's background processes are not counted."""
        with self.engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                ),
                {"name": self.database},
            ).scalars()
            found = [int(pid) for pid in pids]
            conn.rollback()
        return found

    def read(self) -> Reading:
        # A backend sends its statistics at the end of a transaction at most once a second, and an
        # idle one 10 s later (PostgreSQL 15: PGSTAT_MIN_INTERVAL, PGSTAT_IDLE_INTERVAL): wait
        # that long so that nothing of the requests before the reading is still in flight.
        time.sleep(PGSTAT_IDLE_INTERVAL_S)
        commits, rows, by_table = self._db_counters()
        return Reading(
            api_cpu_s=sum(_cpu_of(p) for p in process_tree(self.api_pid)),
            pg_backends_cpu_s={pid: _cpu_of(pid) for pid in self._backends()},
            commits=commits,
            rows_fetched=rows,
            at=time.perf_counter(),
            by_table=by_table,
        )


def _backends_cpu(before: Reading, after: Reading) -> float:
    # A backend that connected in between started from zero; one that left took its time with it
    # (the API's pools keep theirs open for the whole run).
    return sum(cpu - before.pg_backends_cpu_s.get(pid, 0.0) for pid, cpu in after.pg_backends_cpu_s.items())


def _by_table(before: Reading, after: Reading, idle: Reading | None, requests: int, column: int) -> str:
    """The tables that account for most of one counter, per request, largest first ("tickets 2.0,
    users 1.0"), net of what the idle window counted."""
    shares: dict[str, float] = {}
    for name, counts in after.by_table.items():
        was = before.by_table.get(name, (0, 0))[column]
        meter = 0
        if idle is not None:
            meter = was - idle.by_table.get(name, (0, 0))[column]
        net = (counts[column] - was - meter) / requests
        if net >= 0.05:
            shares[name] = net
    top = sorted(shares.items(), key=lambda item: -item[1])[:8]
    return ", ".join(f"{name} {value:.1f}" for name, value in top) or "none"


def per_request(before: Reading, after: Reading, requests: int, idle: Reading | None = None) -> dict[str, float | str]:
    """Costs per request. ``idle`` is a reading taken one window before ``before`` with nothing
    sent: what the database counted in that window (the meter's own reads, a late statistics
    report) is taken off the requests' figures."""
    if requests <= 0:
        return {}
    idle_commits = before.commits - idle.commits if idle else 0
    idle_rows = before.rows_fetched - idle.rows_fetched if idle else 0
    return {
        "api_cpu_ms_per_request": round((after.api_cpu_s - before.api_cpu_s) * 1000 / requests, 2),
        "postgresql_cpu_ms_per_request": round(_backends_cpu(before, after) * 1000 / requests, 2),
        "commits_per_request": round((after.commits - before.commits - idle_commits) / requests, 2),
        "rows_fetched_per_request": round((after.rows_fetched - before.rows_fetched - idle_rows) / requests, 1),
        "rows_fetched_by_table": _by_table(before, after, idle, requests, 0),
        "rows_read_by_sequential_scans_by_table": _by_table(before, after, idle, requests, 1),
        "new_database_connections": len(set(after.pg_backends_cpu_s) - set(before.pg_backends_cpu_s)),
    }


def without_autovacuum(database_url: str) -> None:
    """Analyze the benchmark database's tables, then turn autovacuum off for them: an autovacuum
    or autoanalyze worker that wakes during the timed requests commits and fetches catalog rows of
    its own, which ``pg_stat_database`` would count as the requests'. (Production keeps it on, of
    course.) The ANALYZE gives the planner the statistics a live database has: without them it
    guesses, and may walk a consumer's every order by the user_id index to find one by number."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    try:
        with engine.begin() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
            for table in tables:
                conn.execute(text(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)'))
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


# Consumers who are not in the run: a users table of the size a live platform has, with as many
# API sessions. On the nine rows the run itself signs up, the planner scans the tables whole
# (a bearer token's look-up, every foreign-key check on `users`), and PostgreSQL counts those
# rows as read by sequential scans, not as rows fetched, so the figure flattered the request.
POPULATION = 100_000


def populate(database_url: str, users: int = POPULATION) -> None:
    """Add ``users`` consumers, each with one API session, before the warm-up and the ANALYZE of
    :func:`without_autovacuum`, so that the timed part's plans are those of a real-sized table."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (email, password_hash, role, display_name, created_at) "
                    "SELECT 'population' || n || '@kameng.test', 'not-a-hash', 'consumer', '', now() "
                    "FROM generate_series(1, :users) AS n"
                ),
                {"users": users},
            )
            conn.execute(
                text(
                    "INSERT INTO auth_sessions (user_id, kind, secret_hash, user_agent, address, "
                    "created_at, last_seen_at, expires_at) "
                    "SELECT id, 'api', md5(email) || md5(email || '.'), '', '', now(), now(), "
                    "now() + interval '30 days' FROM users WHERE email LIKE 'population%'"
                )
            )
    finally:
        engine.dispose()
