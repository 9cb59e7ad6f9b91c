"""JSON columns' text (platform/db/json_text.py): the same value json.dumps gave, read back equal;
refused where json.dumps refused; and spelt one way whichever path writes the row, on both
backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from kameng.accounts.models import User
from kameng.messages.services import tell
from kameng.platform.db.bulk import rows_as_values
from kameng.platform.db.json_text import json_text
from kameng.platform.db.step_end import write_step_end
from kameng.platform.db.uow import UnitOfWork

# Any character, lone surrogates included (a JSON body may carry "\ud800"; orjson refuses it and
# json.dumps escapes it).
_ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=20)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | _ANY_TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_ANY_TEXT | st.integers(), inner, max_size=4),
    max_leaves=20,
)


@given(_VALUES)
def test_the_text_reads_back_as_the_value_json_dumps_wrote(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


@dataclass
class _Facts:
    fen: int


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 7, tzinfo=UTC),
        date(2026, 12, 7),
        Decimal("1.10"),
        {1, 2},
        _Facts(100),
        {"at": date(2026, 12, 8)},
    ],
)
def test_what_json_dumps_refused_is_refused_with_its_words(value: object) -> None:
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    with pytest.raises(TypeError) as refused:
        json_text(value)
    assert str(refused.value) == str(expected.value)


def test_the_text_is_short_and_keeps_chinese_as_it_is() -> None:
    assert json_text({"zh": "退款已批准", "fen": 2900}) == '{"zh":"退款已批准","fen":2900}'


def _stored_text(uow: UnitOfWork, key: str) -> str:
    with uow:
        found = uow.session.execute(text("SELECT CAST(texts AS TEXT) FROM messages WHERE key = :key"), {"key": key})
        return str(found.scalar_one())


def test_a_row_written_by_the_step_and_by_the_orm_holds_the_same_text(
    uow: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    user = make_user()
    params = {"ticket_no": "AS1"}
    with uow:
        tell(uow, user.id, "objects:told", "notice", "notice.submitted", params, now, None)
        uow.commit()  # through the ORM's flush
    with uow:
        with rows_as_values(uow.session, {"messages"}):
            tell(uow, user.id, "values:told", "notice", "notice.submitted", params, now, None)
            write_step_end(uow.session, {"messages"}, {"messages"})  # one statement on PostgreSQL
        uow.commit()
    written = _stored_text(uow, "values:told")
    assert written == _stored_text(uow, "objects:told")
    assert json.loads(written)["zh"]
    assert "\\u" not in written  # Chinese kept as itself
