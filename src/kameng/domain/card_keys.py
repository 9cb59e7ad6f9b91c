"""Card-key imports, as pure rules: reading a pasted list or a CSV file into keys with their line
numbers, finding what is wrong with each line, and the import's own small state machine.

A list is imported whole or not at all: one duplicate (within the list, or a key already in
stock) or one malformed line refuses the list, and the refusal names every line at fault, so
the operator mends the file once rather than line by line.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from kameng.domain.states import StateMachine

MAX_CODE_LENGTH = 120
MIN_CODE_LENGTH = 4
# What a card key may be made of: letters, digits and the separators issuers use. No blanks
# inside (a blank inside is nearly always two keys on one line, or a key and a comment).
_ALLOWED_PUNCTUATION = frozenset("-_.:/+=#*@")
# A first line naming the column, skipped: "code", "card_key", "卡密", "卡号"…
HEADERS = frozenset({"code", "codes", "card_key", "card key", "cardkey", "key", "卡密", "卡号", "密钥", "兑换码"})


class LineProblem(StrEnum):
    """What is wrong with one line; stored by value, shown through the catalogs."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    BAD_CHARACTERS = "bad_characters"
    DUPLICATE_IN_LIST = "duplicate_in_list"
    ALREADY_IN_STOCK = "already_in_stock"


@dataclass(frozen=True, slots=True)
class KeyLine:
    line: int  # 1-based, as an editor shows it
    code: str  # normalised


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    problem: LineProblem
    first_line: int | None = None  # a duplicate within the list: where the key first appeared


@dataclass(frozen=True)
class ParsedList:
    keys: list[KeyLine] = field(default_factory=list)
    problems: list[BadLine] = field(default_factory=list)
    lines: int = 0  # lines read, blank ones and a header included

    @property
    def ok(self) -> bool:
        return bool(self.keys) and not self.problems


def normalise(code: str) -> str:
    """The one spelling of a key (the same rule as the key ring's: NFKC, no surrounding blanks)."""
    return unicodedata.normalize("NFKC", code).strip()


def problem_of(code: str) -> LineProblem | None:
    if len(code) < MIN_CODE_LENGTH:
        return LineProblem.TOO_SHORT
    if len(code) > MAX_CODE_LENGTH:
        return LineProblem.TOO_LONG
    if not all((char.isascii() and char.isalnum()) or char in _ALLOWED_PUNCTUATION for char in code):
        return LineProblem.BAD_CHARACTERS
    return None


def _cells(text: str) -> list[tuple[int, str]]:
    """(line number, first cell) of each line: a CSV's first column, or a plain line whole."""
    rows: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text.replace("\r\n", "\n").replace("\r", "\n")))
    for row in reader:
        rows.append((reader.line_num, row[0] if row else ""))
    return rows


def parse_list(text: str) -> ParsedList:
    """Every key of ``text`` (one per line, or a CSV whose first column is the key) with its line
    number; blank lines and a header line are skipped; every problem is listed, none stops the
    reading."""
    text = text.removeprefix("\ufeff")  # a BOM, as spreadsheet programs write
    keys: list[KeyLine] = []
    problems: list[BadLine] = []
    first_seen: dict[str, int] = {}
    cells = _cells(text)
    for index, (line, cell) in enumerate(cells):
        code = normalise(cell)
        if not code or (index == 0 and code.lower() in HEADERS):
            continue
        problem = problem_of(code)
        if problem is not None:
            problems.append(BadLine(line, problem))
            continue
        if code in first_seen:
            problems.append(BadLine(line, LineProblem.DUPLICATE_IN_LIST, first_seen[code]))
            continue
        first_seen[code] = line
        keys.append(KeyLine(line, code))
    return ParsedList(keys, problems, cells[-1][0] if cells else 0)


def with_stock_duplicates(parsed: ParsedList, in_stock: set[int]) -> ParsedList:
    """``parsed`` with the keys at positions ``in_stock`` (indexes into ``parsed.keys``) marked as
    already in stock, the problems in line order."""
    if not in_stock:
        return parsed
    found = [BadLine(parsed.keys[i].line, LineProblem.ALREADY_IN_STOCK) for i in sorted(in_stock)]
    problems = sorted([*parsed.problems, *found], key=lambda bad: bad.line)
    return ParsedList(parsed.keys, problems, parsed.lines)


class ImportStatus(StrEnum):
    PREVIEWED = "previewed"  # read and checked, shown to the operator; nothing in stock yet
    COMMITTED = "committed"  # every key in stock, in one transaction
    REFUSED = "refused"  # checked again at commit and found at fault (stock changed meanwhile)


IMPORT = StateMachine[ImportStatus](
    "card_key_import",
    {
        (ImportStatus.PREVIEWED, "commit"): ImportStatus.COMMITTED,
        (ImportStatus.PREVIEWED, "refuse"): ImportStatus.REFUSED,
    },
)
