"""Logs: one JSON object per line (or a readable line), each naming the request it belongs to.

The request id lives in a context variable: the web middleware sets it for each request, the
outbox stores it on the rows a request queued and sets it again while a worker runs them, so the
log lines of a page, of the worker that handled its outbox rows and of the channel calls made for
them carry the same id. :class:`SecretMasker` runs on every record before it is written: the
secret key and the other configured secrets, passwords, tokens and card keys never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

MASK = "***"
# The loggers uvicorn writes to: :func:`configure_logging` sends them through the root's handler.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy in front of us assigned is reused (so the two logs meet), if it looks like one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_request_id: ContextVar[str | None] = ContextVar("kameng_request_id", default=None)

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Extras and ``name=value`` pairs in a message whose value is a secret by its name (csrf_token,
# new_password, X-Api-Key, 卡密 …). A line is matched at each position in turn, so a name is only
# looked for where a word starts (the look-behind fails at once inside a word): with ``[\w-]*``
# tried from every position, a line of n letters cost n² steps, and a request for a
# 10,000-character address, logged, held a core for seconds.
_SECRET_WORDS = (
    r"(?<![\w-])[\w-]*?(?:password|passwd|secret(?:[_-]?key)?|token|api[_-]?key|authorization|card[_-]?key)"
    r"|卡密|密码"
)
_SECRET_KEY_NAME = re.compile(rf"^(?:{_SECRET_WORDS})$", re.IGNORECASE)
_SECRET_PAIR = re.compile(
    rf"(?P<name>{_SECRET_WORDS})(?P<sep>[\"']?\s*[:=：]\s*[\"']?)(?P<value>[^\s\"',;&]+)", re.IGNORECASE
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# user:password@ in a URL (a database or Redis address).
_URL_PASSWORD = re.compile(
    r"(?P<scheme>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^:/@\s]{0,256}):(?P<password>[^@\s]{1,256})@", re.IGNORECASE
)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def sane_request_id(sent: str | None) -> str | None:
    """The incoming id if it looks like one (letters, digits, ``._-``, 8 to 64 of them), else None."""
    return sent if sent is not None and _SANE_REQUEST_ID.fullmatch(sent) else None


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Everything logged inside (and every outbox row queued inside) names ``request_id``."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class SecretMasker(logging.Filter):
    """Masks secrets in a record's message, arguments and extras: the values it is given (the
    secret key, a token), ``password=…``-style pairs, bearer tokens and passwords in URLs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Short values would mask ordinary words; the settings refuse short secrets in production.
        self._secrets = sorted({secret for secret in secrets if len(secret) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _URL_PASSWORD.sub(rf"\g<scheme>:{MASK}@", text)
        text = _BEARER.sub(rf"\1 {MASK}", text)
        return _SECRET_PAIR.sub(rf"\g<name>\g<sep>{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        for name, value in list(vars(record).items()):
            if name in _RECORD_FIELDS:
                continue
            if _SECRET_KEY_NAME.match(name):
                setattr(record, name, MASK)
            elif isinstance(value, str):
                setattr(record, name, self.mask(value))
        return True


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (None outside a request or an outbox row)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id,
    the record's extras, and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def log_handler(
    log_format: Literal["json", "text"], secrets: Iterable[str] = (), stream: Any = None
) -> logging.Handler:
    """A handler writing to ``stream`` (stderr) in the chosen format, masking and naming requests."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(SecretMasker(secrets))
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(log_format: Literal["json", "text"], level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """The root logger writes through one handler of :func:`log_handler`; uvicorn's loggers go
    through it too (their own handlers removed), so its access lines are JSON as well."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(log_handler(log_format, secrets))
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
