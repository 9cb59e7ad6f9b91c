"""The web application: pages and the REST API, built by :func:`create_app` from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from kameng import __version__
from kameng.adapters.channels.refunds import SimulatorRefunds
from kameng.adapters.channels.simulator import SimulatorChannel
from kameng.adapters.db.database import make_engine, make_session_factory
from kameng.adapters.notify import LogSender
from kameng.bootstrap import prepare_database
from kameng.domain.money import format_yuan
from kameng.domain.users import mask_email, mask_phone
from kameng.services.calendars import load_calendar
from kameng.services.catalog import list_catalog
from kameng.services.documents import DocumentError, load_json
from kameng.services.errors import ServiceError
from kameng.services.simulation import simulate_data
from kameng.services.worker import run_tick
from kameng.settings import Settings
from kameng.web.deps import Container, csrf_token, request_lang
from kameng.web.i18n import label, localtime, translate
from kameng.web.inbox import header_unread

TEMPLATES = Path(__file__).parent / "templates"
log = logging.getLogger("kameng.web")

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


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(
        t=translate,
        label=label,
        localtime=localtime,
        yuan=format_yuan,
        mask_phone=mask_phone,
        mask_email=mask_email,
        csrf_token=csrf_token,
        unread_messages=header_unread,
    )
    return templates


def render(request: Request, name: str, context: dict[str, Any], status: int = 200, user: Any = None) -> HTMLResponse:
    """Render a page in the request's language; a ``?lang=`` choice is remembered in a cookie."""
    lang = request_lang(request)
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, name, {"lang": lang, "user": user, **context}, status_code=status)
    if request.query_params.get("lang") in {"zh", "en"}:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    if settings.auto_prepare and not settings.production:
        prepare_database(settings)
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        calendar=load_calendar(settings.calendar_file),
        channel=SimulatorChannel(settings.secret_key),
        refunds=SimulatorRefunds(session_factory),
        sender=LogSender(),
    )
    in_process_worker = run_worker if run_worker is not None else settings.embedded_worker

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_worker_loop(container)) if in_process_worker else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    app = FastAPI(
        title="kameng",
        version=__version__,
        description="Memberships and virtual goods with refunds explained to the fen.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.container = container
    app.state.calendar = container.calendar
    app.state.templates = make_templates()
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="kameng_session",
        same_site="lax",
        https_only=settings.production,
        max_age=14 * 86400,
    )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> Response:
        if request.url.path.startswith("/api/"):
            # RFC 6750: a 401 names the scheme the client should use.
            headers = {"WWW-Authenticate": 'Bearer realm="kameng"'} if error.status == 401 else None
            return JSONResponse({"error": error.to_dict()}, status_code=error.status, headers=headers)
        lang = request_lang(request)
        return render(request, "error.html", {"message": error.message(lang), "code": error.code}, status=error.status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        from kameng.web.deps import session_user

        items = list_catalog(container.uow())
        return render(request, "home.html", {"items": items}, user=session_user(request, container))

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
        answer = simulate_data(data, container.calendar)
        return JSONResponse(answer, status_code=422 if "error" in answer else 200)

    from kameng.web import api, api_aftersales, pages, pages_aftersales

    app.include_router(pages.router)
    app.include_router(pages_aftersales.router)
    app.include_router(api.router)
    app.include_router(api_aftersales.router)
    api.install_error_handlers(app)
    return app


async def _worker_loop(container: Container, interval: float = 5.0) -> None:
    """Embedded mode: the same tick the `kameng worker` process runs, inside the server."""
    while True:
        try:
            await asyncio.to_thread(run_tick, container.worker_deps(), container.now())
        except Exception:  # keep serving; the next tick retries
            log.exception("worker tick failed")
        await asyncio.sleep(interval)
