"""Values kept from rows that never change once committed (platform/db/committed.py): kept only
after the transaction that read them commits, per database, at most so many; and the policy
terms kept that way (catalog.services.policy_terms)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.catalog.services import add_policy_version, policy_terms, policy_to_domain
from kameng.platform.db.committed import CommittedValues
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from tests.support.tickets import PRODUCT


def test_a_value_is_kept_once_the_transaction_that_read_it_commits(uow: UnitOfWork) -> None:
    values: CommittedValues[str, int] = CommittedValues(limit=10)
    with uow:
        values.remember(uow, "terms", 1)
        assert values.get(uow, "terms") is None  # the row read may still vanish with a rollback
        uow.commit()
    with uow:
        assert values.get(uow, "terms") == 1


def _remember_and_fail(uow: UnitOfWork, values: CommittedValues[str, int], value: int) -> None:
    with uow:
        values.remember(uow, "terms", value)
        raise LookupError("a step that failed half-way")


def test_a_rolled_back_transaction_keeps_nothing(uow: UnitOfWork) -> None:
    values: CommittedValues[str, int] = CommittedValues(limit=10)
    with pytest.raises(LookupError):
        _remember_and_fail(uow, values, 1)
    with uow:
        uow.session.add(PolicyVersion())  # pending, never committed: the block ends in a rollback
        values.remember(uow, "terms", 2)
    with uow:
        assert values.get(uow, "terms") is None
        with pytest.raises(LookupError):  # a joined block's failure rolls back the whole
            _remember_and_fail(uow, values, 3)
        uow.commit()
    with uow:
        assert values.get(uow, "terms") is None


def test_a_block_that_only_read_keeps_its_values_where_it_ends_in_a_commit(uow: UnitOfWork) -> None:
    # On PostgreSQL a block that only read ends in a commit (platform/db/reads.py); on SQLite in a
    # rollback, which loses nothing there, but keeps nothing either.
    values: CommittedValues[str, int] = CommittedValues(limit=10)
    with uow:
        uow.session.execute(select(1))
        values.remember(uow, "terms", 1)
        committed = uow.dialect == "postgresql"
    with uow:
        assert values.get(uow, "terms") == (1 if committed else None)


def test_each_database_has_values_of_its_own(uow: UnitOfWork) -> None:
    values: CommittedValues[str, int] = CommittedValues(limit=10)
    with uow:
        values.remember(uow, "terms", 1)
        uow.commit()
    other: Engine = make_engine("sqlite://")
    try:
        elsewhere = UnitOfWork(make_session_factory(other))
        with elsewhere:
            assert values.get(elsewhere, "terms") is None  # its rows are numbered from 1 too
    finally:
        other.dispose()


def test_the_oldest_value_makes_room(uow: UnitOfWork) -> None:
    values: CommittedValues[str, int] = CommittedValues(limit=2)
    for number, key in enumerate(("first", "second", "third")):
        with uow:
            values.remember(uow, key, number)
            uow.commit()
    with uow:
        assert [values.get(uow, key) for key in ("first", "second", "third")] == [None, 1, 2]


@pytest.mark.usefixtures("catalog")
def test_policy_terms_are_those_of_the_committed_version_even_where_a_rolled_back_one_had_its_id(
    uow_factory: Callable[[], UnitOfWork], now: datetime
) -> None:
    # On SQLite a rolled-back row's id is given to the next row written: terms read in the
    # transaction that rolled back must not be taken for the committed row's.
    uow = uow_factory()
    with uow:
        product = uow.session.scalars(select(ProductRow).where(ProductRow.slug == PRODUCT)).one()
        latest = uow.session.scalars(
            select(PolicyVersion).where(PolicyVersion.product_id == product.id).order_by(PolicyVersion.version.desc())
        ).first()
        assert latest is not None
        terms = policy_to_domain(latest)
        product_id = product.id
    abandoned, kept = replace(terms, fee_percent=Decimal("7")), replace(terms, fee_percent=Decimal("3"))
    with uow:
        rolled_back = add_policy_version(uow, product_id, abandoned, now)
        uow.flush()
        assert policy_terms(uow, rolled_back.id) == abandoned
    with uow:
        committed = add_policy_version(uow, product_id, kept, now)
        uow.commit()
    for _ in range(2):  # read, then kept
        with uow_factory() as later:
            assert policy_terms(later, committed.id) == kept
