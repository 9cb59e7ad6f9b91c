"""The catalog: products, their current refund policy versions, terms in plain words, and the
coupons a refund gives back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select

from kameng.catalog.models import CouponRow, PolicyVersion, ProductRow
from kameng.domain.model import DomainError, Policy, Product, ProductKind, Term
from kameng.domain.terms import Sentence, describe_refund_terms
from kameng.platform import inputs
from kameng.platform.db.committed import CommittedValues
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, not_found


class PricedTerm(Protocol):
    """A product's price and term, as any reader of them gets them: a stored row
    (:class:`ProductRow`), or its columns read as a plain row beside other facts by a hot step."""

    @property
    def price_fen(self) -> int: ...
    @property
    def term_days(self) -> int | None: ...
    @property
    def term_months(self) -> int | None: ...


class ProductFacts(PricedTerm, Protocol):
    """What the engine and after-sales read of a product: a stored row (:class:`ProductRow`), or
    the same columns read as a plain row where a hot step reads them beside other facts
    (:data:`SOLD_PRODUCT_COLUMNS`)."""

    @property
    def kind(self) -> ProductKind: ...
    @property
    def merchant_id(self) -> int: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def promo(self) -> bool: ...
    @property
    def benefits(self) -> dict[str, Any]: ...


# The product's columns that :class:`ProductFacts` names, for a statement that reads them beside
# others instead of loading the product's row as an object.
SOLD_PRODUCT_COLUMNS = (
    ProductRow.kind,
    ProductRow.merchant_id,
    ProductRow.name_zh,
    ProductRow.name_en,
    ProductRow.price_fen,
    ProductRow.term_days,
    ProductRow.term_months,
    ProductRow.promo,
    ProductRow.benefits,
)


def product_to_domain(row: ProductFacts) -> Product:
    term = None
    if row.kind.value == "membership":
        term = Term(days=row.term_days, months=row.term_months)
    return Product(
        kind=row.kind,
        price=row.price_fen,
        term=term,
        promo=row.promo,
        benefits={str(k): int(v) for k, v in (row.benefits or {}).items()},
        name=row.name_en,
    )


@dataclass(frozen=True, slots=True)
class SoldProduct:
    """An order's product as after-sales reads it: the engine's view of it, its merchant (whose
    accounts a refund is posted against) and its names (which head the consumer's messages)."""

    product: Product
    merchant_id: int
    names: dict[str, str]

    @property
    def kind(self) -> ProductKind:
        return self.product.kind


def sold_product(row: ProductFacts) -> SoldProduct:
    return SoldProduct(product_to_domain(row), row.merchant_id, {"zh": row.name_zh, "en": row.name_en})


def policy_to_domain(row: PolicyVersion) -> Policy:
    return Policy(
        cooling_off_days=row.cooling_off_days,
        cooling_off=row.cooling_off,
        proration=row.proration,
        fee_percent=Decimal(row.fee_percent),
        fee_min=row.fee_min_fen,
        fee_max=row.fee_max_fen,
        review_business_days=row.review_business_days,
        trial_counts_as_activation=row.trial_counts_as_activation,
    )


# Policy versions are never changed nor deleted (a new version is a new row), so their terms are
# kept by id once read: a hot path (the refund request's lock) need not load an order's policy
# version with it every time. A few thousand versions are a few hundred kilobytes.
_POLICY_TERMS: CommittedValues[int, Policy] = CommittedValues(limit=4096)


def policy_terms(uow: UnitOfWork, version_id: int) -> Policy:
    """The terms of policy version ``version_id``: read once per process and database."""
    terms = _POLICY_TERMS.get(uow, version_id)
    if terms is None:
        terms = policy_to_domain(uow.session.get_one(PolicyVersion, version_id))
        _POLICY_TERMS.remember(uow, version_id, terms)
    return terms


@dataclass(frozen=True)
class CatalogItem:
    row: ProductRow
    policy_row: PolicyVersion
    product: Product
    policy: Policy
    terms: list[Sentence]


def current_policy(uow: UnitOfWork, product_id: int) -> PolicyVersion:
    row = uow.session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.product_id == product_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )
    if row is None:
        raise not_found("refund_policy")
    return row


