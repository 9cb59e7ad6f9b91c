"""The tamper-evident ticket timeline: append-only rows, hash-chained per ticket."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.platform.db.bulk import add_row
from kameng.platform.db.uow import UnitOfWork

GENESIS = "0" * 64


def row_digest(row: TicketTimeline) -> str:
    """SHA-256 over the previous hash and every field a reader relies on, canonically encoded."""
    return digest_of({name: getattr(row, name) for name in _HASHED})


# The columns a row's hash covers (its previous hash among them).
_HASHED = (
    "ticket_id",
    "seq",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "from_status",
    "to_status",
    "comment",
    "amount_fen",
    "quote",
    "prev_hash",
)


def digest_of(row: Mapping[str, Any]) -> str:
    """:func:`row_digest` of a row given as its columns' values (a row not built as an object)."""
    content: dict[str, Any] = {
        "ticket_id": row["ticket_id"],
        "seq": row["seq"],
        # In UTC: the database hands times back in UTC, whatever zone they were written in.
        "at": row["at"].astimezone(UTC).isoformat(),
        "actor_id": row["actor_id"],
        "actor_role": row["actor_role"],
        "action": row["action"],
        "from": row["from_status"],
        "to": row["to_status"],
        "comment": row["comment"],
        "amount_fen": row["amount_fen"],
        "quote": row["quote"],
    }
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((row["prev_hash"] + payload).encode()).hexdigest()


def append(
    uow: UnitOfWork,
    ticket: Ticket,
    *,
    at: datetime,
    actor_id: int | None,
    actor_role: str,
    action: str,
    from_status: str | None,
    to_status: str,
    comment: str = "",
    amount_fen: int | None = None,
    quote: dict[str, Any] | None = None,
    note: dict[str, Any] | None = None,
) -> None:
    # The ticket carries its chain head: no query for the previous row (the ticket row is locked).
    row: dict[str, Any] = {
        "ticket_id": ticket.id,
        "user_id": ticket.user_id,
        "seq": ticket.timeline_rows + 1,
        "at": at,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "comment": comment[:2000],
        "amount_fen": amount_fen,
        "quote": quote,
        "note": note,
        "prev_hash": ticket.timeline_head or GENESIS,
    }
    row["hash"] = digest_of(row)
    ticket.timeline_head, ticket.timeline_rows = row["hash"], row["seq"]
    add_row(uow.session, TicketTimeline, row)


@dataclass
class AuditReport:
    tickets: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(uow: UnitOfWork, batch: int = 1000) -> AuditReport:
    """Recompute every chain: an edited row, a deleted row or a reordered row is reported.

    Fix (evidence-export session): the chain alone cannot see its *last* rows deleted, so each
    ticket's status is also checked against where its last remaining row left it, and a ticket
    without rows is reported. A deleted trailing ``escalate`` row (same status before and after)
    is caught by the chain head kept on the ticket (``timeline_head``, ``timeline_rows``). Problems
    name the ticket by its number (and id)."""
    report = AuditReport()
    with uow:
        session = uow.session
        report.tickets = session.scalar(select(func.count(Ticket.id))) or 0
        numbers: dict[int, str] = dict(session.execute(select(Ticket.id, Ticket.ticket_no)).all())
        last_ticket, expected_prev, expected_seq = None, GENESIS, 1
        tails: dict[int, tuple[int, str, str]] = {}
        query = select(TicketTimeline).order_by(TicketTimeline.ticket_id, TicketTimeline.seq)
        for row in session.scalars(query.execution_options(yield_per=batch)):
            if row.ticket_id != last_ticket:
                last_ticket, expected_prev, expected_seq = row.ticket_id, GENESIS, 1
            report.rows += 1
            where = f"ticket {numbers.get(row.ticket_id, '?')} (id {row.ticket_id}) row {row.seq}"
            if row.seq != expected_seq:
                report.problems.append(f"{where}: expected row {expected_seq} (a row is missing)")
            if row.prev_hash != expected_prev:
                report.problems.append(f"{where}: does not follow the previous row's hash")
            if row_digest(row) != row.hash:
                report.problems.append(f"{where}: content does not match its hash (edited)")
            expected_prev, expected_seq = row.hash, row.seq + 1
            tails[row.ticket_id] = (row.seq, row.to_status, row.hash)
        heads = select(Ticket.id, Ticket.ticket_no, Ticket.status, Ticket.timeline_head, Ticket.timeline_rows)
        for ticket_id, ticket_no, status, head, count in session.execute(heads):
            tail = tails.get(ticket_id)
            if tail is not None and (tail[2] != head or tail[0] != count):
                report.problems.append(
                    f"ticket {ticket_no} (id {ticket_id}): the chain ends at row {tail[0]} but the ticket records"
                    f" {count} rows ending in {head[:12]}… (rows deleted or the head rewritten)"
                )
            if tail is None:
                report.problems.append(f"ticket {ticket_no} (id {ticket_id}): has no timeline rows (deleted)")
            elif tail[1] != status.value:
                report.problems.append(
                    f"ticket {ticket_no} (id {ticket_id}) row {tail[0]}: the last row leaves the ticket {tail[1]}"
                    f" but it is {status.value} (rows after it are missing)"
                )
    return report
