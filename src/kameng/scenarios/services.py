"""Scenario simulation: run the engine on scenario documents and check their expectations.

Used by ``kameng simulate`` (files), ``POST /api/v1/simulate`` (one JSON body) and the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import DomainError
from kameng.domain.money import MAX_YUAN, NumberError, parse_decimal
from kameng.domain.refund import quote_refund
from kameng.domain.scenario import Scenario, parse_scenario
from kameng.platform.documents import DocumentError, load_document

SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """One answer line: either ``answer`` (the quote) or ``error``, plus any expectation misses."""

    source: str
    answer: dict[str, Any]
    mismatches: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return "error" in self.answer or bool(self.mismatches)


def simulate_scenario(scenario: Scenario, calendar: WorkCalendar) -> dict[str, Any]:
    quote = quote_refund(
        scenario.product,
        scenario.policy,
        scenario.order,
        scenario.events,
        scenario.request,
        calendar,
        scenario.timezone,
    )
    return {"name": scenario.name, **quote.to_dict()}


def simulate_data(data: object, calendar: WorkCalendar, fallback_name: str = "") -> dict[str, Any]:
    """Answer for decoded scenario data; a malformed scenario becomes ``{name, error}``."""
    try:
        scenario = parse_scenario(data)
    except DomainError as error:
        name = data.get("name") if isinstance(data, Mapping) else None
        return {"name": name if isinstance(name, str) else fallback_name, "error": str(error)}
    return simulate_scenario(scenario, calendar)


def compare_expectations(expect: Mapping[str, Any], answer: Mapping[str, Any]) -> tuple[str, ...]:
    """Readable differences between an ``expect`` block and an answer; only given keys count."""
    misses = []
    for key, wanted in expect.items():
        got = answer.get(key)
        if not _matches(_normalise(wanted), _normalise(got)):
            misses.append(f"{key}: expected {_show(wanted)}, got {_show(got)}")
    return tuple(misses)


def _matches(wanted: Any, got: Any) -> bool:
    # "Only the keys given are compared" holds at every depth: an expected line may leave out its
    # detail, and the detail_zh no operator writes, as SCENARIOS.md's own example lines do. Lists
    # (rules, lines) must still have the same length and order.
    if isinstance(wanted, dict):
        return isinstance(got, dict) and all(k in got and _matches(v, got[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(got, list)
            and len(wanted) == len(got)
            and all(_matches(w, g) for w, g in zip(wanted, got, strict=True))
        )
    return bool(wanted == got)


def _normalise(value: Any) -> Any:
    # Expect blocks are hand-written: 91.67 (a YAML decimal), "91.67" and 91.670 mean the same
    # amount, and so do 100 (a YAML integer) and "100.00", which the answer writes.
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal | str):
        return _amount_text(value)
    return str(value)


def _amount_text(value: int | Decimal | str) -> str:
    """``"100.00"`` for any spelling of a whole number of fen; anything else as text."""
    try:
        # The one decimal parser: NaN, infinity or an exponent are not amounts, and stay text.
        number = parse_decimal(value, places=2, minimum=-MAX_YUAN, maximum=MAX_YUAN)
    except NumberError:
        return str(value)
    cents = number.quantize(_CENT)
    return f"{abs(cents) if cents == 0 else cents:f}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return repr(_normalise(value))


def simulate_text(text: str, source: str, calendar: WorkCalendar) -> SimulationResult:
    fallback = Path(source).stem
    try:
        data = load_document(text, source)
    except DocumentError as error:
        return SimulationResult(source, {"name": fallback, "error": str(error)})
    answer = simulate_data(data, calendar, fallback)
    if "error" in answer:
        answer["error"] = f"{source}: {answer['error']}"
        return SimulationResult(source, answer)
    expect = data.get("expect") if isinstance(data, Mapping) else None
    misses = compare_expectations(expect, answer) if expect else ()
    return SimulationResult(source, answer, misses)


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given; a folder stands for its scenario files, sorted by name."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in SCENARIO_SUFFIXES and p.is_file())
        else:
            yield path


def simulate_paths(paths: Iterable[Path], calendar: WorkCalendar) -> Iterator[SimulationResult]:
    for path in expand_paths(paths):
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            yield SimulationResult(source, {"name": path.stem, "error": f"{source}: cannot read: {reason}"})
            continue
        yield simulate_text(text, source, calendar)
