"""Validation errors in the reader's language: every kind of refusal has its sentence in both
catalogs, names the field, and never echoes the input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kameng.platform import i18n
from kameng.platform.errors import InvalidInput
from kameng.platform.inputs import (
    DECIMAL_ERRORS,
    DISPLAY_NAME,
    HOURS,
    TEXT_ERRORS,
    clean_text,
    decimal_input,
    field_label,
)
from kameng.web.validation import _BY_TYPE, describe, field_name, summary


def test_every_sentence_the_checks_use_is_in_every_catalog() -> None:
    keys = {key for _, key in TEXT_ERRORS.values()} | set(DECIMAL_ERRORS.values()) | set(_BY_TYPE.values())
    keys |= {"error.text.not_text", "error.number.range", "error.field.invalid", "error.field.more"}
    for lang in i18n.LANGS:
        assert sorted(keys - set(i18n.catalog(lang))) == [], lang


@pytest.mark.parametrize(
    ("loc", "name"),
    [
        (("body", "display_name"), "display_name"),
        (("header", "Idempotency-Key"), "Idempotency-Key"),
        (("body",), "body"),
        (("body", "events", 0, "hours"), "events.0.hours"),
        (("query", "limit"), "limit"),
    ],
)
def test_the_field_is_named_as_the_client_sent_it(loc: tuple[str | int, ...], name: str) -> None:
    assert field_name(loc) == name


def test_a_field_is_named_for_people_and_for_the_developer_reading_the_api() -> None:
    assert field_label("display_name") == {"zh": "昵称", "en": "Display name"}
    assert field_label("display_name", as_sent=True) == {
        "zh": "昵称(display_name)",
        "en": "Display name (display_name)",
    }
    assert field_label("evidence[2]")["en"] == "Evidence file"
    assert field_label("Idempotency-Key")["zh"] == "幂等键"
    assert field_label("surprise") == {"zh": "surprise", "en": "surprise"}


@pytest.mark.parametrize(
    ("error", "zh", "en"),
    [
        (
            {"type": "text_too_long", "loc": ("body", "display_name"), "ctx": {"max": 30, "length": 200}},
            "昵称(display_name)最多 30 个字符(现有 200 个)",
            "Display name (display_name) is limited to 30 characters (200 given)",
        ),
        (
            {"type": "text_control", "loc": ("path", "order_no"), "ctx": {"char": "U+0000"}},
            "订单号(order_no)不能包含控制字符(发现 U+0000)",
            "Order number (order_no) must not contain control characters (found U+0000)",
        ),
        (
            {"type": "less_than_equal", "loc": ("path", "file_id"), "ctx": {"le": 2147483647}},
            "文件编号(file_id)不能大于 2147483647",
            "File number (file_id) must be at most 2147483647",
        ),
        (
            {"type": "decimal_not_finite", "loc": ("body", "hours"), "ctx": {"places": 2, "min": 0, "max": 1}},
            "中断时长(小时)(hours)必须是有限的数字(不能是 NaN 或无穷大)",
            "Outage hours (hours) must be a finite number (not NaN or infinity)",
        ),
        (
            {"type": "some_new_pydantic_type", "loc": ("body", "surprise"), "msg": "whatever", "input": "x" * 10_000},
            "surprise的值无效",
            "surprise is not valid",
        ),
    ],
)
def test_each_error_is_one_sentence_per_language(error: dict[str, object], zh: str, en: str) -> None:
    problem = describe(error)
    assert problem.message("zh") == zh
    assert problem.message("en") == en
    assert "x" * 100 not in str(problem.to_dict())  # the input is never echoed


def test_a_summary_says_the_first_three_and_counts_the_rest() -> None:
    problems = [describe({"type": "missing", "loc": ("body", name)}) for name in ("a", "b", "c", "d", "e")]
    assert summary(problems, "en") == "a is missing; b is missing; c is missing; and 2 more problems"
    assert summary(problems, "zh") == "缺少a;缺少b;缺少c;另有 2 处问题"


def test_a_service_refusal_names_the_field_for_people() -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_text("名" * 31, DISPLAY_NAME, "display_name")
    assert caught.value.field == "display_name"
    assert caught.value.message("zh") == "昵称最多 30 个字符(现有 31 个)"
    with pytest.raises(InvalidInput) as decimal:
        decimal_input("NaN", HOURS, "hours")
    assert decimal.value.code == "bad_number"
    assert decimal.value.message("en") == "Outage hours must be a finite number (not NaN or infinity)"
    assert decimal_input(" 1.5 ", HOURS, "hours") == Decimal("1.5")
