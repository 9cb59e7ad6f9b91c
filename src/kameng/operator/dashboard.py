"""The console's home: a link to every section, and the warnings an operator should act on.

Warnings come from a list of providers, each ``(uow, now) -> list[Warning]``: a section adds its
own by adding one provider (the card-key stock alert, say), nothing else changes. A provider that
fails is shown as a warning of its own rather than taking the dashboard down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kameng.domain.calendar import WorkCalendar
from kameng.operator.calendar_admin import calendar_warnings
from kameng.platform.db.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Warning:
    """One thing to act on: a catalog message (``key`` with ``params``), where to act, and how
    urgent (``high`` first, then ``normal``)."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)
    link: str | None = None
    severity: str = "normal"

    def params_in(self, lang: str) -> dict[str, object]:
        """The message's values for a reader: a value given per language (``{"zh": …, "en": …}``,
        a product's name) becomes the reader's, so both catalogs name the same placeholders."""
        return {
            name: value.get(lang, value.get("zh")) if isinstance(value, Mapping) else value
            for name, value in self.params.items()
        }


WarningProvider = Callable[[UnitOfWork, datetime], list[Warning]]

# The console's sections and their addresses, in the order the home page shows them.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("orders", "/operator/orders"),
    ("tickets", "/operator/tickets"),
    ("reports", "/operator/reports"),
    ("catalog", "/operator/catalog"),
    ("policies", "/operator/policies"),
    ("outages", "/operator/outages"),
    ("mass_refunds", "/operator/mass-refunds"),
    ("calendar", "/operator/calendar"),
)


def calendar_provider(calendar: Callable[[], WorkCalendar]) -> WarningProvider:
    """The calendar's warning, against the calendar the process is using at the time asked."""

    def provide(uow: UnitOfWork, now: datetime) -> list[Warning]:
        return calendar_warnings(calendar(), now)

    return provide


def low_stock_provider(uow: UnitOfWork, now: datetime) -> list[Warning]:
    """Card-key products on sale whose available keys fell below their threshold: a buyer would
    soon pay for a key that is not there."""
    from kameng.catalog.stock import low_stock_alerts

    return [
        Warning(
            key="op.warn.low_stock",
            params={
                "name": {"zh": alert.name_zh, "en": alert.name_en},
                "available": alert.available,
                "threshold": alert.threshold,
            },
            link=alert.url,
            severity="high" if alert.available == 0 else "normal",
        )
        for alert in low_stock_alerts(uow)
    ]


def collect_warnings(
    providers: Sequence[WarningProvider], uow_factory: Callable[[], UnitOfWork], now: datetime
) -> list[Warning]:
    """Every provider's warnings, the urgent ones first; each provider gets its own unit of work."""
    found: list[Warning] = []
    for provide in providers:
        try:
            found.extend(provide(uow_factory(), now))
        except Exception:  # one broken provider must not hide the others' warnings
            log.exception("dashboard warning provider %r failed", getattr(provide, "__qualname__", provide))
            found.append(Warning("op.warn.provider_failed", severity="high"))
    return sorted(found, key=lambda warning: warning.severity != "high")
