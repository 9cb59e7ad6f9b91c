"""The operator's catalog pages (/operator/catalog): products and their stock, the low-stock
alerts, a product's form, merchants, and card-key imports (a preview, then one commit)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from kameng.accounts.models import User
from kameng.catalog import admin
from kameng.catalog.card_keys import (
    MAX_IMPORT_BYTES,
    ImportPreview,
    ImportRefused,
    commit_import,
    preview_import,
    problem_text,
    read_upload,
)
from kameng.catalog.stock import low_stock_alerts
from kameng.domain.model import ProductKind
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, require_operator, viewer_of
from kameng.web.drafts import note
from kameng.web.forms import StaffUser, field_error, form_typed, redirect
from kameng.web.params import IdPath
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

BASE = "/operator/catalog"


def _operator_page(user: OptionalUser) -> User:
    """``require_operator`` for pages: anyone else gets the site's own 404 page."""
    try:
        return require_operator(user)
    except HTTPException:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2") from None


OperatorUser = Depends(_operator_page)
# Addresses with a path parameter admit any staff member at first, so that a malformed address is
# answered 422 naming its parameter (FastAPI reads dependencies before it checks parameters); the
# services then answer 404 to anyone but an operator, as ``require_operator`` does.
StaffFirst = StaffUser

_FIELDS = (
    "slug",
    "merchant_id",
    "kind",
    "name_zh",
    "name_en",
    "description_zh",
    "description_en",
    "price",
    "term_unit",
    "term_value",
    "benefits",
    "bonus",
    "low_stock_threshold",
)
_CHECKS = ("promo", "renewable", "uses_card_keys", "active")


def _product_form(form: FormData) -> admin.ProductForm:
    values: dict[str, object] = {name: form_typed(form, name) for name in _FIELDS}
    flags = {name: form.get(name) in {"on", "1", "true"} for name in _CHECKS}
    return admin.ProductForm(**values, **flags)  # type: ignore[arg-type]


