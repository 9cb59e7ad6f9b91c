"""The composition root: the one place that chooses the adapters behind kameng's ports.

The web app, every CLI command, the worker and the tests build their :class:`Container` here and
nowhere else, so a new channel or sender is wired once. It is also the only module of the
application that imports the channel simulator (an import contract checks this).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter
from sqlalchemy import Engine

from kameng.channels import abnormal_pages as channel_abnormal_pages
from kameng.channels import notify as channel_notify
from kameng.channels import pay_pages as channel_pay_pages
from kameng.channels import reconcile_pages as channel_reconcile_pages
from kameng.channels.alipay.adapter import AlipayAdapter, AlipayConfig
from kameng.channels.notices import NoticeBook
from kameng.channels.ports import (
    BillingChannel,
    HostedCheckout,
    NotifyingChannel,
    PaymentChannel,
    RefundAnswer,
    RefundChannel,
)
from kameng.channels.protocol_sims.alipay import AlipaySimulator
from kameng.channels.protocol_sims.server import new_key_pair
from kameng.channels.protocol_sims.wechat import WeChatPaySimulator
from kameng.channels.routing import RoutedPayments, RoutedRefunds
from kameng.channels.simulator import api as simulator_api
from kameng.channels.simulator import models as simulator_models
from kameng.channels.simulator import pages as simulator_pages
from kameng.channels.simulator.charges import SimulatorCharges
from kameng.channels.simulator.payer import simulate_payer
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.channels.simulator.refunds import SimulatorRefunds
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from kameng.channels.wechatpay.config import WeChatPayConfig
from kameng.container import Container
from kameng.demo import Payer, seed_aftersales_demo, seed_demo
from kameng.domain.model import Channel
from kameng.domain.reconciliation import Finding
from kameng.messages.senders import ChatSender, LogSender, Sender, SmtpConfig, SmtpSender, SmtpTls
from kameng.messages.telegram import TelegramBot
from kameng.operator.calendar_admin import running_calendar
from kameng.payouts.notices import StoredNotices
from kameng.payouts.reconcile import reconcile_day
from kameng.payouts.services import refund_history, trade_channel
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.rate_limits import RateLimits
from kameng.platform.secrets_ring import CardKeyRing
from kameng.settings import Settings, SettingsError

log = logging.getLogger("kameng.compose")


def _engine(settings: Settings) -> Engine:
    """The database engine; a URL whose driver is not installed is a settings error, not a traceback."""
    try:
        return make_engine(settings.database_url)
    except ModuleNotFoundError as missing:  # PostgreSQL's driver is the `postgres` extra
        raise SettingsError(
            f"KAMENG_DATABASE_URL: its database driver {missing.name!r} is not installed"
            " (pip install 'kameng[postgres]')"
        ) from None


def build(settings: Settings, real_channels: bool = True) -> Container:
    """Everything a process needs, built once from settings. ``real_channels=False`` keeps every
    channel on the local simulator whatever the settings say (loading the demo data)."""
    engine = _engine(settings)
    session_factory = make_session_factory(engine, card_key_ring(settings))
    simulator_models.install(engine)
    payments: PaymentChannel = SimulatorChannel(settings.secret_key.get_secret_value())
    refunds: RefundChannel = SimulatorRefunds(session_factory)
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        # The package and the overrides file, with the official years an operator loaded.
        calendar=running_calendar(settings.calendar_file, UnitOfWork(session_factory)),
        payments=payments,
        refunds=refunds,
        charges=SimulatorCharges(session_factory),
        sender=make_sender(settings),
        chat=operator_chat(settings),
    )
    if real_channels and settings.channels != "off":
        wire_channels(container, _channel_adapters(settings, container))
    return container


def card_key_ring(settings: Settings) -> CardKeyRing:
    """The card keys' key ring of these settings (docs/catalog.md)."""
    return CardKeyRing.from_settings(settings)


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


