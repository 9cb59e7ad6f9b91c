"""kameng's benchmarks: `make bench` (that is, `.venv/bin/python bench/run.py`).

Prints a table of figures per section and writes them all as JSON to var/bench/latest.json.
A section is a named function ``(quick: bool) -> dict`` in :data:`BENCHMARKS`; its dict holds
figures (numbers, text, booleans), nested dicts (printed as sub-sections) and lists of dicts
(printed as tables). To add one (checkout, refund requests against SQLite or PostgreSQL, …),
write the function in its own bench/ module and append a :class:`Benchmark` below.

    bench/run.py [--only NAME[,NAME…]] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import bench_engine, bench_simulate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "var" / "bench" / "latest.json"


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: Callable[[bool], dict[str, Any]]


def lazy(module: str, function: str) -> Callable[[bool], dict[str, Any]]:
    """A section whose module is imported only when it runs (keeps `--only engine` light)."""

    def run(quick: bool) -> dict[str, Any]:
        bench: Callable[[bool], dict[str, Any]] = getattr(importlib.import_module(module), function)
        return bench(quick)

    return run


BENCHMARKS: list[Benchmark] = [
    Benchmark("engine", "Refund engine, in process, one core", bench_engine),
    Benchmark("simulate", "`kameng simulate` on generated YAML files (subprocess)", bench_simulate),
    Benchmark(
        "checkout",
        "Checkout through the API on SQLite and PostgreSQL, beside pgbench",
        lazy("checkout", "bench_checkout"),
    ),
    Benchmark(
        "mass_refund",
        "Mass refund of a gone merchant's orders on PostgreSQL (target: 100,000 in under 5 minutes)",
        lazy("mass_refund", "bench_mass_refund"),
    ),
    Benchmark(
        "refunds",
        "Refund requests through the API on PostgreSQL, beside pgbench",
        lazy("refunds", "bench_refunds"),
    ),
    Benchmark(
        "step_cpu",
        "The refund request's step in process on PostgreSQL: Python CPU by thread time, without HTTP",
        lazy("step_cpu", "bench_step_cpu"),
    ),
    Benchmark(
        "renewals",
        "The renewal sweep over 1,000,000 subscriptions on PostgreSQL, then charges drained from the outbox",
        lazy("renewals", "bench_renewals"),
    ),
    Benchmark(
        "operator",
        "The operator console over 1,000,000 orders on PostgreSQL: search and totals, exports, reports",
        lazy("operator_console", "bench_operator"),
    ),
    Benchmark(
        "card_keys",
        "Card-key imports (20,000 keys: preview, commit, a duplicate refused) and the key ring's rotation",
        lazy("card_keys", "bench_card_keys"),
    ),
    Benchmark(
        "policy_sim",
        "The policy simulation over 1,000,000 refund requests read from PostgreSQL, beside pgbench",
        lazy("policy_sim", "bench_policy_sim"),
    ),
    Benchmark(
        "notices",
        "Channel notifications: de-duplication in the database (SQLite, PostgreSQL) beside WeChat's verification",
        lazy("notices", "bench_notices"),
    ),
]


def python_loop_seconds() -> float:
    """CPU seconds of a pure-Python loop of 5 million additions, the best of three: how fast this
    machine runs Python today. Machines of the same kind, and one machine from one hour to the
    next, differed by up to 2.3 times (docs/performance.md); the milliseconds of two runs compare
    only as far as this figure does."""
    best = float("inf")
    for _ in range(3):
        started, total = time.process_time(), 0
        for number in range(5_000_000):
            total += number
        best = min(best, time.process_time() - started)
    return round(best, 3)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python_loop_s": python_loop_seconds(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "commit": commit or None,
    }


# --------------------------------------------------------------------------------------------
# The readable table


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_show(v) for v in value) or "none"
    if value is None:
        return "-"
    return str(value)


def _label(key: str) -> str:
    """``quotes_per_s`` → ``quotes /s``, ``wall_s`` → ``wall (s)``, ``us_per_quote`` → ``µs per quote``."""
    if key.endswith("_per_s"):
        key = key[: -len("_per_s")] + " /s"
    elif key.endswith("_s"):
        key = key[: -len("_s")] + " (s)"
    if key.startswith("us_"):
        key = "µs" + key[2:]
    return key.replace("_", " ")


def _table(rows: list[dict[str, Any]], indent: str) -> list[str]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_label(c) for c in columns]] + [[_show(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        parts = [r[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(r[1:], widths[1:], strict=True)]
        lines.append(indent + "  ".join(parts))
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return lines


def render(figures: dict[str, Any], indent: str = "  ") -> list[str]:
    scalars = {k: v for k, v in figures.items() if not isinstance(v, dict) and not _is_rows(v)}
    lines = []
    if scalars:
        width = max(len(_label(k)) for k in scalars)
        lines += [f"{indent}{_label(k).ljust(width)}  {_show(v)}" for k, v in scalars.items()]
    for key, value in figures.items():
        if isinstance(value, dict):
            lines += ["", f"{indent}{_label(key)}", *render(value, indent + "  ")]
        elif _is_rows(value):
            lines += ["", f"{indent}{_label(key)}", *_table(value, indent + "  ")]
    return lines


def _is_rows(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


# --------------------------------------------------------------------------------------------


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(description="kameng benchmarks (docs/performance.md)")
    parser.add_argument("--only", help=f"comma-separated sections to run, of: {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs (a smoke test)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the figures")
    args = parser.parse_args(argv)
    chosen = names if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r} (expected one of: {', '.join(names)})")

    info = machine()
    print(
        f"kameng benchmarks{' (quick)' if args.quick else ''}: {info['cpu']}, {info['nproc']} CPUs,"
        f" {info['implementation']} {info['python']}, commit {info['commit']},"
        f" a Python loop of 5 million additions in {info['python_loop_s']} s"
    )
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "machine": info,
        "sections": {},
    }
    for bench in BENCHMARKS:
        if bench.name not in chosen:
            continue
        print(f"\n== {bench.name}: {bench.title}", flush=True)
        start, load_before = time.perf_counter(), _load()
        figures = bench.run(args.quick)
        figures["section_seconds"] = round(time.perf_counter() - start, 1)
        # Other work on the machine skews every figure; the load average says how much there was.
        figures["load_average_before_after"] = [load_before, _load()]
        report["sections"][bench.name] = figures
        print("\n".join(render(figures)), flush=True)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