def _index(
    request: Request, container: ContainerDep, staff: User, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    viewer = viewer_of(staff)
    context = {
        "products": admin.admin_products(container.uow(), viewer),
        "alerts": low_stock_alerts(container.uow()),
        "merchants": admin.list_merchants(container.uow()),
        "errors": errors or {},
    }
    return render(request, "operator/catalog/index.html", context, status=status, user=staff)


@router.get(BASE, response_class=HTMLResponse)
def catalog_page(request: Request, container: ContainerDep, staff: User = OperatorUser) -> HTMLResponse:
    return _index(request, container, staff)


def _product_page(
    request: Request,
    container: ContainerDep,
    staff: User,
    form: admin.ProductForm,
    product: admin.AdminProduct | None = None,
    errors: dict[str, str] | None = None,
    preview: ImportPreview | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "form": form,
        "product": product,
        "merchants": admin.list_merchants(container.uow()),
        "kinds": [kind.value for kind in ProductKind],
        "errors": errors or {},
        "preview": preview,
        "problems": [problem_text(bad, request_lang(request)) for bad in preview.problems] if preview else [],
        "max_bytes": MAX_IMPORT_BYTES,
    }
    return render(request, "operator/catalog/product.html", context, status=status, user=staff)


@router.get(BASE + "/products/new", response_class=HTMLResponse)
def new_product_page(request: Request, container: ContainerDep, staff: User = OperatorUser) -> HTMLResponse:
    merchants = admin.list_merchants(container.uow())
    form = admin.ProductForm(merchant_id=merchants[0].id if merchants else None, kind="membership", term_unit="months")
    return _product_page(request, container, staff, form)


@router.post(BASE + "/products", dependencies=[CsrfChecked])
async def create_product(request: Request, container: ContainerDep, staff: User = OperatorUser) -> Response:
    typed = _product_form(await request.form())
    try:
        row = admin.create_product(container.uow(), viewer_of(staff), typed, container.now())
    except InvalidInput as error:
        return _product_page(
            request, container, staff, typed, errors=field_error(error, request_lang(request)), status=error.status
        )
    note(request, "catalogkeys.notice.created")
    return redirect(f"{BASE}/products/{row.id}")


@router.get(BASE + "/products/{product_id}", response_class=HTMLResponse)
def product_page(
    product_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffFirst
) -> HTMLResponse:
    product = admin.admin_product(container.uow(), viewer_of(staff), product_id)
    return _product_page(request, container, staff, admin.form_of(product.row), product)


@router.post(BASE + "/products/{product_id}", dependencies=[CsrfChecked])
async def update_product(
    product_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffFirst
) -> Response:
    typed = _product_form(await request.form())
    viewer = viewer_of(staff)
    try:
        admin.update_product(container.uow(), viewer, product_id, typed)
    except InvalidInput as error:
        product = admin.admin_product(container.uow(), viewer, product_id)
        errors = field_error(error, request_lang(request))
        return _product_page(request, container, staff, typed, product, errors, status=error.status)
    note(request, "catalogkeys.notice.saved")
    return redirect(f"{BASE}/products/{product_id}")


@router.post(BASE + "/products/{product_id}/sale", dependencies=[CsrfChecked])
async def product_sale(
    product_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffFirst
) -> Response:
    form = await request.form()
    on_sale = form.get("on_sale") == "1"
    admin.set_on_sale(container.uow(), viewer_of(staff), product_id, on_sale)
    note(request, "catalogkeys.notice.on_sale" if on_sale else "catalogkeys.notice.off_sale")
    return redirect(f"{BASE}/products/{product_id}")


@router.post(BASE + "/merchants", dependencies=[CsrfChecked])
async def create_merchant(request: Request, container: ContainerDep, staff: User = OperatorUser) -> Response:
    form = await request.form()
    try:
        admin.create_merchant(
            container.uow(),
            viewer_of(staff),
            form_typed(form, "merchant_name_zh"),
            form_typed(form, "merchant_name_en"),
            container.now(),
        )
    except InvalidInput as error:
        return _index(request, container, staff, field_error(error, request_lang(request)), error.status)
    note(request, "catalogkeys.notice.merchant_created")
    return redirect(BASE)


# --------------------------------------------------------------------------------------------
# Card-key imports


async def _import_text(form: FormData) -> tuple[str, str]:
    """(text, source): the uploaded file if one was chosen, else the pasted list."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        return read_upload(data), "csv"
    pasted = form.get("codes")
    return (pasted if isinstance(pasted, str) else ""), "paste"


def _not_too_large(request: Request) -> None:
    """Before the form is read (the CSRF check reads it): an upload announced larger than an
    import may be is refused without receiving it."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > MAX_IMPORT_BYTES + _FORM_OVERHEAD:
        raise InvalidInput(ErrorCode.FILE_TOO_LARGE, "catalogkeys.error.too_large", "file", most=MAX_IMPORT_BYTES)


_FORM_OVERHEAD = 64_000  # the pasted list's field and the multipart framing beside the file


@router.post(BASE + "/products/{product_id}/card-keys/preview", dependencies=[Depends(_not_too_large), CsrfChecked])
async def preview_card_keys(
    product_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffFirst
) -> Response:
    form = await request.form()
    viewer = viewer_of(staff)
    product = admin.admin_product(container.uow(), viewer, product_id)
    try:
        text, source = await _import_text(form)
        preview = preview_import(container.uow(), viewer, product_id, text, source, container.now())
    except InvalidInput as error:
        errors = field_error(error, request_lang(request))
        return _product_page(
            request, container, staff, admin.form_of(product.row), product, errors, status=error.status
        )
    status = 200 if preview.ok else 422
    return _product_page(request, container, staff, admin.form_of(product.row), product, preview=preview, status=status)


@router.post(BASE + "/products/{product_id}/card-keys/commit", dependencies=[CsrfChecked])
async def commit_card_keys(
    product_id: IdPath, request: Request, container: ContainerDep, staff: User = StaffFirst
) -> Response:
    form = await request.form()
    token = form.get("token")
    viewer = viewer_of(staff)
    try:
        if not isinstance(token, str) or not 1 <= len(token) <= 80:
            raise InvalidInput(ErrorCode.REQUIRED, "catalogkeys.error.token", "token")
        result = commit_import(container.uow(), viewer, token, container.now())
    except (ImportRefused, ServiceError) as error:
        product = admin.admin_product(container.uow(), viewer, product_id)
        errors = field_error(error, request_lang(request))
        problems = error.problems if isinstance(error, ImportRefused) else []
        preview = ImportPreview(product_id, 0, 0, problems) if problems else None
        return _product_page(
            request, container, staff, admin.form_of(product.row), product, errors, preview, status=error.status
        )
    note(request, "catalogkeys.notice.imported_again" if result.replayed else "catalogkeys.notice.imported")
    return redirect(f"{BASE}/products/{result.product_id}#stock")
