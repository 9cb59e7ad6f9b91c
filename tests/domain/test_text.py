"""The text rules every input meets: trimmed, no control characters, a length limit."""

from __future__ import annotations

import pytest

from kameng.domain.text import TextProblem, TextRule, check_text, could_be, printable

LINE = TextRule(10)
LINES = TextRule(20, multiline=True)
REQUIRED = TextRule(10, min_length=1)


@pytest.mark.parametrize(
    ("value", "rule", "expected"),
    [
        ("  张三  ", LINE, "张三"),
        ("\u3000张三\u3000", LINE, "张三"),  # an ideographic space is trimmed too
        ("a\r\nb\rc", LINES, "a\nb\nc"),  # a browser sends a textarea's line breaks as CRLF
        ("a\tb\nc", LINES, "a\tb\nc"),
        ("x" * 10, LINE, "x" * 10),
        ("👍🏽 ok", LINE, "👍🏽 ok"),
        (" secret ", TextRule(10, strip=False), " secret "),  # a password keeps every character
    ],
)
def test_text_is_kept_trimmed_with_line_breaks_only_where_they_belong(
    value: str, rule: TextRule, expected: str
) -> None:
    assert check_text(value, rule) == expected


@pytest.mark.parametrize(
    ("value", "rule", "problem", "char"),
    [
        ("a\x00b", LINE, "control", "U+0000"),
        ("a\x00b", LINES, "control_multiline", "U+0000"),
        ("a\nb", LINE, "control", "U+000A"),
        ("a\tb", LINE, "control", "U+0009"),
        ("a\x1bb", LINES, "control_multiline", "U+001B"),
        ("a\x7fb", LINE, "control", "U+007F"),
        ("a\x85b", LINE, "control", "U+0085"),  # C1
        ("a\ud800b", LINES, "control_multiline", "U+D800"),  # a lone surrogate: no database encodes it
        ("abc\u202e", LINE, "control", "U+202E"),  # right-to-left override: a name read backwards
        ("a\u2028b", LINE, "control", "U+2028"),
    ],
)
def test_control_characters_are_refused_naming_the_first(value: str, rule: TextRule, problem: str, char: str) -> None:
    with pytest.raises(TextProblem) as caught:
        check_text(value, rule)
    assert caught.value.problem == problem
    assert caught.value.params == {"char": char}


def test_length_is_counted_in_characters_after_trimming() -> None:
    assert check_text(" " + "长" * 10 + " ", LINE) == "长" * 10
    with pytest.raises(TextProblem) as caught:
        check_text("长" * 11, LINE)
    assert (caught.value.problem, caught.value.params) == ("too_long", {"max": 10, "length": 11})
    assert str(caught.value) == "is limited to 10 characters (11 given)"


def test_a_megabyte_is_refused_for_its_length_before_it_is_scanned() -> None:
    with pytest.raises(TextProblem, match="limited to 20"):
        check_text("\x00" * 1_000_000, LINES)


def test_a_required_field_refuses_what_is_only_spaces() -> None:
    with pytest.raises(TextProblem) as caught:
        check_text("   ", REQUIRED)
    assert caught.value.problem == "required"


def test_printable_keeps_what_was_typed_but_the_controls() -> None:
    assert printable("ab\x00c\nd\te\ud800") == "abc\nd\te"


def test_a_value_that_could_not_have_been_stored_is_told_apart() -> None:
    number = TextRule(20, min_length=1)
    assert could_be("26120610729861", number)
    assert not could_be("2612\x00", number)
    assert not could_be(" 26 ", number)  # a stored value is trimmed
    assert not could_be("9" * 21, number)
    assert not could_be("", number)
