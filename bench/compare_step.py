"""Did a change make the refund request's step cheaper? The step of two versions of ``src``,
measured side by side in alternating chunks.

On the shared 2-core machine the same code's step, measured by ``step_cpu`` a minute apart, read
anywhere from 2.4 to 5.9 ms: the machine's speed drifts by more than most changes are worth, in
phases of seconds to minutes. Two runs one after the other therefore compare the machine's phases
as much as the code. Here both versions run at once, each in its own process with its own fresh
database (set up as ``step_cpu`` does: consumers signed in, paid monthly passes), and take turns:
one chunk of requests for the base, one for the working tree, and so on (the order swapped every
round). Each chunk pair meets the same phase of the machine, and the ratio of their medians
cancels it. The figure is the median of those ratios, with its spread.

    .venv/bin/python bench/compare_step.py BASE_COMMIT [--requests 600] [--chunk 20] [--app | --checkout]

With ``--app`` each request goes through the whole ASGI app, called in process as ``step_cpu``'s
app part calls it (middleware, the direct way, the thread hop, the answer; no socket), and the
figure is the process's CPU time instead of the step's thread time: for a change outside the step.
With ``--checkout`` a request is one order as the checkout section's is, placed and paid by the
services its two API routes call: the thread time of both steps.

BASE_COMMIT's ``src`` is taken with ``git archive`` into a temporary folder and put first on the
base process's ``PYTHONPATH``; the working tree's is copied beside it for the other process, so
that both import their code alike (run from the installed tree instead, the same code read 0.94 to
0.98 against itself: a lean toward the working tree that a change's ratio cannot be told from).
A ratio below 1 means the working tree's step costs less thread time than the base's.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def _serve(run_one: Callable[[], object]) -> None:
    """Say ready, then run ``run_one`` as many times as each line of stdin asks for and print the
    thread time of each run (the protocol of :func:`_chunk`)."""
    print("ready", flush=True)
    for line in sys.stdin:
        spent = []
        for _ in range(int(line)):
            started = time.thread_time()
            run_one()
            spent.append(time.thread_time() - started)
        print(" ".join(f"{value:.7f}" for value in spent), flush=True)


def _worker(requests: int) -> None:
    """One side: set up, warm up, then serve refund requests (:func:`_serve`)."""
    from step_cpu import BODY, WARM_UP, orders_to_refund

    from kameng.aftersales.api import _submit_for_token

    with orders_to_refund(WARM_UP + requests) as (container, orders):
        left = iter(orders)

        def ask() -> object:
            token, order_no = next(left)
            return _submit_for_token(container, token, order_no, BODY, uuid.uuid4().hex)

        for _ in range(WARM_UP):
            ask()
        _serve(ask)


def _checkout_worker(requests: int) -> None:
    """:func:`_worker` for checkout: each request is one order as the checkout section's is,
    placed and paid by the services its two API routes call (both steps' thread time)."""
    from step_cpu import WARM_UP, check_out, consumers, demo_shop

    with demo_shop() as container:
        buyers = itertools.cycle([token for _, token in consumers(container)])

        def buy() -> object:
            return check_out(container, next(buyers))

        for _ in range(WARM_UP):
            buy()
        _serve(buy)


def _app_worker(requests: int) -> None:
    """:func:`_worker` through the whole app, called in process as ``step_cpu``'s app part does:
    the middleware, the direct way, the thread hop and the answer, besides the step."""
    import asyncio

    from step_cpu import WARM_UP, app_with_orders, through_app

    async def serve(app: object, orders: list[tuple[str, str]]) -> None:
        for token, order_no in orders[:WARM_UP]:
            await through_app(app, token, order_no)
        left = iter(orders[WARM_UP:])
        print("ready", flush=True)
        lines = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
        while line := await lines.readline():
            spent = [await through_app(app, *next(left)) for _ in range(int(line))]
            print(" ".join(f"{value:.7f}" for value in spent), flush=True)

    with app_with_orders(WARM_UP + requests) as (app, orders):
        asyncio.run(serve(app, orders))


def _start(requests: int, src: Path | None, what: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    side = subprocess.Popen(
        [sys.executable, __file__, "--worker", "--requests", str(requests), *what],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert side.stdout is not None
    if side.stdout.readline().strip() != "ready":
        raise SystemExit("a side did not start: see its error above")
    return side


def _chunk(side: subprocess.Popen[str], size: int) -> list[float]:
    stdin: IO[str] | None = side.stdin
    stdout: IO[str] | None = side.stdout
    assert stdin is not None
    assert stdout is not None
    stdin.write(f"{size}\n")
    stdin.flush()
    return [float(value) for value in stdout.readline().split()]


def _src_of(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _copy_of_src(into: Path) -> Path:
    """The working tree's src, as it is now, without compiled files (the base's has none)."""
    ignored = shutil.ignore_patterns("__pycache__", "*.egg-info")
    return Path(shutil.copytree(ROOT / "src", into / "src", ignore=ignored))


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {ordered[len(ordered) // 2] * 1000:.3f} ms, mean {statistics.mean(ordered) * 1000:.3f} ms"


def compare(commit: str, requests: int, chunk: int, what: list[str]) -> None:
    """``what``: the worker's flags, which say what one request is (``--app``, ``--checkout``).

    Of two processes started one after the other, the first ran about 4 % slower than the second
    through a whole run, whatever code it ran (the same code against itself read 0.94 to 0.98 with
    the base started first, 1.03 to 1.04 with the working tree started first). So the run is two
    halves, each with its own pair of processes, the base started first in one and the working tree
    in the other, and the figure is the geometric mean of the two halves' medians."""
    half = requests // 2
    spent: dict[str, list[float]] = {"base": [], "tree": []}
    medians = []
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="compare-step-") as folder:
        base_src = _src_of(commit, Path(folder) / "base")
        # The working tree's src is copied beside the base's, so that both sides import their code
        # the same way (a fresh folder first on PYTHONPATH, its modules compiled at start-up).
        tree_src = _copy_of_src(Path(folder) / "tree")
        for first in ("base", "tree"):
            half_ratios = _half(half, chunk, what, {"base": base_src, "tree": tree_src}, first, spent)
            medians.append(statistics.median(half_ratios))
            ratios.extend(half_ratios)
    print(f"base {commit}: {_ms(spent['base'])}")
    print(f"working tree: {_ms(spent['tree'])}")
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"working tree / base: {math.sqrt(medians[0] * medians[1]):.3f}, the geometric mean of the halves'"
        f" medians ({medians[0]:.3f} with the base started first, {medians[1]:.3f} with the working tree;"
        f" {len(ratios)} chunk pairs in all, quartiles {quartiles[0]:.3f} to {quartiles[2]:.3f})"
    )


def _half(
    requests: int, chunk: int, what: list[str], srcs: dict[str, Path], first: str, spent: dict[str, list[float]]
) -> list[float]:
    """One half of :func:`compare`: a pair of processes, ``first`` started first; the ratio of each
    chunk pair's medians (the order of the two chunks swapped every round)."""
    order = [first, "tree" if first == "base" else "base"]
    sides = {name: _start(requests, srcs[name], what) for name in order}
    ratios = []
    try:
        for round_ in range(requests // chunk):
            turn = order if round_ % 2 == 0 else order[::-1]
            got = {name: _chunk(sides[name], chunk) for name in turn}
            for name, values in got.items():
                spent[name].extend(values)
            ratios.append(statistics.median(got["tree"]) / statistics.median(got["base"]))
    finally:
        for side in sides.values():
            assert side.stdin is not None
            side.stdin.close()
            side.wait()
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", nargs="?", help="the base: a commit whose src to compare against")
    parser.add_argument("--requests", type=int, default=600, help="timed requests per side")
    parser.add_argument("--chunk", type=int, default=20, help="requests per turn")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--app", action="store_true", help="the whole ASGI app in process (process CPU), not the step alone"
    )
    kind.add_argument(
        "--checkout", action="store_true", help="an order placed and paid (both steps), not a refund request"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        (_app_worker if arguments.app else _checkout_worker if arguments.checkout else _worker)(arguments.requests)
    elif arguments.commit is None or arguments.requests < 2 * arguments.chunk or arguments.chunk < 1:
        parser.error("name the base commit; --requests must be at least twice --chunk, and --chunk at least 1")
    else:
        what = ["--app"] if arguments.app else ["--checkout"] if arguments.checkout else []
        compare(arguments.commit, arguments.requests, arguments.chunk, what)


if __name__ == "__main__":
    main()
