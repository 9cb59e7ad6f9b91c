"""Validation errors in the reader's language.

FastAPI and Pydantic describe a refused request in English sentences of their own. Each error
becomes a :class:`Problem` here: the field, and a catalog sentence saying what is wrong in every
language, with the same words the services and the pages use (``platform/inputs.py``). The input
itself is never echoed back: it may be ten thousand characters, or a NUL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from kameng.platform.i18n import Lang, translate
from kameng.platform.inputs import DECIMAL_ERRORS, TEXT_ERRORS, field_label

LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
# The most sentences one answer strings together; the rest are counted.
MOST_IN_SUMMARY = 3


def field_name(loc: Sequence[int | str]) -> str:
    """``("body", "product")`` → ``product``; ``("header", "Idempotency-Key")`` →
    ``Idempotency-Key``; ``("body",)`` → ``body``."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in LOCATIONS and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


@dataclass(frozen=True)
class Problem:
    field: str
    type: str
    key: str
    params: dict[str, object] = dataclass_field(default_factory=dict)

    def message(self, lang: Lang, *, as_sent: bool = True) -> str:
        return translate(self.key, lang, label=field_label(self.field, as_sent=as_sent), **self.params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "type": self.type,
            "message": self.message("en"),
            "message_zh": self.message("zh"),
        }


# Pydantic's error types and the sentence each one is, with the names of its parameters.
_BY_TYPE: dict[str, str] = {
    "missing": "error.field.missing",
    "string_type": "error.text.not_text",
    "int_type": "error.number.whole",
    "int_parsing": "error.number.whole",
    "int_parsing_size": "error.number.whole",
    "int_from_float": "error.number.whole",
    "literal_error": "error.field.choice",
    "enum": "error.field.choice",
    "bool_type": "error.field.bool",
    "bool_parsing": "error.field.bool",
    "extra_forbidden": "error.field.unknown",
    "json_invalid": "error.field.json",
    "json_type": "error.field.json",
    "model_type": "error.field.object",
    "model_attributes_type": "error.field.object",
    "dict_type": "error.field.object",
    "amounts_disagree": "error.field.amounts_disagree",
    "file_expected": "error.field.file",
    "multipart_invalid": "error.field.multipart",
    "decimal_type": "error.decimal.not_a_number",
    "decimal_parsing": "error.decimal.not_a_number",
    "finite_number": "error.decimal.not_finite",
}


def describe(error: Mapping[str, Any]) -> Problem:
    """One Pydantic or FastAPI error as a :class:`Problem`."""
    where = field_name(tuple(error.get("loc", ())))
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind.startswith("text_") and kind[5:] in TEXT_ERRORS:
        return Problem(where, kind, TEXT_ERRORS[kind[5:]][1], dict(ctx))
    if kind.startswith("decimal_") and kind[8:] in DECIMAL_ERRORS:
        return Problem(where, kind, DECIMAL_ERRORS[kind[8:]], dict(ctx))
    if kind == "string_too_long":
        given = error.get("input")
        length = len(given) if isinstance(given, str) else ctx.get("max_length")
        return Problem(where, kind, "error.text.too_long", {"max": ctx.get("max_length"), "length": length})
    if kind == "string_too_short":
        return Problem(where, kind, "error.text.required")
    bounds = {
        "greater_than_equal": ("error.number.at_least", "min", "ge"),
        "less_than_equal": ("error.number.at_most", "max", "le"),
        "greater_than": ("error.number.more_than", "min", "gt"),
        "less_than": ("error.number.less_than", "max", "lt"),
    }
    if kind in bounds:
        key, name, limit = bounds[kind]
        return Problem(where, kind, key, {name: ctx.get(limit)})
    if kind in {"literal_error", "enum"}:
        return Problem(where, kind, _BY_TYPE[kind], {"expected": ctx.get("expected", "")})
    return Problem(where, kind, _BY_TYPE.get(kind, "error.field.invalid"))


def describe_all(errors: Sequence[Mapping[str, Any]]) -> list[Problem]:
    return [describe(error) for error in errors]


def summary(problems: Sequence[Problem], lang: Lang, *, as_sent: bool = True) -> str:
    """The first few problems in one line, and how many more there are."""
    if not problems:
        return translate("error.field.invalid", lang, label=field_label("body", as_sent=as_sent))
    parts = [problem.message(lang, as_sent=as_sent) for problem in problems[:MOST_IN_SUMMARY]]
    if len(problems) > MOST_IN_SUMMARY:
        parts.append(translate("error.field.more", lang, count=len(problems) - MOST_IN_SUMMARY))
    return ";".join(parts) if lang == "zh" else "; ".join(parts)
