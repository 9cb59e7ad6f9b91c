"""Benchmarks of the refund engine: in process (quotes per second) and through `kameng simulate`.

Each ``bench_*`` function takes ``quick`` and returns a dict of figures (see bench/run.py);
nothing here prints. The scenarios come from bench/gen_scenarios.py, seeded, so two runs on the
same machine quote the same 10,000 stories.
"""

from __future__ import annotations

import gc
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from gen_scenarios import DEFAULT_SEED, RULE_IDS, Scenario, generate, sanity_check, write_yaml

from kameng.domain.calendar import WorkCalendar
from kameng.domain.refund import Quote, quote_refund
from kameng.domain.scenario import Scenario as Parsed
from kameng.domain.scenario import parse_scenario
from kameng.platform.documents import load_document, load_json
from kameng.scenarios.services import expand_paths

ENGINE_TARGET_QUOTES_PER_S = 50_000
SANITY_COUNT = 10_000
# What `kameng simulate` itself needs to import (and the calendar data it loads), for comparison
# with importing the whole CLI module.
SIMULATE_IMPORTS = (
    "import typer, kameng.settings, kameng.services.simulation, kameng.services.calendars;"
    " from kameng.domain.calendar import published_schedule; published_schedule()"
)

# What one quote_refund call needs besides the calendar, unpacked once outside the timed loop.
QuoteArgs = tuple[Any, Any, Any, Any, Any, Any]


@contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this process to one CPU while timing (less migration noise); restore afterwards."""
    if not hasattr(os, "sched_getaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = max(before)  # the last CPU: usually the one the rest of the system leaves alone
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def best_of(repeats: int, run: Callable[[], object]) -> list[float]:
    """Wall seconds of ``repeats`` runs; garbage collected before each, left on during it."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def rate(count: int, times: Sequence[float]) -> dict[str, Any]:
    best = min(times)
    return {
        "per_s": round(count / best),
        "median_per_s": round(count / statistics.median(times)),
        "best_run_s": round(best, 4),
        "us_per_item": round(best / count * 1e6, 2),
    }


def _args(parsed: Parsed) -> QuoteArgs:
    return (
        parsed.product,
        parsed.policy,
        parsed.order,
        parsed.events,
        parsed.request,
        parsed.timezone,
    )


def _quote_all(args: Sequence[QuoteArgs], calendar: WorkCalendar) -> None:
    for product, policy, order, events, request, tz in args:
        quote_refund(product, policy, order, events, request, calendar, tz)


def _parse_and_quote_all(scenarios: Sequence[Scenario], calendar: WorkCalendar) -> None:
    for data in scenarios:
        s = parse_scenario(data)
        quote_refund(s.product, s.policy, s.order, s.events, s.request, calendar, s.timezone)


def _answer_all(scenarios: Sequence[Scenario], calendar: WorkCalendar) -> None:
    # What the CLI does per file once the YAML is decoded: parse, quote, answer dict, JSON line.
    for data in scenarios:
        s = parse_scenario(data)
        quote = quote_refund(s.product, s.policy, s.order, s.events, s.request, calendar, s.timezone)
        json.dumps({"name": s.name, **quote.to_dict()}, ensure_ascii=False)


