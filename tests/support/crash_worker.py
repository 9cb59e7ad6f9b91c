"""One worker tick in its own process, for the crash tests (run by payouts/test_payouts.py and platform/test_outbox.py).

    python tests/support/crash_worker.py DATABASE_URL NOW_ISO

``KAMENG_CRASH`` makes the process die on the first refund sent to the channel: ``before`` the
call (the claim is committed, the bank never heard of it) or ``after`` it (the bank has the
refund, our database does not know); or on the first notification handed to the SMS sender:
``before_send`` or ``after_send``. ``KAMENG_SENT_MESSAGES_FILE`` is where the development sender
records what it sent, so the test can count deliveries across processes. ``os._exit`` skips
every cleanup, as a kill -9 would. The monkeypatch lives here, not in the application. On a
normal exit it prints the channel's call count and the tick's figures as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

from kameng import compose
from kameng.channels.ports import RefundAnswer
from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.messages.senders import LogSender, Outgoing
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


original_send = LogSender.send


def crashing_send(self: LogSender, message: Outgoing) -> None:
    if CRASH == "before_send":
        os._exit(1)
    original_send(self, message)
    if CRASH == "after_send":
        os._exit(1)


def main() -> None:
    url, moment = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    SimulatorRefunds.request_refund = crashing  # type: ignore[method-assign]
    LogSender.send = crashing_send  # type: ignore[method-assign]
    sent_file = os.environ.get("KAMENG_SENT_MESSAGES_FILE")
    settings = Settings(
        database_url=url,
        environment="test",
        secret_key="test",
        sent_messages_file=Path(sent_file) if sent_file else None,
    )
    container = compose.build(settings)
    figures = run_tick(container, moment)
    container.dispose()
    assert isinstance(container.refunds, SimulatorRefunds)
    print(json.dumps({"calls": container.refunds.calls, **figures}))


if __name__ == "__main__":
    main()
