"""The rules every input meets where it enters: text, whole numbers and decimals.

One definition per kind of field, used by the API's models and parameters (as Pydantic types),
by the pages' forms (``web/forms.py``) and by the services themselves, so that the three never
disagree about what is acceptable:

- **Text** is trimmed, refuses control characters (NUL first of all: PostgreSQL cannot store it,
  SQLite can, so only one of the two backends used to fail) and lone surrogates (no database can
  encode them), and has a length limit. Only multi-line fields (descriptions, comments, notes)
  keep line breaks and tabs; single-line fields also refuse line separators and the bidirectional
  overrides that make a name read backwards in the page header.
- **Whole numbers** have a range, always inside a signed 64-bit integer (ids inside the 32-bit
  ``Integer`` columns).
- **Decimals** go through :func:`kameng.domain.money.parse_decimal` (no NaN, infinity, exponent,
  float, or more decimals than the field has).

A refusal is an :class:`~kameng.platform.errors.InvalidInput` naming the field, in every language
(for services and pages), or a Pydantic error of a type ``web/validation.py`` translates (for
the API), with the same catalog sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, JsonValue
from pydantic_core import PydanticCustomError

from kameng.domain.model import MAX_OUTAGE_HOURS, OUTAGE_HOURS_PLACES
from kameng.domain.money import FEN_PER_YUAN, MAX_YUAN, NumberError, parse_decimal, parse_yuan

# The text rules are pure (the scenario parser uses them too); they are the platform's to apply.
from kameng.domain.text import TextProblem as TextProblem
from kameng.domain.text import TextRule as TextRule
from kameng.domain.text import check_text as check_text
from kameng.domain.text import could_be as could_be
from kameng.domain.text import printable as printable
from kameng.platform.errors import ErrorCode, InvalidInput
from kameng.platform.i18n import LANGS, Lang, has_message, translate

# --------------------------------------------------------------------------------------------
# Text


DISPLAY_NAME = TextRule(30)  # it stands in the page header beside the phone number
IDENTIFIER = TextRule(254, min_length=1)  # a phone number or an e-mail address (RFC 5321's limit)
PASSWORD = TextRule(200, min_length=1, strip=False)
SLUG = TextRule(80, min_length=1)
COUPON_CODE = TextRule(40)
BENEFIT = TextRule(80)
RULE_ID = TextRule(10)  # "missing" is the domain's to say, with the rules one may cite
ORDER_NO = TextRule(20, min_length=1)
TICKET_NO = TextRule(20, min_length=1)
WITHDRAWAL_NO = TextRule(20, min_length=1)
OUT_TRADE_NO = TextRule(40, min_length=1)
IDEMPOTENCY_KEY = TextRule(80, min_length=1)
CHOICE = TextRule(40)  # a value from a fixed list (channel, action, lane …), checked after
SEARCH = TextRule(100)
LOCAL_PATH = TextRule(2000)  # the page to go back to after signing in
AMOUNT_TEXT = TextRule(40)  # an amount or a number of hours as typed, parsed after
DESCRIPTION = TextRule(2000, multiline=True)
COMMENT = TextRule(2000, multiline=True)
NOTE = TextRule(500, multiline=True)
FILENAME = TextRule(200)


# What the pages' inputs announce (maxlength, min, max, step): the limits the server checks.
FORM_LIMITS: dict[str, object] = {
    "display_name": DISPLAY_NAME.max_length,
    "identifier": IDENTIFIER.max_length,
    "coupon": COUPON_CODE.max_length,
    "description": DESCRIPTION.max_length,
    "comment": COMMENT.max_length,
    "note": NOTE.max_length,
    "q": SEARCH.max_length,
}


TEXT_ERRORS: dict[str, tuple[ErrorCode, str]] = {
    "control": (ErrorCode.BAD_TEXT, "error.text.control"),
    "control_multiline": (ErrorCode.BAD_TEXT, "error.text.control_multiline"),
    "too_long": (ErrorCode.TOO_LONG, "error.text.too_long"),
    "required": (ErrorCode.REQUIRED, "error.text.required"),
}


def field_label(field: str, *, as_sent: bool = False) -> Mapping[Lang, str]:
    """A field's name for people in every language (``field.<name>`` in the catalogs; an unknown
    field keeps the name it was sent under). ``evidence[0]`` is an evidence file. ``as_sent``
    adds the name as the API spells it, for a developer reading an API error: 金额(amount_fen)."""
    base = field.split("[", 1)[0].split(".")[-1]
    key = "field." + base.lower().replace("-", "_")
    if not has_message(key):
        return dict.fromkeys(LANGS, field)
    labels = {lang: translate(key, lang) for lang in LANGS}
    if as_sent:
        return {lang: f"{text}({field})" if lang == "zh" else f"{text} ({field})" for lang, text in labels.items()}
    return labels


def clean_text(value: object, rule: TextRule, field: str) -> str:
    """:func:`check_text` for services and forms: a refusal is an :class:`InvalidInput` naming
    ``field``. Anything but text (a form's file where text was expected) is refused too."""
    if not isinstance(value, str):
        raise InvalidInput(ErrorCode.BAD_TEXT, "error.text.not_text", field, label=field_label(field))
    try:
        return check_text(value, rule)
    except TextProblem as problem:
        code, key = TEXT_ERRORS[problem.problem]
        raise InvalidInput(code, key, field, label=field_label(field), **problem.params) from None


def text_validator(rule: TextRule) -> Any:
    """The Pydantic validator of a text under ``rule`` (for FastAPI parameters, which bring their
    own ``Path()``/``Query()`` with the limits for the schema)."""

    def validate(value: object) -> object:
        if not isinstance(value, str):
            return value  # Pydantic's own str check answers "must be text"
        try:
            return check_text(value, rule)
        except TextProblem as problem:
            raise PydanticCustomError(f"text_{problem.problem}", str(problem), problem.params) from None

    return BeforeValidator(validate)


def limits(rule: TextRule) -> Any:
    """The rule's lengths in the API's schema, so that clients (and the fuzzer) know them."""
    return Field(min_length=rule.min_length, max_length=rule.max_length)


REQUIRED_COMMENT = TextRule(COMMENT.max_length, min_length=1, multiline=True)

# The API models' text fields: one type per kind of field.
DisplayName = Annotated[str, text_validator(DISPLAY_NAME), limits(DISPLAY_NAME)]
Identifier = Annotated[str, text_validator(IDENTIFIER), limits(IDENTIFIER)]
Password = Annotated[str, text_validator(PASSWORD), limits(PASSWORD)]
SlugText = Annotated[str, text_validator(SLUG), limits(SLUG)]
CouponCode = Annotated[str, text_validator(COUPON_CODE), limits(COUPON_CODE)]
BenefitName = Annotated[str, text_validator(BENEFIT), limits(BENEFIT)]
RuleId = Annotated[str, text_validator(RULE_ID), limits(RULE_ID)]
Description = Annotated[str, text_validator(DESCRIPTION), limits(DESCRIPTION)]
Comment = Annotated[str, text_validator(COMMENT), limits(COMMENT)]
RequiredComment = Annotated[str, text_validator(REQUIRED_COMMENT), limits(REQUIRED_COMMENT)]
Note = Annotated[str, text_validator(NOTE), limits(NOTE)]


# --------------------------------------------------------------------------------------------
# Whole numbers

MAX_INT64 = 2**63 - 1
MAX_ID = 2**31 - 1  # the tables' ids are Integer columns
MAX_FEN = int(MAX_YUAN * FEN_PER_YUAN)
assert MAX_FEN <= MAX_INT64

RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Fen = Annotated[int, Field(ge=0, le=MAX_FEN)]


def check_whole(value: int, field: str, minimum: int, maximum: int) -> int:
    """A whole number a service was given, within ``[minimum, maximum]``."""
    if not minimum <= value <= maximum:
        raise InvalidInput(
            ErrorCode.OUT_OF_RANGE,
            "error.number.range",
            field,
            label=field_label(field),
            min=minimum,
            max=maximum,
        )
    return value


# --------------------------------------------------------------------------------------------
# Decimals


@dataclass(frozen=True, slots=True)
class DecimalRule:
    places: int
    minimum: Decimal
    maximum: Decimal


HOURS = DecimalRule(OUTAGE_HOURS_PLACES, Decimal("0.01"), MAX_OUTAGE_HOURS)
YUAN = DecimalRule(2, Decimal(0), MAX_YUAN)
FORM_LIMITS.update(hours_min=str(HOURS.minimum), hours_max=str(HOURS.maximum))

DECIMAL_ERRORS: dict[str, str] = {
    "not_a_number": "error.decimal.not_a_number",
    "not_finite": "error.decimal.not_finite",
    "exponent": "error.decimal.exponent",
    "places": "error.decimal.places",
    "below": "error.decimal.range",
    "above": "error.decimal.range",
}


def decimal_input(value: object, rule: DecimalRule, field: str) -> Decimal:
    """A decimal typed by a person or sent by a client, or :class:`InvalidInput` naming ``field``."""
    try:
        return parse_decimal(value, places=rule.places, minimum=rule.minimum, maximum=rule.maximum)
    except NumberError as error:
        raise _decimal_refused(error, rule, field) from None


def yuan_input(value: object, field: str) -> int:
    """An amount in yuan as fen, or :class:`InvalidInput` naming ``field``."""
    try:
        return parse_yuan(value)
    except NumberError as error:
        raise _decimal_refused(error, YUAN, field) from None


def _decimal_refused(error: NumberError, rule: DecimalRule, field: str) -> InvalidInput:
    return InvalidInput(
        ErrorCode.BAD_NUMBER,
        DECIMAL_ERRORS[error.problem],
        field,
        label=field_label(field),
        **decimal_params(rule),
    )


def decimal_params(rule: DecimalRule) -> dict[str, object]:
    return {"places": rule.places, "min": rule.minimum, "max": rule.maximum}


def decimal_validator(rule: DecimalRule, *, json_numbers: bool = False) -> Any:
    """A Pydantic validator parsing with :func:`parse_decimal` under ``rule``. With
    ``json_numbers`` a JSON number with a fraction (a Python float by then) is read from its
    shortest text, ``1.5`` as ``"1.5"``: for counts like hours, never for money."""

    def validate(value: object) -> object:
        if value is None:
            return None
        if json_numbers and isinstance(value, float):
            value = repr(value)  # 'inf', 'nan' and '1e+16' are then refused as text
        try:
            return parse_decimal(value, places=rule.places, minimum=rule.minimum, maximum=rule.maximum)
        except NumberError as error:
            raise PydanticCustomError(f"decimal_{error.problem}", str(error), decimal_params(rule)) from None

    return BeforeValidator(validate)


def yuan_validator() -> Any:
    """A Pydantic validator for an amount in yuan written as text; the value stays the text."""

    def validate(value: object) -> object:
        if value is None:
            return None
        try:
            parse_yuan(value)
        except NumberError as error:
            raise PydanticCustomError(f"decimal_{error.problem}", str(error), decimal_params(YUAN)) from None
        return value.strip() if isinstance(value, str) else value

    return BeforeValidator(validate)


def decimal_schema(rule: DecimalRule) -> Any:
    """The rule in the API's schema: ``x-decimal`` tells clients (and the hostile-input tests,
    which send NaN and 1e400 to every field carrying it) that the field is parsed as a decimal."""
    extra: dict[str, JsonValue] = {"places": rule.places, "minimum": str(rule.minimum), "maximum": str(rule.maximum)}
    return Field(json_schema_extra={"x-decimal": extra})


Hours = Annotated[Decimal, decimal_validator(HOURS, json_numbers=True), decimal_schema(HOURS)]
YuanText = Annotated[str, yuan_validator(), limits(AMOUNT_TEXT), decimal_schema(YUAN)]
