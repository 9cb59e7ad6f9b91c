"""Helpers for form pages: reading fields, redirects (to the login page and back), and errors
carried to the next page in the session."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as urlquote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from kameng.accounts.models import User
from kameng.platform.errors import ErrorCode, NotFound, ServiceError
from kameng.platform.i18n import Lang
from kameng.web.deps import OptionalUser, require_staff


def _staff_page(user: OptionalUser) -> User:
    """``require_staff`` for pages: anyone else gets the site's own 404 page, not a JSON answer."""
    try:
        return require_staff(user)
    except HTTPException:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2") from None


StaffUser = Depends(_staff_page)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def to_login(request: Request) -> RedirectResponse:
    return redirect("/login?next=" + urlquote(request.url.path, safe="/"))


def safe_next(value: object) -> str:
    """Only a local path: a login link must never send anyone to another site."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/orders"


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def field_error(error: ServiceError, lang: Lang) -> dict[str, str]:
    return {error.field or "form": error.message(lang)}


def flash(request: Request, error: ServiceError, values: dict[str, str] | None = None) -> None:
    request.session["flash_error"] = {
        "zh": error.message_zh,
        "en": error.message_en,
        "field": error.field or "form",
        "typed": values or {},
    }


def take_flash(request: Request) -> dict[str, Any] | None:
    flash = request.session.pop("flash_error", None)
    return flash if isinstance(flash, dict) else None
