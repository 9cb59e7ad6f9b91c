"""Card-key imports: a list is checked line by line, previewed, and imported whole or not at all;
the same import committed twice adds its keys once; the imported keys are sold and revealed like
any other. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from kameng.accounts.models import User
from kameng.catalog.card_keys import (
    MAX_IMPORT_BYTES,
    ImportRefused,
    commit_import,
    import_card_keys,
    preview_import,
    problem_text,
    read_upload,
)
from kameng.catalog.models import CardKeyImportRow, ProductRow
from kameng.catalog.stock import low_stock_alerts, stock_by_product
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.demo import card_key_code
from kameng.domain.card_keys import LineProblem
from kameng.domain.users import Role
from kameng.orders.models import CardKeyRow
from kameng.orders.usage import reveal_card_key
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, InvalidInput, NotFound
from tests.support.shop import buy

pytestmark = pytest.mark.usefixtures("catalog")
GAME = "game-points-50"


@pytest.fixture
def operator(make_user: Callable[..., User]) -> Viewer:
    user = make_user("ops@kameng.test", role=Role.OPERATOR)
    return Viewer(user.id, user.role)


def _product_id(uow: UnitOfWork, slug: str = GAME) -> int:
    with uow:
        product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == slug))
    assert product_id is not None
    return product_id


def _key_count(uow: UnitOfWork) -> int:
    with uow:
        return uow.session.scalar(select(func.count(CardKeyRow.id))) or 0


def _imports(uow: UnitOfWork) -> list[CardKeyImportRow]:
    with uow:
        return list(uow.session.scalars(select(CardKeyImportRow)))


def test_a_list_with_a_duplicate_line_is_refused_whole_naming_both_lines(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    before = _key_count(uow)
    text = "NEW-KEY-0001\nNEW-KEY-0002\nNEW-KEY-0003\nNEW-KEY-0002\n"
    preview = preview_import(uow, operator, _product_id(uow), text, "paste", now)
    assert not preview.ok
    assert [(bad.line, bad.problem, bad.first_line) for bad in preview.problems] == [
        (4, LineProblem.DUPLICATE_IN_LIST, 2)
    ]
    assert problem_text(preview.problems[0], "zh") == "第 4 行:与第 2 行重复"
    assert problem_text(preview.problems[0], "en") == "Line 4: the same key as line 2"
    assert _key_count(uow) == before  # nothing imported, not even the three good lines
    assert _imports(uow) == []  # and nothing waits to be committed


def test_a_key_already_in_stock_refuses_the_list_whole(uow: UnitOfWork, operator: Viewer, now: datetime) -> None:
    before = _key_count(uow)
    # Line 3 is a demo key already in stock, with blanks around it: the same key once normalised
    # (line 1 is a header, skipped).
    taken = card_key_code(GAME, 7)
    text = "code\nFRESH-0001\n  " + taken + "  \nFRESH-0002"
    with pytest.raises(ImportRefused) as refused:
        import_card_keys(uow, operator, _product_id(uow), text, "api-key-1", now)
    assert [(bad.line, bad.problem) for bad in refused.value.problems] == [(3, LineProblem.ALREADY_IN_STOCK)]
    assert refused.value.field == "codes"
    assert "3" in refused.value.message_zh
    assert _key_count(uow) == before


def test_malformed_lines_are_listed_with_their_numbers(uow: UnitOfWork, operator: Viewer, now: datetime) -> None:
    text = "GOOD-0001\nab\nBAD KEY 0002\n\n" + "X" * 121 + "\nGOOD-0002\n"
    preview = preview_import(uow, operator, _product_id(uow), text, "paste", now)
    assert [(bad.line, bad.problem) for bad in preview.problems] == [
        (2, LineProblem.TOO_SHORT),
        (3, LineProblem.BAD_CHARACTERS),
        (5, LineProblem.TOO_LONG),
    ]
    assert preview.keys == 2


def test_a_previewed_import_is_committed_once_however_often_it_is_sent(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    product_id = _product_id(uow)
    available = stock_by_product(uow)[product_id].available
    preview = preview_import(uow, operator, product_id, "IMPORT-0001\nIMPORT-0002\nIMPORT-0003", "paste", now)
    assert preview.token is not None
    assert preview.keys == 3
    assert stock_by_product(uow)[product_id].available == available  # a preview adds nothing
    first = commit_import(uow, operator, preview.token, now + timedelta(minutes=1))
    again = commit_import(uow, operator, preview.token, now + timedelta(minutes=2))
    assert (first.keys, first.replayed) == (3, False)
    assert (again.import_id, again.keys, again.replayed) == (first.import_id, 3, True)
    assert stock_by_product(uow)[product_id].available == available + 3
    (row,) = _imports(uow)
    assert row.pending == ""  # the waiting list is not kept once the keys are in stock


def test_a_key_imported_elsewhere_after_the_preview_refuses_the_commit(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    product_id = _product_id(uow)
    before = _key_count(uow)
    slow = preview_import(uow, operator, product_id, "RACE-0001\nRACE-0002", "paste", now)
    fast = preview_import(uow, operator, product_id, "RACE-0002", "paste", now)
    assert slow.token is not None
    assert fast.token is not None
    commit_import(uow, operator, fast.token, now)
    with pytest.raises(ImportRefused) as refused:
        commit_import(uow, operator, slow.token, now)
    assert [(bad.line, bad.problem) for bad in refused.value.problems] == [(2, LineProblem.ALREADY_IN_STOCK)]
    assert _key_count(uow) == before + 1
    with pytest.raises(Conflict):  # refused for good: preview again
        commit_import(uow, operator, slow.token, now)


def test_the_api_import_replays_its_idempotency_key_and_refuses_it_for_another_list(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    product_id = _product_id(uow)
    first = import_card_keys(uow, operator, product_id, "API-0001\nAPI-0002", "k-1", now)
    again = import_card_keys(uow, operator, product_id, "API-0001\nAPI-0002", "k-1", now)
    assert (again.import_id, again.replayed) == (first.import_id, True)
    with pytest.raises(Conflict) as reused:
        import_card_keys(uow, operator, product_id, "API-0003", "k-1", now)
    assert reused.value.code == "idempotency_key_reused"
    assert stock_by_product(uow)[product_id].total == 30 + 2


def test_a_csv_file_with_a_header_and_a_bom_is_read_from_its_first_column(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    data = '\ufeff卡密,备注\nCSV-0001,first\n"CSV-0002",second\n'.encode()
    preview = preview_import(uow, operator, _product_id(uow), read_upload(data), "csv", now)
    assert (preview.ok, preview.keys, preview.lines) == (True, 2, 3)
    chinese = "卡密\nGBK-0001\n".encode("gb18030")
    assert read_upload(chinese).splitlines() == ["卡密", "GBK-0001"]


def test_bad_input_at_the_boundary_is_refused_naming_the_field(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    product_id = _product_id(uow)
    with pytest.raises(InvalidInput) as empty:
        preview_import(uow, operator, product_id, "\n \n", "paste", now)
    assert (empty.value.code, empty.value.field) == ("empty_file", "codes")
    with pytest.raises(InvalidInput) as large:
        read_upload(b"A" * (MAX_IMPORT_BYTES + 1))
    assert (large.value.code, large.value.field) == ("file_too_large", "file")
    with pytest.raises(InvalidInput) as binary:
        read_upload(b"\xff\xfe\x00\x00\xff")
    assert binary.value.field == "file"
    with pytest.raises(InvalidInput) as nul:
        preview_import(uow, operator, product_id, "KEY-\x00-1", "paste", now)
    assert nul.value.field == "codes"
    with pytest.raises(InvalidInput) as no_keys:
        preview_import(uow, operator, _product_id(uow, "annual-card"), "KEY-0001", "paste", now)
    assert no_keys.value.field == "product_id"


def test_only_an_operator_imports(uow: UnitOfWork, make_user: Callable[..., User], now: datetime) -> None:
    for role in (Role.CONSUMER, Role.AGENT, Role.SUPERVISOR):
        someone = make_user(f"{role.value}@kameng.test", role=role)
        with pytest.raises(NotFound):
            preview_import(uow, Viewer(someone.id, role), _product_id(uow), "KEY-0001", "paste", now)


def test_an_imported_key_is_sold_and_revealed_to_its_buyer(
    uow: UnitOfWork, operator: Viewer, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> None:
    product_id = _product_id(uow)
    with uow:  # sell the demo keys first, so the next sale takes the imported one
        for row in uow.session.scalars(select(CardKeyRow).where(CardKeyRow.product_id == product_id)):
            row.status = row.status.REVOKED
        uow.commit()
    import_card_keys(uow, operator, product_id, "ＳＯＬＤ-0001", "k-sold", now)  # full-width, as pasted
    buyer = make_user()
    placed = buy(uow, channel, buyer.id, GAME, now, nonrefundable_ack=True)
    assert reveal_card_key(uow, Viewer(buyer.id, buyer.role), placed.order_no, now) == "SOLD-0001"


def test_low_stock_alerts_name_the_products_below_their_threshold(
    uow: UnitOfWork, operator: Viewer, now: datetime
) -> None:
    product_id = _product_id(uow)
    assert low_stock_alerts(uow) == []  # 30 demo keys, threshold 5
    with uow:
        product = uow.session.get(ProductRow, product_id)
        assert product is not None
        product.low_stock_threshold = 31
        uow.commit()
    (alert,) = low_stock_alerts(uow)
    assert (alert.product_id, alert.slug, alert.available, alert.threshold) == (product_id, GAME, 30, 31)
    assert alert.url == f"/operator/catalog/products/{product_id}"
    import_card_keys(uow, operator, product_id, "LOW-0001", "k-low", now)
    assert low_stock_alerts(uow) == []
