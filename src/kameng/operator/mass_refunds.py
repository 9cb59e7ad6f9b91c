"""The mass refund (批量先行赔付) for a merchant that is gone: the merchant_gone event on every
affected order, each order quoted by the engine (S5 with RULES.md section 3a), a ticket per order,
and the approved ones paid through the normal payout path (platform advance, receivable from the
merchant, the channel's refund through the outbox), each consumer told in their inbox.

A run is a record processed in batches. A batch first claims the next orders after the run's
cursor (a short transaction holding the run row's lock: a claim row names the range), then handles
them in one transaction holding the claim row's lock: every ticket and ledger entry of the batch,
the claim marked finished and the run's totals commit together or not at all. Several processes
so run one run's batches at once, each taking claims the others do not hold (``SKIP LOCKED``); a
claim whose process died is left unfinished and unlocked, and the next batch takes it. Each
order's outcome is a row unique on (run, order) and its ticket carries the idempotency key
``mass:<run>:<order>``: a run killed half-way and resumed never pays an order twice. The CLI runs
the batches in the foreground, in several processes (``kameng refund mass``); a run started from
the operator's page is taken by the worker tick (:mod:`kameng.operator.mass_runner`). The orders
of a batch are handled in :mod:`kameng.operator.mass_orders`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from kameng.catalog.models import Merchant
from kameng.domain.calendar import WorkCalendar
from kameng.domain.mass_refunds import RUN, ItemOutcome, RunStatus
from kameng.domain.users import Role
from kameng.operator.mass_models import MassRefundClaim, MassRefundRun
from kameng.operator.mass_orders import handle_orders
from kameng.operator.mass_queries import affected_orders, get_run, preview
from kameng.orders.models import OrderRow
from kameng.orders.numbers import draw_until_free
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, NotFound

DEFAULT_BATCH = 200
MAX_BATCH = 2000
# --------------------------------------------------------------------------------------------
# Starting, stopping


def start_run(
    uow: UnitOfWork,
    actor: Viewer,
    merchant_id: object,
    now: datetime,
    calendar: WorkCalendar,
    note: str = "",
    confirmed_orders: int | None = None,
) -> MassRefundRun:
    """Record the merchant as gone and open a run over its affected orders. ``confirmed_orders``
    is the count the operator confirmed: if it changed since, nothing starts (the page shows the
    new count). One open run per merchant: a second start answers with a Conflict naming it."""
    if actor.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_merchant", "merchant", merchant=str(merchant_id))
    note = inputs.clean_text(note, inputs.NOTE, "note")
    counted = preview(uow, merchant_id, now, calendar)
    if confirmed_orders is not None and confirmed_orders != counted.orders:
        raise Conflict(ErrorCode.QUOTE_CHANGED, "massrefund.error.count_changed", "orders", orders=counted.orders)
    with uow:
        session = uow.session
        merchant = session.scalar(select(Merchant).where(Merchant.id == counted.merchant_id).with_for_update())
        assert merchant is not None
        open_run = session.scalar(
            select(MassRefundRun.id).where(
                MassRefundRun.merchant_id == merchant.id, MassRefundRun.status != RunStatus.DONE
            )
        )
        if open_run is not None:
            raise Conflict(ErrorCode.INVALID_TRANSITION, "massrefund.error.run_open", "merchant", run=open_run)
        if merchant.gone_at is None:
            merchant.gone_at = now
        run = MassRefundRun(
            merchant_id=merchant.id,
            status=RunStatus.RUNNING,
            gone_at=merchant.gone_at,
            started_by=actor.user_id or None,
            note=note,
            orders_total=counted.orders,
            quoted_fen=counted.quoted_fen,
            cursor_order_id=0,
            orders_done=0,
            paid_count=0,
            paid_fen=0,
            review_count=0,
            review_fen=0,
            other_count=0,
            batches=0,
            notified=False,
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        uow.commit()
        return run


def change_run(uow: UnitOfWork, actor: Viewer, run_id: object, action: str, now: datetime) -> MassRefundRun:
    """Stop a run, or resume a stopped one, through the run's transition table."""
    if actor.role is not Role.OPERATOR:
        raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=str(run_id)[:20])
    if action not in {"stop", "resume"}:
        raise InvalidInput(ErrorCode.UNKNOWN_ACTION, "massrefund.error.action", "action")
    found = get_run(uow, run_id)
    with uow:
        run = uow.session.scalar(select(MassRefundRun).where(MassRefundRun.id == found.id).with_for_update())
        assert run is not None
        if not RUN.allows(run.status, action):
            raise Conflict(
                ErrorCode.INVALID_TRANSITION, "massrefund.error.transition", "status", status=run.status.value
            )
        run.status = RUN.apply(run.status, action)
        run.updated_at = now
        uow.commit()
        return run


