"""A mass refund driven in its own process, for the crash test (tests/operator/test_mass_crash.py).

    python tests/support/crash_mass_refund.py DATABASE_URL RUN_ID NOW_ISO BATCH [PROCESSES]

``KAMENG_CRASH_AFTER_ORDERS=N`` kills the process (``os._exit``, as a kill -9 would: no rollback
message, no cleanup) when the N-th order is being handled, half-way through a batch whose
earlier batches are committed. Without it the run is driven to its end, in PROCESSES processes
(default 1: this one and helpers forked from it). The monkeypatch lives
here, not in the application. On a normal exit it prints the last batch result as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Any

from kameng import compose
from kameng.operator import mass_orders, mass_runner
from kameng.settings import Settings

CRASH_AFTER = int(os.environ.get("KAMENG_CRASH_AFTER_ORDERS", "0"))
original = mass_orders._one
handled = 0


def crashing(*args: Any, **kwargs: Any) -> Any:
    global handled
    handled += 1
    if CRASH_AFTER and handled >= CRASH_AFTER:
        os._exit(1)
    return original(*args, **kwargs)


def main() -> None:
    url, run_id, moment, batch = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3]), int(sys.argv[4])
    processes = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    mass_orders._one = crashing  # type: ignore[assignment]
    container = compose.build(Settings(database_url=url, environment="test", secret_key="test"))
    try:
        clock, calendar = (lambda: moment), container.calendar
        with mass_runner.helpers(container.engine, container.uow, run_id, clock, calendar, batch, processes):
            result = mass_runner.drive(container.uow, run_id, clock, calendar, batch)
    finally:
        container.dispose()
    print(json.dumps({"status": result.status.value, "done": result.orders_done, "total": result.orders_total}))


if __name__ == "__main__":
    main()
