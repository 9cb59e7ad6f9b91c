"""E-mail leaves over real SMTP: a local aiosmtpd server on 127.0.0.1 receives it, and the test
reads what arrived (headers, UTF-8 body, the Message-ID derived from the idempotency key)."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime

import pytest

from kameng import compose
from kameng.messages.senders import LogSender, Outgoing, SmtpConfig, SmtpSender, SmtpTls, message_id
from kameng.settings import Settings, SettingsError
from tests.support.smtp import SMTP_PASSWORD, SMTP_USER, Inbox

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_an_email_arrives_with_its_subject_utf8_text_and_a_message_id_derived_from_the_key(
    smtp_inbox: Inbox,
) -> None:
    sms = LogSender()
    sender = SmtpSender(SmtpConfig("127.0.0.1", smtp_inbox.port, from_address="kameng <no-reply@kameng.test>"), sms)
    sender.send(
        Outgoing("renewal_notice:7:1", None, "buyer@example.com", "您的会员将于 3月9日 自动续费 30.00 元", "续费提醒")
    )

    [mail] = smtp_inbox.to("buyer@example.com")
    assert mail["Subject"] == "续费提醒"
    assert mail["From"] == "kameng <no-reply@kameng.test>"
    assert mail["Message-ID"] == message_id("renewal_notice:7:1", "kameng <no-reply@kameng.test>")
    assert mail["Message-ID"].endswith("@kameng.test>")
    assert "自动续费 30.00 元" in mail.get_content()
    assert sms.sent == []  # no phone: no SMS


def test_the_same_key_is_sent_once_and_the_sms_part_goes_to_the_sms_sender(smtp_inbox: Inbox) -> None:
    sms = LogSender()
    sender = SmtpSender(SmtpConfig("127.0.0.1", smtp_inbox.port), sms)
    message = Outgoing("notify:1", "13800000001", "both@example.com", "text")
    sender.send(message)
    sender.send(message)  # a retry of the same outbox row
    assert len(smtp_inbox.to("both@example.com")) == 1
    assert len(sms.sent) == 1  # the LogSender also recognises the key
    assert sms.sent[0][0].startswith("138")


def test_login_is_used_when_a_user_is_set_and_a_wrong_password_raises_so_the_outbox_retries(
    smtp_inbox: Inbox,
) -> None:
    good = SmtpSender(SmtpConfig("127.0.0.1", smtp_inbox.port, user=SMTP_USER, password=SMTP_PASSWORD), LogSender())
    good.send(Outgoing("k1", None, "a@example.com", "hello"))
    assert smtp_inbox.logins == [SMTP_USER]
    assert len(smtp_inbox.to("a@example.com")) == 1

    bad = SmtpSender(SmtpConfig("127.0.0.1", smtp_inbox.port, user=SMTP_USER, password="wrong"), LogSender())
    with pytest.raises(smtplib.SMTPAuthenticationError):
        bad.send(Outgoing("k2", None, "b@example.com", "hello"))
    assert smtp_inbox.to("b@example.com") == []


def test_compose_chooses_smtp_when_a_host_is_set_and_the_log_sender_otherwise(smtp_inbox: Inbox) -> None:
    base = {"KAMENG_ENV": "test", "KAMENG_DATABASE_URL": "sqlite://"}
    with_smtp = Settings.from_env({**base, "KAMENG_SMTP_HOST": "127.0.0.1", "KAMENG_SMTP_PORT": str(smtp_inbox.port)})
    assert isinstance(compose.make_sender(with_smtp), SmtpSender)
    assert isinstance(compose.make_sender(Settings.from_env(base)), LogSender)
    compose.make_sender(with_smtp).send(Outgoing("k3", None, "c@example.com", "via settings"))
    assert len(smtp_inbox.to("c@example.com")) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("KAMENG_SMTP_TLS", "maybe"), ("KAMENG_SMTP_PORT", "0"), ("KAMENG_RENEWAL_REMINDER_DAYS", "4")],
)
def test_a_wrong_smtp_or_renewal_setting_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_ssl_mode_defaults_to_the_smtps_port() -> None:
    assert SmtpTls(Settings.from_env({"KAMENG_SMTP_TLS": "ssl"}).smtp_tls) is SmtpTls.SSL
    assert Settings.from_env({"KAMENG_SMTP_TLS": "ssl"}).smtp_port == 465
