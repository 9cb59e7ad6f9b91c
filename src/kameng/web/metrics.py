"""``GET /metrics`` for Prometheus: the HTTP traffic of this process, and the state of the work
that matters to the money, read from the database at scrape time.

HTTP requests are counted and timed by route template (``/orders/{order_no}``, never the number
itself) and status. The database figures (outbox backlog and its oldest row, refunds still in
PROCESSING and the oldest, overdue tickets, notifications failing, the worker's heartbeat) are
a custom collector's few cheap queries, run only when Prometheus asks.

Each app has its own registry (tests build many apps in one process). Access: with
``KAMENG_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>``; without it, open outside
production and absent (404) in production.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kameng.aftersales.queue import overdue_tickets
from kameng.container import Container
from kameng.payouts.services import refunds_in_flight
from kameng.platform.heartbeat import worker_health
from kameng.platform.outbox import OutboxKind, failing_by_kind, outbox_status
from kameng.settings import Settings

router = APIRouter()
log = logging.getLogger("kameng.metrics")

UNMATCHED = "<unmatched>"  # a path no route took: one label, however many addresses are tried
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The registry of one app and its HTTP instruments."""

    def __init__(self, container: Container) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kameng_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kameng_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(OperationsCollector(container))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


class OperationsCollector(Collector):
    """The database's figures, read at each scrape. A database that cannot be read gives
    ``kameng_database_up 0`` and no other figure, rather than a failed scrape."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[Metric]:
        container = self.container
        now = container.now()
        up = GaugeMetricFamily("kameng_database_up", "1 when the database answered this scrape's queries")
        try:
            backlog = outbox_status(container.uow())
            failing = failing_by_kind(container.uow())
            refunds, oldest_refund = refunds_in_flight(container.uow())
            overdue = overdue_tickets(container.uow(), now)
            beat = worker_health(container.uow(), now)
        except Exception:  # the scrape still answers; the failure is the figure
            log.exception("metrics: the database could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("kameng_outbox_backlog", "Outbox rows not done yet", value=backlog.pending)
        yield GaugeMetricFamily(
            "kameng_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row not done (0 when none)",
            value=_age(now, backlog.oldest_pending_at),
        )
        by_kind = GaugeMetricFamily(
            "kameng_outbox_failing", "Outbox rows not done whose last attempt failed, by kind", labels=["kind"]
        )
        for kind in sorted({*failing, *(kind.value for kind in OutboxKind)}):
            by_kind.add_metric([kind], failing.get(kind, 0))
        yield by_kind
        yield GaugeMetricFamily(
            "kameng_notification_failures",
            "Notifications (SMS, e-mail) whose last delivery attempt failed and that are not delivered yet",
            value=failing.get(OutboxKind.DELIVER_MESSAGE.value, 0),
        )
        yield GaugeMetricFamily("kameng_refunds_processing", "Refunds the channel is still processing", value=refunds)
        yield GaugeMetricFamily(
            "kameng_refunds_processing_oldest_age_seconds",
            "Age of the oldest refund still processing (0 when none)",
            value=_age(now, oldest_refund),
        )
        yield GaugeMetricFamily("kameng_tickets_overdue", "Tickets waiting on staff past their deadline", value=overdue)
        yield GaugeMetricFamily(
            "kameng_workers_alive", "Workers that wrote a heartbeat in the last minute", value=beat.workers_alive
        )
        if beat.age_seconds is not None:
            yield GaugeMetricFamily(
                "kameng_worker_heartbeat_age_seconds",
                "Seconds since the most recent worker heartbeat (absent before the first)",
                value=beat.age_seconds,
            )
        yield GaugeMetricFamily(
            "kameng_worker_failures_in_row", "Failed ticks in a row of the latest worker", value=beat.failures_in_row
        )


def _allowed(request: Request, settings: Settings) -> bool | None:
    """True: serve. False: ask for the token (401). None: there is no such page here (404)."""
    if settings.metrics_token is None:
        return None if settings.production else True
    sent = request.headers.get("authorization", "")
    expected = "Bearer " + settings.metrics_token.get_secret_value()
    return hmac.compare_digest(sent.encode(), expected.encode())


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    allowed = _allowed(request, request.app.state.settings)
    if allowed is None:
        return Response("Not Found\n", status_code=404, media_type="text/plain")
    if not allowed:
        return Response(
            "Unauthorized\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    exposition: bytes = request.app.state.metrics.exposition()
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
