"""The policy editor: a draft is checked option by option against its product and the statutory
floor, previewed in the product page's own words, and published as the next version, which never
changes an order already paid. Services, the REST API and the pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.catalog.services import get_catalog_item
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.demo import DEMO_PASSWORD
from kameng.domain.model import CoolingOff, Reason
from kameng.operator.policies import DraftInvalid, draft_of, load_document, preview, publish
from kameng.orders.history import order_events, quote_for
from kameng.orders.models import OrderRow
from kameng.platform.db.uow import UnitOfWork
from tests.support.pages import csrf_of
from tests.support.shop import buy
from tests.support.tickets import CALENDAR

API = "/api/v1"


def _problems(uow: UnitOfWork, values: dict[str, object]) -> dict[str, str]:
    with pytest.raises(DraftInvalid) as refused:
        draft_of(uow, values)
    return {problem.field: problem.message("en") for problem in refused.value.problems}


# --------------------------------------------------------------------------------------------
# Checking a draft


@pytest.mark.usefixtures("catalog")
def test_a_draft_with_several_mistakes_gets_one_message_per_option(uow: UnitOfWork) -> None:
    problems = _problems(
        uow,
        {
            "product": "monthly-pass",  # a 30-day term
            "cooling_off_days": -1,
            "cooling_off": "sometimes",
            "proration": "by_month",
            "fee_percent": "101",
            "fee_min": "9.999",
            "review_business_days": "0",
            "trial_counts_as_activation": "perhaps",
        },
    )
    assert set(problems) == {
        "cooling_off_days",
        "cooling_off",
        "proration",
        "fee_percent",
        "fee_min",
        "review_business_days",
        "trial_counts_as_activation",
    }
    assert problems["proration"].startswith("This product's term is in days")
    assert "full_if_unused, minus_used_days, none" in problems["cooling_off"]
    assert problems["review_business_days"] == "review_business_days must be from 1 to 365, got 0."


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize(
    ("values", "field", "starts"),
    [
        ({"fee_min": "30.00", "fee_max": "20.00"}, "fee_min", "The minimum fee (fee_min) must not be greater"),
        ({"fee_percent": "2.1234567"}, "fee_percent", "fee_percent may have at most 6 decimals"),
        ({"fee_percent": "NaN"}, "fee_percent", "fee_percent must be a percentage"),
        ({"fee_max": "1e3"}, "fee_max", "fee_max must be an amount in yuan"),
        ({"cooling_off_days": "١٢"}, "cooling_off_days", "cooling_off_days must be a whole number"),
        ({"cooling_off_days": True}, "cooling_off_days", "cooling_off_days must be a whole number"),
        ({"proration": "by_benefit"}, "proration", "This product has no countable benefits"),
        ({"S3": "off"}, "S3", "S3 belongs to the statutory rules"),
        ({"statutory": {"S1": False}}, "statutory", "statutory belongs to the statutory rules"),
        ({"reason_never_costs": False}, "reason_never_costs", "reason_never_costs belongs to the statutory"),
        ({"refund_everything": True}, "refund_everything", "There is no policy option called refund_everything"),
    ],
)
def test_each_bad_option_is_refused_by_name(
    uow: UnitOfWork, values: dict[str, object], field: str, starts: str
) -> None:
    problems = _problems(uow, {"product": "annual-card", **values})
    assert list(problems) == [field]
    assert problems[field].startswith(starts), problems[field]


@pytest.mark.usefixtures("catalog")
def test_an_option_left_out_keeps_the_current_value_and_an_empty_fee_max_means_no_clamp(uow: UnitOfWork) -> None:
    draft = draft_of(uow, {"product": "annual-card", "fee_percent": "10"})
    assert draft.policy.fee_percent == Decimal(10)
    assert draft.policy.fee_max == draft.current.fee_max == 2000  # the demo's 20.00 clamp, kept
    assert draft_of(uow, {"product": "annual-card", "fee_max": ""}).policy.fee_max is None
    assert draft_of(uow, {"product": "annual-card", "fee_max": None}).policy.fee_max is None


@pytest.mark.usefixtures("catalog")
def test_an_unknown_product_or_an_unreadable_document_is_named(uow: UnitOfWork) -> None:
    assert list(_problems(uow, {"product": "no-such-thing"})) == ["product"]
    assert list(_problems(uow, {"fee_percent": "5"})) == ["product"]
    for text in ("product: [unclosed", "- a list", "\x00"):
        with pytest.raises(DraftInvalid) as refused:
            load_document(text)
        assert refused.value.problems[0].field == "draft"
    document = load_document("product: annual-card\nfee_percent: 12.5\nfee_max: null\n")
    assert draft_of(uow, document).policy.fee_percent == Decimal("12.5")


@pytest.mark.usefixtures("catalog")
def test_the_preview_is_word_for_word_what_the_product_page_shows_once_published(
    uow: UnitOfWork, now: datetime
) -> None:
    values = {"product": "annual-card", "fee_percent": "15", "fee_max": "", "cooling_off": "minus_used_days"}
    terms = preview(draft_of(uow, values))
    assert "A handling fee of 15% of what is left." in [en for _, en in terms]
    publish(uow, values, None, now, None)
    assert get_catalog_item(uow, "annual-card").terms == terms


# --------------------------------------------------------------------------------------------
# Publishing


@pytest.mark.usefixtures("catalog")
def test_publishing_adds_the_next_version_and_orders_already_paid_keep_theirs(
    uow: UnitOfWork, channel: SimulatorChannel, make_user: Callable[..., object], now: datetime
) -> None:
    user = make_user()
    placed = buy(uow, channel, user.id, "annual-card", now)  # type: ignore[attr-defined]
    with uow:
        order = uow.session.scalar(select(OrderRow).where(OrderRow.order_no == placed.order_no))
        assert order is not None
        before = (order.policy_version_id, order.policy.version)
        quote_before = quote_for(order, order_events(uow, order.id, order.user_id), now, Reason.CHANGED_MIND, CALENDAR)
    done = publish(uow, {"product": "annual-card", "cooling_off_days": "0", "fee_percent": "30"}, 1, now, None)
    assert (done.version, done.created) == (2, True)
    with uow:
        order = uow.session.scalar(select(OrderRow).where(OrderRow.order_no == placed.order_no))
        assert order is not None
        assert (order.policy_version_id, order.policy.version) == before == (before[0], 1)
        quote_after = quote_for(order, order_events(uow, order.id, order.user_id), now, Reason.CHANGED_MIND, CALENDAR)
        versions = uow.session.scalars(
            select(PolicyVersion.version).join(ProductRow).where(ProductRow.slug == "annual-card")
        ).all()
    assert quote_after == quote_before
    assert sorted(versions) == [1, 2]
    # A retry of the same publish adds nothing; a draft edited from version 1 is now stale.
    again = publish(uow, {"product": "annual-card", "cooling_off_days": "0", "fee_percent": "30"}, 1, now, None)
    assert (again.version, again.created) == (2, False)
    with pytest.raises(DraftInvalid) as stale:
        publish(uow, {"product": "annual-card", "cooling_off": CoolingOff.NONE.value}, 1, now, None)
    assert stale.value.problems[0].field == "based_on"
    # A new order is paid under the new version.
    later = buy(uow, channel, user.id, "annual-card", now + timedelta(days=2), duplicate_ack=True)  # type: ignore[attr-defined]
    with uow:
        row = uow.session.scalar(select(OrderRow).where(OrderRow.order_no == later.order_no))
        assert row is not None
        assert row.policy.version == 2


# --------------------------------------------------------------------------------------------
# The API


def _token(client: TestClient, identifier: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"identifier": identifier, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_the_api_checks_simulates_and_publishes_for_operators_only(client: TestClient) -> None:
    operator = _token(client, "operator@kameng.test")
    for who in (_token(client, "agent@kameng.test"), _token(client, "13800000001")):
        assert client.get(f"{API}/operator/policies", headers=who).status_code == 404
        assert client.post(f"{API}/operator/policies/annual-card/check", json={}, headers=who).status_code == 404
    listing = client.get(f"{API}/operator/policies", headers=operator)
    assert listing.status_code == 200
    assert {row["product"] for row in listing.json()} >= {"annual-card", "top-up-100"}
    detail = client.get(f"{API}/operator/policies/annual-card", headers=operator).json()
    assert [rule["rule"] for rule in detail["statutory"]] == ["S1", "S2", "S3", "S4", "S5"]

    bad = client.post(
        f"{API}/operator/policies/annual-card/check",
        json={"fee_percent": "120", "fee_min": "-1", "S2": "off"},
        headers={**operator, "Accept-Language": "zh"},
    )
    assert bad.status_code == 422
    problems = {p["field"]: p for p in bad.json()["error"]["problems"]}
    assert set(problems) == {"fee_percent", "fee_min", "S2"}
    assert "法定规则" in problems["S2"]["message_zh"]

    good = client.post(f"{API}/operator/policies/annual-card/check", json={"fee_percent": "20"}, headers=operator)
    assert good.status_code == 200, good.text
    assert "A handling fee of 20% of what is left, at most 20.00." in good.json()["terms"]["en"]

    simulated = client.post(
        f"{API}/operator/policies/annual-card/simulate",
        json={"fee_percent": "20", "since": "2020-01-01"},
        headers=operator,
    )
    assert simulated.status_code == 200, simulated.text
    figures = simulated.json()
    assert figures["requests"] == figures["current"]["requests"] == figures["draft"]["requests"]
    assert (
        client.post(
            f"{API}/operator/policies/annual-card/simulate", json={"since": "yesterday"}, headers=operator
        ).status_code
        == 422
    )
    assert client.post(f"{API}/operator/policies/nothing/check", json={}, headers=operator).status_code == 404

    published = client.post(
        f"{API}/operator/policies/annual-card/publish", json={"fee_percent": "20", "based_on": 1}, headers=operator
    )
    assert published.status_code == 200, published.text
    assert published.json() == {"product": "annual-card", "version": 2, "created": True}
    page = client.get("/products/annual-card?lang=en")
    assert "A handling fee of 20% of what is left, at most 20.00." in page.text


# --------------------------------------------------------------------------------------------
# The pages


def _log_in(client: TestClient, identifier: str, password: str = DEMO_PASSWORD) -> None:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "identifier": identifier, "password": password, "next": "/orders"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_the_editor_pages_are_the_operators_and_show_each_problem_beside_its_option(client: TestClient) -> None:
    assert client.get("/operator/policies").status_code == 404  # signed out
    _log_in(client, "agent@kameng.test")
    assert client.get("/operator/policies").status_code == 404
    client.cookies.clear()
    _log_in(client, "operator@kameng.test")
    listing = client.get("/operator/policies")
    assert listing.status_code == 200
    assert 'href="/operator/policies/annual-card"' in listing.text
    editor = client.get("/operator/policies/annual-card")
    assert editor.status_code == 200
    assert 'id="statutory-rules"' in editor.text
    assert 'data-rule="S3"' in editor.text
    assert client.get("/operator/policies/no-such-thing").status_code == 404
    fields = {
        "csrf": csrf_of(editor.text),
        "based_on": "1",
        "cooling_off_days": "7",
        "cooling_off": "full_if_unused",
        "proration": "by_day",
        "fee_percent": "abc",
        "fee_min": "0.00",
        "fee_max": "",
        "review_business_days": "2",
        "trial_counts_as_activation": "true",
        "since": "2020-01-01",
    }
    refused = client.post("/operator/policies/annual-card", data={**fields, "action": "preview"})
    assert refused.status_code == 422
    assert 'id="error-fee_percent"' in refused.text
    assert 'value="abc"' in refused.text  # what was typed stays
    fields["fee_percent"] = "20"
    simulated = client.post("/operator/policies/annual-card", data={**fields, "action": "simulate"})
    assert simulated.status_code == 200, simulated.text
    assert 'id="sim-figures"' in simulated.text or 'id="no-requests"' in simulated.text
    assert 'id="draft-terms"' in simulated.text
    published = client.post(
        "/operator/policies/annual-card", data={**fields, "action": "publish"}, follow_redirects=False
    )
    assert published.status_code == 303
    assert published.headers["location"] == "/operator/policies/annual-card?published=2"
    bogus = client.post("/operator/policies/annual-card", data={**fields, "action": "explode"})
    assert bogus.status_code == 422
