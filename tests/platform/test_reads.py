"""A transaction that only read ends in a commit, so psycopg keeps the connection's prepared
statements; one that wrote anything and was not committed is still rolled back
(platform/db/reads.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, event, func, select, text, update

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import PRODUCT

pytestmark = [pytest.mark.usefixtures("catalog"), pytest.mark.postgres]


@pytest.fixture
def ends(engine: Engine) -> Iterator[list[str]]:
    """How each transaction on ``engine`` ended: "commit" or "rollback"."""
    seen: list[str] = []

    def committed(_connection: object) -> None:
        seen.append("commit")

    def rolled_back(_connection: object) -> None:
        seen.append("rollback")

    event.listen(engine, "commit", committed)
    event.listen(engine, "rollback", rolled_back)
    yield seen
    event.remove(engine, "commit", committed)
    event.remove(engine, "rollback", rolled_back)


@pytest.fixture
def order_no(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime) -> str:
    return buy(uow, channel, make_user().id, PRODUCT, now).order_no


def _refunded(uow: UnitOfWork, order_no: str) -> int | None:
    with uow:
        return uow.session.scalar(select(OrderRow.refunded_fen).where(OrderRow.order_no == order_no))


def test_a_block_that_only_read_ends_in_a_commit(uow: UnitOfWork, order_no: str, ends: list[str]) -> None:
    with uow:
        uow.session.scalars(select(OrderRow).where(OrderRow.order_no == order_no).with_for_update(of=OrderRow)).one()
        uow.session.scalar(select(func.count(OrderRow.id)))

    assert ends == ["commit"]


@pytest.mark.parametrize(
    "write",
    [
        lambda uow, order_no: uow.session.execute(
            update(OrderRow).where(OrderRow.order_no == order_no).values(refunded_fen=OrderRow.refunded_fen + 1)
        ),
        lambda uow, order_no: uow.session.execute(
            text("UPDATE orders SET refunded_fen = refunded_fen + 1 WHERE order_no = :n"), {"n": order_no}
        ),
        lambda uow, order_no: uow.session.connection().exec_driver_sql(
            "WITH changed AS (UPDATE orders SET refunded_fen = refunded_fen + 1 WHERE order_no = %(n)s "
            "RETURNING id) SELECT id FROM changed",
            {"n": order_no},
        ),
    ],
    ids=["orm update", "text update", "a WITH that writes"],
)
def test_a_block_that_wrote_without_committing_is_still_rolled_back(
    uow: UnitOfWork, order_no: str, ends: list[str], write: Callable[[UnitOfWork, str], object]
) -> None:
    with uow:
        uow.session.scalar(select(OrderRow.id).where(OrderRow.order_no == order_no))
        write(uow, order_no)

    assert ends == ["rollback"]
    assert _refunded(uow, order_no) == 0


def test_a_block_holding_a_change_not_yet_flushed_is_rolled_back(
    uow: UnitOfWork, order_no: str, ends: list[str]
) -> None:
    with uow:
        row = uow.session.scalars(select(OrderRow).where(OrderRow.order_no == order_no)).one()
        with uow.session.no_autoflush:
            row.refunded_fen += 1

    assert ends == ["rollback"]
    assert _refunded(uow, order_no) == 0


def _read_then_fail(uow: UnitOfWork, order_no: str) -> None:
    with uow:
        uow.session.scalar(select(OrderRow.id).where(OrderRow.order_no == order_no))
        raise LookupError("a read that found nothing it wanted")


def test_a_block_left_by_an_exception_is_rolled_back(uow: UnitOfWork, order_no: str, ends: list[str]) -> None:
    with pytest.raises(LookupError):
        _read_then_fail(uow, order_no)

    assert ends == ["rollback"]


def test_a_connection_keeps_its_prepared_statements_across_requests_that_only_read(
    uow: UnitOfWork, order_no: str
) -> None:
    # psycopg prepares a statement on its fifth run on a connection; a rollback would drop it.
    for _ in range(6):
        with uow:
            uow.session.scalar(select(OrderRow.refunded_fen).where(OrderRow.order_no == order_no))
    with uow:
        prepared = uow.session.scalar(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%refunded_fen%'")
        )

    assert prepared == 1
