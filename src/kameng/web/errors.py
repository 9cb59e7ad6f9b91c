"""Errors as each reader meets them: JSON with the field named on ``/api/``, a page elsewhere.

A :class:`~kameng.platform.errors.ServiceError` raised by any service becomes a 4xx answer in the
reader's language; a validation error on the API answers 422 with one entry per field. On pages,
every error is a page in the reader's language with a way forward: an unknown address (404), a
method the address does not take (405), a malformed request, and a form whose session expired,
whose text is kept while the person signs in again. Anything unexpected is logged with a request
id and answered 500 with a body (a page, or JSON on ``/api/``), never a dropped connection."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kameng.accounts.models import User
from kameng.accounts.services import get_user
from kameng.container import Container
from kameng.platform.errors import ErrorCode, ServiceError, TooManyRequests
from kameng.platform.i18n import Lang, translate
from kameng.platform.logs import REQUEST_ID_HEADER
from kameng.web import drafts
from kameng.web.deps import CsrfRejected, request_lang
from kameng.web.request_ids import request_id_of
from kameng.web.templating import render
from kameng.web.validation import Problem, describe_all, summary

log = logging.getLogger("kameng.web")

ERROR_RESPONSE: dict[str, Any] = {"description": '`{"error": {code, field, message, message_zh}}`'}
# The pages an HTTP status sends a person to: a title and a sentence, from the catalogs.
_PAGE_TEXT = {
    400: ("page.bad_request", "page.bad_request.detail"),
    403: ("page.forbidden", "page.forbidden.detail"),
    404: ("page.not_found", "page.not_found.detail"),
    405: ("page.method_not_allowed", "page.method_not_allowed.detail"),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field_name(loc: tuple[int | str, ...]) -> str:
    """``("body", "product")`` → ``product``; ``("header", "Idempotency-Key")`` → ``Idempotency-Key``."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"} and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def _page_user(request: Request) -> User | None:
    """The signed-in person, for the page's header; an error page shows even when this fails."""
    user_id = drafts.session_user_id(request) if "session" in request.scope else None
    if user_id is None:
        return None
    container: Container = request.app.state.container
    try:
        return get_user(container.uow(), user_id)
    except Exception:  # the database may be why we are here: the page still answers
        log.warning("could not read the signed-in user for an error page", exc_info=True)
        return None


def error_page(
    request: Request,
    status: int,
    title: str,
    *,
    code: str,
    detail: str = "",
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
    user: Any = None,
) -> HTMLResponse:
    context = {"message": title, "code": code, "detail": detail, "status": status, "request_id": request_id}
    response = render(request, "error.html", context, status=status, user=user)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = describe_all(error.errors())
    if not _is_api(request):
        return _validation_page(request, problems)
    body = {
        "error": {
            "code": ErrorCode.INVALID_REQUEST.value,
            "field": problems[0].field if problems else None,
            "message": summary(problems, "en"),
            "message_zh": summary(problems, "zh"),
            "errors": [problem.to_dict() for problem in problems],
        }
    }
    return JSONResponse(jsonable_encoder(body), status_code=422)


def _validation_page(request: Request, problems: list[Problem]) -> Response:
    """A page address or query a person could have typed (``/orders/<21 digits>``, a NUL in
    ``?q=``): the site's own page saying which part is wrong, in the reader's language."""
    lang = request_lang(request)
    message = summary(problems, lang, as_sent=False)
    return error_page(request, 422, message, code=ErrorCode.INVALID_REQUEST.value, user=_page_user(request))


async def _service_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServiceError)
    # RFC 9110: a 429 says when to come back.
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else {}
    if _is_api(request):
        # RFC 6750: a 401 names the scheme the client should use.
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="kameng"'
        return JSONResponse({"error": error.to_dict()}, status_code=error.status, headers=headers or None)
    lang = request_lang(request)
    return error_page(
        request, error.status, error.message(lang), code=error.code, headers=headers, user=_page_user(request)
    )