class RealChannel(NotifyingChannel, HostedCheckout, RefundChannel, BillingChannel, Protocol):
    """What the WeChat Pay and Alipay adapters both are."""

    def keep_notices_in(self, book: NoticeBook) -> None: ...


def wire_channels(container: Container, adapters: Mapping[str, RealChannel]) -> None:
    """Put real channels behind the container's ports: their notifications and checkouts, and
    every payment and refund routed by its trade's channel (the local channel for the others)."""
    local_payments = getattr(container.payments, "local", container.payments)
    local_refunds = getattr(container.refunds, "local", container.refunds)
    for name, adapter in adapters.items():
        # Notification ids in the database: a replay is refused by every API process, after a restart too.
        adapter.keep_notices_in(StoredNotices(container.uow, name))
    container.notifiers = dict(adapters)
    container.checkouts = dict(adapters)
    container.bills = dict(adapters)
    container.payments = RoutedPayments(local_payments)
    container.refunds = RoutedRefunds(
        local_refunds, adapters, lambda out_trade_no: trade_channel(container.uow(), out_trade_no)
    )


def settle_abnormal_refund(
    container: Container, out_refund_no: str, to_user_card: tuple[str, str, str] | None = None
) -> RefundAnswer:
    """An operator's step for a WeChat refund stuck in ABNORMAL: send it on to the consumer's bank
    card (bank type, account, name) or to the merchant's account; the next poll sees it arrive."""
    adapter = container.checkouts.get("wechat")
    if not isinstance(adapter, WeChatPayAdapter):
        raise SettingsError("KAMENG_CHANNELS: WeChat Pay is not configured")
    return adapter.abnormal_refund(out_refund_no, to_user_card)


def reconcile_channel(container: Container, channel: str, day: date) -> list[Finding]:
    """The channel's bill of ``day`` (downloaded through its SDK) against our records of it."""
    billing = container.bills.get(channel)
    if billing is None:
        raise SettingsError(f"KAMENG_CHANNELS: {channel} is not configured")
    return reconcile_day(container.uow(), Channel(channel), day, billing.trade_bill(day))


