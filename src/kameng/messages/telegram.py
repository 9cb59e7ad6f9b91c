"""The Telegram Bot API as a :class:`~kameng.messages.senders.ChatSender`: ``sendMessage`` to one chat.

The base URL is a setting (``KAMENG_TELEGRAM_API_BASE``) so that a proxy, or the tests' local
stand-in, can take the place of https://api.telegram.org. The token is in the path, as the API
wants it, and is never logged.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("kameng.notify")


class TelegramError(RuntimeError):
    """Telegram did not take the message; the outbox row is tried again later."""


class TelegramBot:
    def __init__(self, api_base: str, token: str, chat_id: str, timeout: float = 10.0) -> None:
        self._url = f"{api_base.rstrip('/')}/bot{token}/sendMessage"
        self._chat_id = chat_id
        self._timeout = timeout

    def send_chat(self, key: str, text: str) -> None:
        body = {"chat_id": self._chat_id, "text": text[:4096], "disable_web_page_preview": True}
        try:
            answer = httpx.post(self._url, json=body, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise TelegramError(f"telegram unreachable: {type(error).__name__}") from None
        ok = answer.is_success and _json_ok(answer)
        if not ok:
            raise TelegramError(f"telegram refused notice {key}: HTTP {answer.status_code}")
        log.info("operator notice %s sent to telegram", key)


def _json_ok(answer: httpx.Response) -> bool:
    try:
        data = answer.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("ok") is True
