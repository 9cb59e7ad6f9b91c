"""The operator's side of the catalog: merchants, and products created and edited.

A product's fields are checked one by one, each refusal naming its field; the kind and term rules
are the domain's (``Product``). A product's kind is fixed once it exists (its orders, refunds and
card keys were made for that kind). Changing the price changes what the next buyer pays, never an
order already placed: every order keeps the price it was placed at (``orders.list_price_fen``,
``amount_fen``) and the policy version it was paid under.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kameng.catalog.card_keys import require_operator
from kameng.catalog.models import Merchant, ProductRow
from kameng.catalog.services import add_policy_version
from kameng.catalog.stock import Stock, stock_in
from kameng.domain.model import (
    MAX_TERM_DAYS,
    MAX_TERM_MONTHS,
    CoolingOff,
    DomainError,
    Policy,
    Product,
    ProductKind,
    Term,
)
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, not_found

NAME = inputs.TextRule(200, min_length=1)
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?")
BENEFIT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_BENEFITS = 20
MAX_BENEFIT_COUNT = 100_000
MAX_THRESHOLD = 1_000_000
TERM_UNITS = ("days", "months", "permanent")


@dataclass(frozen=True)
class ProductForm:
    """What an operator typed (a page's form or an API body), not yet checked."""

    slug: str = ""
    merchant_id: object = None
    kind: str = ""
    name_zh: str = ""
    name_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    price: object = ""  # yuan, as typed
    term_unit: str = ""  # days, months or permanent (memberships only)
    term_value: object = None
    promo: bool = False
    benefits: str = ""  # "video=30, music=10"
    bonus: object = "0"  # yuan (recharges)
    renewable: bool = False
    uses_card_keys: bool = False
    active: bool = True
    low_stock_threshold: object = 5


@dataclass(frozen=True)
class CheckedProduct:
    slug: str
    merchant_id: int
    kind: ProductKind
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    price_fen: int
    term_days: int | None
    term_months: int | None
    promo: bool
    benefits: dict[str, int]
    bonus_fen: int
    renewable: bool
    uses_card_keys: bool
    active: bool
    low_stock_threshold: int
    values: dict[str, Any] = field(default_factory=dict)


def _whole(value: object, name: str, minimum: int, maximum: int) -> int:
    text = str(value).strip() if value is not None else ""
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,12}", text):
        raise InvalidInput(ErrorCode.BAD_NUMBER, "catalogkeys.error.whole", name, label=inputs.field_label(name))
    return inputs.check_whole(int(text), name, minimum, maximum)


def parse_benefits(text: str) -> dict[str, int]:
    """``"video=30, music=10"`` (or one per line) → ``{"video": 30, "music": 10}``."""
    benefits: dict[str, int] = {}
    for part in re.split(r"[,,\n;;]", text):
        part = part.strip()
        if not part:
            continue
        name, sep, count = part.partition("=")
        name = name.strip()
        if not sep or not BENEFIT_NAME.fullmatch(name) or name in benefits:
            raise InvalidInput(ErrorCode.UNKNOWN_BENEFIT, "catalogkeys.error.benefits", "benefits")
        benefits[name] = _whole(count, "benefits", 1, MAX_BENEFIT_COUNT)
    if len(benefits) > MAX_BENEFITS:
        raise InvalidInput(ErrorCode.TOO_LONG, "catalogkeys.error.benefits", "benefits")
    return benefits


