"""The operator's catalog over the REST API: products (create, edit, on/off sale), their
card-key stock, card-key imports (with an ``Idempotency-Key``) and the low-stock alerts.

Every route takes an operator's bearer token; anyone else is answered 404, as on the pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kameng.catalog import admin
from kameng.catalog.card_keys import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_KEYS,
    ImportRefused,
    import_card_keys,
    preview_import,
    problem_text,
    require_operator,
)
from kameng.catalog.stock import LowStock, Stock, low_stock_alerts
from kameng.domain.card_keys import BadLine
from kameng.domain.model import MAX_TERM_DAYS
from kameng.domain.money import format_yuan
from kameng.platform import inputs
from kameng.platform.inputs import BenefitName, Description, RowId, SlugText, YuanText, limits, text_validator
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep, IdempotencyKey, viewer_of
from kameng.web.errors import ERROR_RESPONSE, Text
from kameng.web.params import IdPath

router = APIRouter(prefix="/api/v1/operator")

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: ERROR_RESPONSE,
    404: ERROR_RESPONSE,
    409: ERROR_RESPONSE,
    422: ERROR_RESPONSE,
}
Name = Annotated[str, text_validator(admin.NAME), limits(admin.NAME)]
Choice = Annotated[str, text_validator(inputs.CHOICE), limits(inputs.CHOICE)]
BenefitCount = Annotated[int, Field(ge=1, le=admin.MAX_BENEFIT_COUNT)]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Annotated[SlugText, Field(description="lowercase letters, digits and -")]
    merchant_id: RowId
    kind: Annotated[Choice, Field(description="membership, virtual_goods or recharge")]
    name_zh: Name
    name_en: Name
    description_zh: Description = ""
    description_en: Description = ""
    price: YuanText
    term_unit: Annotated[Choice, Field(description="days, months or permanent (memberships)")] = ""
    term_value: Annotated[int | None, Field(ge=1, le=MAX_TERM_DAYS)] = None
    promo: bool = False
    benefits: Annotated[dict[BenefitName, BenefitCount], Field(max_length=admin.MAX_BENEFITS)] = Field(
        default_factory=dict
    )
    bonus: YuanText = "0"
    renewable: bool = False
    uses_card_keys: bool = False
    on_sale: bool = True
    low_stock_threshold: Annotated[int, Field(ge=0, le=admin.MAX_THRESHOLD)] = 5

    def form(self) -> admin.ProductForm:
        return admin.ProductForm(
            slug=self.slug,
            merchant_id=self.merchant_id,
            kind=self.kind,
            name_zh=self.name_zh,
            name_en=self.name_en,
            description_zh=self.description_zh,
            description_en=self.description_en,
            price=self.price,
            term_unit=self.term_unit,
            term_value=self.term_value,
            promo=self.promo,
            benefits=", ".join(f"{name}={count}" for name, count in self.benefits.items()),
            bonus=self.bonus,
            renewable=self.renewable,
            uses_card_keys=self.uses_card_keys,
            active=self.on_sale,
            low_stock_threshold=self.low_stock_threshold,
        )


class StockOut(BaseModel):
    available: int
    reserved: int
    delivered: int = Field(description="Delivered or revealed to their buyers")
    revoked: int


class AdminProductOut(BaseModel):
    id: int
    slug: str
    kind: str
    merchant_id: int
    name: Text
    price: str
    price_fen: int
    term_days: int | None
    term_months: int | None
    benefits: dict[str, int]
    bonus_fen: int
    renewable: bool
    uses_card_keys: bool
    on_sale: bool
    low_stock_threshold: int
    stock: StockOut | None = Field(description="Card-key stock (products that deliver card keys)")
    low_stock: bool


class SaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_sale: bool


# A key as sent (checked line by line after, with the list's other faults); a CSV's text, lines
# and tabs allowed, control characters not.
CODE = inputs.TextRule(200)
CSV_TEXT = inputs.TextRule(MAX_IMPORT_BYTES, multiline=True)


class CardKeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: Annotated[
        list[Annotated[str, text_validator(CODE), limits(CODE)]] | None,
        Field(max_length=MAX_IMPORT_KEYS, description="The keys, one per item"),
    ] = None
    csv: Annotated[
        str | None,
        text_validator(CSV_TEXT),
        Field(max_length=MAX_IMPORT_BYTES, description="A CSV file's text: the first column is the key"),
    ] = None
    preview: bool = Field(default=False, description="Only check: nothing is imported")

    def text(self) -> str:
        return self.csv if self.csv is not None else "\n".join(self.codes or [])

    @property
    def field(self) -> str:
        return "csv" if self.csv is not None else "codes"


class LineProblemOut(BaseModel):
    line: int
    problem: str
    first_line: int | None
    message: Text


class ImportOut(BaseModel):
    product_id: int
    keys: int
    imported: bool
    replayed: bool = False
    committed_at: datetime | None = None
    problems: list[LineProblemOut] = Field(default_factory=list)


class LowStockOut(BaseModel):
    product_id: int
    slug: str
    name: Text
    available: int
    threshold: int


def _stock_out(stock: Stock) -> StockOut:
    return StockOut(
        available=stock.available, reserved=stock.reserved, delivered=stock.delivered, revoked=stock.revoked
    )


def _product_out(item: admin.AdminProduct) -> AdminProductOut:
    row = item.row
    return AdminProductOut(
        id=row.id,
        slug=row.slug,
        kind=row.kind.value,
        merchant_id=row.merchant_id,
        name=Text(zh=row.name_zh, en=row.name_en),
        price=format_yuan(row.price_fen),
        price_fen=row.price_fen,
        term_days=row.term_days,
        term_months=row.term_months,
        benefits={str(k): int(v) for k, v in (row.benefits or {}).items()},
        bonus_fen=row.bonus_fen,
        renewable=row.renewable,
        uses_card_keys=row.uses_card_keys,
        on_sale=row.active,
        low_stock_threshold=row.low_stock_threshold,
        stock=_stock_out(item.stock) if row.uses_card_keys else None,
        low_stock=item.low,
    )


def _problem_out(bad: BadLine) -> LineProblemOut:
    return LineProblemOut(
        line=bad.line,
        problem=bad.problem.value,
        first_line=bad.first_line,
        message=Text(zh=problem_text(bad, "zh"), en=problem_text(bad, "en")),
    )


def _refused(product_id: int, refused: ImportRefused) -> JSONResponse:
    """The API's error answer (``{"error": ...}``), with every line at fault beside it."""
    out = ImportOut(product_id=product_id, keys=0, imported=False, problems=[_problem_out(b) for b in refused.problems])
    return JSONResponse({"error": refused.to_dict(), **out.model_dump(mode="json")}, status_code=refused.status)


