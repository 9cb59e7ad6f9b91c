"""Sending SMS and e-mail: the port, the development sender, and e-mail over SMTP.

Every send carries an idempotency key derived from the outbox row that asked for it, so a send
repeated after a crash is recognised by the provider and reaches the person once (real SMS and
e-mail providers de-duplicate on such a key; the development sender does the same).
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from enum import StrEnum
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
    subject: str = ""  # for an e-mail; an SMS has none


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


# --------------------------------------------------------------------------------------------
# E-mail over SMTP


class SmtpTls(StrEnum):
    NONE = "none"  # plain SMTP (a relay on the same host, or the tests' local server)
    STARTTLS = "starttls"  # connect in clear, then upgrade (port 587)
    SSL = "ssl"  # TLS from the first byte (port 465)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 25
    tls: SmtpTls = SmtpTls.NONE
    user: str = ""
    password: str = ""
    from_address: str = "kameng <noreply@localhost>"
    timeout: float = 10.0


def message_id(idempotency_key: str, from_address: str) -> str:
    """The Message-ID of the e-mail sent for ``idempotency_key``: the same key always gives the
    same id, so a resend after a crash is recognisable as the same message by every mail system
    that de-duplicates (and by the person reading the headers)."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class SmtpSender:
    """E-mail over real SMTP; the SMS part of a message goes on to ``sms`` (the SMS port's sender).

    A message with an e-mail address is sent as a plain-text UTF-8 e-mail whose Message-ID is
    derived from the idempotency key; a key this process has already sent is not sent again.
    An SMTP failure raises, so the outbox row stays pending and is retried with back-off."""

    def __init__(self, config: SmtpConfig, sms: Sender) -> None:
        self._config = config
        self._sms = sms
        self._sent_keys: set[str] = set()

    def send(self, message: Outgoing) -> None:
        if message.email and message.idempotency_key not in self._sent_keys:
            self._send_email(message)
            self._sent_keys.add(message.idempotency_key)
        if message.phone:
            self._sms.send(replace(message, email=None))

    def _send_email(self, message: Outgoing) -> None:
        config = self._config
        assert message.email is not None
        mail = EmailMessage()
        mail["From"] = config.from_address
        mail["To"] = message.email
        mail["Subject"] = message.subject or message.text.split("\n", 1)[0][:60]
        mail["Message-ID"] = message_id(message.idempotency_key, config.from_address)
        mail["Date"] = formatdate(localtime=False)
        mail.set_content(message.text)
        client: smtplib.SMTP
        if config.tls is SmtpTls.SSL:
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.tls is SmtpTls.STARTTLS:
                client.starttls(context=ssl.create_default_context())
            if config.user:
                client.login(config.user, config.password)
            client.send_message(mail)
        log.info("e-mail %s to %s", message.idempotency_key, mask_email(message.email))
