"""Sending SMS and e-mail: the port, and the development sender behind it.

Every send carries an idempotency key derived from the outbox row that asked for it, so a send
repeated after a crash is recognised by the provider and reaches the person once (real SMS and
e-mail providers de-duplicate on such a key; the development sender does the same).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kameng.domain.users import mask_email, mask_phone

log = logging.getLogger("kameng.notify")


@dataclass(frozen=True, slots=True)
class Outgoing:
    idempotency_key: str
    phone: str | None
    email: str | None
    text: str


class Sender(Protocol):
    def send(self, message: Outgoing) -> None: ...


class ChatSender(Protocol):
    """A chat the operators read (the Telegram bot): ``key`` is the outbox row's, for the log."""

    def send_chat(self, key: str, text: str) -> None: ...


class LogSender:
    """Development and tests: writes what would have been sent to the log, keeps the last messages
    in memory, and, when given a file, appends each send to it as a JSON line (so a test can count
    sends across processes). A key already sent is not sent again."""

    def __init__(self, record_file: Path | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self._keys: set[str] = set()
        self._file = record_file

    def _already_sent(self, key: str) -> bool:
        if key in self._keys:
            return True
        if self._file is None or not self._file.exists():
            return False
        with self._file.open(encoding="utf-8") as lines:
            return any(json.loads(line)["key"] == key for line in lines if line.strip())

    def send(self, message: Outgoing) -> None:
        if self._already_sent(message.idempotency_key):
            log.info("message %s was sent before: not sent again", message.idempotency_key)
            return
        to = mask_phone(message.phone) if message.phone else mask_email(message.email)
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            with self._file.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"key": message.idempotency_key, "to": to, "text": message.text}) + "\n")
        self._keys.add(message.idempotency_key)
        self.sent.append((to, message.text))
        del self.sent[:-200]
        log.info("message to %s: %s", to, message.text)
