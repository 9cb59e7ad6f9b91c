"""What placing an order reads before it writes, in one statement.

Placing an order used to read the order under its idempotency key, the product, the consumer's
recent order of it, and the product's current policy version, one statement each. They are one
read now (scalar subqueries beside the product's row): the common checkout pays for one round trip
to the database, not four. The rare paths (a retry, an unknown product) read again what they need.

The product is read as the ten plain columns placing an order asks of it (:class:`ProductForSale`),
not as an ORM object of twenty: nothing in the step changes it (docs/performance.md, ninth pass).

Through the API the buyer is a bearer secret not looked up yet: the read looks it up as well, beside
the product's row, and its other parts name the secret's holder (docs/performance.md, tenth pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, bindparam, select

from kameng.accounts.sessions import SIGNER_USER_ID, BearerSignIn, signed_in, signed_in_beside
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


def _recent_order(product_id: SQLColumnExpression[int], user_id: SQLColumnExpression[int]) -> Select[str]:
    """The consumer's (``user_id``) latest order of the product, paid or to pay, placed after
    ``:since``: buying it again asks for a confirmation."""
    return (
        select(OrderRow.order_no)
        .where(
            OrderRow.user_id == user_id,
            OrderRow.product_id == product_id,
            OrderRow.status.in_([OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]),
            OrderRow.created_at > bindparam("since"),
        )
        .order_by(OrderRow.created_at.desc())
        .limit(1)
    )


# Built once: a statement's construction costs a request as much as its execution does.
RECENT_DUPLICATE = _recent_order(bindparam("product_id"), bindparam("user_id"))
_CURRENT_POLICY = (
    select(PolicyVersion.id)
    .where(PolicyVersion.product_id == ProductRow.id)
    .order_by(PolicyVersion.version.desc())
    .limit(1)
)


def _keyed(user_id: SQLColumnExpression[int]) -> Select[int]:
    return select(OrderRow.id).where(OrderRow.user_id == user_id, OrderRow.idempotency_key == bindparam("key"))


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


def _reads(user_id: SQLColumnExpression[int]) -> Select[*tuple[Any, ...]]:
    return select(
        *_FOR_SALE_COLUMNS,
        _CURRENT_POLICY.scalar_subquery(),
        _recent_order(ProductRow.id, user_id).scalar_subquery(),
        _keyed(user_id).scalar_subquery(),  # NULL without a key: nothing equals NULL
    ).where(ProductRow.slug == bindparam("slug"), ProductRow.active.is_(True))


# On PostgreSQL the same statement draws the new order's and payment's ids (platform/db/ids.py),
# so that a plain checkout writes both rows at its end, in one statement (platform/db/step_end.py),
# instead of through the flush to learn the order's id. A checkout refused after the read leaves
# gaps in the sequences, as a rollback does.
DRAWN_WITH_THE_READS = {"orders": 1, "payments": 1}
# For the buyer's id, or (the API) for a bearer secret not looked up yet: then the look-up is
# joined to the reads (accounts/sessions.signed_in_beside), a statement fewer per order, and the
# reads name the secret's holder.
_READS = {
    (signed, drawing): (
        signed_in_beside(_reads(SIGNER_USER_ID)) if signed else _reads(bindparam("user_id"))
    ).add_columns(*(drawn_id_columns(DRAWN_WITH_THE_READS) if drawing else ()))
    for signed in (False, True)
    for drawing in (False, True)
}


@dataclass(frozen=True)
class CheckoutReads:
    buyer_id: int
    product: ProductForSale | None  # None when there is no such product on sale
    policy_version_id: int | None
    duplicate_of: str | None  # the consumer's recent order of the product (paid or to pay)
    keyed_order_id: int | None  # the consumer's order placed with this idempotency key already


def checkout_reads(
    uow: UnitOfWork, buyer: int | BearerSignIn, product_slug: str, idempotency_key: str | None, now: datetime
) -> CheckoutReads:
    """What placing an order reads before it writes, in one statement: who buys (the buyer's id,
    or who the bearer secret signs in: 401 when no one live), the active product by its slug, its
    current policy version, the buyer's recent order of it, and the order the idempotency key was
    used for. No product when there is none on sale by that slug (or the slug is not one)."""
    drawing = uow.dialect == "postgresql"
    signed = isinstance(buyer, BearerSignIn)
    asked: dict[str, object] = {"since": now - DUPLICATE_WINDOW, "key": idempotency_key}
    asked |= buyer.parameters() if isinstance(buyer, BearerSignIn) else {"user_id": buyer}
    try:
        asked["slug"] = inputs.clean_text(product_slug, inputs.SLUG, "product")
    except InvalidInput:
        found = None
    else:
        found = uow.session.execute(_READS[signed, drawing], asked).one_or_none()
    if isinstance(buyer, BearerSignIn):
        buyer = signed_in(uow.session.connection(), found, buyer).user_id
    if found is None:
        return CheckoutReads(buyer, None, None, None, None)
    if drawing:
        pool_drawn_ids(uow, found, DRAWN_WITH_THE_READS)
    columns = len(_FOR_SALE_COLUMNS)
    policy_version_id, duplicate_of, keyed_order_id = found[columns : columns + 3]
    return CheckoutReads(buyer, ProductForSale(*found[:columns]), policy_version_id, duplicate_of, keyed_order_id)