def _status_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    lang = request_lang(request)
    if status >= 500:
        # A route that gave up on purpose (HTTPException 5xx): the page names a reference, so the
        # log must name it too.
        request_id = request_id_of(request)
        log.error("HTTP %s, request id %s: %s %s", status, request_id, request.method, request.url.path)
        title = translate("page.server_error", lang)
        detail = translate("page.server_error.detail", lang, request_id=request_id)
    else:
        keys = _PAGE_TEXT.get(status, _PAGE_TEXT[400])
        title, detail = translate(keys[0], lang), translate(keys[1], lang)
    return error_page(
        request,
        status,
        title,
        code=f"http_{status}",
        detail=detail,
        headers=headers,
        user=_page_user(request),
    )


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own errors (no route: 404; wrong method: 405, with its Allow header)."""
    assert isinstance(error, StarletteHTTPException)
    if _is_api(request) or error.status_code < 400:
        return await http_exception_handler(request, error)
    return _status_page(request, error.status_code, dict(error.headers or {}))


def _referer_path(request: Request) -> str | None:
    """The page a form was on, when the browser says so and it is one of ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _local(path: str) -> str:
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


async def _csrf_rejected(request: Request, error: Exception) -> Response:
    """A form sent without the session's token: keep what was typed, sign in again, come back."""
    assert isinstance(error, CsrfRejected)
    if _is_api(request):
        body = {
            "code": ErrorCode.CSRF_REJECTED.value,
            "field": "csrf",
            "message": translate("error.csrf_rejected", "en"),
            "message_zh": translate("error.csrf_rejected", "zh"),
        }
        return JSONResponse({"error": body}, status_code=403)
    back = _local(error.back.format(**request.path_params) if error.back else _referer_path(request) or "/")
    kept = False
    if error.keep:
        form = await request.form()  # read (and cached) by the check that refused it
        typed = {name: value for name in error.keep if isinstance(value := form.get(name), str)}
        kept = drafts.keep(request, request.url.path, typed)
    if drafts.session_user_id(request) is not None:
        # Still signed in (the token changed under an open page): back to the form at once.
        if not kept:
            drafts.note(request, "notice.form_expired")
        return RedirectResponse(back, status_code=303)
    drafts.note(request, "notice.login_again_kept" if kept else "notice.login_again")
    if back.startswith(("/login", "/signup")):
        return RedirectResponse(back, status_code=303)
    return RedirectResponse("/login?next=" + urlquote(back, safe="/"), status_code=303)


def _server_error_page(request: Request, request_id: str, lang: Lang) -> Response:
    """The 500 page, rendered without the database (which may be what failed); if even the
    templates fail, a plain page in both languages still answers."""
    try:
        return error_page(
            request,
            500,
            translate("page.server_error", lang),
            code="internal_error",
            detail=translate("page.server_error.detail", lang, request_id=request_id),
            request_id=request_id,
            headers={REQUEST_ID_HEADER: request_id},
        )
    except Exception:
        log.exception("the error page itself failed (request id %s)", request_id)
        text = " / ".join(translate("page.server_error.detail", each, request_id=request_id) for each in ("zh", "en"))
        html = f'<!doctype html><meta charset="utf-8"><h1 id="error" data-code="internal_error">{text}</h1>'
        return HTMLResponse(html, status_code=500, headers={REQUEST_ID_HEADER: request_id})


async def _unexpected(request: Request, error: Exception) -> Response:
    """Any exception no other handler answered: logged with a request id, answered 500 with a body."""
    request_id = request_id_of(request)
    log.error("unexpected error, request id %s: %s %s", request_id, request.method, request.url.path, exc_info=error)
    if _is_api(request):
        body = {
            "code": ErrorCode.INTERNAL_ERROR.value,
            "field": None,
            "message": translate("error.internal_error", "en", request_id=request_id),
            "message_zh": translate("error.internal_error", "zh", request_id=request_id),
            "request_id": request_id,
        }
        return JSONResponse({"error": body}, status_code=500, headers={REQUEST_ID_HEADER: request_id})
    return _server_error_page(request, request_id, request_lang(request))


def install_error_handlers(app: FastAPI) -> None:
    """Service errors answer in the reader's form (JSON or page). Validation errors answer 422 in
    the reader's language: on ``/api/`` with one entry per field, elsewhere as a page. Starlette's
    404 and 405 are pages off ``/api/``; a stale form token sends the person to sign in with the
    text kept; anything else is a logged 500 with a request id."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(Exception, _unexpected)


# --------------------------------------------------------------------------------------------
# Models


class Text(BaseModel):
    zh: str
    en: str