def _public_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def _channel_adapters(settings: Settings, container: Container) -> dict[str, RealChannel]:
    """WeChat Pay and Alipay: on the configured gateways with the keys from files (``real``), or
    on local protocol simulators started here, with keys made up here (``simulators``)."""
    base = _public_url(settings)
    wechat_notify, alipay_notify = f"{base}/api/v1/payments/notify/wechat", f"{base}/api/v1/payments/notify/alipay"
    alipay_return = f"{base}/pay/channel/return"
    if settings.channels == "simulators":
        if settings.production:
            raise SettingsError("KAMENG_CHANNELS: production refuses the channel simulators")
        merchant, app = new_key_pair(), new_key_pair()
        apiv3_key = secrets.token_hex(16)
        # Controls over HTTP (/__sim__/behaviour, 127.0.0.1 only): here, never in production.
        wechat_sim = WeChatPaySimulator(
            "1900000109",
            "wx0sim0000000000",
            merchant.public_pem,
            apiv3_key,
            port=settings.wechatpay_simulator_port,
            controls=True,
        ).start()
        alipay_sim = AlipaySimulator(
            "2021000000000001", app.public_pem, port=settings.alipay_simulator_port, controls=True
        ).start()
        container.closers += [wechat_sim.stop, alipay_sim.stop]
        log.info(
            "channel simulators: WeChat Pay at %s, Alipay at %s (controls: POST <url>/__sim__/behaviour)",
            wechat_sim.base_url,
            alipay_sim.base_url,
        )
        wechat = WeChatPayConfig(
            mchid=wechat_sim.mchid,
            appid=wechat_sim.appid,
            private_key_pem=merchant.private_pem,
            cert_serial_no="SIMCERT0001",
            apiv3_key=apiv3_key,
            public_key_pem=wechat_sim.platform.public_pem,
            public_key_id=wechat_sim.public_key_id,
            notify_url=wechat_notify,
            gateway=wechat_sim.base_url,
            scan_page=wechat_sim.base_url + "/pay/scan",
        )
        alipay = AlipayConfig(
            app_id=alipay_sim.app_id,
            app_private_key_pem=app.private_pem,
            alipay_public_key_pem=alipay_sim.keys.public_pem,
            notify_url=alipay_notify,
            return_url=alipay_return,
            gateway=alipay_sim.gateway,
        )
    else:
        wechat = WeChatPayConfig(
            mchid=settings.wechatpay_mchid,
            appid=settings.wechatpay_appid,
            private_key_pem=_secret(settings.wechatpay_private_key_file, "KAMENG_WECHATPAY_PRIVATE_KEY_FILE"),
            cert_serial_no=settings.wechatpay_cert_serial_no,
            apiv3_key=_secret(settings.wechatpay_apiv3_key_file, "KAMENG_WECHATPAY_APIV3_KEY_FILE").strip(),
            public_key_pem=_secret(settings.wechatpay_public_key_file, "KAMENG_WECHATPAY_PUBLIC_KEY_FILE"),
            public_key_id=settings.wechatpay_public_key_id,
            notify_url=wechat_notify,
            gateway=settings.wechatpay_gateway,
        )
        alipay = AlipayConfig(
            app_id=settings.alipay_app_id,
            app_private_key_pem=_secret(settings.alipay_private_key_file, "KAMENG_ALIPAY_PRIVATE_KEY_FILE"),
            alipay_public_key_pem=_secret(settings.alipay_public_key_file, "KAMENG_ALIPAY_PUBLIC_KEY_FILE"),
            notify_url=alipay_notify,
            return_url=alipay_return,
            gateway=settings.alipay_gateway,
        )
    history = partial(_refund_history, container)
    return {
        "wechat": WeChatPayAdapter(wechat, refund_history=history),
        "alipay": AlipayAdapter(alipay, clock=container.now),
    }


def _refund_history(container: Container, out_trade_no: str, besides: str) -> tuple[int, datetime | None]:
    return refund_history(container.uow(), out_trade_no, besides)


def _secret(path: Path | None, variable: str) -> str:
    """A key read from its file; the error names the variable, never the content."""
    if path is None:
        raise SettingsError(f"{variable}: required with KAMENG_CHANNELS=real")
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"{variable}: cannot read the file ({error.strerror})") from None


def channel_routers() -> Sequence[APIRouter]:
    """The pages and API of the configured channels that are served by kameng itself: the
    simulator's pay page and payer endpoint (outside production only; see the handlers)."""
    return [
        simulator_pages.router,
        simulator_api.router,
        channel_notify.router,
        channel_pay_pages.router,
        channel_reconcile_pages.router,
        channel_abnormal_pages.router,
    ]


def simulator_payer(channel: PaymentChannel) -> Payer:
    """The demo's (and the tests') payer: pays in full at the simulator, which notifies us."""

    def pay(uow: UnitOfWork, out_trade_no: str, at: datetime) -> None:
        simulate_payer(uow, out_trade_no, True, channel, at)

    return pay


def prepare_database(settings: Settings, with_demo: bool = True, now: datetime | None = None) -> bool:
    """Migrate to head; load the demo data into an empty database unless in production or told
    not to. Returns whether demo data was loaded."""
    _engine(settings).dispose()  # the driver is there (else a clear SettingsError) before Alembic runs
    migrate.upgrade(settings.database_url, card_keys=card_key_ring(settings))
    if settings.production or not with_demo:
        return False
    container = build(settings, real_channels=False)
    try:
        moment, pay = now or datetime.now(UTC), simulator_payer(container.payments)
        if not seed_demo(container, pay, moment):
            return False
        seed_aftersales_demo(container, pay, moment)
        return True
    finally:
        container.dispose()
