"""`kameng audit verify` and `kameng evidence` on a demo database with one reviewed, paid-out ticket.

Tampering is done the way an insider would: plain SQL against the timeline table, bypassing the
services. The command must then exit 1 and name the ticket and the row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kameng.cli.main import app
from tests.support.worlds import World, refunded_ticket


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[World, str]:
    """The refunded ticket's database, which the command reads through KAMENG_DATABASE_URL."""
    world = refunded_ticket(db_url)
    monkeypatch.setenv("KAMENG_DATABASE_URL", db_url)
    monkeypatch.setenv("KAMENG_ENV", "test")
    return world, world.ticket_no


def test_untouched_database_verifies(db: tuple[World, str]) -> None:
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "tickets: 1, timeline rows: 7" in result.output
    assert "every chain verifies" in result.output


def test_an_edited_comment_is_named(db: tuple[World, str]) -> None:
    world, ticket_no = db
    world.execute("UPDATE ticket_timeline SET comment = '客户同意不退款' WHERE seq = 3")
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"ticket {ticket_no} (id 1) row 3: content does not match its hash (edited)" in result.output
    assert "row 4" not in result.output  # the rows after it still link to the stored hash


def test_a_deleted_row_is_found(db: tuple[World, str]) -> None:
    world, ticket_no = db
    world.execute("DELETE FROM ticket_timeline WHERE seq = 3")
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"ticket {ticket_no} (id 1) row 4: expected row 3 (a row is missing)" in result.output
    assert "does not follow the previous row's hash" in result.output


def test_a_deleted_last_row_is_found(db: tuple[World, str]) -> None:
    world, ticket_no = db
    world.execute("DELETE FROM ticket_timeline WHERE seq = 7")  # refund_succeeded: the chain alone looks fine
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"ticket {ticket_no} (id 1) row 6: the last row leaves the ticket refunding but it is refunded" in (
        result.output
    )


def test_evidence_command_writes_json_and_pdf(db: tuple[World, str], tmp_path: Path) -> None:
    _, ticket_no = db
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["evidence", ticket_no, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    assert data["ticket"]["ticket_no"] == ticket_no
    assert data["chain_verified"] is True
    assert data["generated_for_role"] == "operator"
    assert (out / "evidence.pdf").read_bytes().startswith(b"%PDF")


def test_evidence_for_an_unknown_ticket(db: tuple[World, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evidence", "AS00000000000000", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no ticket AS00000000000000" in result.output
