"""The web application: pages and the REST API, built by :func:`create_app` from settings.

Each feature brings its own routers (``<feature>/pages.py``, ``<feature>/api.py``); this module
only assembles them around one container from the composition root, and runs the worker tick in
process when the site is embedded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from kameng import __version__, compose
from kameng.accounts import api as accounts_api
from kameng.accounts import pages as accounts_pages
from kameng.aftersales import api as aftersales_api
from kameng.aftersales import pages as aftersales_pages
from kameng.aftersales import staff_api as aftersales_staff_api
from kameng.aftersales import staff_pages as aftersales_staff_pages
from kameng.catalog import admin_api as catalog_admin_api
from kameng.catalog import admin_pages as catalog_admin_pages
from kameng.catalog import api as catalog_api
from kameng.catalog import pages as catalog_pages
from kameng.container import Container
from kameng.integrations import api as integrations_api
from kameng.integrations import pages as integrations_pages
from kameng.messages import api as messages_api
from kameng.messages import pages as messages_pages
from kameng.messages.inbox import unread_badge
from kameng.operator import calendar_pages as operator_calendar_pages
from kameng.operator import mass_api as operator_mass_api
from kameng.operator import mass_pages as operator_mass_pages
from kameng.operator import pages as operator_pages
from kameng.operator import policy_api as operator_policy_api
from kameng.operator import policy_pages as operator_policy_pages
from kameng.operator import report_pages as operator_report_pages
from kameng.operator.calendar_admin import refreshed_calendar
from kameng.operator.dashboard import calendar_provider, low_stock_provider
from kameng.orders import api as orders_api
from kameng.orders import pages as orders_pages
from kameng.platform import heap
from kameng.scenarios import api as scenarios_api
from kameng.settings import Settings
from kameng.subscriptions import api as subscriptions_api
from kameng.subscriptions import pages as subscriptions_pages
from kameng.wallet import api as wallet_api
from kameng.wallet import pages as wallet_pages
from kameng.web import health, metrics
from kameng.web.direct import DirectRoutes
from kameng.web.drafts import pending_notice
from kameng.web.envelope import Envelope
from kameng.web.errors import install_error_handlers
from kameng.web.metrics import Metrics
from kameng.web.route_index import install_route_index
from kameng.web.templating import make_templates
from kameng.webhooks import api as webhooks_api
from kameng.webhooks import pages as webhooks_pages
from kameng.worker import Heartbeat, next_delay, tick_once, worker_name

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    if settings.auto_prepare and not settings.production:
        compose.prepare_database(settings)
    container = compose.build(settings)
    in_process_worker = run_worker if run_worker is not None else settings.embedded_worker

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Embedded, the worker's tick refreshes the calendar; otherwise a light loop of its own does.
        task = asyncio.create_task(_worker_loop(container) if in_process_worker else _calendar_loop(container))
        heap.freeze_what_lives_on()
        try:
            yield
        finally:
            heap.thaw()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            container.dispose()

    app = FastAPI(
        title="kameng",
        version=__version__,
        description="Memberships and virtual goods with refunds explained to the fen.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.container = container
    app.state.runs_worker = in_process_worker
    app.state.metrics = Metrics(container)
    app.state.rate_limits = compose.rate_limits(settings)
    app.state.templates = make_templates()
    app.state.page_context = [unread_badge, pending_notice]
    # The operator dashboard's warnings: each section adds its provider, (uow, now) -> warnings.
    app.state.warning_providers = [calendar_provider(lambda: container.calendar), low_stock_provider]
    # The two hottest writes, when plain, answered without FastAPI's per-request layers but inside
    # the envelope (web/direct.py).
    app.add_middleware(
        DirectRoutes,
        routes=[orders_api.DIRECT_ORDER, aftersales_api.DIRECT_REFUND_REQUEST],
        registered=[*orders_api.router.routes, *aftersales_api.router.routes],
    )
    # One middleware of ours (request id, metrics, security headers, the cookie session of the pages).
    app.add_middleware(
        Envelope,
        metrics=app.state.metrics,
        production=settings.production,
        cookie_session={
            "secret_key": settings.secret_key.get_secret_value(),
            "session_cookie": "kameng_session",
            "same_site": "lax",
            "https_only": settings.production,
            "max_age": 14 * 86400,
        },
    )

    for module in (
        catalog_pages,
        accounts_pages,
        orders_pages,
        aftersales_pages,
        aftersales_staff_pages,
        messages_pages,
        wallet_pages,
        integrations_pages,
        webhooks_pages,
        subscriptions_pages,
        operator_pages,
        operator_report_pages,
        operator_calendar_pages,
        catalog_admin_pages,
        operator_policy_pages,
        operator_mass_pages,
    ):
        app.include_router(module.router)
    for module in (
        scenarios_api,
        accounts_api,
        catalog_api,
        orders_api,
        aftersales_api,
        aftersales_staff_api,
        messages_api,
        wallet_api,
        integrations_api,
        webhooks_api,
        subscriptions_api,
        catalog_admin_api,
        operator_policy_api,
        operator_mass_api,
        health,
        metrics,
    ):
        app.include_router(module.router)
    app.include_router(health.probes)
    for router in compose.channel_routers():
        app.include_router(router)
    install_route_index(app)
    install_error_handlers(app)
    return app


async def _calendar_loop(container: Container, interval: float = 60.0) -> None:
    """An API process without the worker: a holiday schedule loaded on the console (by any
    process) is used here within a minute."""
    while True:
        await asyncio.sleep(interval)
        try:
            fresh = await asyncio.to_thread(
                refreshed_calendar, container.calendar, container.settings.calendar_file, container.uow()
            )
        except Exception:  # the database away for a moment: try again next time
            log.exception("calendar refresh failed")
            continue
        if fresh is not None:
            container.calendar = fresh


async def _worker_loop(container: Container, interval: float = 5.0) -> None:
    """Embedded mode: the same tick, heartbeat and back-off as the `kameng worker` process,
    inside the server (tick_once logs a failure and never raises: the site keeps serving)."""
    heartbeat = Heartbeat(worker_name("embedded"), container.now(), interval)
    while True:
        await asyncio.to_thread(tick_once, container, heartbeat)
        await asyncio.sleep(next_delay(interval, heartbeat.failures_in_row))
