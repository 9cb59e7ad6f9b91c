"""Errors as each reader meets them: JSON with the field named on ``/api/``, a page elsewhere.

A :class:`~kameng.platform.errors.ServiceError` raised by any service becomes a 4xx answer in the
reader's language; a validation error on the API answers 422 with one entry per field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kameng.platform.errors import ErrorCode, ServiceError
from kameng.platform.i18n import translate
from kameng.web.deps import request_lang
from kameng.web.templating import render

ERROR_RESPONSE: dict[str, Any] = {"description": '`{"error": {code, field, message, message_zh}}`'}


def _field_name(loc: tuple[int | str, ...]) -> str:
    """``("body", "product")`` → ``product``; ``("header", "Idempotency-Key")`` → ``Idempotency-Key``."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"} and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if not request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, error)
    problems = [
        {"field": _field_name(tuple(item.get("loc", ()))), "message": str(item.get("msg", "invalid"))}
        for item in error.errors()
    ]
    names = ", ".join(dict.fromkeys(problem["field"] or "body" for problem in problems))
    body = {
        "error": {
            "code": ErrorCode.INVALID_REQUEST.value,
            "field": problems[0]["field"] if problems else None,
            "message": translate("error.invalid_request", "en", names=names),
            "message_zh": translate("error.invalid_request", "zh", names=names),
            "errors": problems,
        }
    }
    return JSONResponse(jsonable_encoder(body), status_code=422)


async def _service_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServiceError)
    if request.url.path.startswith("/api/"):
        # RFC 6750: a 401 names the scheme the client should use.
        headers = {"WWW-Authenticate": 'Bearer realm="kameng"'} if error.status == 401 else None
        return JSONResponse({"error": error.to_dict()}, status_code=error.status, headers=headers)
    lang = request_lang(request)
    return render(request, "error.html", {"message": error.message(lang), "code": error.code}, status=error.status)


def install_error_handlers(app: FastAPI) -> None:
    """Service errors answer in the reader's form (JSON or page). Validation errors on ``/api/``
    paths answer 422 with one readable entry per field; page requests keep FastAPI's default."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


# --------------------------------------------------------------------------------------------
# Models


class Text(BaseModel):
    zh: str
    en: str
