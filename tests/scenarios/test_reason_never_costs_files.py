"""RULES.md §3a as scenario files (tests/scenarios/files/3a-*.yaml), run the way `kameng simulate
--check` runs them: each file's expectations hold, and each names the pair of rules compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameng.domain.calendar import WorkCalendar
from kameng.platform.documents import load_document
from kameng.scenarios.services import simulate_paths

FILES = Path(__file__).resolve().parent / "files"
SECTION_3A = sorted(FILES.glob("3a-*.yaml"))
STATUTORY = {"S1", "S2", "S3", "S4", "S5"}


def test_there_is_a_file_for_each_case_of_section_3a() -> None:
    assert len(SECTION_3A) >= 9


@pytest.mark.parametrize("path", SECTION_3A, ids=lambda path: path.stem)
def test_each_scenario_meets_its_expectations(path: Path) -> None:
    [result] = simulate_paths([path], WorkCalendar())
    assert "error" not in result.answer, result.answer
    assert result.mismatches == ()
    # Every file pins both rules, statutory and policy, in the order §3a gives them.
    expect = load_document(path.read_text("utf-8"), str(path))["expect"]
    assert len(expect["rules"]) == 2
    assert sum(rule in STATUTORY for rule in expect["rules"]) == 1


def test_a_file_whose_expectation_breaks_section_3a_is_reported(tmp_path: Path) -> None:
    # The check can fail: the first example, expecting S3 to decide as it did before §3a.
    text = (FILES / "3a-01-platform-fault-never-activated.yaml").read_text("utf-8")
    wrong = tmp_path / "before-3a.yaml"
    before = text.replace("rules: [P1, S3]", "rules: [S3]").replace("decision: auto_approve", "decision: review")
    wrong.write_text(before)
    [result] = simulate_paths([wrong], WorkCalendar())
    assert result.failed
    assert any(miss.startswith("decision:") for miss in result.mismatches)
    assert any(miss.startswith("rules:") for miss in result.mismatches)
