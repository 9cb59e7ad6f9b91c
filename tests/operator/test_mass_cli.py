"""`kameng refund mass|resume|stop|status` and `kameng outage record` on SQLite and PostgreSQL:
the confirmation's count and totals, a run to its end with its summary, a second start refused,
errors in both languages with exit status 1, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from typer.testing import CliRunner

from kameng.channels.simulator.payments import SimulatorChannel
from kameng.cli.main import app
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import assert_books_balance
from tests.support.tickets import buy_one

pytestmark = pytest.mark.usefixtures("catalog")


@pytest.fixture
def shop(
    db_url: str,
    uow: UnitOfWork,
    channel: SimulatorChannel,
    make_user: Callable[..., object],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> UnitOfWork:
    for _ in range(3):
        buy_one(uow, channel, make_user, now)
    monkeypatch.setenv("KAMENG_DATABASE_URL", db_url)
    monkeypatch.setenv("KAMENG_ENV", "test")
    return uow


def test_a_mass_refund_from_the_command_line(shop: UnitOfWork) -> None:
    started = CliRunner().invoke(app, ["refund", "mass", "--merchant", "1", "--yes", "--batch", "2"])
    assert started.exit_code == 0, started.output
    assert "3 orders" in started.output
    assert "run 1 started" in started.output
    assert "run 1 (done): 3/3 orders" in started.output
    status = CliRunner().invoke(app, ["refund", "status", "1"])
    assert "run 1 (done)" in status.output
    assert CliRunner().invoke(app, ["refund", "status"]).exit_code == 0
    # Done: nothing to stop, and nothing left to pay on a second run.
    stop = CliRunner().invoke(app, ["refund", "stop", "1"])
    assert stop.exit_code == 1
    assert "error:" in stop.output
    again = CliRunner().invoke(app, ["refund", "mass", "--merchant", "1", "--yes"])
    assert again.exit_code == 0, again.output
    assert "0 orders" in again.output
    resumed = CliRunner().invoke(app, ["refund", "resume", "1"])
    assert resumed.exit_code == 0, resumed.output
    assert_books_balance(shop)


def test_without_yes_a_no_starts_nothing(shop: UnitOfWork) -> None:
    answer = CliRunner().invoke(app, ["refund", "mass", "--merchant", "1"], input="n\n")
    assert answer.exit_code == 1
    assert "run 1" not in answer.output
    assert "no mass refund" in CliRunner().invoke(app, ["refund", "status", "1"]).output.lower()


@pytest.mark.parametrize("merchant", ["abc", "99", "1" * 30])
def test_a_bad_merchant_is_an_error_in_both_languages(shop: UnitOfWork, merchant: str) -> None:
    answer = CliRunner().invoke(app, ["refund", "mass", "--merchant", merchant, "--yes"])
    assert answer.exit_code == 1
    assert answer.output.startswith("error: ")
    assert " / " in answer.output  # zh-CN first, then English


def test_an_outage_from_the_command_line_is_recorded_once(shop: UnitOfWork) -> None:
    args = ["outage", "record", "--scope", "platform", "--from", "2020-01-01T08:00", "--to", "2020-01-01T09:00"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "outage 1 recorded" in first.output
    second = CliRunner().invoke(app, args)
    assert "outage 1 already recorded" in second.output
    bad = CliRunner().invoke(app, ["outage", "record", "--scope", "platform", "--from", "soon", "--to", "later"])
    assert bad.exit_code == 2
    assert "--from" in bad.output
    backwards = CliRunner().invoke(app, [*args[:-1], "2020-01-01T07:00"])
    assert backwards.exit_code == 1
    assert "结束时间" in backwards.output
