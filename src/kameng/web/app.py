"""The web application: pages and the REST API, built by :func:`create_app` from settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from kameng import __version__
from kameng.demo import demo_catalog
from kameng.domain.money import format_yuan
from kameng.domain.terms import describe_refund_terms
from kameng.services.calendars import load_calendar
from kameng.services.documents import DocumentError, load_json
from kameng.services.simulation import simulate_data
from kameng.settings import Settings
from kameng.web.i18n import Lang, pick_lang, translate

TEMPLATES = Path(__file__).parent / "templates"

SCENARIO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One scenario, as in design/SCENARIOS.md (amounts as strings of yuan).",
    "required": ["product", "order", "request"],
    "properties": {
        "name": {"type": "string"},
        "jurisdiction": {"type": "string", "enum": ["CN"]},
        "timezone": {"type": "string", "example": "Asia/Shanghai"},
        "product": {"type": "object"},
        "policy": {"type": "object"},
        "order": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}},
        "request": {"type": "object"},
        "expect": {"type": "object"},
    },
}


def request_lang(request: Request) -> Lang:
    return pick_lang(request.query_params.get("lang") or request.cookies.get("lang"))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="kameng",
        version=__version__,
        description="Memberships and virtual goods with refunds explained to the fen.",
    )
    app.state.settings = settings
    app.state.calendar = load_calendar(settings.calendar_file)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["t"] = translate
    templates.env.globals["yuan"] = format_yuan

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        lang = request_lang(request)
        response = templates.TemplateResponse(
            request, name, {"lang": lang, **context}, status_code=status
        )
        if request.query_params.get("lang") in {"zh", "en"}:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        entries = [
            {"entry": entry, "terms": describe_refund_terms(entry.product, entry.policy)}
            for entry in demo_catalog()
        ]
        return render(request, "home.html", {"entries": entries})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post(
        "/api/v1/simulate",
        tags=["refunds"],
        summary="Quote one refund scenario",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": SCENARIO_SCHEMA}}},
        },
        responses={422: {"description": "Malformed scenario: {name, error} says what and where."}},
    )
    async def simulate(request: Request) -> Response:
        """The engine's decision for one scenario, exactly as `kameng simulate` prints it."""
        body = await request.body()
        try:
            data = load_json(body, "body")
        except DocumentError as error:
            return JSONResponse({"name": "", "error": str(error)}, status_code=422)
        answer = simulate_data(data, app.state.calendar)
        return JSONResponse(answer, status_code=422 if "error" in answer else 200)

    return app
