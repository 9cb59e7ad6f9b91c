"""One typed settings object, read from ``KAMENG_*`` environment variables when asked for.

Nothing is read at import time: ``create_app()`` and the CLI call :meth:`Settings.from_env`.
Production refuses the development secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

DEVELOPMENT_SECRET = "kameng-development-secret-change-me"


class SettingsError(ValueError):
    """A setting that is missing or wrong; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    environment: str = "development"
    database_url: str = "sqlite:///var/kameng.db"
    secret_key: str = DEVELOPMENT_SECRET
    calendar_file: Path | None = None
    # Embedded mode runs the worker tick inside the server; production runs `kameng worker`.
    embedded_worker: bool = True
    # Outside production the app migrates its database and loads the demo data when empty.
    auto_prepare: bool = True
    # The development sender also appends every SMS/e-mail it "sends" here (JSON lines), if set.
    sent_messages_file: Path | None = None
    # Behind nginx or another proxy: the addresses whose X-Forwarded-For/-Proto headers are
    # believed (comma-separated, or "*"); empty believes none.
    forwarded_allow_ips: str = ""
    # API processes behind the one port in `kameng serve` (production: about one per core; the
    # processes share nothing but the database, see docs/scaling.md).
    workers: int = 1

    # --- Integrations (issue 12, part B): webhooks and operator notices ---------------------
    # How long a webhook receiver may take to answer before the attempt counts as failed.
    webhook_timeout_seconds: float = 10.0
    # The Telegram Bot API (a proxy or a local stand-in may take its place), the bot's token and
    # the operators' chat; notices go to Telegram only when token and chat are both set.
    telegram_api_base: str = "https://api.telegram.org"
    telegram_bot_token: str = ""
    telegram_chat_id: str = ""
    # The operators' e-mail address for notices (sent through the Sender port); empty: none.
    operator_email: str = ""
    # The events the operators want to hear about (comma-separated NoticeEvent values).
    operator_notice_events: str = "webhook_disabled,refund_failed,backlog_growing,stock_low"
    # "Backlog growing": more pending outbox rows than this, or the oldest older than the minutes.
    notice_backlog_rows: int = 500
    notice_backlog_minutes: int = 15

    # --- Subscriptions and e-mail (issue 9, part A) -------------------------------------------
    # E-mail over SMTP: with a host set, compose.build() sends e-mail through it (SMS still go to
    # the development sender); empty keeps the LogSender for everything.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_tls: str = "none"  # none | starttls | ssl
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "kameng <noreply@localhost>"
    # The reminder goes out this many days before a renewal: more than the 5 days RULES.md S2
    # asks, so that a worker that was down for a day still sends a qualifying one.
    renewal_reminder_days: int = 7
    # A failed renewal charge is tried this many times in all, this many hours apart, then lapses.
    renewal_charge_attempts: int = 3
    renewal_retry_hours: int = 24
    # An offer the operator shows beside (never instead of) the cancel button; empty shows none.
    renewal_offer_zh: str = ""
    renewal_offer_en: str = ""
    # --- end of subscriptions and e-mail -----------------------------------------------------

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port_text = env.get("KAMENG_PORT", "8000")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"KAMENG_PORT: not a port number: {port_text!r}") from None
        if not 0 < port < 65536:
            raise SettingsError(f"KAMENG_PORT: must be 1–65535, got {port}")
        workers_text = env.get("KAMENG_WORKERS", "1")
        try:
            workers = int(workers_text)
        except ValueError:
            raise SettingsError(f"KAMENG_WORKERS: not a whole number: {workers_text!r}") from None
        if not 1 <= workers <= 64:
            raise SettingsError(f"KAMENG_WORKERS: must be 1–64, got {workers}")
        environment = env.get("KAMENG_ENV", "development")
        if environment not in {"development", "test", "production"}:
            raise SettingsError(f"KAMENG_ENV: must be development, test or production, got {environment!r}")
        calendar = env.get("KAMENG_CALENDAR_FILE")
        sent_file = env.get("KAMENG_SENT_MESSAGES_FILE")
        integrations = _integration_settings(env)
        subscription_settings = _subscription_settings(env)
        settings = cls(
            **integrations,
            host=env.get("KAMENG_HOST", "127.0.0.1"),
            port=port,
            environment=environment,
            database_url=env.get("KAMENG_DATABASE_URL", "sqlite:///var/kameng.db"),
            secret_key=env.get("KAMENG_SECRET_KEY", DEVELOPMENT_SECRET),
            calendar_file=Path(calendar) if calendar else None,
            sent_messages_file=Path(sent_file) if sent_file else None,
            embedded_worker=env.get("KAMENG_EMBEDDED_WORKER", "1") not in {"0", "false", "no"},
            forwarded_allow_ips=env.get("KAMENG_FORWARDED_ALLOW_IPS", "").strip(),
            workers=workers,
            auto_prepare=env.get("KAMENG_AUTO_PREPARE", "0" if environment == "production" else "1")
            not in {"0", "false", "no"},
            **subscription_settings,
        )
        if settings.production and (settings.secret_key == DEVELOPMENT_SECRET or len(settings.secret_key) < 32):
            raise SettingsError("KAMENG_SECRET_KEY: production needs a random secret of at least 32 characters")
        return settings


