"""Products created and edited by an operator: each field checked with its own message, the
domain's kind and term rules, on/off sale, and a new price that never reaches an order already
paid. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.catalog import admin
from kameng.catalog.models import Merchant, PolicyVersion, ProductRow
from kameng.catalog.services import get_catalog_item, list_catalog
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import InvalidInput, NotFound
from tests.support.shop import buy, order

pytestmark = pytest.mark.usefixtures("catalog")


@pytest.fixture
def operator(make_user: Callable[..., User]) -> Viewer:
    user = make_user("ops@kameng.test", role=Role.OPERATOR)
    return Viewer(user.id, user.role)


@pytest.fixture
def merchant_id(uow: UnitOfWork) -> int:
    with uow:
        found = uow.session.scalar(select(Merchant.id))
    assert found is not None
    return found


def _form(merchant: int, **changes: object) -> admin.ProductForm:
    base = admin.ProductForm(
        slug="music-monthly",
        merchant_id=str(merchant),
        kind="membership",
        name_zh="音乐月卡",
        name_en="Music, monthly",
        price="15.00",
        term_unit="months",
        term_value="1",
        benefits="songs=300",
        low_stock_threshold="0",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_new_product_is_on_sale_with_a_first_refund_policy(
    uow: UnitOfWork, operator: Viewer, merchant_id: int, now: datetime
) -> None:
    row = admin.create_product(uow, operator, _form(merchant_id), now)
    assert (row.price_fen, row.term_months, row.term_days, row.benefits) == (1500, 1, None, {"songs": 300})
    item = get_catalog_item(uow, "music-monthly")
    assert item.policy_row.version == 1
    assert item.terms  # its refund terms are written out like every other product's


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"slug": "Bad Slug!"}, "slug", "bad_identifier"),
        ({"slug": "annual-card"}, "slug", "identifier_taken"),
        ({"kind": "hardware"}, "kind", "required"),
        ({"merchant_id": "999"}, "merchant_id", "not_found"),
        ({"merchant_id": "x"}, "merchant_id", "bad_number"),
        ({"name_zh": "  "}, "name_zh", "required"),
        ({"price": "0"}, "price", "bad_amount"),
        ({"price": "12.345"}, "price", None),
        ({"price": "1e3"}, "price", None),
        ({"term_unit": ""}, "term_unit", "required"),
        ({"term_unit": "days", "term_value": "0"}, "term_value", "out_of_range"),
        ({"term_unit": "days", "term_value": "99999"}, "term_value", "out_of_range"),
        ({"benefits": "songs=lots"}, "benefits", "bad_number"),
        ({"benefits": "Songs=3"}, "benefits", "unknown_benefit"),
        ({"uses_card_keys": True}, "uses_card_keys", "invalid_request"),
        ({"renewable": True, "term_unit": "permanent"}, "renewable", "not_renewable"),
        ({"low_stock_threshold": "-1"}, "low_stock_threshold", "bad_number"),
        ({"description_en": "x" * 2001}, "description_en", "too_long"),
    ],
)
def test_each_field_is_checked_and_its_refusal_names_it(
    uow: UnitOfWork,
    operator: Viewer,
    merchant_id: int,
    now: datetime,
    changes: dict[str, object],
    field: str,
    code: str | None,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        admin.create_product(uow, operator, _form(merchant_id, **changes), now)
    assert refused.value.field == field
    if code is not None:
        assert refused.value.code == code
    assert refused.value.message_zh
    assert refused.value.message_en
    with uow:
        assert uow.session.scalar(select(ProductRow).where(ProductRow.slug == "music-monthly")) is None


def test_a_new_price_reaches_the_next_order_never_one_already_paid(
    uow: UnitOfWork,
    operator: Viewer,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    now: datetime,
) -> None:
    buyer = make_user()
    paid = buy(uow, channel, buyer.id, "monthly-pass", now)
    before = order(uow, paid.order_no)
    with uow:
        row = uow.session.scalar(select(ProductRow).where(ProductRow.slug == "monthly-pass"))
        assert row is not None
        policies = uow.session.scalar(select(PolicyVersion.id).where(PolicyVersion.product_id == row.id))
    form = replace(admin.form_of(row), price="99.00")
    admin.update_product(uow, operator, row.id, form)
    after = order(uow, paid.order_no)
    assert (after.list_price_fen, after.amount_fen, after.policy_version_id) == (
        before.list_price_fen,
        before.amount_fen,
        before.policy_version_id,
    )
    assert after.policy_version_id == policies
    later = buy(uow, channel, make_user().id, "monthly-pass", now, duplicate_ack=True)
    assert order(uow, later.order_no).list_price_fen == 9900


def test_the_kind_is_fixed_once_the_product_exists(uow: UnitOfWork, operator: Viewer) -> None:
    with uow:
        row = uow.session.scalar(select(ProductRow).where(ProductRow.slug == "annual-card"))
    assert row is not None
    with pytest.raises(InvalidInput) as refused:
        admin.update_product(uow, operator, row.id, replace(admin.form_of(row), kind="recharge"))
    assert refused.value.field == "kind"


def test_off_sale_leaves_the_shop_window_and_on_sale_brings_it_back(uow: UnitOfWork, operator: Viewer) -> None:
    with uow:
        product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == "lifetime"))
    assert product_id is not None
    admin.set_on_sale(uow, operator, product_id, False)
    admin.set_on_sale(uow, operator, product_id, False)  # again: nothing more changes
    assert "lifetime" not in {item.row.slug for item in list_catalog(uow)}
    admin.set_on_sale(uow, operator, product_id, True)
    assert "lifetime" in {item.row.slug for item in list_catalog(uow)}


def test_a_merchant_is_created_and_offered_and_only_operators_edit(
    uow: UnitOfWork, operator: Viewer, make_user: Callable[..., User], merchant_id: int, now: datetime
) -> None:
    made = admin.create_merchant(uow, operator, " 云端影音 ", "Cloud Video", now)
    assert made.name_zh == "云端影音"
    assert [m.id for m in admin.list_merchants(uow)] == [merchant_id, made.id]
    with pytest.raises(InvalidInput) as empty:
        admin.create_merchant(uow, operator, "", "x", now)
    assert empty.value.field == "merchant_name_zh"
    agent = make_user("agent@kameng.test", role=Role.SUPERVISOR)
    with pytest.raises(NotFound):
        admin.create_product(uow, Viewer(agent.id, agent.role), _form(merchant_id), now)
    with pytest.raises(NotFound):
        admin.admin_products(uow, Viewer(agent.id, agent.role))
