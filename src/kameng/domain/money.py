"""Money: integer fen everywhere, exact ratios, and the one rounding rule (half-up, once a line).

Amounts are stored and passed around as ``int`` fen. Arithmetic that needs fractions (a share of
days, a fee percentage) is done on exact integer ratios and rounded in exactly one place,
:func:`round_half_up`, so that no float ever touches money and two lines never round twice.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

FEN_PER_YUAN = 100
# Far above any single order. Without a ceiling "1e999999" overflows Decimal's context and a
# 5,000-digit amount cannot even be printed (Python's int-to-text limit): both crashed a whole
# simulation run instead of answering "what and where".
MAX_YUAN = Decimal("999999999999.99")


class MoneyError(ValueError):
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


def parse_yuan(value: object) -> int:
    """Turn ``"100.00"``, ``100``, or ``Decimal("9.9")`` into fen; reject anything inexact.

    Floats are refused on purpose: the scenario loaders read decimal literals as ``Decimal``, so a
    float reaching this point means someone bypassed them.
    """
    if isinstance(value, bool | float):
        raise MoneyError(f'must be an amount in yuan written as a string such as "9.90", got {shown(value)}')
    if isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, Decimal):
        dec = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise MoneyError(f'must be an amount in yuan such as "9.90", got {shown(value)}') from None
        if text.lower() in {"nan", "inf", "infinity", "-inf", "+inf"}:
            raise MoneyError(f"must be a finite amount, got {shown(value)}")
    else:
        raise MoneyError(f'must be an amount in yuan such as "9.90", got {shown(value)}')
    if not dec.is_finite():
        raise MoneyError(f"must be a finite amount, got {shown(value)}")
    if dec < 0:
        raise MoneyError(f"must not be negative, got {shown(value)}")
    if dec > MAX_YUAN:
        raise MoneyError(f"must be at most {MAX_YUAN}, got {_short(value)}")
    fen = dec * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise MoneyError(f"must have at most two decimals (whole fen), got {shown(value)}")
    return int(fen)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def format_yuan(fen: int) -> str:
    """``9167`` → ``"91.67"``; ``-833`` → ``"-8.33"``; always two decimals."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"