# --- Integrations (issue 12, part B) --------------------------------------------------------


def _number(env: Mapping[str, str], name: str, default: str, low: float, high: float) -> float:
    text = env.get(name, default)
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}: not a number: {text!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be {low:g}–{high:g}, got {value:g}")
    return value


class _Integrations(TypedDict):
    webhook_timeout_seconds: float
    telegram_api_base: str
    telegram_bot_token: str
    telegram_chat_id: str
    operator_email: str
    operator_notice_events: str
    notice_backlog_rows: int
    notice_backlog_minutes: int


def _integration_settings(env: Mapping[str, str]) -> _Integrations:
    base = env.get("KAMENG_TELEGRAM_API_BASE", "https://api.telegram.org").strip()
    if not base.startswith(("https://", "http://")):
        raise SettingsError(f"KAMENG_TELEGRAM_API_BASE: must be an http(s) URL, got {base!r}")
    return {
        "webhook_timeout_seconds": _number(env, "KAMENG_WEBHOOK_TIMEOUT_SECONDS", "10", 0.05, 60),
        "telegram_api_base": base,
        "telegram_bot_token": env.get("KAMENG_TELEGRAM_BOT_TOKEN", "").strip(),
        "telegram_chat_id": env.get("KAMENG_TELEGRAM_CHAT_ID", "").strip(),
        "operator_email": env.get("KAMENG_OPERATOR_EMAIL", "").strip(),
        "operator_notice_events": env.get(
            "KAMENG_OPERATOR_NOTICE_EVENTS", "webhook_disabled,refund_failed,backlog_growing,stock_low"
        ).strip(),
        "notice_backlog_rows": int(_number(env, "KAMENG_NOTICE_BACKLOG_ROWS", "500", 1, 10**9)),
        "notice_backlog_minutes": int(_number(env, "KAMENG_NOTICE_BACKLOG_MINUTES", "15", 1, 10**6)),
    }


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}: not a whole number: {text!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be {low}–{high}, got {value}")
    return value


def _subscription_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The subscriptions' and e-mail's settings (issue 9, part A), checked like the others."""
    tls = env.get("KAMENG_SMTP_TLS", "none")
    if tls not in {"none", "starttls", "ssl"}:
        raise SettingsError(f"KAMENG_SMTP_TLS: must be none, starttls or ssl, got {tls!r}")
    reminder_days = _whole(env, "KAMENG_RENEWAL_REMINDER_DAYS", 7, 5, 30)  # S2: never fewer than 5
    return {
        "smtp_host": env.get("KAMENG_SMTP_HOST", "").strip(),
        "smtp_port": _whole(env, "KAMENG_SMTP_PORT", 465 if tls == "ssl" else 25, 1, 65535),
        "smtp_tls": tls,
        "smtp_user": env.get("KAMENG_SMTP_USER", ""),
        "smtp_password": env.get("KAMENG_SMTP_PASSWORD", ""),
        "smtp_from": env.get("KAMENG_SMTP_FROM", "kameng <noreply@localhost>"),
        "renewal_reminder_days": reminder_days,
        "renewal_charge_attempts": _whole(env, "KAMENG_RENEWAL_CHARGE_ATTEMPTS", 3, 1, 10),
        "renewal_retry_hours": _whole(env, "KAMENG_RENEWAL_RETRY_HOURS", 24, 1, 168),
        "renewal_offer_zh": env.get("KAMENG_RENEWAL_OFFER_ZH", "").strip()[:200],
        "renewal_offer_en": env.get("KAMENG_RENEWAL_OFFER_EN", "").strip()[:200],
    }
