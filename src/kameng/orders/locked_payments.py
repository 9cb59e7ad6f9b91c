"""The payment a notification is about and its order, locked in one statement that also brings
what settling them will ask the database for: whether any webhook endpoint is enabled, and (on
PostgreSQL) the id of the journal entry the settlement posts.

Paying used to read the enabled endpoints in a statement of their own, even when there are none,
and to learn its journal entry's id from an ``INSERT … RETURNING`` of its own, which forced the
settlement's rows through the ORM's flush one by one. With both answers in hand from the lock,
the settlement's new rows go out as multi-row inserts at the end (orders/payments.py).

The order's product is read as the five plain columns settling asks of it
(:class:`ProductPaidFor`), not as an ORM object of twenty: building and tracking that object was
the larger part of what the product cost the lock (docs/performance.md, ninth pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import lazyload

from kameng.catalog.models import ProductRow
from kameng.domain.model import ProductKind
from kameng.orders.models import OrderRow, PaymentRow
from kameng.platform.db.ids import drawn_id_columns, pool_drawn_ids
from kameng.platform.db.uow import UnitOfWork
from kameng.webhooks.events import ANY_ENABLED, known_to_have_none


@dataclass(frozen=True)
class ProductPaidFor:
    """What settling a payment reads of the order's product: what it hands over (its kind, and
    whether a card key goes with it), whose sale it is (its merchant), and its slug for the
    ``order.paid`` webhook."""

    id: int
    slug: str
    kind: ProductKind
    merchant_id: int
    uses_card_keys: bool


# In the order of ProductPaidFor's fields.
PAID_FOR_COLUMNS = (
    ProductRow.id,
    ProductRow.slug,
    ProductRow.kind,
    ProductRow.merchant_id,
    ProductRow.uses_card_keys,
)
_FIRST_PAID_FOR_COLUMN = 3  # after the payment, the order and whether any endpoint is enabled


def _paid_for(found: Row[Any]) -> ProductPaidFor:
    return ProductPaidFor(*found[_FIRST_PAID_FOR_COLUMN : _FIRST_PAID_FOR_COLUMN + len(PAID_FOR_COLUMNS)])


# Built once: a statement's construction costs about as much as its execution does. The rows
# are locked payment first, then order (the order of the FROM list), as two statements did
# before; the product is read, not locked (a sale does not change it), and the order's policy is
# not read (settling does not need it).
_LOCKED_PAYMENT = (
    select(PaymentRow, OrderRow, ANY_ENABLED.label("any_webhook_endpoint"), *PAID_FOR_COLUMNS)
    .join(OrderRow, OrderRow.id == PaymentRow.order_id)
    .join(ProductRow, ProductRow.id == OrderRow.product_id)
    .where(PaymentRow.out_trade_no == bindparam("out_trade_no"))
    .options(lazyload(OrderRow.policy), lazyload(OrderRow.product))
    .with_for_update(of=(PaymentRow, OrderRow))
)
# On PostgreSQL the same statement draws the settlement's journal entry id (platform/db/ids.py).
# An id drawn and not used (a replayed or failed notification) is a gap, as a rollback leaves.
_DRAWN = {"journal_entries": 1}
_LOCKED_PAYMENT_DRAWING_ENTRY_ID = _LOCKED_PAYMENT.add_columns(*drawn_id_columns(_DRAWN))


LockedPayment = tuple[PaymentRow, OrderRow, ProductPaidFor]


def locked_payment(uow: UnitOfWork, out_trade_no: str) -> LockedPayment | None:
    """The payment of ``out_trade_no`` and its order, both locked, and what settling reads of its
    product, in one statement. What else the statement learnt is left where the settlement looks
    for it: the enabled endpoints' absence with webhooks.events, the journal entry's id in the
    transaction's pool of ids drawn ahead (platform/db/ids.py), which ``post_entry`` takes from."""
    drawing = uow.dialect == "postgresql"
    query = _LOCKED_PAYMENT_DRAWING_ENTRY_ID if drawing else _LOCKED_PAYMENT
    found = uow.session.execute(query, {"out_trade_no": out_trade_no}).one_or_none()
    if found is None:
        return None
    known_to_have_none(uow, bool(found.any_webhook_endpoint))
    if drawing:
        pool_drawn_ids(uow, found, _DRAWN)
    return found[0], found[1], _paid_for(found)
