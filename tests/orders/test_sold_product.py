"""An order's product as after-sales reads it (orders/history.sold_product_of): what the refund
request's lock read as plain columns, or, on every other path, the order's product row; the same
facts either way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.catalog.models import ProductRow
from kameng.catalog.services import SOLD_PRODUCT_COLUMNS, sold_product
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.orders.history import known_sold_product, sold_product_of
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy
from tests.support.tickets import PRODUCT

pytestmark = pytest.mark.usefixtures("catalog")


@pytest.fixture
def order_no(uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime) -> str:
    return buy(uow, channel, make_user().id, PRODUCT, now).order_no


def _the_order(uow: UnitOfWork, order_no: str) -> OrderRow:
    return uow.session.scalars(select(OrderRow).where(OrderRow.order_no == order_no)).one()


def test_the_columns_the_lock_reads_give_the_facts_the_row_gives(uow: UnitOfWork, order_no: str) -> None:
    with uow:
        order = _the_order(uow, order_no)
        columns = uow.session.execute(select(*SOLD_PRODUCT_COLUMNS).where(ProductRow.id == order.product_id)).one()
        from_columns, from_row = sold_product(columns), sold_product(order.product)
        assert from_columns == from_row
        assert from_row.merchant_id == order.product.merchant_id
        assert from_row.names == {"zh": order.product.name_zh, "en": order.product.name_en}
        assert from_row.kind is order.product.kind
        assert from_row.product.price == order.product.price_fen


def test_after_sales_reads_what_the_lock_read_else_the_row_once_per_transaction(uow: UnitOfWork, order_no: str) -> None:
    with uow:
        order = _the_order(uow, order_no)
        first = sold_product_of(uow, order)
        assert first == sold_product(order.product)
        assert sold_product_of(uow, order) is first  # built once in the transaction
    with uow:
        order = _the_order(uow, order_no)
        read_with_the_lock = sold_product(order.product)
        known_sold_product(uow, order.product_id, read_with_the_lock)
        assert sold_product_of(uow, order) is read_with_the_lock
    with uow:  # a new transaction knows nothing of the last one's
        order = _the_order(uow, order_no)
        assert sold_product_of(uow, order) is not read_with_the_lock
