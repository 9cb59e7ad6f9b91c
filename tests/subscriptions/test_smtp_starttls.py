"""The reminder's e-mail over SMTP with STARTTLS: a local aiosmtpd server on 127.0.0.1 that
requires STARTTLS, with a self-signed certificate made for the test. The e-mail arrives over
TLS when the certificate is trusted, and is never sent at all (in clear or otherwise) when it
is not."""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kameng.messages.senders import LogSender, Outgoing, SmtpConfig, SmtpSender, SmtpTls
from tests.support.smtp import SMTP_PASSWORD, SMTP_USER, Inbox, _free_port


class TlsInbox(Inbox):
    """The inbox, noting whether each e-mail came over TLS."""

    tls: list[bool]

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kameng test smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[tuple[TlsInbox, Path]]:
    cert_path, key_path = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    inbox = TlsInbox(_free_port())
    inbox.tls = []
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        tls_context=server_tls,
        require_starttls=True,  # nothing but STARTTLS and EHLO/QUIT before the upgrade
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox, cert_path
    finally:
        controller.stop()


def _reminder() -> Outgoing:
    return Outgoing(
        "renewal_notice:9:1", None, "member@example.com", "您的会员将于 3月9日 自动续费 30.00 元", "续费提醒"
    )


def test_the_email_goes_over_starttls_and_logs_in_only_after_the_upgrade(
    starttls_server: tuple[TlsInbox, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, cert_path = starttls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # the test's certificate is trusted here
    config = SmtpConfig("127.0.0.1", inbox.port, SmtpTls.STARTTLS, SMTP_USER, SMTP_PASSWORD)
    SmtpSender(config, LogSender()).send(_reminder())
    [mail] = inbox.to("member@example.com")
    assert mail["Subject"] == "续费提醒"
    assert "自动续费 30.00 元" in mail.get_content()
    assert inbox.tls == [True]
    assert inbox.logins == [SMTP_USER]  # the server accepts a login only over TLS


def test_an_untrusted_certificate_stops_the_email_before_anything_is_sent(
    starttls_server: tuple[TlsInbox, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inbox, _ = starttls_server
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    other, _ = _self_signed(elsewhere)
    monkeypatch.setenv("SSL_CERT_FILE", str(other))  # trusts another certificate, not the server's
    config = SmtpConfig("127.0.0.1", inbox.port, SmtpTls.STARTTLS, SMTP_USER, SMTP_PASSWORD)
    with pytest.raises(ssl.SSLCertVerificationError):
        SmtpSender(config, LogSender()).send(_reminder())
    assert inbox.received == []
    assert inbox.logins == []  # the password never left


def test_a_server_that_requires_starttls_refuses_a_plain_sender(starttls_server: tuple[TlsInbox, Path]) -> None:
    inbox, _ = starttls_server
    with pytest.raises(smtplib.SMTPException):
        SmtpSender(SmtpConfig("127.0.0.1", inbox.port), LogSender()).send(_reminder())
    assert inbox.received == []
