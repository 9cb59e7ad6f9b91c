"""The load generator: Debian's ``wrk`` with a Lua script (bench/lua/requests.lua), so the
requests cost the client almost nothing and the server's cores stay free for the server.

Each request is written beforehand as one line of a file (method, path, token, idempotency key,
body); wrk's threads split the lines and send each once, one connection per thread, and stop when
their share is answered. Checkout lines say PAY-AFTER: the thread pays the order the answer names
before its next line. wrk's own CPU time is read from the kernel when it exits (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "lua" / "requests.lua"


@dataclass(frozen=True)
class Line:
    method: str
    path: str
    token: str = ""
    idempotency_key: str = ""
    body: dict[str, Any] | None = None
    pay_after: bool = False

    def render(self) -> str:
        body = json.dumps(self.body, separators=(",", ":")) if self.body is not None else ""
        fields = [
            self.method,
            self.path,
            f"Bearer {self.token}" if self.token else "",
            self.idempotency_key,
            body,
            "PAY-AFTER" if self.pay_after else "",
        ]
        if any("\t" in field or "\n" in field for field in fields):
            raise ValueError("a request line may not hold a tab or a newline")
        return "\t".join(fields)


def available() -> bool:
    return shutil.which("wrk") is not None


def _interrupt_when_done(process: subprocess.Popen[str], done: Path, threads: int, started: float) -> float:
    """wrk sleeps for its whole duration unless interrupted: once every thread has left its file
    (and so stopped), SIGINT ends the run. A signal may land in a thread that is still winding
    down rather than in the sleeping main thread, hence the repeats. Returns the seconds from the
    start until the last thread finished (wrk's own figure counts the wait for the signal)."""
    elapsed = None
    while process.poll() is None:
        if len(list(done.iterdir())) >= threads:
            if elapsed is None:
                elapsed = time.perf_counter() - started
            process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        else:
            time.sleep(0.002)
    return elapsed if elapsed is not None else time.perf_counter() - started


def run_wrk(base: str, lines: list[Line], connections: int) -> dict[str, Any]:
    """Send every line once with ``connections`` threads (one connection each); the figures
    wrk printed, plus its own CPU seconds."""
    if not available():
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="kameng-wrk-") as folder:
        requests_file = Path(folder) / "requests.tsv"
        requests_file.write_text("\n".join(line.render() for line in lines) + "\n", encoding="utf-8")
        done = Path(folder) / "done"
        done.mkdir()
        command = [
            "wrk", "-t", str(connections), "-c", str(connections), "-d", "600s", "--timeout", "30s",
            "--latency", "-s", str(SCRIPT), base, "--", str(requests_file), str(connections), str(done),
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # wrk prints only at the end: its output fits the pipe until then.
        seconds = _interrupt_when_done(process, done, connections, started)
        stdout, stderr = process.communicate()
        # Children's CPU is counted once they are reaped: only wrk was, in between.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr[-1000:]}")
    found = [line for line in stdout.splitlines() if line.startswith("WRK-RESULT ")]
    if not found:
        raise RuntimeError(f"wrk printed no result: {stdout[-1000:]} {stderr[-1000:]}")
    result: dict[str, Any] = json.loads(found[0].removeprefix("WRK-RESULT "))
    failure = [line for line in stdout.splitlines() if line.startswith("WRK-FIRST-FAILURE ")]
    result["first_failure"] = failure[0].removeprefix("WRK-FIRST-FAILURE ") if failure else ""
    result["seconds"] = seconds
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result
