"""What placing an order and paying it read of the product, as plain columns beside their other
reads (orders/checkout_reads.ProductForSale, orders/locked_payments.ProductPaidFor): the same
facts as the product's row, field by field, for a product of every kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.catalog.models import ProductRow
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.orders.checkout_reads import checkout_reads
from kameng.orders.locked_payments import ProductPaidFor, locked_payment
from kameng.orders.numbers import payment_out_trade_no
from kameng.platform.db.uow import UnitOfWork
from tests.support.shop import buy

pytestmark = pytest.mark.usefixtures("catalog")

# A product of each kind: two memberships of different terms, a virtual good sold with card keys,
# a top-up with its bonus.
SLUGS = ["annual-card", "monthly-pass-promo", "game-points-50", "top-up-100"]


def _row(uow: UnitOfWork, slug: str) -> ProductRow:
    return uow.session.scalars(select(ProductRow).where(ProductRow.slug == slug)).one()


@pytest.mark.parametrize("slug", SLUGS)
def test_placing_an_order_reads_the_products_facts_as_its_row_holds_them(
    uow: UnitOfWork, make_user: Callable[..., User], now: datetime, slug: str
) -> None:
    user = make_user()
    with uow:
        reads = checkout_reads(uow, user.id, slug, None, now)
        assert reads is not None
        row = _row(uow, slug)
        for_sale = reads.product
        assert (for_sale.id, for_sale.slug, for_sale.kind, for_sale.merchant_id) == (
            row.id,
            row.slug,
            row.kind,
            row.merchant_id,
        )
        assert (for_sale.price_fen, for_sale.bonus_fen, for_sale.term_days, for_sale.term_months) == (
            row.price_fen,
            row.bonus_fen,
            row.term_days,
            row.term_months,
        )
        assert (for_sale.renewable, for_sale.uses_card_keys) == (row.renewable, row.uses_card_keys)
        assert for_sale.paid_for() == ProductPaidFor(row.id, row.slug, row.kind, row.merchant_id, row.uses_card_keys)


@pytest.mark.parametrize("slug", SLUGS)
def test_paying_reads_the_products_facts_as_its_row_holds_them(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime, slug: str
) -> None:
    extra = {"nonrefundable_ack": True} if slug == "game-points-50" else {}
    placed = buy(uow, channel, make_user().id, slug, now, pay=False, **extra)
    with uow:
        locked = locked_payment(uow, payment_out_trade_no(placed.order_no))
        assert locked is not None
        payment, order, paid_for = locked
        row = _row(uow, slug)
        assert paid_for == ProductPaidFor(
            id=row.id, slug=row.slug, kind=row.kind, merchant_id=row.merchant_id, uses_card_keys=row.uses_card_keys
        )
        assert (order.product_id, payment.order_id) == (row.id, order.id)
