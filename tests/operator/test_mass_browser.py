"""The outages page and the mass-refund pages in a real Chromium, on the live server. The mass
refund is of a merchant of the test's own (one product, paid orders written for it), so the demo's
merchant and its orders, which other browser tests use, are left alone."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.catalog.models import Merchant, PolicyVersion, ProductRow
from kameng.container import Container
from kameng.demo import DEMO_PASSWORD
from kameng.domain.model import Channel
from kameng.domain.states import OrderStatus
from kameng.orders.models import OrderRow

pytestmark = pytest.mark.browser
_numbers = itertools.count(1)


def sign_in(page: Page, identifier: str) -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#signed-in")).to_be_visible()


def merchant_with_orders(container: Container, orders: int) -> int:
    """A merchant of its own with a copy of the annual card and ``orders`` paid orders of it."""
    now = datetime.now(UTC)
    uow = container.uow()
    with uow:
        session = uow.session
        card = session.scalar(select(ProductRow).where(ProductRow.slug == "annual-card"))
        policy = session.scalar(select(PolicyVersion).where(PolicyVersion.product_id == card.id))  # type: ignore[union-attr]
        buyer = session.scalar(select(User).where(User.role == "consumer").limit(1))
        assert card is not None
        assert policy is not None
        assert buyer is not None
        merchant = Merchant(name_zh="跑路测试商家", name_en="Gone merchant (test)", created_at=now)
        session.add(merchant)
        session.flush()
        number = next(_numbers)
        product = ProductRow(
            slug=f"gone-card-{merchant.id}",
            merchant_id=merchant.id,
            kind=card.kind,
            name_zh="跑路年卡",
            name_en="Gone annual card",
            price_fen=card.price_fen,
            term_months=12,
            benefits={},
            active=False,
            created_at=now,
        )
        session.add(product)
        session.flush()
        copied = PolicyVersion(
            product_id=product.id,
            version=1,
            cooling_off_days=policy.cooling_off_days,
            cooling_off=policy.cooling_off,
            proration=policy.proration,
            fee_percent=policy.fee_percent,
            fee_min_fen=policy.fee_min_fen,
            fee_max_fen=policy.fee_max_fen,
            review_business_days=policy.review_business_days,
            trial_counts_as_activation=policy.trial_counts_as_activation,
            created_at=now,
        )
        session.add(copied)
        session.flush()
        for index in range(orders):
            paid = now - timedelta(days=60)
            session.add(
                OrderRow(
                    order_no=f"G{merchant.id:05d}{number:02d}{index:06d}",
                    user_id=buyer.id,
                    product_id=product.id,
                    policy_version_id=copied.id,
                    status=OrderStatus.PAID,
                    channel=Channel.BALANCE,
                    list_price_fen=product.price_fen,
                    amount_fen=product.price_fen,
                    paid_at=paid,
                    expires_at=paid,
                    created_at=paid,
                    updated_at=paid,
                )
            )
        uow.commit()
        return merchant.id


def test_an_operator_confirms_a_mass_refund_and_watches_it_finish(
    page: Page, live_container: Container, tick: Callable[..., dict[str, int]]
) -> None:
    merchant = merchant_with_orders(live_container, 3)
    sign_in(page, "operator@kameng.test")
    page.goto("/operator/mass-refunds")
    page.select_option("#merchant", str(merchant))
    page.click("#preview-submit")
    expect(page.locator("#confirm-orders")).to_have_text("3")
    expect(page.locator("#confirm-auto")).to_have_text("3")
    page.click("#start-submit")
    # Running, unless the live server's own worker loop (every 5 s) has already taken the run by
    # the time the page shows it: on a slow machine it had, and the page showed it done.
    expect(page.locator("#run-status")).to_have_attribute("data-status", re.compile(r"^(running|done)$"))
    tick()  # the worker takes the run; the page refreshes itself every two seconds
    expect(page.locator("#run-status")).to_have_attribute("data-status", "done", timeout=15_000)
    expect(page.locator("#run-paid")).to_have_text("3")
    expect(page.locator("#run-count")).to_contain_text("3 / 3")
    expect(page.locator("#no-leftovers")).to_be_visible()


def test_an_operator_records_an_outage_once(page: Page) -> None:
    sign_in(page, "operator@kameng.test")
    page.goto("/operator/outages?lang=en")
    page.select_option("#scope", "platform")
    page.fill("#starts_at", "2020-02-03T08:00")
    page.fill("#ends_at", "2020-02-03T09:30")
    page.fill("#outage-note", "browser test")
    page.click("#outage-submit")
    expect(page.locator("#outage-done")).to_contain_text("recorded")
    page.fill("#starts_at", "2020-02-03T08:00")  # the same outage again: nothing added
    page.fill("#ends_at", "2020-02-03T09:30")
    page.click("#outage-submit")
    expect(page.locator("#outage-done")).to_contain_text("recorded before")
    page.goto("/operator/outages")
    expect(page.locator("tr.outage", has_text="browser test")).to_have_count(1)
    page.fill("#starts_at", "2020-02-03T10:00")
    page.fill("#ends_at", "2020-02-03T09:00")
    page.click("#outage-submit")
    expect(page.locator("#error-form")).to_be_visible()


def test_the_console_is_not_an_agents(page: Page) -> None:
    sign_in(page, "agent@kameng.test")
    answer = page.goto("/operator/mass-refunds")
    assert answer is not None
    assert answer.status == 404