@router.get("/products", tags=["operator"], summary="Every product with its card-key stock", responses=RESPONSES)
def list_products(user: CurrentUser, container: ContainerDep) -> list[AdminProductOut]:
    return [_product_out(item) for item in admin.admin_products(container.uow(), viewer_of(user))]


@router.post(
    "/products",
    tags=["operator"],
    summary="Create a product",
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
)
def create_product(body: ProductIn, user: CurrentUser, container: ContainerDep) -> AdminProductOut:
    """The slug is the product's key: a retry of a create that succeeded is refused (slug taken),
    never a second product."""
    viewer = viewer_of(user)
    row = admin.create_product(container.uow(), viewer, body.form(), container.now())
    return _product_out(admin.admin_product(container.uow(), viewer, row.id))


@router.get("/products/{product_id}", tags=["operator"], summary="One product", responses=RESPONSES)
def get_product(product_id: IdPath, user: CurrentUser, container: ContainerDep) -> AdminProductOut:
    return _product_out(admin.admin_product(container.uow(), viewer_of(user), product_id))


@router.put("/products/{product_id}", tags=["operator"], summary="Edit a product", responses=RESPONSES)
def edit_product(product_id: IdPath, body: ProductIn, user: CurrentUser, container: ContainerDep) -> AdminProductOut:
    """The whole product as it should be (the same body sent twice changes nothing the second
    time). The kind cannot change; orders already placed keep their price and terms."""
    viewer = viewer_of(user)
    admin.update_product(container.uow(), viewer, product_id, body.form())
    return _product_out(admin.admin_product(container.uow(), viewer, product_id))


@router.put("/products/{product_id}/sale", tags=["operator"], summary="Put on or take off sale", responses=RESPONSES)
def product_sale(product_id: IdPath, body: SaleIn, user: CurrentUser, container: ContainerDep) -> AdminProductOut:
    viewer = viewer_of(user)
    admin.set_on_sale(container.uow(), viewer, product_id, body.on_sale)
    return _product_out(admin.admin_product(container.uow(), viewer, product_id))


@router.get(
    "/products/{product_id}/card-keys", tags=["operator"], summary="A product's card-key stock", responses=RESPONSES
)
def card_key_stock(product_id: IdPath, user: CurrentUser, container: ContainerDep) -> StockOut:
    return _stock_out(admin.admin_product(container.uow(), viewer_of(user), product_id).stock)


@router.post(
    "/products/{product_id}/card-keys",
    tags=["operator"],
    summary="Import card keys (all or none)",
    response_model=ImportOut,
    responses={
        **RESPONSES,
        422: {
            "description": '`{"error": {...}, "problems": [{line, problem, first_line, message}]}`: nothing imported'
        },
    },
)
def import_keys(
    product_id: IdPath,
    body: CardKeysIn,
    idempotency_key: IdempotencyKey,
    user: CurrentUser,
    container: ContainerDep,
) -> ImportOut | JSONResponse:
    """Import ``codes`` (or a ``csv`` text) into the product's stock in one transaction: a
    duplicate (within the list or against the stock) or a malformed key refuses the whole list,
    answered 422 with every line at fault. ``preview: true`` only checks. A retry with the same
    ``Idempotency-Key`` and list answers the first import (``replayed``); another list under the
    same key is refused (409)."""
    viewer = viewer_of(user)
    text = body.text()
    if body.preview:
        require_operator(viewer)
        checked = preview_import(
            container.uow(), viewer, product_id, text, "api", container.now(), keep=False, field_name=body.field
        )
        if checked.problems:
            return _refused(product_id, ImportRefused(checked.problems, field_name=body.field))
        return ImportOut(product_id=product_id, keys=checked.keys, imported=False)
    try:
        result = import_card_keys(
            container.uow(), viewer, product_id, text, idempotency_key, container.now(), body.field
        )
    except ImportRefused as refused:
        return _refused(product_id, refused)
    return ImportOut(
        product_id=result.product_id,
        keys=result.keys,
        imported=True,
        replayed=result.replayed,
        committed_at=result.committed_at,
    )


@router.get("/low-stock", tags=["operator"], summary="Products running out of card keys", responses=RESPONSES)
def low_stock(user: CurrentUser, container: ContainerDep) -> list[LowStockOut]:
    require_operator(viewer_of(user))
    alerts: list[LowStock] = low_stock_alerts(container.uow())
    return [
        LowStockOut(
            product_id=a.product_id,
            slug=a.slug,
            name=Text(zh=a.name_zh, en=a.name_en),
            available=a.available,
            threshold=a.threshold,
        )
        for a in alerts
    ]
