"""One worker tick in its own process, for the renewal crash tests (tests/subscriptions/test_workers.py).

    python tests/support/crash_renewal.py DATABASE_URL NOW_ISO

``KAMENG_CRASH`` makes the process die on the first renewal charge: ``before`` the channel is
asked (the outbox row is claimed and committed, the bank never heard of it) or ``after`` it (the
bank took the money, our database does not know). ``os._exit`` skips every cleanup, as a kill -9
would. On a normal exit it prints the channel's call count and the tick's figures as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from kameng import compose
from kameng.channels.ports import ChargeAnswer
from kameng.channels.simulator.charges import SimulatorCharges
from kameng.settings import Settings
from kameng.worker import run_tick

CRASH = os.environ.get("KAMENG_CRASH", "")
original = SimulatorCharges.charge


def crashing(
    self: SimulatorCharges, agreement_no: str, out_trade_no: str, amount_fen: int, now: datetime
) -> ChargeAnswer:
    if CRASH == "before":
        os._exit(1)
    answer = original(self, agreement_no, out_trade_no, amount_fen, now)
    if CRASH == "after":
        os._exit(1)
    return answer


def main() -> None:
    url, moment = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    SimulatorCharges.charge = crashing  # type: ignore[method-assign]
    container = compose.build(Settings(database_url=url, environment="test", secret_key="test"))
    figures = run_tick(container, moment)
    container.dispose()
    assert isinstance(container.charges, SimulatorCharges)
    print(json.dumps({"calls": container.charges.calls, **figures}))


if __name__ == "__main__":
    main()
