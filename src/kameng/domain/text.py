"""Text as the platform accepts it, whoever sends it: trimmed, no control characters, a length
limit. Pure: ``platform/inputs.py`` gives these rules their errors for people and for the API, the
scenario parser its own."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextRule:
    """What one kind of text field accepts. ``strip=False`` only for passwords, whose every
    character counts."""

    max_length: int
    min_length: int = 0
    multiline: bool = False
    strip: bool = True


# C0 and C1 controls, DEL, lone surrogates; single-line fields also refuse the line and paragraph
# separators and the bidirectional embeddings, overrides and isolates.
_FORBIDDEN_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class TextProblem(ValueError):
    """What is wrong with a text: ``control``, ``control_multiline``, ``too_long`` or ``required``."""

    def __init__(self, problem: str, **params: object) -> None:
        super().__init__(_ENGLISH[problem].format(**params))
        self.problem = problem
        self.params = params


# For a scenario file's operator and the exception's text; people read the catalogs' sentences.
_ENGLISH = {
    "control": "must not contain control characters (found {char})",
    "control_multiline": "must not contain control characters other than line breaks and tabs (found {char})",
    "too_long": "is limited to {max} characters ({length} given)",
    "required": "is required",
}


def check_text(value: str, rule: TextRule) -> str:
    """The text as it will be stored (trimmed, line breaks as ``\\n``), or :class:`TextProblem`."""
    text = value
    if rule.multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # a browser sends a textarea's breaks as CRLF
    if rule.strip:
        text = text.strip()
    # The length first: it costs nothing, and a megabyte of text is refused before it is scanned.
    if len(text) > rule.max_length:
        raise TextProblem("too_long", max=rule.max_length, length=len(text))
    forbidden = (_FORBIDDEN_MULTILINE if rule.multiline else _FORBIDDEN_SINGLE_LINE).search(text)
    if forbidden is not None:
        char = f"U+{ord(forbidden.group()):04X}"
        raise TextProblem("control_multiline" if rule.multiline else "control", char=char)
    if len(text) < rule.min_length:
        raise TextProblem("required", min=rule.min_length)
    return text


def printable(value: str) -> str:
    """``value`` without the characters no field keeps (line breaks and tabs stay): what a page
    shows again of a refused field."""
    return _FORBIDDEN_MULTILINE.sub("", value)


def could_be(value: str, rule: TextRule) -> bool:
    """Whether ``value`` could have been stored under ``rule``. A lookup by a value that could not
    (a NUL in an order number) finds nothing, without asking a database that would refuse it."""
    try:
        return check_text(value, rule) == value
    except TextProblem:
        return False
