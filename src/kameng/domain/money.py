"""Money: integer fen everywhere, exact ratios, and the one rounding rule (half-up, once a line).

Amounts are stored and passed around as ``int`` fen. Arithmetic that needs fractions (a share of
days, a fee percentage) is done on exact integer ratios and rounded in exactly one place,
:func:`round_half_up`, so that no float ever touches money and two lines never round twice.
"""

from __future__ import annotations

import re
from decimal import Decimal

FEN_PER_YUAN = 100
# Far above any single order. Without a ceiling "1e999999" overflows Decimal's context and a
# 5,000-digit amount cannot even be printed (Python's int-to-text limit): both crashed a whole
# simulation run instead of answering "what and where".
MAX_YUAN = Decimal("999999999999.99")


class NumberError(ValueError):
    """A decimal number that is refused. ``problem`` says what is wrong for a program
    (``not_a_number``, ``not_finite``, ``exponent``, ``places``, ``below``, ``above``) and
    ``params`` the limits involved, so that a page or the API can say it in its reader's
    language; the exception's text says it in English for a scenario file's operator."""

    def __init__(self, problem: str, text: str, **params: object) -> None:
        super().__init__(text)
        self.problem = problem
        self.params = params


class MoneyError(NumberError):
    """An amount that is not a valid non-negative yuan value with at most two decimals."""


def round_half_up(numerator: int, denominator: int) -> int:
    """Round ``numerator / denominator`` to the nearest integer, halves away from zero.

    This is the project's single rounding point: every line of a quote passes through it once.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return sign * quotient


def share(amount_fen: int, part: int, whole: int) -> int:
    """``amount × part / whole``, rounded once, half-up, to the fen."""
    return round_half_up(amount_fen * part, whole)


def percent_of(amount_fen: int, percent: Decimal) -> int:
    """``percent % × amount``, rounded once, half-up, to the fen (exact for any decimal percent)."""
    numerator, denominator = percent.as_integer_ratio()
    return round_half_up(amount_fen * numerator, denominator * 100)


def shown(value: object) -> str:
    """A value as a person wrote it: ``'9.999'`` for text, ``9.999`` for a number (never the
    ``Decimal('9.999')`` of Python's repr, which means nothing to an operator)."""
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return repr(value)


# Plain decimal notation, ASCII digits only: Python's Decimal() would also read "1e400", "1_000",
# "١٢٣" (Arabic-Indic digits), "NaN" and "Infinity", none of which a person means by an amount.
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
_NOT_FINITE = frozenset({"nan", "snan", "-nan", "+nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
# Longer than any amount or count a person writes (MAX_YUAN is 15 characters): refused before
# Decimal reads it, so a megabyte of digits costs nothing.
MAX_NUMBER_TEXT = 40


def parse_decimal(value: object, *, places: int, minimum: Decimal, maximum: Decimal) -> Decimal:
    """The one parser of decimal input: ``"9.90"``, ``12``, ``Decimal("1.5")`` → a Decimal within
    ``[minimum, maximum]`` with at most ``places`` decimals, or :class:`NumberError`.

    Text must be plain decimal notation (no exponent, no NaN or infinity, ASCII digits); a
    Decimal (from a scenario document) must be finite. Floats are refused: they are already
    inexact. The checks look at the number's digits, never at arithmetic in Decimal's limited
    context, so "0.1000000000000000000000000000001" is not rounded into two decimals."""
    if isinstance(value, bool | float):
        raise NumberError("not_a_number", f'must be a number written as text such as "9.90", got {shown(value)}')
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        number = _read_text(value)
    else:
        raise NumberError("not_a_number", f'must be a number such as "9.90", got {_short(value)}')
    if not number.is_finite():
        raise NumberError("not_finite", f"must be a finite number, got {_short(value)}")
    if _decimals(number) > places:
        raise NumberError("places", f"must have at most {places} decimals, got {_short(value)}", places=places)
    if number < minimum:
        least = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise NumberError("below", f"{least}, got {_short(value)}", minimum=minimum, maximum=maximum)
    if number > maximum:
        raise NumberError("above", f"must be at most {maximum}, got {_short(value)}", minimum=minimum, maximum=maximum)
    return number


def _read_text(value: str) -> Decimal:
    text = value.strip()
    if len(text) > MAX_NUMBER_TEXT:
        raise NumberError("not_a_number", f'must be a number such as "9.90", got {_short(value)}')
    if text.lower() in _NOT_FINITE:
        raise NumberError("not_finite", f"must be a finite number, got {shown(value)}")
    if _EXPONENT.fullmatch(text):
        raise NumberError("exponent", f"must be written out in digits, without an exponent, got {shown(value)}")
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise NumberError("not_a_number", f'must be a number such as "9.90", got {shown(value)}')
    return Decimal(text)


def _decimals(number: Decimal) -> int:
    """How many decimals ``number`` really has (``1.50`` has one), read from its digits."""
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
        exponent += 1
    return max(0, -exponent) if any(digits) else 0


def parse_yuan(value: object) -> int:
    """Turn ``"100.00"``, ``100``, or ``Decimal("9.9")`` into fen; reject anything inexact.

    Floats are refused on purpose: the scenario loaders read decimal literals as ``Decimal``, so a
    float reaching this point means someone bypassed them. The checks are :func:`parse_decimal`'s,
    worded for an amount."""
    if isinstance(value, bool | float):
        raise MoneyError(
            "not_a_number", f'must be an amount in yuan written as a string such as "9.90", got {shown(value)}'
        )
    try:
        number = parse_decimal(value, places=2, minimum=Decimal(0), maximum=MAX_YUAN)
    except NumberError as error:
        raise MoneyError(
            error.problem,
            _AMOUNT_WORDING.get(error.problem, str(error)).format(
                got=shown(value) if error.problem != "above" else _short(value)
            ),
            **error.params,
        ) from None
    return int(number * FEN_PER_YUAN)


_AMOUNT_WORDING = {
    "not_a_number": 'must be an amount in yuan such as "9.90", got {got}',
    "not_finite": "must be a finite amount, got {got}",
    "exponent": 'must be an amount in yuan written out in digits such as "9.90", without an exponent, got {got}',
    "below": "must not be negative, got {got}",
    "above": f"must be at most {MAX_YUAN}, got {{got}}",
    "places": "must have at most two decimals (whole fen), got {got}",
}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def format_yuan(fen: int) -> str:
    """``9167`` → ``"91.67"``; ``-833`` → ``"-8.33"``; always two decimals."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"
