"""The composition root: the one place that chooses the adapters behind kameng's ports.

The web app, every CLI command, the worker and the tests build their :class:`Container` here and
nowhere else, so a new channel or sender is wired once. It is also the only module of the
application that imports the channel simulator (an import contract checks this).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import Engine

from kameng.channels.ports import PaymentChannel
from kameng.channels.simulator import api as simulator_api
from kameng.channels.simulator import models as simulator_models
from kameng.channels.simulator import pages as simulator_pages
from kameng.channels.simulator.charges import SimulatorCharges
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.container import Container
from kameng.demo import Payer, seed_aftersales_demo, seed_demo
from kameng.messages.senders import ChatSender, LogSender, Sender, SmtpConfig, SmtpSender, SmtpTls
from kameng.messages.telegram import TelegramBot
from kameng.platform.calendars import load_calendar
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.rate_limits import RateLimits
from kameng.settings import Settings, SettingsError


def _engine(settings: Settings) -> Engine:
    """The database engine; a URL whose driver is not installed is a settings error, not a traceback."""
    try:
        return make_engine(settings.database_url)
    except ModuleNotFoundError as missing:  # PostgreSQL's driver is the `postgres` extra
        raise SettingsError(
            f"KAMENG_DATABASE_URL: its database driver {missing.name!r} is not installed"
            " (pip install 'kameng[postgres]')"
        ) from None


def build(settings: Settings) -> Container:
    """Everything a process needs, built once from settings."""
    engine = _engine(settings)
    session_factory = make_session_factory(engine)
    simulator_models.install(engine)
    return Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        calendar=load_calendar(settings.calendar_file),
        payments=SimulatorChannel(settings.secret_key.get_secret_value()),
        refunds=SimulatorRefunds(session_factory),
        charges=SimulatorCharges(session_factory),
        sender=make_sender(settings),
        chat=operator_chat(settings),
    )


def operator_chat(settings: Settings) -> ChatSender | None:
    """The Telegram bot for operator notices, when its token and chat are both set."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not (token and settings.telegram_chat_id):
        return None
    return TelegramBot(settings.telegram_api_base, token, settings.telegram_chat_id, timeout=10.0)


def make_sender(settings: Settings) -> Sender:
    """E-mail over SMTP when a host is configured (SMS still through the development sender);
    otherwise the development sender logs everything."""
    log_sender = LogSender(settings.sent_messages_file)
    if not settings.smtp_host:
        return log_sender
    config = SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=SmtpTls(settings.smtp_tls),
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else "",
        from_address=settings.smtp_from,
    )
    return SmtpSender(config, sms=log_sender)


def rate_limits(settings: Settings, key_prefix: str = "kameng") -> RateLimits:
    """The web app's rate limits: counted in Redis when KAMENG_REDIS_URL is set (under
    ``key_prefix``), else in memory."""
    return RateLimits(
        {
            "sign_in": settings.rate_limit_sign_in,
            "sign_up": settings.rate_limit_sign_up,
            "token": settings.rate_limit_token,
            "refund_request": settings.rate_limit_refund_request,
            "order_lookup": settings.rate_limit_order_lookup,
        },
        settings.redis_url,
        enabled=settings.rate_limits_enabled,
        key_prefix=key_prefix,
    )


def channel_routers() -> Sequence[APIRouter]:
    """The pages and API of the configured channels that are served by kameng itself: the
    simulator's pay page and payer endpoint (outside production only; see the handlers)."""
    return [simulator_pages.router, simulator_api.router]


def simulator_payer(channel: PaymentChannel) -> Payer:
    """The demo's (and the tests') payer: pays in full at the simulator, which notifies us."""

    def pay(uow: UnitOfWork, out_trade_no: str, at: datetime) -> None:
        simulate_payer(uow, out_trade_no, True, channel, at)

    return pay


def prepare_database(settings: Settings, with_demo: bool = True, now: datetime | None = None) -> bool:
    """Migrate to head; load the demo data into an empty database unless in production or told
    not to. Returns whether demo data was loaded."""
    _engine(settings).dispose()  # the driver is there (else a clear SettingsError) before Alembic runs
    migrate.upgrade(settings.database_url)
    if settings.production or not with_demo:
        return False
    container = build(settings)
    try:
        moment, pay = now or datetime.now(UTC), simulator_payer(container.payments)
        if not seed_demo(container, pay, moment):
            return False
        seed_aftersales_demo(container, pay, moment)
        return True
    finally:
        container.dispose()
