"""`kameng policy check | simulate | publish` on a demo database with refund requests."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kameng.cli.main import app
from kameng.operator.policies import draft_of
from kameng.operator.simulation import simulate
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from tests.support.worlds import refunded_ticket

STRICTER = "product: annual-card\nfee_percent: 40\nfee_max: null\ncooling_off_days: 0\n"


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    refunded_ticket(db_url)  # the demo, its tickets, and one annual card refunded after review
    monkeypatch.setenv("KAMENG_DATABASE_URL", db_url)
    monkeypatch.setenv("KAMENG_ENV", "test")
    return db_url


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_bad_draft_prints_one_line_per_option_and_exits_1(database: str, tmp_path: Path) -> None:
    path = _file(tmp_path, "product: annual-card\nfee_percent: 150\nproration: weekly\nS3: off\n")
    result = CliRunner().invoke(app, ["policy", "check", "--policy", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "the draft has 3 problem(s)" in result.output
    assert "  fee_percent: fee_percent must be a percentage from 0 to 100" in result.output
    assert "  proration: proration must be one of: by_day, by_month, by_benefit." in result.output
    assert "  S3: S3 belongs to the statutory rules" in result.output
    missing = CliRunner().invoke(app, ["policy", "check", "--policy", str(tmp_path / "nothing.yaml")])
    assert missing.exit_code == 2


def test_a_good_draft_prints_the_product_pages_terms(database: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["policy", "check", "--policy", str(_file(tmp_path, STRICTER))])
    assert result.exit_code == 0, result.output
    assert "发布后为 annual-card 的 v2" in result.output
    assert "· 按剩余金额收取 40% 手续费。" in result.output


def test_simulate_prints_the_figures_and_writes_every_changed_order(database: str, tmp_path: Path) -> None:
    out = tmp_path / "changes.csv"
    args = ["policy", "simulate", "--policy", str(_file(tmp_path, STRICTER)), "--since", "2020-01-01"]
    result = CliRunner().invoke(app, [*args, "--changes-csv", str(out), "--lang", "en", "--processes", "2"])
    assert result.exit_code == 0, result.output
    engine = make_engine(database)
    try:
        uow = lambda: UnitOfWork(make_session_factory(engine))  # noqa: E731
        draft = draft_of(uow(), {"product": "annual-card", "fee_percent": "40", "fee_max": None, "cooling_off_days": 0})
        expected = simulate(uow(), draft, None, review_minutes=15, workday_minutes=420)
    finally:
        engine.dispose()
    assert expected.changed >= 1
    assert f"{expected.requests} past refund requests" in result.output
    with out.open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    assert [row["ticket_no"] for row in rows] == [change.ticket_no for change in expected.changes]
    assert (
        rows[0]["draft_refund"] != rows[0]["current_refund"] or rows[0]["draft_decision"] != rows[0]["current_decision"]
    )
    bad_day = CliRunner().invoke(app, [*args[:-1], "last week"])
    assert bad_day.exit_code == 2
    assert "--since must be a date" in bad_day.output


def test_publish_adds_the_next_version_once(database: str, tmp_path: Path) -> None:
    path = str(_file(tmp_path, STRICTER))
    first = CliRunner().invoke(app, ["policy", "publish", "--policy", path, "--lang", "en"])
    assert first.exit_code == 0, first.output
    assert "Published v2 of annual-card" in first.output
    again = CliRunner().invoke(app, ["policy", "publish", "--policy", path, "--lang", "en"])
    assert "equals the current version v2" in again.output
