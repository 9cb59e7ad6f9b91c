"""Money: integer fen, one rounding rule (half-up), and a parser that refuses anything inexact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kameng.domain.money import (
    MoneyError,
    NumberError,
    format_yuan,
    parse_decimal,
    parse_yuan,
    percent_of,
    round_half_up,
    share,
)

# --- round_half_up ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 7, 0),
        (10, 5, 2),  # exact
        (14, 10, 1),  # 1.4 down
        (15, 10, 2),  # 1.5: a half goes up
        (16, 10, 2),
        (25, 10, 3),  # 2.5 goes up too: not banker's rounding
        (1, 3, 0),
        (2, 3, 1),
        (1, 2, 1),
    ],
)
def test_round_half_up_rounds_halves_up_and_the_rest_to_nearest(
    numerator: int, denominator: int, expected: int
) -> None:
    assert round_half_up(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(-14, 10, -1), (-15, 10, -2), (-25, 10, -3), (-16, 10, -2), (-1, 3, 0)],
)
def test_round_half_up_takes_negative_halves_away_from_zero(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up(numerator, denominator) == expected


@pytest.mark.parametrize("denominator", [0, -1])
def test_round_half_up_refuses_a_denominator_that_is_not_positive(denominator: int) -> None:
    with pytest.raises(ValueError, match="denominator"):
        round_half_up(1, denominator)


# --- share and percent_of ----------------------------------------------------------------------


def test_share_of_one_month_in_twelve_of_100_yuan_is_8_33() -> None:
    assert share(10000, 1, 12) == 833


def test_share_rounds_the_exact_ratio_once_half_up() -> None:
    # 0.05 × 1/2 = 0.025 yuan → 2.5 fen → 3 fen (half-up), not 2 (half-even).
    assert share(5, 1, 2) == 3
    # 30.00 × 3/30 is exact.
    assert share(3000, 3, 30) == 300
    # 100.00 × 2/3 = 66.666… → 66.67.
    assert share(10000, 2, 3) == 6667


def test_share_of_the_whole_is_the_amount_and_of_nothing_is_zero() -> None:
    assert share(12345, 7, 7) == 12345
    assert share(12345, 0, 7) == 0


def test_percent_of_is_exact_for_decimal_percents() -> None:
    assert percent_of(7500, Decimal(5)) == 375  # seed 002: 5 % of 75.00
    assert percent_of(10000, Decimal("0.5")) == 50
    assert percent_of(10000, Decimal("33.333")) == 3333  # 33.333 yuan exactly → 33.33
    assert percent_of(10000, Decimal(100)) == 10000
    assert percent_of(10000, Decimal(0)) == 0


def test_percent_of_rounds_a_half_fen_up() -> None:
    # 2.5 % of 0.01 yuan? too small. 5 % of 0.10 = 0.005 → 0.01.
    assert percent_of(10, Decimal(5)) == 1
    # 5 % of 0.09 = 0.0045 → 0.00.
    assert percent_of(9, Decimal(5)) == 0
    # 12.5 % of 0.36 = 0.045 → 0.05.
    assert percent_of(36, Decimal("12.5")) == 5


# --- parse_yuan --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100.00", 10000),
        ("9.9", 990),
        ("0", 0),
        ("0.01", 1),
        (" 12.30 ", 1230),
        (100, 10000),
        (0, 0),
        (Decimal("9.90"), 990),
        (Decimal("1.5"), 150),
        ("12.300", 1230),  # trailing zeros: still a whole number of fen
    ],
)
def test_parse_yuan_reads_exact_amounts_into_fen(value: object, expected: int) -> None:
    assert parse_yuan(value) == expected


@pytest.mark.parametrize("value", [9.9, 100.0, 0.0, float("nan"), float("inf")])
def test_parse_yuan_refuses_floats_even_whole_ones(value: float) -> None:
    with pytest.raises(MoneyError, match="string"):
        parse_yuan(value)


@pytest.mark.parametrize("value", [True, False])
def test_parse_yuan_refuses_booleans(value: bool) -> None:
    with pytest.raises(MoneyError):
        parse_yuan(value)


@pytest.mark.parametrize("value", ["-0.01", "-5", -1, Decimal("-0.50")])
def test_parse_yuan_refuses_negative_amounts(value: object) -> None:
    with pytest.raises(MoneyError, match="negative"):
        parse_yuan(value)


@pytest.mark.parametrize(
    "value", ["10.005", "0.001", Decimal("1.234"), Decimal("1E-3"), "0.1000000000000000000000000000001"]
)
def test_parse_yuan_refuses_fractions_of_a_fen(value: object) -> None:
    with pytest.raises(MoneyError, match="two decimals"):
        parse_yuan(value)


@pytest.mark.parametrize(
    "value",
    ["NaN", "nan", "sNaN", "inf", "Infinity", "-inf", "+inf", Decimal("NaN"), Decimal("Infinity")],
)
def test_parse_yuan_refuses_nan_and_infinity(value: object) -> None:
    with pytest.raises(MoneyError, match="finite"):
        parse_yuan(value)


@pytest.mark.parametrize("value", ["", "abc", "9,90", "¥9.90", "9.90元"])
def test_parse_yuan_refuses_text_that_is_not_a_number(value: str) -> None:
    with pytest.raises(MoneyError, match="amount"):
        parse_yuan(value)


@pytest.mark.parametrize("value", [None, [1], {"yuan": 1}, b"1.00"])
def test_parse_yuan_refuses_other_types(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_yuan(value)


@pytest.mark.parametrize("value", ["1e999999", Decimal("1E+999999"), "9" * 5000])
def test_parse_yuan_answers_an_absurdly_large_amount_with_a_money_error(value: object) -> None:
    # An operator's typo must come back as "what and where", never as a crash of the whole run.
    with pytest.raises(MoneyError):
        parse_yuan(value)


@pytest.mark.parametrize("value", ["1e3", "1E-3", "1e400", "-1e-400", ".5e1"])
def test_parse_yuan_refuses_an_exponent_in_text(value: str) -> None:
    with pytest.raises(MoneyError, match="exponent") as caught:
        parse_yuan(value)
    assert caught.value.problem == "exponent"


# --- parse_decimal: the one parser of decimal input ---------------------------------------------

HOURS = {"places": 2, "minimum": Decimal("0.01"), "maximum": Decimal(8784)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", Decimal("1.5")), (" 48 ", Decimal(48)), ("0.25", Decimal("0.25")), ("1.50", Decimal("1.5")), (3, 3)],
)
def test_parse_decimal_reads_plain_decimals_within_bounds(value: object, expected: Decimal) -> None:
    assert parse_decimal(value, **HOURS) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("NaN", "not_finite"),
        ("-Infinity", "not_finite"),
        ("sNaN", "not_finite"),
        (Decimal("NaN"), "not_finite"),
        ("1e400", "exponent"),
        ("1E-2", "exponent"),
        ("1_000", "not_a_number"),  # Decimal() reads it; a person does not write it
        ("١٢", "not_a_number"),  # Arabic-Indic digits: Decimal() reads them too
        ("1,5", "not_a_number"),
        ("", "not_a_number"),
        ("9" * 5000, "not_a_number"),  # refused before Decimal reads a megabyte of digits
        (1.5, "not_a_number"),  # a float is already inexact
        (True, "not_a_number"),
        (None, "not_a_number"),
        ("0.001", "places"),
        ("0.1000000000000000000000000000001", "places"),  # not rounded away in Decimal's context
        (Decimal("1E-999999999"), "places"),
        ("0", "below"),
        ("-0.5", "below"),
        ("8784.01", "above"),
        (Decimal("1E+999999"), "above"),
        (2**70, "above"),
    ],
)
def test_parse_decimal_refuses_with_a_problem_a_page_can_translate(value: object, problem: str) -> None:
    with pytest.raises(NumberError) as caught:
        parse_decimal(value, **HOURS)
    assert caught.value.problem == problem


def test_parse_decimal_tells_the_limits_it_refused() -> None:
    with pytest.raises(NumberError) as caught:
        parse_decimal("9000", **HOURS)
    assert caught.value.params == {"minimum": Decimal("0.01"), "maximum": Decimal(8784)}


# --- format_yuan -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (9167, "91.67"),
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (-833, "-8.33"),
        (-5, "-0.05"),
        (123456789, "1234567.89"),
    ],
)
def test_format_yuan_always_writes_two_decimals(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@pytest.mark.parametrize("fen", [0, 1, 99, 100, 9167, 123456789])
def test_format_and_parse_are_inverse(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen
