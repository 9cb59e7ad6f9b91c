"""Errors as each reader meets them: JSON with the field named on ``/api/``, a page elsewhere.

A :class:`~kameng.platform.errors.ServiceError` raised by any service becomes a 4xx answer in the
reader's language; a validation error on the API answers 422 with one entry per field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kameng.platform.errors import ErrorCode, ServiceError
from kameng.web.deps import request_lang
from kameng.web.templating import render
from kameng.web.validation import Problem, describe_all, summary

ERROR_RESPONSE: dict[str, Any] = {"description": '`{"error": {code, field, message, message_zh}}`'}


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = describe_all(error.errors())
    if not request.url.path.startswith("/api/"):
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
    return render(request, "error.html", {"message": message, "code": ErrorCode.INVALID_REQUEST.value}, status=422)


async def _service_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServiceError)
    if request.url.path.startswith("/api/"):
        # RFC 6750: a 401 names the scheme the client should use.
        headers = {"WWW-Authenticate": 'Bearer realm="kameng"'} if error.status == 401 else None
        return JSONResponse({"error": error.to_dict()}, status_code=error.status, headers=headers)
    lang = request_lang(request)
    return render(request, "error.html", {"message": error.message(lang), "code": error.code}, status=error.status)


def install_error_handlers(app: FastAPI) -> None:
    """Service errors answer in the reader's form (JSON or page). Validation errors answer 422 in
    the reader's language: on ``/api/`` with one entry per field, elsewhere as a page."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


# --------------------------------------------------------------------------------------------
# Models


class Text(BaseModel):
    zh: str
    en: str
