"""Errors a service raises for a person to read: what is wrong, and where (a field name)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: ``code`` is stable for programs, ``message_zh``/``message_en`` are for people."""

    status = 400

    def __init__(self, code: str, message_zh: str, message_en: str, field: str | None = None) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field

    def message(self, lang: str) -> str:
        return self.message_zh if lang == "zh" else self.message_en

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message_en, "message_zh": self.message_zh}


class InvalidInput(ServiceError):
    status = 422


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


def not_found(what_zh: str, what_en: str) -> NotFound:
    return NotFound("not_found", f"{what_zh}不存在", f"{what_en} not found")
