"""The outbox: registered kinds only, errors that stay visible, and notifications that are sent
exactly once whatever moment a worker dies at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kameng.channels.simulator.payments import SimulatorChannel
from kameng.messages.models import MessageRow
from kameng.messages.senders import LogSender, Outgoing
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.outbox import (
    UNKNOWN_KIND,
    OutboxKind,
    OutboxRow,
    OutboxTask,
    enqueue,
    outbox_status,
    process_outbox,
)
from tests.support.tickets import buy_one, submit

CRASH_WORKER = Path(__file__).parent.parent / "support" / "crash_worker.py"


def _row(uow: UnitOfWork, key: str) -> OutboxRow:
    with uow:
        row = uow.session.scalar(select(OutboxRow).where(OutboxRow.key == key))
        assert row is not None
        return row


def test_a_row_of_an_unknown_kind_stays_pending_says_why_and_does_not_block_the_others(
    uow: UnitOfWork, uow_factory: Callable[[], UnitOfWork], now: datetime
) -> None:
    with uow:
        uow.session.add(OutboxRow(kind="mystery", key="m1", payload={}, next_attempt_at=now, created_at=now))
        enqueue(uow, OutboxKind.DELIVER_MESSAGE, "known-1", {}, now)
        uow.commit()
    ran: list[str] = []

    def handler(task: OutboxTask, at: datetime) -> None:
        ran.append(task.key)

    done = process_outbox(uow_factory, now, {OutboxKind.DELIVER_MESSAGE: handler})
    assert (done, ran) == (1, ["known-1"])
    mystery = _row(uow, "m1")
    assert mystery.done_at is None
    assert mystery.last_error is not None
    assert UNKNOWN_KIND in mystery.last_error
    assert "mystery" in mystery.last_error
    assert mystery.next_attempt_at >= now + timedelta(hours=23)  # no hot loop
    status = outbox_status(uow)
    assert (status.pending, status.failing, status.unknown_kinds) == (1, 1, 1)
    # Another tick soon after does not touch it again.
    assert process_outbox(uow_factory, now + timedelta(minutes=5), {}) == 0
    assert _row(uow, "m1").attempts == 1


def test_enqueueing_a_kind_that_is_not_registered_is_refused(uow: UnitOfWork, now: datetime) -> None:
    with uow, pytest.raises(ValueError, match=UNKNOWN_KIND):
        enqueue(uow, "mystery", "m2", {}, now)  # type: ignore[arg-type]


def test_a_failing_handler_leaves_the_row_pending_with_its_error(
    uow: UnitOfWork, uow_factory: Callable[[], UnitOfWork], now: datetime
) -> None:
    with uow:
        enqueue(uow, OutboxKind.SEND_REFUND, "r1", {}, now)
        uow.commit()

    def broken(task: OutboxTask, at: datetime) -> None:
        raise RuntimeError("the channel is down")

    assert process_outbox(uow_factory, now, {OutboxKind.SEND_REFUND: broken}) == 0
    row = _row(uow, "r1")
    assert row.done_at is None
    assert "the channel is down" in (row.last_error or "")
    assert outbox_status(uow).failing == 1


def test_the_development_sender_sends_a_key_once(tmp_path: Path) -> None:
    record = tmp_path / "sent.jsonl"
    first, second = LogSender(record), LogSender(record)  # two processes, one record
    message = Outgoing("outbox:7", "13900000001", None, "您好")
    first.send(message)
    second.send(message)
    first.send(message)
    assert len(record.read_text(encoding="utf-8").splitlines()) == 1


def _tick(db_url: str, at: datetime, record: Path, crash: str = "") -> None:
    env = {**os.environ, "KAMENG_CRASH": crash, "KAMENG_SENT_MESSAGES_FILE": str(record)}
    done = subprocess.run(
        [sys.executable, str(CRASH_WORKER), db_url, at.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == (1 if crash else 0), done.stderr[-2000:]


def _sent(record: Path) -> list[str]:
    if not record.exists():
        return []
    return [json.loads(line)["key"] for line in record.read_text(encoding="utf-8").splitlines()]


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("crash", ["before_send", "after_send"])
def test_a_worker_killed_around_the_sms_send_delivers_the_notification_once(
    crash: str,
    db_url: str,
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
    tmp_path: Path,
) -> None:
    bought = buy_one(uow, channel, make_user, now)
    submit(uow, bought, now + timedelta(minutes=1))  # a review ticket: the consumer is told
    with uow:
        keys = list(uow.session.scalars(select(MessageRow.key).where(MessageRow.user_id == bought.consumer.user_id)))
    # The in-app messages exist from the moment the request was committed.
    assert keys
    deliveries = sorted(f"deliver:{key}" for key in keys)
    record = tmp_path / "sent.jsonl"
    crashed_at = now + timedelta(hours=1)

    _tick(db_url, crashed_at, record, crash)
    assert all(_row(uow, key).done_at is None for key in deliveries)  # it died before saying so
    assert len(_sent(record)) == (0 if crash == "before_send" else 1)

    _tick(db_url, crashed_at + timedelta(seconds=30), record)  # within the lease: left alone
    assert all(_row(uow, key).done_at is None for key in deliveries)

    _tick(db_url, crashed_at + timedelta(seconds=61), record)  # after the lease: each sent, once
    assert all(_row(uow, key).done_at is not None for key in deliveries)
    assert sorted(_sent(record)) == deliveries