def check_product(uow: UnitOfWork, form: ProductForm, existing: ProductRow | None = None) -> CheckedProduct:
    """Every field under its rule, the first fault raised naming its field (inside ``with uow``)."""
    slug = inputs.clean_text(form.slug, inputs.SLUG, "slug").lower()
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidInput(ErrorCode.BAD_IDENTIFIER, "catalogkeys.error.slug", "slug")
    taken = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == slug))
    if taken is not None and (existing is None or taken != existing.id):
        raise InvalidInput(ErrorCode.IDENTIFIER_TAKEN, "catalogkeys.error.slug_taken", "slug")
    try:
        kind = ProductKind(str(form.kind))
    except ValueError:
        raise InvalidInput(ErrorCode.REQUIRED, "catalogkeys.error.kind", "kind") from None
    if existing is not None and kind is not existing.kind:
        raise InvalidInput(ErrorCode.INVALID_TRANSITION, "catalogkeys.error.kind_fixed", "kind")
    merchant_id = _whole(form.merchant_id, "merchant_id", 1, inputs.MAX_ID)
    merchant = uow.session.get(Merchant, merchant_id)
    if merchant is None or merchant.gone_at is not None:
        raise InvalidInput(ErrorCode.NOT_FOUND, "catalogkeys.error.merchant", "merchant_id")
    name_zh = inputs.clean_text(form.name_zh, NAME, "name_zh")
    name_en = inputs.clean_text(form.name_en, NAME, "name_en")
    description_zh = inputs.clean_text(form.description_zh, inputs.DESCRIPTION, "description_zh")
    description_en = inputs.clean_text(form.description_en, inputs.DESCRIPTION, "description_en")
    price_fen = inputs.yuan_input(form.price, "price")
    if price_fen < 1:
        raise InvalidInput(ErrorCode.BAD_AMOUNT, "catalogkeys.error.price", "price")
    term_days = term_months = None
    if kind is ProductKind.MEMBERSHIP:
        if form.term_unit not in TERM_UNITS:
            raise InvalidInput(ErrorCode.REQUIRED, "catalogkeys.error.term", "term_unit")
        if form.term_unit == "days":
            term_days = _whole(form.term_value, "term_value", 1, MAX_TERM_DAYS)
        elif form.term_unit == "months":
            term_months = _whole(form.term_value, "term_value", 1, MAX_TERM_MONTHS)
    benefits = parse_benefits(form.benefits)
    bonus_fen = inputs.yuan_input(form.bonus or "0", "bonus") if kind is ProductKind.RECHARGE else 0
    uses_card_keys = bool(form.uses_card_keys) and kind is ProductKind.VIRTUAL_GOODS
    if form.uses_card_keys and not uses_card_keys:
        raise InvalidInput(ErrorCode.INVALID_REQUEST, "catalogkeys.error.card_keys_kind", "uses_card_keys")
    renewable = bool(form.renewable)
    if renewable and (kind is not ProductKind.MEMBERSHIP or (term_days is None and term_months is None)):
        raise InvalidInput(ErrorCode.NOT_RENEWABLE, "catalogkeys.error.renewable", "renewable")
    threshold = _whole(form.low_stock_threshold, "low_stock_threshold", 0, MAX_THRESHOLD)
    term = Term(days=term_days, months=term_months) if kind is ProductKind.MEMBERSHIP else None
    try:
        Product(kind=kind, price=price_fen, term=term, promo=bool(form.promo), benefits=benefits, name=name_en)
    except DomainError as error:  # the domain's own rules, should a field above let one through
        raise InvalidInput(ErrorCode.INVALID_REQUEST, "error.bad_policy", error.where, error=error) from None
    return CheckedProduct(
        slug=slug,
        merchant_id=merchant_id,
        kind=kind,
        name_zh=name_zh,
        name_en=name_en,
        description_zh=description_zh,
        description_en=description_en,
        price_fen=price_fen,
        term_days=term_days,
        term_months=term_months,
        promo=bool(form.promo),
        benefits=benefits,
        bonus_fen=bonus_fen,
        renewable=renewable,
        uses_card_keys=uses_card_keys,
        active=bool(form.active),
        low_stock_threshold=threshold,
    )


def _first_policy(kind: ProductKind) -> Policy:
    """The policy a new product starts with (the policies' page makes new versions): RULES.md's
    default seven days' cooling-off; virtual goods, once delivered, have none."""
    if kind is ProductKind.VIRTUAL_GOODS:
        return Policy(cooling_off_days=0, cooling_off=CoolingOff.NONE)
    return Policy()


def _apply(row: ProductRow, checked: CheckedProduct) -> None:
    for name in (
        "slug",
        "merchant_id",
        "name_zh",
        "name_en",
        "description_zh",
        "description_en",
        "price_fen",
        "term_days",
        "term_months",
        "promo",
        "benefits",
        "bonus_fen",
        "renewable",
        "uses_card_keys",
        "active",
        "low_stock_threshold",
    ):
        setattr(row, name, getattr(checked, name))


def _locked_product(uow: UnitOfWork, product_id: int) -> ProductRow:
    # FOR UPDATE OF products: the merchant comes joined (outer), which PostgreSQL cannot lock.
    row = uow.session.scalar(select(ProductRow).where(ProductRow.id == product_id).with_for_update(of=ProductRow))
    if row is None:
        raise not_found("product")
    return row


