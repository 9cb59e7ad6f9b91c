"""Card-key stock per product (available, reserved, sold, revoked) and the low-stock alerts that
the operator's dashboard and catalog page show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, case, func, select

from kameng.catalog.models import ProductRow
from kameng.domain.states import CardKeyStatus
from kameng.orders.models import CardKeyRow
from kameng.platform.db.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Stock:
    available: int = 0
    reserved: int = 0
    delivered: int = 0  # delivered or revealed: sold
    revoked: int = 0

    @property
    def total(self) -> int:
        return self.available + self.reserved + self.delivered + self.revoked


def _stock_query(product_ids: Sequence[int] | None = None) -> Select[int, int, int, int, int]:
    def count(*statuses: CardKeyStatus) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((CardKeyRow.status.in_(statuses), 1), else_=0)), 0)

    query = select(
        CardKeyRow.product_id,
        count(CardKeyStatus.AVAILABLE),
        count(CardKeyStatus.RESERVED),
        count(CardKeyStatus.DELIVERED, CardKeyStatus.REVEALED),
        count(CardKeyStatus.REVOKED),
    ).group_by(CardKeyRow.product_id)
    if product_ids is not None:
        query = query.where(CardKeyRow.product_id.in_(product_ids))
    return query


def stock_in(uow: UnitOfWork) -> dict[int, Stock]:
    """Card-key stock per product id, inside an open unit of work (one grouped query)."""
    return {int(pid): Stock(int(a), int(r), int(d), int(v)) for pid, a, r, d, v in uow.session.execute(_stock_query())}


def stock_by_product(uow: UnitOfWork) -> dict[int, Stock]:
    with uow:
        return stock_in(uow)


@dataclass(frozen=True, slots=True)
class LowStock:
    product_id: int
    slug: str
    name_zh: str
    name_en: str
    available: int
    threshold: int

    @property
    def url(self) -> str:
        return f"/operator/catalog/products/{self.product_id}"


def low_stock_alerts(uow: UnitOfWork) -> list[LowStock]:
    """Products on sale that deliver card keys and have fewer available than their threshold
    (0: never alert), fewest first. For the operator's dashboard and the catalog page."""
    with uow:
        return low_stock_in(uow)


def low_stock_in(uow: UnitOfWork) -> list[LowStock]:
    stock = stock_in(uow)
    products = uow.session.scalars(
        select(ProductRow).where(
            ProductRow.active.is_(True), ProductRow.uses_card_keys.is_(True), ProductRow.low_stock_threshold > 0
        )
    ).all()
    alerts = [
        LowStock(p.id, p.slug, p.name_zh, p.name_en, stock.get(p.id, Stock()).available, p.low_stock_threshold)
        for p in products
        if stock.get(p.id, Stock()).available < p.low_stock_threshold
    ]
    return sorted(alerts, key=lambda alert: (alert.available, alert.product_id))