# --------------------------------------------------------------------------------------------
# Batches


@dataclass(frozen=True, slots=True)
class BatchResult:
    run_id: int
    status: RunStatus
    processed: int
    orders_done: int
    orders_total: int
    # Nothing left to claim, but batches of other processes still in flight: the run is not done.
    waiting: bool = False


def run_batch(
    uow: UnitOfWork, run_id: int, now: datetime, calendar: WorkCalendar, batch: int = DEFAULT_BATCH
) -> BatchResult:
    """Handle the next ``batch`` affected orders of a running run, in one transaction: a claim left
    unfinished (its process died), else a new claim. A number drawn for a ticket that another
    transaction took in the meantime retries the whole batch."""
    batch = max(1, min(batch, MAX_BATCH))
    while True:
        done = draw_until_free("ticket_no", lambda: _claimed_batch(uow, run_id, now, calendar))
        if done is None:
            done = _claim(uow, run_id, now, batch)
        if done is not None:
            return done


def _claim(uow: UnitOfWork, run_id: int, now: datetime, batch: int) -> BatchResult | None:
    """Claim the next orders after the run's cursor, in a short transaction holding the run row's
    lock (None: claimed, take it). With none left the run is done, once no claim is unfinished."""
    with uow:
        session = uow.session
        run = session.scalar(select(MassRefundRun).where(MassRefundRun.id == run_id).with_for_update())
        if run is None:
            raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=str(run_id))
        if run.status is not RunStatus.RUNNING:
            return _result(run)
        ids = list(session.scalars(affected_orders(run.merchant_id, run.cursor_order_id, batch)))
        if not ids:
            unfinished = session.scalar(
                select(MassRefundClaim.id)
                .where(MassRefundClaim.run_id == run.id, MassRefundClaim.finished_at.is_(None))
                .limit(1)
            )
            if unfinished is not None:
                return _result(run, waiting=True)
            run.status = RUN.apply(run.status, "finish")
            run.finished_at = run.updated_at = now
            uow.commit()
            return _result(run)
        session.add(MassRefundClaim(run_id=run.id, first_order_id=ids[0], last_order_id=ids[-1], claimed_at=now))
        run.cursor_order_id = ids[-1]
        uow.commit()
        return None


def _result(run: MassRefundRun, processed: int = 0, waiting: bool = False) -> BatchResult:
    return BatchResult(run.id, run.status, processed, run.orders_done, run.orders_total, waiting)


def _claimed_batch(uow: UnitOfWork, run_id: int, now: datetime, calendar: WorkCalendar) -> BatchResult | None:
    """Take an unfinished claim no other transaction holds (``SKIP LOCKED``) and handle its orders;
    the claim is marked finished, and the run's totals moved, in the same transaction. None: no
    claim to take."""
    with uow:
        session = uow.session
        # Not locked: the batches of several processes run at once. A stop committed meanwhile
        # lets the batch in flight finish; the next finds the run stopped.
        run = session.get(MassRefundRun, run_id)
        if run is None:
            raise NotFound(ErrorCode.NOT_FOUND, "massrefund.error.no_run", "run", run=str(run_id))
        if run.status is not RunStatus.RUNNING:
            return _result(run)
        claim = session.scalar(
            select(MassRefundClaim)
            .where(MassRefundClaim.run_id == run.id, MassRefundClaim.finished_at.is_(None))
            .order_by(MassRefundClaim.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if claim is None:
            return None
        claim.finished_at = now
        ids = list(
            session.scalars(
                affected_orders(run.merchant_id, claim.first_order_id - 1).where(OrderRow.id <= claim.last_order_id)
            )
        )
        totals = handle_orders(uow, run, ids, now, calendar)
        # The totals move last, by increments: the run row is locked only from here to the commit.
        session.flush()
        done, total, status = session.execute(
            update(MassRefundRun)
            .where(MassRefundRun.id == run.id)
            .values(
                orders_done=MassRefundRun.orders_done + len(ids),
                paid_count=MassRefundRun.paid_count + totals[ItemOutcome.PAID][0],
                paid_fen=MassRefundRun.paid_fen + totals[ItemOutcome.PAID][1],
                review_count=MassRefundRun.review_count + totals[ItemOutcome.REVIEW][0],
                review_fen=MassRefundRun.review_fen + totals[ItemOutcome.REVIEW][1],
                other_count=MassRefundRun.other_count + totals[None][0],
                batches=MassRefundRun.batches + (1 if ids else 0),
                updated_at=now,
            )
            .returning(MassRefundRun.orders_done, MassRefundRun.orders_total, MassRefundRun.status)
            .execution_options(synchronize_session=False)
        ).one()
        uow.commit()
        return BatchResult(run.id, status, len(ids), done, total)