def bench_engine(quick: bool) -> dict[str, Any]:
    """Quotes per second on one core over a mix of every rule, and parse+quote per second."""
    count = 2_000 if quick else 10_000
    repeats = 3 if quick else 7
    sanity = sanity_check(generate(SANITY_COUNT, DEFAULT_SEED))
    scenarios = generate(count, DEFAULT_SEED)
    parsed = [parse_scenario(data) for data in scenarios]
    args = [_args(p) for p in parsed]
    calendar = WorkCalendar()
    # The rule each scenario reaches (the sanity check made sure it is the one aimed at).
    by_rule: dict[str, list[QuoteArgs]] = defaultdict(list)
    for a in args:
        by_rule[quote_refund(*a[:5], calendar, a[5]).rules[0]].append(a)  # also warms the calendar

    with one_core() as cpu:
        quote_times = best_of(repeats, lambda: _quote_all(args, calendar))
        parse_times = best_of(repeats, lambda: _parse_and_quote_all(scenarios, calendar))
        answer_times = best_of(repeats, lambda: _answer_all(scenarios, calendar))
        per_rule = []
        for rule in RULE_IDS:
            group = by_rule.get(rule, [])
            if not group:
                continue
            times = best_of(repeats, partial(_quote_all, group, calendar))
            per_rule.append(
                {
                    "rule": rule,
                    "scenarios": len(group),
                    "share_percent": round(100 * len(group) / count, 1),
                    "quotes_per_s": round(len(group) / min(times)),
                    "us_per_quote": round(min(times) / len(group) * 1e6, 2),
                }
            )

    quotes = rate(count, quote_times)
    return {
        "scenarios": count,
        "runs": repeats,
        "pinned_cpu": cpu,
        "quote": {
            "quotes_per_s": quotes["per_s"],
            "median_quotes_per_s": quotes["median_per_s"],
            "us_per_quote": quotes["us_per_item"],
            "target_quotes_per_s": ENGINE_TARGET_QUOTES_PER_S,
            "meets_target": quotes["per_s"] >= ENGINE_TARGET_QUOTES_PER_S,
            "runs_s": [round(t, 4) for t in quote_times],
        },
        "parse_and_quote": _renamed(rate(count, parse_times), "scenarios"),
        "parse_quote_and_json_answer": _renamed(rate(count, answer_times), "scenarios"),
        "per_rule": per_rule,
        "generator_check": sanity.as_dict(),
    }


def _renamed(figures: dict[str, Any], noun: str) -> dict[str, Any]:
    return {
        f"{noun}_per_s": figures["per_s"],
        f"median_{noun}_per_s": figures["median_per_s"],
        "us_per_scenario": figures["us_per_item"],
    }


# --------------------------------------------------------------------------------------------
# The real CLI


def kameng_command() -> list[str]:
    """The installed ``kameng`` entry point beside this interpreter (the venv's), else PATH's."""
    beside = Path(sys.executable).parent / "kameng"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("kameng")
    if found:
        return [found]
    return [sys.executable, "-m", "kameng.cli.main"]


def run_cli(args: Sequence[str]) -> dict[str, Any]:
    """Run the CLI once, stdout to /dev/null; wall and CPU seconds, exit status, stderr tail."""
    return _run([*kameng_command(), *args])


def run_python(args: Sequence[str]) -> dict[str, Any]:
    return _run([sys.executable, *args])


def _run(command: Sequence[str]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "exit": done.returncode, "stderr": done.stderr.strip()}


def bench_simulate(quick: bool) -> dict[str, Any]:
    """`kameng simulate FOLDER` (and `--check`) on generated YAML files, as a subprocess."""
    count = 1_000 if quick else 10_000
    repeats = 1 if quick else 2
    scenarios = generate(count, DEFAULT_SEED)
    with tempfile.TemporaryDirectory(prefix="kameng-bench-") as tmp:
        folder = Path(tmp) / "scenarios"
        start = time.perf_counter()
        paths = write_yaml(scenarios, folder)
        write_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in paths)
        # The fixed cost of one run: interpreter, imports, calendar data, one file.
        startup = min((run_cli(["simulate", str(paths[0])]) for _ in range(3)), key=lambda r: r["wall_s"])
        imports = min((run_python(["-c", "import kameng.cli.main"]) for _ in range(3)), key=lambda r: r["wall_s"])
        needed = min((run_python(["-c", SIMULATE_IMPORTS]) for _ in range(3)), key=lambda r: r["wall_s"])
        plain = min((run_cli(["simulate", str(folder)]) for _ in range(repeats)), key=lambda r: r["wall_s"])
        check = min(
            (run_cli(["simulate", "--check", str(folder)]) for _ in range(repeats)),
            key=lambda r: r["wall_s"],
        )
        stages = stage_breakdown(folder, 1 if quick else 3)

    def figures(run: dict[str, Any]) -> dict[str, Any]:
        marginal = run["wall_s"] - startup["wall_s"]
        return {
            "wall_s": round(run["wall_s"], 3),
            "cpu_s": round(run["cpu_s"], 3),
            "files_per_s": round(count / run["wall_s"]),
            "marginal_files_per_s": round((count - 1) / marginal) if marginal > 0 else None,
            "exit_status": run["exit"],
        }

    passed = re.search(r"(\d+) passed, (\d+) failed", check["stderr"])
    return {
        "files": count,
        "runs": repeats,
        "yaml_bytes": size,
        "write_files_s": round(write_s, 3),
        "command": " ".join(["kameng", "simulate", "[--check]", "<folder>", ">", "/dev/null"]),
        "startup_one_file_s": round(startup["wall_s"], 3),
        "import_cli_module_s": round(imports["wall_s"], 3),
        "import_simulate_needs_only_s": round(needed["wall_s"], 3),
        "simulate": figures(plain),
        "simulate_check": {
            **figures(check),
            "passed": int(passed.group(1)) if passed else None,
            "failed": int(passed.group(2)) if passed else None,
        },
        "errors": [
            line
            for line in (plain["stderr"] + "\n" + check["stderr"]).splitlines()
            if line.startswith(("ERROR", "FAIL", "error"))
        ][:10],
        "per_file_in_process": stages,
    }


