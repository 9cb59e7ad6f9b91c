"""The catalog over the REST API: products on sale and each one's refund terms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kameng.catalog.services import CatalogItem, get_catalog_item, list_catalog
from kameng.domain.money import format_yuan
from kameng.web.deps import ContainerDep
from kameng.web.errors import ERROR_RESPONSE, Text
from kameng.web.params import Slug

router = APIRouter(prefix="/api/v1")


class PolicyOut(BaseModel):
    version: int
    cooling_off_days: int
    cooling_off: str
    proration: str
    fee_percent: str = Field(description='Exact decimal text, e.g. "1.5"')
    fee_min: str
    fee_min_fen: int
    fee_max: str | None
    fee_max_fen: int | None
    review_business_days: int
    trial_counts_as_activation: bool


class ProductOut(BaseModel):
    slug: str
    kind: str
    name: Text
    description: Text
    price: str
    price_fen: int
    term_days: int | None
    term_months: int | None
    promo: bool
    benefits: dict[str, int]
    bonus: str
    bonus_fen: int
    renewable: bool
    card_keys: bool
    needs_nonrefundable_ack: bool
    merchant: Text


class ProductDetailOut(ProductOut):
    refund_terms: list[Text] = Field(description="Generated from the policy, in the engine's order")
    policy: PolicyOut


# --------------------------------------------------------------------------------------------
# Shaping rows into answers


def _product_out(item: CatalogItem) -> dict[str, Any]:
    row = item.row
    return {
        "slug": row.slug,
        "kind": row.kind.value,
        "name": {"zh": row.name_zh, "en": row.name_en},
        "description": {"zh": row.description_zh, "en": row.description_en},
        "price": format_yuan(row.price_fen),
        "price_fen": row.price_fen,
        "term_days": row.term_days,
        "term_months": row.term_months,
        "promo": row.promo,
        "benefits": {str(k): int(v) for k, v in (row.benefits or {}).items()},
        "bonus": format_yuan(row.bonus_fen),
        "bonus_fen": row.bonus_fen,
        "renewable": row.renewable,
        "card_keys": row.uses_card_keys,
        "needs_nonrefundable_ack": row.kind.value == "virtual_goods",
        "merchant": {"zh": row.merchant.name_zh, "en": row.merchant.name_en},
    }


def _product_detail(item: CatalogItem) -> ProductDetailOut:
    policy = item.policy_row
    return ProductDetailOut(
        **_product_out(item),
        refund_terms=[Text(zh=zh, en=en) for zh, en in item.terms],
        policy=PolicyOut(
            version=policy.version,
            cooling_off_days=policy.cooling_off_days,
            cooling_off=policy.cooling_off.value,
            proration=policy.proration.value,
            fee_percent=policy.fee_percent,
            fee_min=format_yuan(policy.fee_min_fen),
            fee_min_fen=policy.fee_min_fen,
            fee_max=format_yuan(policy.fee_max_fen) if policy.fee_max_fen is not None else None,
            fee_max_fen=policy.fee_max_fen,
            review_business_days=policy.review_business_days,
            trial_counts_as_activation=policy.trial_counts_as_activation,
        ),
    )


# --------------------------------------------------------------------------------------------
# Products


@router.get("/products", tags=["products"], summary="List the products on sale")
def get_products(container: ContainerDep) -> list[ProductOut]:
    return [ProductOut(**_product_out(item)) for item in list_catalog(container.uow())]


@router.get(
    "/products/{slug}",
    tags=["products"],
    summary="One product with its refund terms and policy",
    responses={404: ERROR_RESPONSE},
)
def get_product(slug: Slug, container: ContainerDep) -> ProductDetailOut:
    """The product, its refund terms in plain words (zh and en) and the current policy version."""
    return _product_detail(get_catalog_item(container.uow(), slug))
