"""POST /api/v1/simulate over real HTTP: the same answers as `kameng simulate`, to the fen."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from kameng.platform.documents import load_yaml

SCENARIOS = Path(__file__).parents[2].parent / "shared" / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))
KAMENG = Path(sys.executable).with_name("kameng")
SIMULATE = "/api/v1/simulate"

# Activated and asked 20 days in, past the 7-day window: P9 prorates it by day (the default) and
# takes a fractional fee, so every line of the answer is a rounding that a float would spoil.
ACTIVATED_ANNUAL_CARD: dict[str, Any] = {
    "name": "annual card, 20 days used",
    "product": {"kind": "membership", "term": {"months": 12}, "price": "100.10"},
    "policy": {"fee_percent": "1.5"},
    "order": {"paid": "100.10", "channel": "alipay", "paid_at": "2026-03-02T10:00:00+08:00"},
    "events": [{"at": "2026-03-02T12:00:00+08:00", "type": "activated"}],
    "request": {"at": "2026-03-22T09:00:00+08:00", "reason": "changed_mind"},
}


def scenario_json(path: Path) -> str:
    """The scenario file as the JSON body a client would send (decimals as strings)."""
    return json.dumps(load_yaml(path.read_text(encoding="utf-8"), str(path)), default=str)


def post(http: httpx.Client, body: str | dict[str, Any]) -> httpx.Response:
    if isinstance(body, dict):
        return http.post(SIMULATE, json=body)
    return http.post(SIMULATE, content=body, headers={"content-type": "application/json"})


def scenario_with(**changes: Any) -> dict[str, Any]:
    """A copy of ACTIVATED_ANNUAL_CARD with dotted keys replaced: ``{"order.paid": "1.00"}``."""
    body = copy.deepcopy(ACTIVATED_ANNUAL_CARD)
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        target = body
        for parent in parents:
            target = target[parent]
        target[key] = value
    return body


@pytest.fixture(scope="module")
def cli_answers() -> dict[str, dict[str, Any]]:
    """What the real `kameng simulate` prints for the shared scenarios, by file name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAMENG_")}
    result = subprocess.run(
        [str(KAMENG), "simulate", *map(str, SCENARIO_FILES)],
        capture_output=True,
        text=True,
        env={**env, "KAMENG_ENV": "test"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(SCENARIO_FILES)
    return {path.name: json.loads(line) for path, line in zip(SCENARIO_FILES, lines, strict=True)}


def test_the_shared_scenarios_are_there() -> None:
    assert SCENARIO_FILES, f"no scenario files in {SCENARIOS}"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_each_shared_scenario_gets_the_same_answer_as_the_cli_and_its_expect_block(
    path: Path, http: httpx.Client, cli_answers: dict[str, dict[str, Any]]
) -> None:
    response = post(http, scenario_json(path))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer == cli_answers[path.name]
    expect = load_yaml(path.read_text(encoding="utf-8"))["expect"]
    for key, wanted in expect.items():
        assert answer[key] == wanted, f"{key}: expected {wanted!r}, got {answer[key]!r}"
    assert sum(Decimal(line["amount"]) for line in answer["lines"]) == Decimal(answer["refund"])


def test_json_numbers_with_fractions_are_exact_to_the_fen(http: httpx.Client) -> None:
    # As floats, 100.10 is 100.09999999999999 and 1.5 % of it would drift; read as decimals:
    # used 100.10 × 20/365 = 5.4849… → 5.48; fee 1.5 % × 94.62 = 1.4193 → 1.42; 93.20 back.
    body = json.dumps(ACTIVATED_ANNUAL_CARD)
    body = body.replace('"paid": "100.10"', '"paid": 100.10')
    body = body.replace('"fee_percent": "1.5"', '"fee_percent": 1.5')
    assert '"paid": 100.10' in body
    assert '"fee_percent": 1.5' in body

    response = post(http, body)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["refund"] == "93.20"
    assert [(line["code"], line["amount"]) for line in answer["lines"]] == [
        ("paid", "100.10"),
        ("used_share", "-5.48"),
        ("fee", "-1.42"),
    ]


def test_a_json_number_finer_than_a_fen_is_refused(http: httpx.Client) -> None:
    body = json.dumps(ACTIVATED_ANNUAL_CARD).replace('"paid": "100.10"', '"paid": 100.105')

    response = post(http, body)

    assert response.status_code == 422
    assert response.json()["error"].startswith("order.paid: must have at most two decimals")


def test_the_same_amounts_as_strings_give_the_same_answer_as_numbers(http: httpx.Client) -> None:
    as_strings = post(http, ACTIVATED_ANNUAL_CARD)
    as_numbers = post(
        http,
        json.dumps(ACTIVATED_ANNUAL_CARD)
        .replace('"paid": "100.10"', '"paid": 100.10')
        .replace('"fee_percent": "1.5"', '"fee_percent": 1.5'),
    )

    assert as_strings.status_code == as_numbers.status_code == 200
    assert as_strings.json() == as_numbers.json()


def test_invalid_json_answers_422_saying_where_it_breaks(http: httpx.Client) -> None:
    response = post(http, '{"name": "half", "product": ')

    assert response.status_code == 422
    assert response.json() == {
        "name": "",
        "error": "body: not valid JSON at line 1, column 29: Expecting value",
    }


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"policy.cooling_of_days": 3}, "policy.cooling_of_days", "unknown key"),
        ({"colour": "red"}, "colour", "unknown key"),
        ({"order.paid_at": "2026-03-02T10:00:00"}, "order.paid_at", "needs a time zone offset"),
        ({"events": [{"at": "2026-03-02 12:00", "type": "activated"}]}, "events[0].at", "offset"),
        ({"order.paid": "-1.00"}, "order.paid", "must not be negative"),
        ({"product.price": "-100.10"}, "product.price", "must not be negative"),
        ({"request.reason": "bored"}, "request.reason", "unknown value 'bored'"),
    ],
    ids=[
        "unknown policy key",
        "unknown top-level key",
        "paid_at without offset",
        "event time without offset",
        "negative paid",
        "negative price",
        "unknown reason",
    ],
)
def test_a_malformed_scenario_answers_422_naming_the_field(
    http: httpx.Client, changes: dict[str, Any], field: str, problem: str
) -> None:
    response = post(http, scenario_with(**changes))

    assert response.status_code == 422
    answer = response.json()
    assert set(answer) == {"name", "error"}
    assert answer["name"] == ACTIVATED_ANNUAL_CARD["name"]
    assert answer["error"].startswith(f"{field}: ")
    assert problem in answer["error"]


def test_a_negative_json_number_is_refused_like_a_negative_string(http: httpx.Client) -> None:
    body = json.dumps(ACTIVATED_ANNUAL_CARD).replace('"paid": "100.10"', '"paid": -100.10')

    response = post(http, body)

    assert response.status_code == 422
    assert response.json()["error"].startswith("order.paid: must not be negative")


def test_a_body_that_is_not_an_object_answers_422(http: httpx.Client) -> None:
    response = post(http, "[1, 2]")

    assert response.status_code == 422
    assert "must be a mapping" in response.json()["error"]


def test_the_openapi_document_lists_the_simulate_endpoint(http: httpx.Client) -> None:
    response = http.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    operation = document["paths"][SIMULATE]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"product", "order", "request"}
    assert {"200", "422"} <= set(operation["responses"])
