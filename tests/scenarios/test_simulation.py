"""Scenario simulation from text and files: YAML and JSON, exact decimals, errors that say where."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kameng.domain.calendar import WorkCalendar
from kameng.platform.documents import DocumentError, load_document, load_json, load_yaml
from kameng.scenarios.services import compare_expectations, expand_paths, simulate_data, simulate_paths, simulate_text

CALENDAR = WorkCalendar()
SHARED_SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"

ANNUAL_CARD = """\
name: annual card 100.00, one month used, changed mind (seed 001)
product:
  kind: membership
  term: {months: 12}
  price: 100.00
policy:
  proration: by_month
  fee_percent: 0
order:
  paid: 100.00
  channel: alipay
  paid_at: 2026-03-02T10:00:00+08:00
events:
  - {at: 2026-03-02T12:00:00+08:00, type: activated}
request:
  at: 2026-03-22T09:00:00+08:00
  reason: changed_mind
expect:
  decision: review
  refund: 91.67
  review_due: 2026-03-24
"""

EXPECTED_ANSWER = {
    "name": "annual card 100.00, one month used, changed mind (seed 001)",
    "decision": "review",
    "refund": "91.67",
    "currency": "CNY",
    "rules": ["P9"],
    "lines": [
        {"code": "paid", "amount": "100.00"},
        {"code": "used_share", "amount": "-8.33", "detail": "1 of 12 months", "detail_zh": "已用 1/12 个月"},
        {"code": "fee", "amount": "0.00", "detail": "no fee", "detail_zh": "不收手续费"},
    ],
    "review_due": "2026-03-24",
    "arrival": None,
    "calendar_warning": None,
}


def scenario_data() -> dict[str, Any]:
    data = load_yaml(ANNUAL_CARD)
    assert isinstance(data, dict)
    return data


def without_explanation(answer: dict[str, Any]) -> dict[str, Any]:
    explanation = answer.pop("explanation")
    assert set(explanation) == {"zh", "en"}
    return answer


# --- documents ---------------------------------------------------------------------------------


def test_yaml_unquoted_decimals_are_read_as_decimal_never_float() -> None:
    data = load_yaml("paid: 100.00\nfee: 5.5\nhours: 1_000.25\nbig: 1.0e+3\ncount: 3\n")
    assert data == {
        "paid": Decimal("100.00"),
        "fee": Decimal("5.5"),
        "hours": Decimal("1000.25"),
        "big": Decimal("1.0e+3"),
        "count": 3,
    }
    assert all(not isinstance(value, float) for value in data.values())
    assert str(data["paid"]) == "100.00"  # the text as written, not a binary approximation


def test_yaml_timestamps_are_left_as_text_for_the_domain_to_read() -> None:
    data = load_yaml("at: 2026-03-02T10:00:00+08:00\nday: 2026-03-02\n")
    assert data == {"at": "2026-03-02T10:00:00+08:00", "day": "2026-03-02"}


def test_yaml_infinity_and_nan_become_decimals_the_domain_then_refuses() -> None:
    data = load_yaml("a: .inf\nb: -.Inf\nc: .NaN\n")
    assert data["a"] == Decimal("Infinity")
    assert data["b"] == Decimal("-Infinity")
    assert data["c"].is_nan()


def test_json_fractions_are_read_as_decimal() -> None:
    assert load_json('{"paid": 99.90, "count": 2}') == {"paid": Decimal("99.90"), "count": 2}
    assert load_json(b'{"paid": "1.00"}') == {"paid": "1.00"}


@pytest.mark.parametrize(
    ("text", "source", "message"),
    [
        ("a: [1, 2\n", "bad.yaml", "bad.yaml: not valid YAML at line 2"),
        ("a: b: c\n", "bad.yaml", "bad.yaml: not valid YAML at line 1"),
        ("a: 1:30.5\n", "bad.yaml", "not a decimal number"),
        ("a: " + "9" * 5000 + "\n", "big.yaml", "big.yaml: not usable YAML"),
        ('{"a": 1,}', "bad.json", "bad.json: not valid JSON at line 1"),
        ('{"a": ' + "9" * 5000 + "}", "big.json", "big.json: not usable JSON"),
        ("[" * 5000 + "]" * 5000, "deep.json", "deep.json: not usable JSON"),
    ],
)
def test_an_unreadable_document_is_a_document_error_that_says_where(text: str, source: str, message: str) -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(text, source)
    assert message in str(caught.value)


def test_bytes_that_are_not_utf8_are_a_document_error() -> None:
    with pytest.raises(DocumentError, match="not UTF-8"):
        load_json(b'{"name": "\xff"}', "body")


# --- simulate_text -----------------------------------------------------------------------------


def test_a_yaml_scenario_is_answered_in_the_documented_shape() -> None:
    result = simulate_text(ANNUAL_CARD, "annual.yaml", CALENDAR)
    assert not result.failed
    assert result.mismatches == ()
    assert result.source == "annual.yaml"
    assert without_explanation(result.answer) == EXPECTED_ANSWER


def test_the_same_scenario_in_json_gets_the_same_answer() -> None:
    yaml_answer = simulate_text(ANNUAL_CARD, "annual.yaml", CALENDAR).answer
    text = json.dumps(scenario_data(), default=str)
    json_answer = simulate_text(text, "annual.json", CALENDAR).answer
    assert json_answer == yaml_answer


def test_json_with_numbers_for_amounts_is_answered_exactly() -> None:
    data = scenario_data()
    text = json.dumps(data, default=str).replace('"100.00"', "100.00")
    assert '"paid": 100.00' in text
    assert simulate_text(text, "annual.json", CALENDAR).answer["refund"] == "91.67"


def test_the_answer_is_plain_json() -> None:
    answer = simulate_text(ANNUAL_CARD, "annual.yaml", CALENDAR).answer
    assert json.loads(json.dumps(answer, ensure_ascii=False)) == answer


def test_a_malformed_scenario_is_answered_with_its_name_and_what_and_where() -> None:
    text = ANNUAL_CARD.replace("paid: 100.00", "paid: -100.00")
    result = simulate_text(text, "scenarios/negative.yaml", CALENDAR)
    assert result.failed
    assert result.answer == {
        "name": "annual card 100.00, one month used, changed mind (seed 001)",
        "error": "scenarios/negative.yaml: order.paid: must not be negative, got -100.00",
    }


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("  reason: changed_mind", "  reason: bored"), "request.reason"),
        (("  paid_at: 2026-03-02T10:00:00+08:00", "  paid_at: 2026-03-02T10:00:00"), "order.paid_at"),
        (("  paid: 100.00", "  paid: 100.005"), "order.paid"),
        (("  paid: 100.00", "  paid: .inf"), "order.paid"),
        (("  fee_percent: 0", "  fee_percent: 101"), "policy.fee_percent"),
        (("  proration: by_month", "  proration: by_month\n  fee: 1"), "policy.fee"),
        (("  term: {months: 12}", "  term: {days: 30}"), "policy.proration"),
        (("  channel: alipay", "  channel: cash"), "order.channel"),
        (("type: activated}", "type: activated, hours: 3}"), "events[0].hours"),
        (("expect:\n", "expect:\n  refunds: 1\n"), "expect.refunds"),
        (("name: annual", "title: x\nname: annual"), "title"),
    ],
)
def test_every_malformed_field_is_named_in_the_error(change: tuple[str, str], where: str) -> None:
    old, new = change
    assert old in ANNUAL_CARD
    result = simulate_text(ANNUAL_CARD.replace(old, new, 1), "case.yaml", CALENDAR)
    assert "error" in result.answer
    assert result.answer["error"].startswith(f"case.yaml: {where}: "), result.answer["error"]


def test_a_document_that_does_not_parse_is_named_after_its_file() -> None:
    result = simulate_text("name: [unclosed\n", "folder/broken.yaml", CALENDAR)
    assert result.answer["name"] == "broken"
    assert result.answer["error"].startswith("folder/broken.yaml: not valid YAML at line")


def test_a_document_that_is_not_a_mapping_is_named_after_its_file() -> None:
    result = simulate_text("- just\n- a list\n", "folder/list.yaml", CALENDAR)
    assert result.answer == {"name": "list", "error": "folder/list.yaml: must be a mapping, got list"}


def test_simulate_data_answers_decoded_data_and_errors_alike() -> None:
    assert simulate_data(scenario_data(), CALENDAR)["refund"] == "91.67"
    assert simulate_data([], CALENDAR, "fallback") == {"name": "fallback", "error": "must be a mapping, got list"}


# --- expectations ------------------------------------------------------------------------------


def test_expect_mismatches_are_listed_readably() -> None:
    text = ANNUAL_CARD.replace("refund: 91.67", "refund: 17.00").replace("decision: review", "decision: auto_approve")
    result = simulate_text(text, "slip.yaml", CALENDAR)
    assert result.failed
    assert "error" not in result.answer
    assert result.mismatches == (
        "decision: expected 'auto_approve', got 'review'",
        "refund: expected '17.00', got '91.67'",
    )


def test_only_the_expected_keys_are_compared_and_spellings_of_amounts_agree() -> None:
    answer = simulate_text(ANNUAL_CARD, "a.yaml", CALENDAR).answer
    assert compare_expectations({"refund": Decimal("91.67")}, answer) == ()
    assert compare_expectations({"refund": "91.67", "rules": ["P9"]}, answer) == ()
    assert compare_expectations({"arrival": None, "calendar_warning": None}, answer) == ()
    assert compare_expectations({"rules": ["P6"]}, answer) == ("rules: expected ['P6'], got ['P9']",)
    assert compare_expectations({"arrival": {"earliest": "2026-03-23"}}, answer) == (
        "arrival: expected {'earliest': '2026-03-23'}, got None",
    )


@pytest.mark.parametrize("refund", [Decimal("91.67"), Decimal("91.670"), "91.67", " 91.670 "])
def test_any_spelling_of_the_refund_amount_matches(refund: object) -> None:
    answer = simulate_text(ANNUAL_CARD, "a.yaml", CALENDAR).answer
    assert compare_expectations({"refund": refund}, answer) == ()


@pytest.mark.parametrize("refund", [100, Decimal(100), "100", "100.0", Decimal("100.00")])
def test_a_whole_yuan_written_as_an_integer_matches_the_two_decimal_answer(refund: object) -> None:
    assert compare_expectations({"refund": refund}, {"refund": "100.00"}) == ()


def test_a_different_amount_still_differs() -> None:
    assert compare_expectations({"refund": Decimal("91.68")}, {"refund": "91.67"}) == (
        "refund: expected '91.68', got '91.67'",
    )
    assert compare_expectations({"refund": "91.675"}, {"refund": "91.67"}) != ()


def test_expected_lines_need_only_the_keys_an_operator_writes() -> None:
    answer = simulate_text(ANNUAL_CARD, "a.yaml", CALENDAR).answer
    lines = [
        {"code": "paid", "amount": Decimal("100.00")},
        {"code": "used_share", "amount": "-8.33", "detail": "1 of 12 months"},
        {"code": "fee", "amount": 0},
    ]
    assert compare_expectations({"lines": lines}, answer) == ()
    assert compare_expectations({"lines": lines[:2]}, answer) != ()  # a line left out
    wrong = [*lines[:2], {"code": "fee", "amount": "-1.00"}]
    (miss,) = compare_expectations({"lines": wrong}, answer)
    assert miss.startswith("lines: expected [")
    assert compare_expectations({"lines": [*lines[:2], {"code": "fee", "note": "x"}]}, answer) != ()


def test_an_expected_arrival_window_is_compared_field_by_field() -> None:
    answer = {"arrival": {"earliest": "2026-05-21", "latest": "2026-05-25"}}
    assert compare_expectations({"arrival": {"earliest": "2026-05-21", "latest": "2026-05-25"}}, answer) == ()
    assert compare_expectations({"arrival": {"earliest": "2026-05-21", "latest": "2026-05-26"}}, answer) != ()


# --- files and folders -------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def test_a_folder_stands_for_its_scenario_files_sorted_by_name(tmp_path: Path) -> None:
    for name in ["b.yaml", "a.json", "c.yml", "notes.txt", "README.md"]:
        write(tmp_path, name, "{}")
    (tmp_path / "nested.yaml").mkdir()
    assert [p.name for p in expand_paths([tmp_path])] == ["a.json", "b.yaml", "c.yml"]


def test_files_given_by_name_are_answered_in_the_order_given(tmp_path: Path) -> None:
    late = write(tmp_path, "z.yaml", ANNUAL_CARD)
    early = write(tmp_path, "a.yaml", ANNUAL_CARD.replace("name: annual", "name: second annual"))
    names = [r.answer["name"] for r in simulate_paths([late, early], CALENDAR)]
    assert names[0].startswith("annual")
    assert names[1].startswith("second annual")


def test_a_malformed_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "1-good.yaml", ANNUAL_CARD)
    write(tmp_path, "2-bad.yaml", ANNUAL_CARD.replace("reason: changed_mind", "reason: bored"))
    write(tmp_path, "3-broken.json", '{"name": ')
    write(tmp_path, "4-good.json", json.dumps(scenario_data(), default=str))
    results = list(simulate_paths([tmp_path], CALENDAR))
    assert [Path(r.source).name for r in results] == ["1-good.yaml", "2-bad.yaml", "3-broken.json", "4-good.json"]
    assert [r.failed for r in results] == [False, True, True, False]
    assert results[1].answer["error"].startswith(f"{tmp_path / '2-bad.yaml'}: request.reason: unknown value 'bored'")
    assert results[2].answer["name"] == "3-broken"
    assert results[2].answer["error"].startswith(f"{tmp_path / '3-broken.json'}: not valid JSON at line 1")
    assert results[3].answer["refund"] == "91.67"


def test_a_missing_or_unreadable_file_is_answered_with_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\xe9\n".encode("latin-1"))
    good = write(tmp_path, "good.yaml", ANNUAL_CARD)
    results = list(simulate_paths([missing, latin1, good], CALENDAR))
    assert results[0].answer == {"name": "missing", "error": f"{missing}: cannot read: No such file or directory"}
    assert results[1].answer["name"] == "latin1"
    assert results[1].answer["error"].startswith(f"{latin1}: cannot read:")
    assert not results[2].failed


def test_an_empty_folder_gives_no_answers(tmp_path: Path) -> None:
    assert list(simulate_paths([tmp_path], CALENDAR)) == []


@pytest.mark.skipif(not SHARED_SCENARIOS.is_dir(), reason="the shared scenarios are not checked out")
def test_every_shared_scenario_meets_its_expectations() -> None:
    results = list(simulate_paths([SHARED_SCENARIOS], CALENDAR))
    assert len(results) >= 10
    assert [Path(r.source).name for r in results] == sorted(Path(r.source).name for r in results)
    failures = {r.source: r.answer.get("error") or r.mismatches for r in results if r.failed}
    assert failures == {}
