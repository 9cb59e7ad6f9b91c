"""What placing an order reads before it writes, in one statement.

Placing an order used to read the order under its idempotency key, the product, the consumer's
recent order of it, and the product's current policy version, one statement each. They are one
read now (scalar subqueries beside the product's row): the common checkout pays for one round trip
to the database, not four. The rare paths (a retry, an unknown product) read again what they need.

The product is read as the ten plain columns placing an order asks of it (:class:`ProductForSale`),
not as an ORM object of twenty: nothing in the step changes it (docs/performance.md, ninth pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, SQLColumnExpression, bindparam, select

from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.domain.model import ProductKind
from kameng.domain.states import OrderStatus
from kameng.orders.locked_payments import PAID_FOR_COLUMNS, ProductPaidFor
from kameng.orders.models import OrderRow
from kameng.platform import inputs
from kameng.platform.db.ids import drawn_id_columns, pool_drawn_ids
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput

# Buying the same product again within this window asks the consumer to confirm (duplicate_ack).
DUPLICATE_WINDOW = timedelta(hours=24)


def _recent_order(product_id: SQLColumnExpression[int]) -> Select[str]:
    """The consumer's (``:user_id``) latest order of the product, paid or to pay, placed after
    ``:since``: buying it again asks for a confirmation."""
    return (
        select(OrderRow.order_no)
        .where(
            OrderRow.user_id == bindparam("user_id"),
            OrderRow.product_id == product_id,
            OrderRow.status.in_([OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]),
            OrderRow.created_at > bindparam("since"),
        )
        .order_by(OrderRow.created_at.desc())
        .limit(1)
    )


# Built once: a statement's construction costs a request as much as its execution does.
RECENT_DUPLICATE = _recent_order(bindparam("product_id"))
_CURRENT_POLICY = (
    select(PolicyVersion.id)
    .where(PolicyVersion.product_id == ProductRow.id)
    .order_by(PolicyVersion.version.desc())
    .limit(1)
)
_KEYED = select(OrderRow.id).where(
    OrderRow.user_id == bindparam("user_id"), OrderRow.idempotency_key == bindparam("key")
)


@dataclass(frozen=True)
class ProductForSale:
    """What placing an order reads of the product: what it costs and gives (price, bonus, term),
    what the purchase asks of the consumer (its kind, whether it renews, whether a card key goes
    with it), and what paying from the balance at once settles with (:meth:`paid_for`)."""

    id: int
    slug: str
    kind: ProductKind
    merchant_id: int
    uses_card_keys: bool
    price_fen: int
    bonus_fen: int
    term_days: int | None
    term_months: int | None
    renewable: bool

    def paid_for(self) -> ProductPaidFor:
        return ProductPaidFor(self.id, self.slug, self.kind, self.merchant_id, self.uses_card_keys)


# The columns in the order of ProductForSale's fields: what paying reads of the product first.
_FOR_SALE_COLUMNS = (
    *PAID_FOR_COLUMNS,
    ProductRow.price_fen,
    ProductRow.bonus_fen,
    ProductRow.term_days,
    ProductRow.term_months,
    ProductRow.renewable,
)
_READS = select(
    *_FOR_SALE_COLUMNS,
    _CURRENT_POLICY.scalar_subquery(),
    _recent_order(ProductRow.id).scalar_subquery(),
    _KEYED.scalar_subquery(),  # NULL without a key: nothing equals NULL
).where(ProductRow.slug == bindparam("slug"), ProductRow.active.is_(True))


# On PostgreSQL the same statement draws the new order's and payment's ids (platform/db/ids.py),
# so that a plain checkout writes both rows at its end, in one statement (platform/db/step_end.py),
# instead of through the flush to learn the order's id. A checkout refused after the read leaves
# gaps in the sequences, as a rollback does.
DRAWN_WITH_THE_READS = {"orders": 1, "payments": 1}
_READS_DRAWING_IDS = _READS.add_columns(*drawn_id_columns(DRAWN_WITH_THE_READS))


@dataclass(frozen=True)
class CheckoutReads:
    product: ProductForSale
    policy_version_id: int | None
    duplicate_of: str | None  # the consumer's recent order of the product (paid or to pay)
    keyed_order_id: int | None  # the consumer's order placed with this idempotency key already


def checkout_reads(
    uow: UnitOfWork, user_id: int, product_slug: str, idempotency_key: str | None, now: datetime
) -> CheckoutReads | None:
    """What placing an order reads before it writes, in one statement: the active product by its
    slug, its current policy version, the consumer's recent order of it, and the order the
    idempotency key was used for. None when there is no such product (or the slug is not one)."""
    try:
        slug = inputs.clean_text(product_slug, inputs.SLUG, "product")
    except InvalidInput:
        return None
    drawing = uow.dialect == "postgresql"
    found = uow.session.execute(
        _READS_DRAWING_IDS if drawing else _READS,
        {"slug": slug, "user_id": user_id, "since": now - DUPLICATE_WINDOW, "key": idempotency_key},
    ).one_or_none()
    if found is None:
        return None
    if drawing:
        pool_drawn_ids(uow, found, DRAWN_WITH_THE_READS)
    columns = len(_FOR_SALE_COLUMNS)
    policy_version_id, duplicate_of, keyed_order_id = found[columns : columns + 3]
    return CheckoutReads(ProductForSale(*found[:columns]), policy_version_id, duplicate_of, keyed_order_id)