def create_product(uow: UnitOfWork, operator: Viewer, form: ProductForm, now: datetime) -> ProductRow:
    require_operator(operator)
    with uow:
        checked = check_product(uow, form)
        row = ProductRow(kind=checked.kind, created_at=now, sort_order=100)
        _apply(row, checked)
        uow.session.add(row)
        uow.session.flush()
        add_policy_version(uow, row.id, _first_policy(checked.kind), now, operator.user_id)
        uow.commit()
        return row


def update_product(uow: UnitOfWork, operator: Viewer, product_id: int, form: ProductForm) -> ProductRow:
    """Edit a product; orders already placed keep their own price, terms and policy version."""
    require_operator(operator)
    with uow:
        row = _locked_product(uow, product_id)
        checked = check_product(uow, form, row)
        _apply(row, checked)
        uow.commit()
        return row


def set_on_sale(uow: UnitOfWork, operator: Viewer, product_id: int, on_sale: bool) -> ProductRow:
    """On or off sale; setting what is already set changes nothing."""
    require_operator(operator)
    with uow:
        row = _locked_product(uow, product_id)
        row.active = on_sale
        uow.commit()
        return row


def form_of(row: ProductRow) -> ProductForm:
    """A product as its edit form shows it."""
    unit = "days" if row.term_days else "months" if row.term_months else "permanent"
    return ProductForm(
        slug=row.slug,
        merchant_id=row.merchant_id,
        kind=row.kind.value,
        name_zh=row.name_zh,
        name_en=row.name_en,
        description_zh=row.description_zh,
        description_en=row.description_en,
        price=f"{row.price_fen / 100:.2f}",
        term_unit=unit if row.kind is ProductKind.MEMBERSHIP else "",
        term_value=row.term_days or row.term_months or "",
        promo=row.promo,
        benefits=", ".join(f"{k}={v}" for k, v in (row.benefits or {}).items()),
        bonus=f"{row.bonus_fen / 100:.2f}",
        renewable=row.renewable,
        uses_card_keys=row.uses_card_keys,
        active=row.active,
        low_stock_threshold=row.low_stock_threshold,
    )


# --------------------------------------------------------------------------------------------
# Merchants


def create_merchant(uow: UnitOfWork, operator: Viewer, name_zh: str, name_en: str, now: datetime) -> Merchant:
    require_operator(operator)
    zh = inputs.clean_text(name_zh, NAME, "merchant_name_zh")
    en = inputs.clean_text(name_en, NAME, "merchant_name_en")
    with uow:
        merchant = Merchant(name_zh=zh, name_en=en, created_at=now)
        uow.session.add(merchant)
        uow.commit()
        return merchant


def list_merchants(uow: UnitOfWork) -> list[Merchant]:
    with uow:
        return list(uow.session.scalars(select(Merchant).where(Merchant.gone_at.is_(None)).order_by(Merchant.id)))


# --------------------------------------------------------------------------------------------
# The catalog as the operator sees it


@dataclass(frozen=True)
class AdminProduct:
    row: ProductRow
    stock: Stock
    low: bool


def _is_low(row: ProductRow, stock: Stock) -> bool:
    """The same test as ``low_stock_alerts``."""
    threshold = row.low_stock_threshold
    return row.uses_card_keys and row.active and threshold > 0 and stock.available < threshold


def admin_products(uow: UnitOfWork, operator: Viewer) -> list[AdminProduct]:
    """Every product (on sale or not) with its card-key stock."""
    require_operator(operator)
    with uow:
        stock = stock_in(uow)
        rows = uow.session.scalars(select(ProductRow).order_by(ProductRow.sort_order, ProductRow.id)).all()
        return [AdminProduct(row, stock.get(row.id, Stock()), _is_low(row, stock.get(row.id, Stock()))) for row in rows]


def admin_product(uow: UnitOfWork, operator: Viewer, product_id: int) -> AdminProduct:
    require_operator(operator)
    with uow:
        row = uow.session.get(ProductRow, product_id)
        if row is None:
            raise not_found("product")
        stock = stock_in(uow).get(row.id, Stock())
        low = (
            row.uses_card_keys
            and row.active
            and row.low_stock_threshold > 0
            and stock.available < row.low_stock_threshold
        )
        return AdminProduct(row, stock, low)
