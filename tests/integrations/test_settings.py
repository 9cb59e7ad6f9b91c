"""The integrations' settings block: read from KAMENG_* variables, refused when wrong, and the
Telegram bot built only when its token and chat are both set."""

from __future__ import annotations

import pytest

from kameng.compose import operator_chat
from kameng.messages.telegram import TelegramBot
from kameng.settings import Settings, SettingsError


def test_the_defaults_send_nothing_to_telegram_and_wait_ten_seconds() -> None:
    settings = Settings.from_env({})
    assert settings.webhook_timeout_seconds == 10.0
    assert settings.telegram_api_base == "https://api.telegram.org"
    assert operator_chat(settings) is None
    assert "webhook_disabled" in settings.operator_notice_events.split(",")


def test_the_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "KAMENG_WEBHOOK_TIMEOUT_SECONDS": "2.5",
            "KAMENG_TELEGRAM_API_BASE": "http://127.0.0.1:8081",
            "KAMENG_TELEGRAM_BOT_TOKEN": "1:abc",
            "KAMENG_TELEGRAM_CHAT_ID": "-42",
            "KAMENG_OPERATOR_EMAIL": "ops@example.com",
            "KAMENG_OPERATOR_NOTICE_EVENTS": "refund_failed",
            "KAMENG_NOTICE_BACKLOG_ROWS": "10",
            "KAMENG_NOTICE_BACKLOG_MINUTES": "3",
        }
    )
    assert settings.webhook_timeout_seconds == 2.5
    assert settings.operator_email == "ops@example.com"
    assert (settings.notice_backlog_rows, settings.notice_backlog_minutes) == (10, 3)
    assert isinstance(operator_chat(settings), TelegramBot)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KAMENG_WEBHOOK_TIMEOUT_SECONDS", "soon"),
        ("KAMENG_WEBHOOK_TIMEOUT_SECONDS", "0"),
        ("KAMENG_WEBHOOK_TIMEOUT_SECONDS", "nan"),
        ("KAMENG_TELEGRAM_API_BASE", "api.telegram.org"),
        ("KAMENG_NOTICE_BACKLOG_ROWS", "-1"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
