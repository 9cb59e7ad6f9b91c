"""The card keys' key ring: card keys (卡密) are stored encrypted, never in clear.

A card key is a bearer secret: whoever reads it can spend it. So the ``card_keys`` table holds a
Fernet token of each key (AES-128-CBC + HMAC-SHA256, from ``cryptography``) and a keyed
fingerprint (HMAC-SHA256 of the normalised key) on which uniqueness and the import's duplicate
check rely; a database dump or backup shows neither the keys nor a way to guess them.

The ring is ``KAMENG_CARD_KEY_KEYS``: Fernet keys, newest first. The newest encrypts; every key
decrypts (``MultiFernet``), so a new key is put in front, ``kameng card-keys rotate`` re-encrypts
every row with it, and the old key can then be dropped. Each row records the ``ring_tag`` of the
key that encrypted it, so a rotation finds what is left to do and can stop and resume at any time.
The fingerprint key (``KAMENG_CARD_KEY_FINGERPRINT_KEY``, else derived from the secret key) is
separate from the ring: adding an encryption key must not change which keys count as duplicates.
Should it change all the same (a new secret key), the tag changes too and the same rotation
recomputes every fingerprint.

Outside production ``KAMENG_CARD_KEY_KEYS`` may be left unset: the ring is then derived from the
secret key (a development convenience; production refuses to start without it).

The ring travels with the database session (``Session.info``, put there by
:func:`kameng.platform.db.database.make_session_factory`), so a service reaches it through its
unit of work like anything else it reads or writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kameng.settings import Settings

DEVELOPMENT_SECRET = "kameng-development-secret-change-me"  # the same as kameng.settings'
SESSION_INFO_KEY = "card_key_ring"
_ENCRYPTION_LABEL = b"kameng card-key encryption v1"
_FINGERPRINT_LABEL = b"kameng card-key fingerprint v1"


class RingError(ValueError):
    """A key ring that cannot be used (a malformed key), or a token none of its keys opens."""


def normalise_code(code: str) -> str:
    """The one spelling of a card key that is stored and compared: full-width characters as their
    ASCII forms (NFKC: a key pasted from a Chinese document), no surrounding blanks. Case is kept:
    many issuers' keys are case-sensitive."""
    return unicodedata.normalize("NFKC", code).strip()


def fernet_key_from(secret: str, label: bytes = _ENCRYPTION_LABEL) -> str:
    """A Fernet key derived from ``secret`` (HMAC-SHA256 under a fixed label)."""
    digest = hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def check_fernet_key(key: str) -> None:
    """Raise :class:`RingError` unless ``key`` is a Fernet key (32 bytes, URL-safe base64)."""
    try:
        Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise RingError("not a Fernet key (32 bytes in URL-safe base64, e.g. from Fernet.generate_key())") from None


def parse_fernet_keys(text: str) -> list[str]:
    """A comma-separated ring as its keys, newest first; a bad one is named by its position
    (``ValueError``, never repeating the key)."""
    keys = [key.strip() for key in text.split(",") if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            check_fernet_key(key)
        except RingError as error:
            raise ValueError(f"key {position}: {error}") from None
    return keys


@dataclass(frozen=True)
class CardKeyRing:
    """Encrypts, decrypts and fingerprints card keys. ``keys``: Fernet keys, newest first."""

    keys: tuple[str, ...]
    fingerprint_key: bytes
    _fernet: MultiFernet = field(init=False, repr=False, compare=False)
    tag: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise RingError("the card-key ring needs at least one key")
        for key in self.keys:
            check_fernet_key(key)
        if len(self.fingerprint_key) < 16:
            raise RingError("the fingerprint key is too short")
        object.__setattr__(self, "_fernet", MultiFernet([Fernet(key.encode("ascii")) for key in self.keys]))
        object.__setattr__(self, "tag", ring_tag(self.keys[0], self.fingerprint_key))

    @classmethod
    def build(cls, keys: Sequence[str], fingerprint_key: str | None, secret_key: str) -> CardKeyRing:
        """The ring of ``keys`` (newest first; none: derived from ``secret_key``, for development
        only) with ``fingerprint_key`` (none: derived from ``secret_key``)."""
        chosen = tuple(key.strip() for key in keys if key.strip()) or (fernet_key_from(secret_key),)
        fingerprint = (
            fingerprint_key.encode("utf-8")
            if fingerprint_key
            else hmac.new(secret_key.encode("utf-8"), _FINGERPRINT_LABEL, hashlib.sha256).digest()
        )
        return cls(chosen, fingerprint)

    @classmethod
    def from_settings(cls, settings: Settings) -> CardKeyRing:
        """The ring ``KAMENG_CARD_KEY_KEYS`` and ``KAMENG_CARD_KEY_FINGERPRINT_KEY`` describe."""
        fingerprint = settings.card_key_fingerprint_key
        return cls.build(
            settings.card_key_ring_keys,
            fingerprint.get_secret_value() if fingerprint else None,
            settings.secret_key.get_secret_value(),
        )

    @classmethod
    def development(cls, secret: str = DEVELOPMENT_SECRET) -> CardKeyRing:
        """The ring derived from the secret key: only outside production (settings refuse it there)."""
        return cls.build((), None, secret)

    def encrypt(self, code: str) -> str:
        return self._fernet.encrypt(normalise_code(code).encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise RingError("no key of the ring opens this card key (was its key dropped too early?)") from None

    def rotate(self, token: str) -> str:
        """The same card key encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise RingError("no key of the ring opens this card key (was its key dropped too early?)") from None

    def seal(self, text: str) -> str:
        """Any text (an import's waiting list), encrypted with the newest key, as it is."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def unseal(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise RingError("no key of the ring opens this text (was its key dropped too early?)") from None

    def reseal(self, token: str) -> str:
        return self.rotate(token)

    def fingerprint(self, code: str) -> str:
        """HMAC-SHA256 of the normalised key, hex: equal for equal keys, useless without the key."""
        return hmac.new(self.fingerprint_key, normalise_code(code).encode("utf-8"), hashlib.sha256).hexdigest()


def ring_tag(key: str, fingerprint_key: bytes) -> str:
    """A short public name of (newest key, fingerprint key), kept on each row: a row whose tag is
    not the ring's is left for ``kameng card-keys rotate``. A hash, not a secret."""
    digest = hashlib.sha256(b"kameng ring tag\x00" + key.encode("ascii") + b"\x00" + fingerprint_key)
    return digest.hexdigest()[:16]


def card_key_ring(session: Session) -> CardKeyRing:
    """The ring of the process that opened ``session``."""
    ring = session.info.get(SESSION_INFO_KEY)
    if not isinstance(ring, CardKeyRing):
        raise RuntimeError("this session was made without a card-key ring (see make_session_factory)")
    return ring
