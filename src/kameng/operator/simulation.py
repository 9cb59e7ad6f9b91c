"""The policy simulation: every refund request in the history replayed under a draft policy and
under the product's current one, side by side.

"Replayed" means the engine itself: each request (a ticket: its order, its reason, its moment) is
given to the engine once with each policy, over the order's real events:
:func:`kameng.domain.refund.decide_refund`, the decision of :func:`~kameng.domain.refund.quote_refund`
(the function that decided the request when it was submitted) walked by the same code, without the
explanation and dates a replay does not read. The route a request takes (auto-approve, review,
reject) is that decision, exactly as ``aftersales.requests`` turns a quote into a ticket's first
move; nothing here decides anything on its own.

The history is read in chunks by keyset pagination on the ticket id (the same query on SQLite and
PostgreSQL, each chunk a short read), with the chunk's events in one query, so memory stays flat
whatever the history's size: only the totals and the first few changed orders are kept; every
changed order can be streamed to the caller (``on_change``) as it is found.

Review workload in person-days = requests the policy sends to review × ``review_minutes`` (minutes
a person spends on one review) ÷ ``workday_minutes`` (minutes of review work in a person's day);
both are settings (``KAMENG_POLICY_REVIEW_MINUTES``, ``KAMENG_POLICY_WORKDAY_MINUTES``).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from multiprocessing import get_context

from sqlalchemy.engine import make_url

from kameng.domain.calendar import SHANGHAI
from kameng.domain.model import Decision, Event, Policy, Product, Reason, RefundRequest
from kameng.domain.refund import Decided, decide_refunds
from kameng.operator.policies import Draft
from kameng.operator.refund_history import (
    DEFAULT_CHUNK,
    Request,
    count_requests,
    history_chunks,
    id_bounds,
    read_ahead,
)
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork

DEFAULT_KEEP_CHANGES = 200


@dataclass(slots=True)
class Tally:
    """One policy's figures over the replayed history."""

    requests: int = 0
    auto_approved: int = 0
    reviewed: int = 0
    rejected: int = 0
    refunded_fen: int = 0  # every request's refund (a review's at its quote, as approved on time)
    auto_refunded_fen: int = 0  # of which paid without a person

    def add(self, quote: Decided) -> None:
        self.requests += 1
        decision = quote.decision
        if decision is Decision.AUTO_APPROVE:
            self.auto_approved += 1
            self.auto_refunded_fen += quote.refund
        elif decision is Decision.REVIEW:
            self.reviewed += 1
        else:
            self.rejected += 1
        self.refunded_fen += quote.refund

    def merge(self, other: Tally) -> None:
        self.requests += other.requests
        self.auto_approved += other.auto_approved
        self.reviewed += other.reviewed
        self.rejected += other.rejected
        self.refunded_fen += other.refunded_fen
        self.auto_refunded_fen += other.auto_refunded_fen

    def person_days(self, review_minutes: int, workday_minutes: int) -> Decimal:
        """The review workload: reviewed requests × minutes per review ÷ minutes of a work day,
        to two decimals (half up)."""
        return (Decimal(self.reviewed * review_minutes) / Decimal(workday_minutes)).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    refund_fen: int
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A request whose outcome the draft would change (its decision, its refund, or both)."""

    ticket_no: str
    order_no: str
    reason: Reason
    at: datetime
    current: Outcome
    draft: Outcome

    @property
    def delta_fen(self) -> int:
        return self.draft.refund_fen - self.current.refund_fen


@dataclass(slots=True)
class SimulationResult:
    current: Tally = field(default_factory=Tally)
    draft: Tally = field(default_factory=Tally)
    changed: int = 0
    changes: list[Change] = field(default_factory=list)  # the first ``keep_changes`` of them
    review_minutes: int = 15
    workday_minutes: int = 420

    @property
    def requests(self) -> int:
        return self.current.requests

    def person_days(self, tally: Tally) -> Decimal:
        return tally.person_days(self.review_minutes, self.workday_minutes)


def _outcome(quote: Decided) -> Outcome:
    return Outcome(quote.decision, quote.refund, quote.rules)


def replay(
    chunks: Iterator[list[tuple[Request, list[Event]]]],
    product: Product,
    draft: Policy,
    current: Policy,
    *,
    review_minutes: int,
    workday_minutes: int,
    keep_changes: int = DEFAULT_KEEP_CHANGES,
    on_chunk: Callable[[int], None] | None = None,
    on_change: Callable[[Change], None] | None = None,
) -> SimulationResult:
    """Every request of ``chunks`` through the engine under both policies; the totals, the first
    ``keep_changes`` changed requests, and each change streamed to ``on_change``."""
    result = SimulationResult(review_minutes=review_minutes, workday_minutes=workday_minutes)
    policies = (current, draft)
    with _young_garbage_only():
        for batch in chunks:
            _replay_batch(batch, product, policies, result, keep_changes, on_change)
            if on_chunk is not None:
                on_chunk(len(batch))
    return result


@contextmanager
def _young_garbage_only() -> Iterator[None]:
    """No automatic garbage collection while the history is replayed; one pass at the end. A replay
    allocates some twenty objects per request and frees them by reference counting (no cycles but
    a chunk's few database objects); the automatic collector still walked the survivors at each of
    its passes, a fifth of the replay's CPU (50,000 requests, one process: 3.06 → 2.44 s).
    Collecting the young generation after each chunk instead cost as much again (40 ms a chunk)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()


def _replay_batch(
    batch: list[tuple[Request, list[Event]]],
    product: Product,
    policies: tuple[Policy, Policy],
    result: SimulationResult,
    keep_changes: int,
    on_change: Callable[[Change], None] | None,
) -> None:
    for request, events in batch:
        asked = RefundRequest(at=request.at, reason=request.reason)
        now, then = decide_refunds(product, policies, request.order, events, asked, SHANGHAI)
        result.current.add(now)
        result.draft.add(then)
        if now.decision is not then.decision or now.refund != then.refund:
            result.changed += 1
            change = Change(
                request.ticket_no, request.order_no, request.reason, request.at, _outcome(now), _outcome(then)
            )
            if len(result.changes) < keep_changes:
                result.changes.append(change)
            if on_change is not None:
                on_change(change)


def simulate(
    uow: UnitOfWork,
    draft: Draft,
    since: datetime | None,
    until: datetime | None = None,
    *,
    review_minutes: int,
    workday_minutes: int,
    chunk: int = DEFAULT_CHUNK,
    keep_changes: int = DEFAULT_KEEP_CHANGES,
    on_chunk: Callable[[int], None] | None = None,
    on_change: Callable[[Change], None] | None = None,
    processes: int = 1,
    database_url: str | None = None,
) -> SimulationResult:
    """The draft against its product's current version over the product's refund history.

    With ``processes`` > 1 (and the ``database_url`` to read from), the history is cut into
    slices of ticket ids that worker processes replay side by side, each with its own connection;
    the slices' results come back in ticket order, so the figures, the changes kept and the order
    in which ``on_change`` hears of them are the same as with one process. On SQLite the history is
    replayed in this process whatever ``processes`` says: every SQLite transaction here takes the
    file's write lock (platform/db/database.py), so worker processes would only queue for it, and a
    process forked while this one holds SQLite connections to the same file is what SQLite's own
    documentation warns against (a test run once hung there until its timeout)."""
    if processes <= 1 or database_url is None or make_url(database_url).get_backend_name() == "sqlite":
        return replay(
            read_ahead(history_chunks(uow, draft.product_id, since, until, chunk)),
            draft.product,
            draft.policy,
            draft.current,
            review_minutes=review_minutes,
            workday_minutes=workday_minutes,
            keep_changes=keep_changes,
            on_chunk=on_chunk,
            on_change=on_change,
        )
    bounds = id_bounds(uow, draft.product_id, since, until)
    result = SimulationResult(review_minutes=review_minutes, workday_minutes=workday_minutes)
    if bounds is None:
        return result
    # Every change of a slice comes back when the caller streams them; otherwise only as many as
    # the result keeps (the first of the history are among each slice's first): pickling the
    # 323,725 changes of the 1,000,000-request benchmark was the parent's 6 s of CPU.
    send = sys.maxsize if on_change is not None else keep_changes
    job = _Job(database_url, draft, since, until, chunk, review_minutes, workday_minutes, send)
    global _JOB
    _JOB = job  # inherited by the forked workers: nothing to pickle but the slices' bounds
    try:
        with get_context("fork").Pool(processes, initializer=_worker_start) as pool:
            for part in pool.imap(_replay_slice, _slices(*bounds, processes)):
                result.current.merge(part.current)
                result.draft.merge(part.draft)
                result.changed += part.changed
                for change in part.changes:
                    if len(result.changes) < keep_changes:
                        result.changes.append(change)
                    if on_change is not None:
                        on_change(change)
                if on_chunk is not None:
                    on_chunk(part.requests)
    finally:
        _JOB = None
    return result


# --------------------------------------------------------------------------------------------
# Worker processes


@dataclass(frozen=True, slots=True)
class _Job:
    database_url: str
    draft: Draft
    since: datetime | None
    until: datetime | None
    chunk: int
    review_minutes: int
    workday_minutes: int
    send_changes: int  # changes of a slice sent back to the parent


_JOB: _Job | None = None
_WORKER_UOW: Callable[[], UnitOfWork] | None = None
# Requests per slice: small enough that a slice's changes (all of them come back to be streamed)
# stay a few megabytes, large enough that the slices' overhead does not show.
SLICE_REQUESTS = 20_000


def _slices(low: int, high: int, count: int, processes: int) -> list[tuple[int, int]]:
    """(after, through] ranges of ticket ids covering [low, high], about SLICE_REQUESTS each."""
    pieces = max(processes * 4, -(-count // SLICE_REQUESTS))
    width = max(1, -(-(high - low + 1) // pieces))
    return [(start - 1, min(start + width - 1, high)) for start in range(low, high + 1, width)]


def _worker_start() -> None:
    global _WORKER_UOW
    assert _JOB is not None
    engine = make_engine(_JOB.database_url, pool_size=1, max_overflow=0)
    factory = make_session_factory(engine)
    _WORKER_UOW = lambda: UnitOfWork(factory)  # noqa: E731


def _replay_slice(bounds: tuple[int, int]) -> SimulationResult:
    assert _JOB is not None
    assert _WORKER_UOW is not None
    job, (after, through) = _JOB, bounds
    draft = job.draft
    return replay(
        read_ahead(
            history_chunks(
                _WORKER_UOW(), draft.product_id, job.since, job.until, job.chunk, after=after, through=through
            )
        ),
        draft.product,
        draft.policy,
        draft.current,
        review_minutes=job.review_minutes,
        workday_minutes=job.workday_minutes,
        keep_changes=job.send_changes,
    )


__all__ = [
    "Change",
    "Outcome",
    "Request",
    "SimulationResult",
    "Tally",
    "count_requests",
    "history_chunks",
    "replay",
    "simulate",
]
