"""The operator's calendar page (``/operator/calendar``): the years covered, and a year's official
schedule loaded from a file or a pasted list, previewed first, then stored and put to use."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from kameng.accounts.models import User
from kameng.container import Container
from kameng.operator.calendar_admin import (
    MAX_TEXT,
    calendar_warnings,
    covered_years,
    parse_schedule,
    parse_year,
    running_calendar,
    store_schedule,
)
from kameng.operator.console import OperatorUser, refusal
from kameng.platform.errors import ErrorCode, InvalidInput
from kameng.web.deps import ContainerDep, CsrfChecked, request_lang, viewer_of
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)


def _calendar_page(
    request: Request,
    container: Container,
    operator: User,
    *,
    preview: Any = None,
    error: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    loaded: int | None = None,
) -> HTMLResponse:
    context = {
        "covered": covered_years(container.uow(), container.calendar),
        "preview": preview,
        "error": error,
        "values": values or {"year": "", "text": ""},
        "loaded": loaded,
        "max_text": MAX_TEXT,
        "warnings": calendar_warnings(container.calendar, container.now()),
    }
    return render(request, "operator/calendar/calendar.html", context, status=status, user=operator)


@router.get("/operator/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    loaded = request.query_params.get("loaded", "")
    return _calendar_page(
        request, container, operator, loaded=int(loaded) if re.fullmatch(r"[0-9]{4}", loaded) else None
    )


async def _schedule_text(request: Request) -> tuple[dict[str, str], str]:
    """The form's year, and the schedule's text: the uploaded file's if one came, else the
    pasted list's. A file that is not UTF-8 text is refused by name."""
    form = await request.form()
    year_value, text_value = form.get("year"), form.get("text")
    values = {
        "year": year_value[:10] if isinstance(year_value, str) else "",
        "text": text_value[: MAX_TEXT + 1] if isinstance(text_value, str) else "",
    }
    upload = form.get("file")
    source = "pasted"
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        raw = await upload.read(MAX_TEXT * 4 + 1)
        if len(raw) > MAX_TEXT * 4:
            raise InvalidInput(ErrorCode.INVALID_REQUEST, "op.cal.error.too_long", "file", limit=MAX_TEXT)
        try:
            values["text"] = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(ErrorCode.INVALID_REQUEST, "op.cal.error.encoding", "file") from None
        source = (upload.filename or "file")[:200]
    return {**values, "source": source}, values["text"]


@router.post("/operator/calendar/preview", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def calendar_preview(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    lang = request_lang(request)
    values: dict[str, str] = {"year": "", "text": ""}
    try:
        values, text = await _schedule_text(request)
        year = parse_year(values["year"]) if values["year"].strip() else None
        schedule = parse_schedule(text, year)
    except InvalidInput as refused:
        return _calendar_page(
            request, container, operator, error=refusal(refused, lang), values=values, status=refused.status
        )
    values["year"] = str(schedule.year)
    return _calendar_page(request, container, operator, preview=schedule, values=values)


@router.post("/operator/calendar/load", response_model=None, dependencies=[CsrfChecked])
async def calendar_load(request: Request, container: ContainerDep, operator: User = OperatorUser) -> Response:
    """Store the schedule the preview showed (the preview's normalised JSON comes back), then
    rebuild this process's calendar with it."""
    lang = request_lang(request)
    form = await request.form()
    normalised, source = form.get("schedule"), form.get("source")
    try:
        if not isinstance(normalised, str):
            raise InvalidInput(ErrorCode.INVALID_REQUEST, "op.cal.error.empty", "schedule")
        schedule = parse_schedule(normalised)
        store_schedule(
            container.uow(),
            viewer_of(operator),
            schedule,
            source if isinstance(source, str) else "pasted",
            container.now(),
        )
    except InvalidInput as refused:
        return _calendar_page(request, container, operator, error=refusal(refused, lang), status=refused.status)
    container.calendar = running_calendar(container.settings.calendar_file, container.uow())  # at once, here
    return Response(status_code=303, headers={"Location": f"/operator/calendar?loaded={schedule.year}"})
