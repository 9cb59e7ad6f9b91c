"""One typed settings object, read from ``KAMENG_*`` environment variables when asked for.

Nothing is read at import time: ``create_app()`` and the CLI call :meth:`Settings.from_env`.
Production refuses the development secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEVELOPMENT_SECRET = "kameng-development-secret-change-me"


CHANNEL_MODES = ("off", "simulators", "real")


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

    # ---- Real payment channels: WeChat Pay and Alipay (issue 10; docs/channels.md) -----------
    # "off": every channel is the local simulator (tests, the demo data); "simulators": WeChat
    # Pay and Alipay through their real SDKs to local protocol simulators started in-process
    # (`make run`; refused in production); "real": through the SDKs to the gateways below.
    channels: str = "off"
    # Where the channels reach us (notify URLs, Alipay's return URL); empty: http://host:port.
    public_url: str = ""
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""
    wechatpay_cert_serial_no: str = ""
    wechatpay_private_key_file: Path | None = None  # PKCS#8 PEM
    wechatpay_apiv3_key_file: Path | None = None  # the 32-character APIv3 key
    wechatpay_public_key_file: Path | None = None  # WeChat Pay's platform public key (PEM)
    wechatpay_public_key_id: str = ""
    wechatpay_gateway: str = "https://api.mch.weixin.qq.com"
    alipay_app_id: str = ""
    alipay_private_key_file: Path | None = None  # the app's private key (PEM)
    alipay_public_key_file: Path | None = None  # Alipay's public key (PEM)
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"
    # ---- end of the payment channels' settings ------------------------------------------------

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
        environment = env.get("KAMENG_ENV", "development")
        if environment not in {"development", "test", "production"}:
            raise SettingsError(f"KAMENG_ENV: must be development, test or production, got {environment!r}")
        calendar = env.get("KAMENG_CALENDAR_FILE")
        sent_file = env.get("KAMENG_SENT_MESSAGES_FILE")
        settings = cls(
            host=env.get("KAMENG_HOST", "127.0.0.1"),
            port=port,
            environment=environment,
            database_url=env.get("KAMENG_DATABASE_URL", "sqlite:///var/kameng.db"),
            secret_key=env.get("KAMENG_SECRET_KEY", DEVELOPMENT_SECRET),
            calendar_file=Path(calendar) if calendar else None,
            sent_messages_file=Path(sent_file) if sent_file else None,
            embedded_worker=env.get("KAMENG_EMBEDDED_WORKER", "1") not in {"0", "false", "no"},
            forwarded_allow_ips=env.get("KAMENG_FORWARDED_ALLOW_IPS", "").strip(),
            **_channel_settings(env),
            auto_prepare=env.get("KAMENG_AUTO_PREPARE", "0" if environment == "production" else "1")
            not in {"0", "false", "no"},
        )
        if settings.channels not in CHANNEL_MODES:
            raise SettingsError(f"KAMENG_CHANNELS: must be off, simulators or real, got {settings.channels!r}")
        if settings.production and settings.channels == "simulators":
            raise SettingsError("KAMENG_CHANNELS: production refuses the channel simulators (use real)")
        if (
            settings.production
            and settings.channels == "real"
            and _local(settings.wechatpay_gateway, settings.alipay_gateway)
        ):
            raise SettingsError("KAMENG_WECHATPAY_GATEWAY / KAMENG_ALIPAY_GATEWAY: production refuses a local gateway")
        if settings.production and (settings.secret_key == DEVELOPMENT_SECRET or len(settings.secret_key) < 32):
            raise SettingsError("KAMENG_SECRET_KEY: production needs a random secret of at least 32 characters")
        return settings


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value) if value else None


def _channel_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The payment channels' block of settings (see the comment in :class:`Settings`)."""
    defaults = Settings()
    return {
        "channels": env.get("KAMENG_CHANNELS", "off").strip(),
        "public_url": env.get("KAMENG_PUBLIC_URL", "").strip().rstrip("/"),
        "wechatpay_mchid": env.get("KAMENG_WECHATPAY_MCHID", "").strip(),
        "wechatpay_appid": env.get("KAMENG_WECHATPAY_APPID", "").strip(),
        "wechatpay_cert_serial_no": env.get("KAMENG_WECHATPAY_CERT_SERIAL_NO", "").strip(),
        "wechatpay_private_key_file": _path(env, "KAMENG_WECHATPAY_PRIVATE_KEY_FILE"),
        "wechatpay_apiv3_key_file": _path(env, "KAMENG_WECHATPAY_APIV3_KEY_FILE"),
        "wechatpay_public_key_file": _path(env, "KAMENG_WECHATPAY_PUBLIC_KEY_FILE"),
        "wechatpay_public_key_id": env.get("KAMENG_WECHATPAY_PUBLIC_KEY_ID", "").strip(),
        "wechatpay_gateway": env.get("KAMENG_WECHATPAY_GATEWAY", defaults.wechatpay_gateway).strip(),
        "alipay_app_id": env.get("KAMENG_ALIPAY_APP_ID", "").strip(),
        "alipay_private_key_file": _path(env, "KAMENG_ALIPAY_PRIVATE_KEY_FILE"),
        "alipay_public_key_file": _path(env, "KAMENG_ALIPAY_PUBLIC_KEY_FILE"),
        "alipay_gateway": env.get("KAMENG_ALIPAY_GATEWAY", defaults.alipay_gateway).strip(),
    }


def _local(*urls: str) -> bool:
    return any(host in url for url in urls for host in ("://127.", "://localhost", "://[::1]"))
