"""`kameng simulate` as an operator runs it: JSON Lines out, readable errors, honest exit codes.

Most tests call the Typer app in-process (a fresh process costs most of a second); the few that
are about the installed command itself (its entry point, its UTF-8 output, Click's usage errors,
settings read from the real environment) run ``.venv/bin/kameng`` in its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kameng.cli.main import app

SCENARIOS = Path(__file__).parents[2].parent / "shared" / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))
ANNUAL_CARD = SCENARIOS / "01-annual-card-one-month-used.yaml"
KAMENG = Path(sys.executable).with_name("kameng")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def answers(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]


Kameng = Callable[..., Run]


def settings_env(tmp_path: Path) -> dict[str, str]:
    """Test settings, with the database (should a command open one) under the test's folder."""
    return {"KAMENG_ENV": "test", "KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'kameng.db'}"}


@pytest.fixture
def kameng(tmp_path: Path) -> Kameng:
    """Invoke the ``kameng`` Typer app in-process, with test settings and no outside KAMENG_*."""
    runner = CliRunner()
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("KAMENG_")}

    def run(*args: str | Path, extra_env: dict[str, str] | None = None) -> Run:
        env = unset | settings_env(tmp_path) | (extra_env or {})
        result = runner.invoke(app, [str(arg) for arg in args], env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def kameng_process(tmp_path: Path) -> Kameng:
    """Run the installed ``kameng`` in its own process, the same way (but slower)."""
    outside = {k: v for k, v in os.environ.items() if not k.startswith("KAMENG_")}

    def run(*args: str | Path, extra_env: dict[str, str] | None = None) -> Run:
        result = subprocess.run(
            [str(KAMENG), *map(str, args)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=tmp_path,
            env=outside | settings_env(tmp_path) | (extra_env or {}),
            timeout=60,
            check=False,
        )
        return Run(result.returncode, result.stdout, result.stderr)

    return run


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def annual_card(**changes: Any) -> dict[str, Any]:
    """Scenario 01 with top-level or dotted keys replaced (``{"order.paid_at": ...}``)."""
    data = yaml.safe_load(ANNUAL_CARD.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        target = data
        for parent in parents:
            target = target[parent]
        target[key] = value
    return data


def test_check_passes_on_the_shared_scenarios_printing_one_line_per_file_in_sorted_order(
    kameng_process: Kameng,
) -> None:
    assert SCENARIO_FILES, f"no scenario files in {SCENARIOS}"

    run = kameng_process("simulate", "--check", SCENARIOS)

    assert run.code == 0, run.stderr
    names = [yaml.safe_load(path.read_text(encoding="utf-8"))["name"] for path in SCENARIO_FILES]
    assert [answer["name"] for answer in run.answers] == names
    assert all("error" not in answer for answer in run.answers)
    assert f"{len(SCENARIO_FILES)} passed, 0 failed" in run.stderr


def test_files_named_one_by_one_are_answered_in_the_order_given(kameng: Kameng) -> None:
    given = list(reversed(SCENARIO_FILES[:3]))

    run = kameng("simulate", *given)

    assert run.code == 0, run.stderr
    names = [yaml.safe_load(path.read_text(encoding="utf-8"))["name"] for path in given]
    assert [answer["name"] for answer in run.answers] == names


def test_each_line_is_the_full_answer_with_chinese_kept_readable(kameng_process: Kameng) -> None:
    run = kameng_process("simulate", ANNUAL_CARD)

    assert run.code == 0, run.stderr
    [answer] = run.answers
    assert answer["decision"] == "review"
    assert answer["refund"] == "91.67"
    assert answer["review_due"] == "2026-03-24"
    assert answer["arrival"] is None
    assert [line["code"] for line in answer["lines"]] == ["paid", "used_share", "fee"]
    assert "可退 91.67 元" in run.stdout  # printed as UTF-8, not as \\u escapes


def test_a_folder_with_one_malformed_and_one_good_file_answers_both_and_exits_1(kameng: Kameng, tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    write_yaml(folder / "a-no-offset.yaml", annual_card(**{"order.paid_at": "2026-03-02T10:00:00"}))
    shutil.copy(ANNUAL_CARD, folder / "b-good.yaml")
    (folder / "notes.txt").write_text("not a scenario", encoding="utf-8")

    run = kameng("simulate", folder)

    assert run.code == 1
    bad, good = run.answers
    assert set(bad) == {"name", "error"}
    assert bad["name"] == annual_card()["name"]
    assert bad["error"].startswith(f"{folder / 'a-no-offset.yaml'}: order.paid_at: ")
    assert "needs a time zone offset" in bad["error"]
    assert good["refund"] == "91.67"
    assert "order.paid_at" in run.stderr


def test_a_file_that_is_not_yaml_gets_an_error_line_naming_the_place(kameng: Kameng, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")

    run = kameng("simulate", broken, ANNUAL_CARD)

    assert run.code == 1
    bad, good = run.answers
    assert bad["name"] == "broken"
    assert bad["error"].startswith(f"{broken}: not valid YAML at line ")
    assert good["refund"] == "91.67"


def test_a_wrong_expect_fails_check_with_a_readable_difference(kameng: Kameng, tmp_path: Path) -> None:
    wrong = write_yaml(tmp_path / "wrong.yaml", annual_card(expect={"decision": "review", "refund": "1.00"}))

    run = kameng("simulate", "--check", wrong, ANNUAL_CARD)

    assert run.code == 1
    assert [answer["refund"] for answer in run.answers] == ["91.67", "91.67"]
    assert f"FAIL  {wrong}" in run.stderr
    assert "refund: expected '1.00', got '91.67'" in run.stderr
    assert "decision:" not in run.stderr  # only the keys that differ are shown
    assert "1 passed, 1 failed" in run.stderr


def test_a_wrong_expect_is_only_reported_under_check(kameng: Kameng, tmp_path: Path) -> None:
    wrong = write_yaml(tmp_path / "wrong.yaml", annual_card(expect={"refund": "1.00"}))

    run = kameng("simulate", wrong)

    assert run.code == 0
    assert run.answers[0]["refund"] == "91.67"
    assert run.stderr == ""


def test_a_missing_file_gets_an_error_line_and_exit_1_while_the_others_are_answered(
    kameng: Kameng, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.yaml"

    run = kameng("simulate", ANNUAL_CARD, missing)

    assert run.code == 1
    good, bad = run.answers
    assert good["refund"] == "91.67"
    assert bad == {"name": "nowhere", "error": f"{missing}: cannot read: No such file or directory"}


def test_no_files_at_all_is_a_usage_error(kameng_process: Kameng) -> None:
    run = kameng_process("simulate")

    assert run.code == 2
    assert run.stdout == ""
    assert "Missing argument" in run.stderr


def test_an_empty_folder_is_a_usage_error(kameng: Kameng, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    run = kameng("simulate", "--check", empty)

    assert run.code == 2
    assert run.stdout == ""
    assert "no scenario files found" in run.stderr


def test_a_calendar_override_declaring_a_weekday_a_holiday_moves_review_due(kameng: Kameng, tmp_path: Path) -> None:
    # Asked on Sunday 2026-03-22, two working days: Mon 23, Tue 24. With Monday off: Tue, Wed.
    overrides = write_yaml(tmp_path / "calendar.yaml", {"holidays": ["2026-03-23"]})

    plain = kameng("simulate", ANNUAL_CARD)
    moved = kameng("simulate", "--calendar", overrides, ANNUAL_CARD)

    assert plain.code == moved.code == 0, moved.stderr
    assert plain.answers[0]["review_due"] == "2026-03-24"
    assert moved.answers[0]["review_due"] == "2026-03-25"
    assert "2026-03-25" in moved.answers[0]["explanation"]["en"]


def test_a_calendar_override_in_json_works_too(kameng: Kameng, tmp_path: Path) -> None:
    overrides = tmp_path / "calendar.json"
    overrides.write_text(json.dumps({"holidays": ["2026-03-23", "2026-03-24"]}), encoding="utf-8")

    run = kameng("simulate", "--calendar", overrides, ANNUAL_CARD)

    assert run.code == 0, run.stderr
    assert run.answers[0]["review_due"] == "2026-03-26"


def test_the_calendar_file_can_come_from_the_environment(kameng: Kameng, tmp_path: Path) -> None:
    overrides = write_yaml(tmp_path / "calendar.yaml", {"holidays": ["2026-03-23"]})

    run = kameng("simulate", ANNUAL_CARD, extra_env={"KAMENG_CALENDAR_FILE": str(overrides)})

    assert run.code == 0, run.stderr
    assert run.answers[0]["review_due"] == "2026-03-25"


@pytest.mark.parametrize(
    ("overrides", "entry"),
    [
        ({"holidays": ["2026-03-23", "next tuesday"]}, "holidays[1]: not a date"),
        ({"workdays": ["2026-02-30"]}, "workdays[0]: not a date"),
        ({"holidays": ["2026-03-23"], "workdays": ["2026-03-23"]}, "workdays[0]: 2026-03-23"),
        ({"years": ["2027"]}, "years[0]: not a year"),
        ({"holidays": "2026-03-23"}, "holidays: must be a list"),
        ({"holiday": ["2026-03-23"]}, "holiday: unknown key"),
    ],
    ids=["not a date", "no such day", "both", "year as text", "not a list", "unknown key"],
)
def test_a_bad_calendar_file_exits_2_naming_the_entry(
    kameng: Kameng, tmp_path: Path, overrides: dict[str, Any], entry: str
) -> None:
    bad = write_yaml(tmp_path / "calendar.yaml", overrides)

    run = kameng("simulate", "--calendar", bad, ANNUAL_CARD)

    assert run.code == 2
    assert run.stdout == ""
    assert f"error: {bad}: {entry}" in run.stderr


def test_a_missing_calendar_file_exits_2(kameng: Kameng, tmp_path: Path) -> None:
    missing = tmp_path / "calendar.yaml"

    run = kameng("simulate", "--calendar", missing, ANNUAL_CARD)

    assert run.code == 2
    assert f"error: {missing}: cannot read" in run.stderr


def test_a_bad_setting_stops_the_command_with_exit_2_naming_the_variable(kameng_process: Kameng) -> None:
    run = kameng_process("simulate", ANNUAL_CARD, extra_env={"KAMENG_PORT": "eighty"})

    assert run.code == 2
    assert run.stdout == ""
    assert "KAMENG_PORT" in run.stderr