def _item(uow: UnitOfWork, row: ProductRow) -> CatalogItem:
    policy_row = current_policy(uow, row.id)
    product, policy = product_to_domain(row), policy_to_domain(policy_row)
    return CatalogItem(row, policy_row, product, policy, describe_refund_terms(product, policy))


def list_catalog(uow: UnitOfWork) -> list[CatalogItem]:
    with uow:
        rows = uow.session.scalars(
            select(ProductRow).where(ProductRow.active.is_(True)).order_by(ProductRow.sort_order, ProductRow.id)
        ).all()
        return [_item(uow, row) for row in rows]


def get_catalog_item(uow: UnitOfWork, slug: str) -> CatalogItem:
    if not inputs.could_be(slug, inputs.SLUG):
        raise not_found("product")
    with uow:
        row = uow.session.scalar(select(ProductRow).where(ProductRow.slug == slug, ProductRow.active.is_(True)))
        if row is None:
            raise not_found("product")
        return _item(uow, row)


def add_policy_version(
    uow: UnitOfWork, product_id: int, policy: Policy, now: datetime, actor_id: int | None = None
) -> PolicyVersion:
    """A new version; existing versions are never edited, so an order's terms never change."""
    row = uow.session.get(ProductRow, product_id)
    if row is None:
        raise not_found("product")
    try:
        policy.check_against(product_to_domain(row))
    except DomainError as error:
        raise InvalidInput(ErrorCode.BAD_POLICY, "error.bad_policy", error.where, error=error) from None
    latest = (
        uow.session.scalar(
            select(func.coalesce(func.max(PolicyVersion.version), 0)).where(PolicyVersion.product_id == product_id)
        )
        or 0
    )
    version = PolicyVersion(
        product_id=product_id,
        version=latest + 1,
        cooling_off_days=policy.cooling_off_days,
        cooling_off=policy.cooling_off,
        proration=policy.proration,
        fee_percent=str(policy.fee_percent),
        fee_min_fen=policy.fee_min,
        fee_max_fen=policy.fee_max,
        review_business_days=policy.review_business_days,
        trial_counts_as_activation=policy.trial_counts_as_activation,
        created_by=actor_id,
        created_at=now,
    )
    uow.session.add(version)
    uow.session.flush()
    return version


# --------------------------------------------------------------------------------------------
# Coupons given back


def returned_coupon_code(order_no: str) -> str:
    """The code of the coupon a refund of ``order_no`` gives back: derived from the order, so the
    same refund can never issue it twice (the code is unique)."""
    return f"RT{order_no}"


def returned_coupon(uow: UnitOfWork, order_no: str) -> CouponRow | None:
    return uow.session.scalar(select(CouponRow).where(CouponRow.code == returned_coupon_code(order_no)))


def issue_returned_coupon(
    uow: UnitOfWork, used: CouponRow, user_id: int, order_no: str, expires_at: datetime | None, now: datetime
) -> CouponRow | None:
    """Give back, as a new coupon of the consumer's own, the coupon ``used`` by the refunded order
    ``order_no``; None when it was given back already.

    A new coupon rather than the old one released: the old one may be a public code (SORRY10,
    for anyone who types it), which released would go to whoever types it first, not to the
    consumer it was promised to; and the refunded order keeps the coupon it was paid with, as its
    sale in the ledger and its evidence file say. The new one has the same value and conditions,
    belongs to this consumer only, and is single-use like any coupon."""
    if returned_coupon(uow, order_no) is not None:
        return None
    coupon = CouponRow(
        code=returned_coupon_code(order_no),
        value_fen=used.value_fen,
        min_spend_fen=used.min_spend_fen,
        refundable=used.refundable,
        user_id=user_id,
        expires_at=expires_at,
        created_at=now,
    )
    uow.session.add(coupon)
    uow.session.flush()
    return coupon
