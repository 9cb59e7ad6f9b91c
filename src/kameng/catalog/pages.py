"""The shop window: the home page's catalog and each product's page with its refund terms."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kameng.catalog import services as catalog
from kameng.web.deps import ContainerDep, OptionalUser
from kameng.web.params import Slug
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, container: ContainerDep, user: OptionalUser) -> HTMLResponse:
    items = catalog.list_catalog(container.uow())
    return render(request, "catalog/home.html", {"items": items}, user=user)


@router.get("/products/{slug}", response_class=HTMLResponse)
def product_page(slug: Slug, request: Request, container: ContainerDep, user: OptionalUser) -> HTMLResponse:
    item = catalog.get_catalog_item(container.uow(), slug)
    return render(request, "catalog/product.html", {"item": item}, user=user)