def stage_breakdown(folder: Path, repeats: int) -> list[dict[str, Any]]:
    """Where a file's time goes, stage by stage, in this process (best of ``repeats``).

    The same stages `kameng simulate` runs per file; JSON decoding of the same data is shown
    beside YAML for comparison (it is not a stage of this run).
    """
    calendar = WorkCalendar()
    paths = list(expand_paths([folder]))
    texts = [p.read_text(encoding="utf-8") for p in paths]
    data = [load_document(t, str(p)) for t, p in zip(texts, paths, strict=True)]
    parsed = [parse_scenario(d) for d in data]
    args = [_args(s) for s in parsed]
    quotes = [quote_refund(*a[:5], calendar, a[5]) for a in args]
    json_texts = [json.dumps(d, default=str) for d in data]
    stages: list[tuple[str, Callable[[], object]]] = [
        ("list and sort the folder", lambda: list(expand_paths([folder]))),
        ("read the file", lambda: [p.read_text(encoding="utf-8") for p in paths]),
        ("decode YAML", lambda: [load_document(t, str(p)) for t, p in zip(texts, paths, strict=True)]),
        ("parse_scenario", lambda: [parse_scenario(d) for d in data]),
        ("quote_refund", lambda: _quote_all(args, calendar)),
        ("answer: to_dict + json.dumps", lambda: [_answer_line(q) for q in quotes]),
        ("(for comparison) decode the same as JSON", lambda: [load_json(t) for t in json_texts]),
    ]
    count = len(paths)
    rows = [(name, min(best_of(repeats, run)) / count * 1e6) for name, run in stages]
    total = sum(us for name, us in rows if not name.startswith("("))
    return [
        {
            "stage": name,
            "us_per_file": round(us, 1),
            "share_percent": None if name.startswith("(") else round(100 * us / total, 1),
        }
        for name, us in rows
    ] + [{"stage": "total of the stages", "us_per_file": round(total, 1), "share_percent": 100.0}]


def _answer_line(quote: Quote) -> str:
    return json.dumps({"name": "", **quote.to_dict()}, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Profiling, for whoever tunes the engine: `.venv/bin/python bench/engine.py --profile quote`


def profile(what: str, count: int, top: int) -> str:
    """cProfile of one pass (after a warm-up) over ``count`` generated scenarios.

    ``quote``: quote_refund on parsed scenarios; ``parse``: parse_scenario + quote_refund on
    dicts; ``cli``: what `kameng simulate` does per file in process (read, YAML, parse, quote,
    answer), over files written to a temporary folder.
    """
    import cProfile
    import io
    import pstats

    from kameng.scenarios.services import simulate_paths

    scenarios = generate(count, DEFAULT_SEED)
    calendar = WorkCalendar()
    args = [_args(parse_scenario(data)) for data in scenarios]
    _quote_all(args, calendar)
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="kameng-profile-") as tmp:
        folder = Path(tmp)
        if what == "cli":
            write_yaml(scenarios, folder)
        profiler.enable()
        if what == "quote":
            _quote_all(args, calendar)
        elif what == "parse":
            _parse_and_quote_all(scenarios, calendar)
        else:
            for result in simulate_paths([folder], calendar):
                json.dumps(result.answer, ensure_ascii=False)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue().replace(str(Path(sys.prefix)) + "/lib/", "").replace(str(Path.cwd()) + "/", "")


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Profile the refund engine with cProfile.")
    parser.add_argument("--profile", choices=("quote", "parse", "cli"), default="quote")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(profile(args.profile, args.count, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
