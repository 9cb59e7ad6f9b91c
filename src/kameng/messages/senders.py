"""Sending SMS and e-mail. Development writes to the log; production plugs a provider in here."""

from __future__ import annotations

import logging
from typing import Protocol

from kameng.domain.users import mask_email, mask_phone

log = logging.getLogger("kameng.notify")


class Sender(Protocol):
    def send(self, phone: str | None, email: str | None, text: str) -> None: ...


class LogSender:
    """Writes what would have been sent; keeps the last messages for tests and the demo."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str | None, email: str | None, text: str) -> None:
        to = mask_phone(phone) if phone else mask_email(email)
        self.sent.append((to, text))
        del self.sent[:-200]
        log.info("message to %s: %s", to, text)
