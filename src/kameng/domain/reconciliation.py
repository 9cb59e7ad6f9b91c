"""Reconciliation: a channel's bill of one day against our own records of the same day.

Both sides are reduced to lines ``(kind, number, amount in fen, status)``: a payment by its
``out_trade_no``, a refund by its ``out_refund_no``; the statuses are spelled SUCCESS, PROCESSING
or FAILED on both sides. Every difference is reported, none is resolved here: a person decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LineKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class Difference(StrEnum):
    MISSING_HERE = "missing_here"  # on the channel's bill, not in our records
    MISSING_THERE = "missing_there"  # in our records, not on the channel's bill
    AMOUNT = "amount_mismatch"
    STATUS = "status_mismatch"


@dataclass(frozen=True, slots=True)
class BillLine:
    kind: LineKind
    number: str
    amount_fen: int
    status: str


@dataclass(frozen=True, slots=True)
class Finding:
    difference: Difference
    kind: LineKind
    number: str
    ours: BillLine | None
    theirs: BillLine | None


def reconcile(ours: list[BillLine], theirs: list[BillLine]) -> list[Finding]:
    """Every difference between the two sides, in a stable order (kind, number)."""
    here = {(line.kind, line.number): line for line in ours}
    there = {(line.kind, line.number): line for line in theirs}
    findings: list[Finding] = []
    for key in sorted(here.keys() | there.keys()):
        mine, channel = here.get(key), there.get(key)
        if mine is None:
            findings.append(Finding(Difference.MISSING_HERE, key[0], key[1], None, channel))
        elif channel is None:
            findings.append(Finding(Difference.MISSING_THERE, key[0], key[1], mine, None))
        elif mine.amount_fen != channel.amount_fen:
            findings.append(Finding(Difference.AMOUNT, key[0], key[1], mine, channel))
        elif mine.status != channel.status:
            findings.append(Finding(Difference.STATUS, key[0], key[1], mine, channel))
    return findings
