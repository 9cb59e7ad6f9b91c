"""People and what they may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CONSUMER = "consumer"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"

    @property
    def is_staff(self) -> bool:
        return self is not Role.CONSUMER


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``: enough to recognise, not enough to misuse."""
    if not phone:
        return ""
    if len(phone) < 7:
        return phone[:1] + "*" * (len(phone) - 1)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(number: str | None) -> str:
    """A resident ID number keeps its first and last four characters."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return email or ""
    name, domain = email.split("@", 1)
    return (name[:1] + "***" if name else "***") + "@" + domain
