"""One worker tick in its own process, for the crash tests (run by test_aftersales_payouts.py).

    python tests/storage/crash_worker.py DATABASE_URL NOW_ISO

``KAMENG_CRASH`` makes the process die on the first refund sent to the channel: ``before`` the
call (the claim is committed, the bank never heard of it) or ``after`` it (the bank has the
refund, our database does not know). ``os._exit`` skips every cleanup, as a kill -9 would. The
monkeypatch lives here, not in the application. On a normal exit it prints the channel's call
count and the tick's figures as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from kameng import compose
from kameng.channels.ports import RefundAnswer
from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.settings import Settings
from kameng.worker import run_tick

CRASH = os.environ.get("KAMENG_CRASH", "")
original = SimulatorRefunds.request_refund


def crashing(
    self: SimulatorRefunds, out_refund_no: str, out_trade_no: str, amount_fen: int, now: datetime
) -> RefundAnswer:
    if CRASH == "before":
        os._exit(1)
    answer = original(self, out_refund_no, out_trade_no, amount_fen, now)
    if CRASH == "after":
        os._exit(1)
    return answer


def main() -> None:
    url, moment = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    SimulatorRefunds.request_refund = crashing  # type: ignore[method-assign]
    container = compose.build(Settings(database_url=url, environment="test", secret_key="test"))
    figures = run_tick(container, moment)
    container.dispose()
    assert isinstance(container.refunds, SimulatorRefunds)
    print(json.dumps({"calls": container.refunds.calls, **figures}))


if __name__ == "__main__":
    main()
