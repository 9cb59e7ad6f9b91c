"""One typed settings object (pydantic-settings), read from ``KAMENG_*`` variables when asked for.

Nothing is read at import time: ``create_app()`` and the CLI call :meth:`Settings.from_env`, which
reads the process environment and a ``.env`` file in the working directory (the environment
wins), or only the mapping it is given. A ``Settings(...)`` built in code holds exactly what it was
given and its defaults: a test's settings never pick up the machine's environment or ``.env``.
Every setting is documented in ``.env.example``. Production refuses the development secret.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEVELOPMENT_SECRET = "kameng-development-secret-change-me"
ENV_PREFIX = "KAMENG_"
ENV_FILE = ".env"

# What from_env() is reading while it builds a Settings: (a mapping,) or (None,) for the process's
# environment and .env; unset (None) for a Settings built in code, which reads nothing.
_sources: ContextVar[tuple[Mapping[str, str] | None] | None] = ContextVar("kameng_settings_sources", default=None)


class SettingsError(ValueError):
    """A setting that is missing or wrong; the message names the variable."""


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # As for os.environ: names are matched without regard to case (the source lowers its own).
        return {name.lower(): value for name, value in self._mapping.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    # KAMENG_ENV (not KAMENG_ENVIRONMENT): the name operators already use.
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="KAMENG_ENV"
    )
    database_url: str = "sqlite:///var/kameng.db"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    calendar_file: Path | None = None
    # Embedded mode runs the worker tick inside the server; production runs `kameng worker`.
    embedded_worker: bool = True
    # A distributed PostgreSQL (Citus, docs/scaling.md): every statement on a consumer's rows names
    # the owner by value. A refund request then looks its token up before the order's lock.
    distributed_database: bool = False
    # Outside production the app migrates its database and loads the demo data when empty.
    # Unset, it follows the environment (off in production).
    auto_prepare: bool = True
    # The development sender also appends every SMS/e-mail it "sends" here (JSON lines), if set.
    sent_messages_file: Path | None = None
    # Behind nginx or another proxy: the addresses whose X-Forwarded-For/-Proto headers are
    # believed (comma-separated, or "*"); empty believes none.
    forwarded_allow_ips: str = ""

    # Logs: one JSON object per line for a log collector, or text for a person at a terminal.
    log_format: Literal["json", "text"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # GET /metrics: open outside production; in production only with this bearer token (else 404).
    metrics_token: SecretStr | None = None

    # Rate limits (the `limits` package's notation, e.g. "10/minute;100/hour"), kept in Redis when
    # a URL is given (shared by every process), else in this process's memory.
    redis_url: str | None = None
    rate_limits_enabled: bool = True
    rate_limit_sign_in: str = "10/minute;50/hour"
    rate_limit_sign_up: str = "5/minute;20/hour"
    rate_limit_token: str = "10/minute;50/hour"
    rate_limit_refund_request: str = "10/minute;60/hour"
    rate_limit_order_lookup: str = "120/minute"

    # API processes behind the one port in `kameng serve` (production: about one per core; the
    # processes share nothing but the database, see docs/scaling.md).
    workers: int = Field(default=1, ge=1, le=64)

    # --- Webhooks and operator notices (docs/integrations.md) ---------------------------------
    # How long a webhook receiver may take to answer before the attempt counts as failed.
    webhook_timeout_seconds: float = Field(default=10.0, ge=0.05, le=60)
    # The Telegram Bot API (a proxy or a local stand-in may take its place), the bot's token and
    # the operators' chat; notices go to Telegram only when token and chat are both set.
    telegram_api_base: str = "https://api.telegram.org"
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str = ""
    # The operators' e-mail address for notices (sent through the Sender port); empty: none.
    operator_email: str = ""
    # The events the operators want to hear about (comma-separated NoticeEvent values).
    operator_notice_events: str = "webhook_disabled,refund_failed,backlog_growing,stock_low"
    # "Backlog growing": more pending outbox rows than this, or the oldest older than the minutes.
    notice_backlog_rows: int = Field(default=500, ge=1, le=10**9)
    notice_backlog_minutes: int = Field(default=15, ge=1, le=10**6)

    # --- Subscriptions and e-mail (docs/subscriptions.md) -------------------------------------
    # E-mail over SMTP: with a host set, compose.build() sends e-mail through it (SMS still go to
    # the development sender); empty keeps the development sender for everything.
    smtp_host: str = ""
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    # Unset: 465 with ssl, else 25.
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = "kameng <noreply@localhost>"
    # The reminder goes out this many days before a renewal: more than the 5 days RULES.md S2
    # asks, so that a worker that was down for a day still sends a qualifying one.
    renewal_reminder_days: int = Field(default=7, ge=5, le=30)
    # A failed renewal charge is tried this many times in all, this many hours apart, then lapses.
    renewal_charge_attempts: int = Field(default=3, ge=1, le=10)
    renewal_retry_hours: int = Field(default=24, ge=1, le=168)
    # An offer the operator shows beside (never instead of) the cancel button; empty shows none.
    renewal_offer_zh: str = ""
    renewal_offer_en: str = ""

    # --- Policy simulation (docs/policies.md): the review workload in person-days is the requests
    # sent to review × minutes per review ÷ minutes of review work in a person's day.
    policy_review_minutes: int = Field(default=15, ge=1, le=24 * 60)
    policy_workday_minutes: int = Field(default=420, ge=1, le=24 * 60)

    # --- Real payment channels: WeChat Pay and Alipay (docs/channels.md) ----------------------
    # "off": every channel is the local simulator (tests, the demo data); "simulators": WeChat
    # Pay and Alipay through their real SDKs to local protocol simulators started in-process
    # (`make run`; refused in production); "real": through the SDKs to the gateways below.
    channels: Literal["off", "simulators", "real"] = "off"
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
    # With "simulators": the 127.0.0.1 ports of the two protocol simulators (0: any free port),
    # so that a tester can reach their controls (POST /__sim__/behaviour) at a known address.
    wechatpay_simulator_port: int = Field(default=0, ge=0, lt=65536)
    alipay_simulator_port: int = Field(default=0, ge=0, lt=65536)

    # --- Card keys at rest (docs/catalog.md) ---------------------------------------------------
    # Fernet keys, comma-separated, newest first: the newest encrypts, any decrypts; after adding
    # one in front run `kameng card-keys rotate`, then drop the old one. Unset (development and
    # tests only; production refuses to start): derived from KAMENG_SECRET_KEY.
    card_key_keys: SecretStr | None = None
    # The key of the card keys' fingerprints (the duplicate check); unset: derived from
    # KAMENG_SECRET_KEY. Changing it (or the secret key) needs `kameng card-keys rotate`.
    card_key_fingerprint_key: SecretStr | None = None

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @field_validator(
        "calendar_file",
        "sent_messages_file",
        "metrics_token",
        "redis_url",
        "telegram_bot_token",
        "smtp_password",
        "wechatpay_private_key_file",
        "wechatpay_apiv3_key_file",
        "wechatpay_public_key_file",
        "alipay_private_key_file",
        "alipay_public_key_file",
        "card_key_keys",
        "card_key_fingerprint_key",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "forwarded_allow_ips",
        "telegram_api_base",
        "telegram_chat_id",
        "operator_email",
        "operator_notice_events",
        "smtp_host",
        "channels",
        "wechatpay_mchid",
        "wechatpay_appid",
        "wechatpay_cert_serial_no",
        "wechatpay_public_key_id",
        "wechatpay_gateway",
        "alipay_app_id",
        "alipay_gateway",
        mode="before",
    )
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("public_url", mode="before")
    @classmethod
    def _a_base_url(cls, value: Any) -> Any:
        return value.strip().rstrip("/") if isinstance(value, str) else value

    @field_validator("renewal_offer_zh", "renewal_offer_en", mode="before")
    @classmethod
    def _an_offer(cls, value: Any) -> Any:
        return value.strip()[:200] if isinstance(value, str) else value

    @field_validator("telegram_api_base")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "rate_limit_sign_in",
        "rate_limit_sign_up",
        "rate_limit_token",
        "rate_limit_refund_request",
        "rate_limit_order_lookup",
    )
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        # Imported here: `kameng simulate` (and make test's scenario check) reads no settings and
        # should not pay for, or depend on, the rate-limit package.
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("not a rate limit such as 10/minute or 10/minute;50/hour") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("card_key_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Imported here, like the rate limits' package: `kameng simulate` reads no card key.
        from kameng.platform.secrets_ring import parse_fernet_keys

        keys = parse_fernet_keys(value.get_secret_value()) if value is not None else []
        return SecretStr(",".join(keys)) if keys else None

    @field_validator("card_key_fingerprint_key")
    @classmethod
    def _a_long_fingerprint_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("needs at least 32 characters")
        return value

    @property
    def card_key_ring_keys(self) -> list[str]:
        """The ring's Fernet keys, newest first (empty: derive one from the secret key)."""
        return self.card_key_keys.get_secret_value().split(",") if self.card_key_keys else []

    @model_validator(mode="before")
    @classmethod
    def _production_prepares_nothing_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "auto_prepare" not in data:
            environment = data.get("environment", data.get("KAMENG_ENV"))
            if environment == "production":
                return {**data, "auto_prepare": False}
        return data

    @model_validator(mode="before")
    @classmethod
    def _smtp_over_ssl_listens_on_465(cls, data: Any) -> Any:
        if isinstance(data, dict) and "smtp_port" not in data and data.get("smtp_tls") == "ssl":
            return {**data, "smtp_port": 465}
        return data

    @model_validator(mode="after")
    def _production_pays_through_real_channels(self) -> Settings:
        if self.production and self.channels == "simulators":
            raise ValueError("KAMENG_CHANNELS: production refuses the channel simulators (use real)")
        if self.production and self.channels == "real" and _local(self.wechatpay_gateway, self.alipay_gateway):
            raise ValueError("KAMENG_WECHATPAY_GATEWAY / KAMENG_ALIPAY_GATEWAY: production refuses a local gateway")
        return self

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.production and (secret == DEVELOPMENT_SECRET or len(secret) < 32):
            raise ValueError("KAMENG_SECRET_KEY: production needs a random secret of at least 32 characters")
        if self.production and self.card_key_keys is None:
            raise ValueError(
                "KAMENG_CARD_KEY_KEYS: production needs its own card-key encryption key"
                " (python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        chosen = _sources.get()
        if chosen is None:
            return (init_settings,)
        (mapping,) = chosen
        if mapping is not None:
            return (init_settings, _MappingSource(settings_cls, mapping))
        return (init_settings, env_settings, dotenv_settings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``env`` alone, or from the process environment and ``.env``."""
        try:
            with _reading(env):
                return cls()
        except ValidationError as error:
            raise SettingsError(_explain(error)) from None


def _local(*urls: str) -> bool:
    return any(host in url for url in urls for host in ("://127.", "://localhost", "://[::1]"))


@contextmanager
def _reading(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _sources.set((env,))
    try:
        yield
    finally:
        _sources.reset(token)


def variable_name(field: str) -> str:
    """The environment variable of a setting: ``port`` → ``KAMENG_PORT``."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


def _explain(error: ValidationError) -> str:
    """The first problem, naming its variable; a secret's value is never repeated."""
    problem = error.errors()[0]
    location = problem["loc"]
    message = str(problem["msg"]).removeprefix("Value error, ")
    if not location:  # a check of the whole model: its message names the variable itself
        return message
    field = str(location[0])
    name = field if field.startswith(ENV_PREFIX) else variable_name(field) if field in Settings.model_fields else field
    if field in {
        "secret_key",
        "metrics_token",
        "telegram_bot_token",
        "smtp_password",
        "card_key_keys",
        "card_key_fingerprint_key",
    }:
        return f"{name}: {message}"
    return f"{name}: {message}, got {problem.get('input')!r}"


def environment_variables() -> list[str]:
    """Every variable a Settings reads, in field order (for the documentation's check)."""
    return [variable_name(field) for field in Settings.model_fields]
