"""Signing up in a real Chromium: the display name's limit, checked by the server and kept in the
page header, in both languages."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import Page, expect

from kameng.accounts.models import User
from kameng.accounts.services import sign_up
from kameng.container import Container

pytestmark = pytest.mark.browser

# Fresh phone numbers for this module: the live server's database lasts the whole session.
_PHONES = (f"1370000{n:04d}" for n in itertools.count(1))
TOO_LONG = "长" * 200
LONGEST = "名" * 30


def fill_signup(page: Page, display_name: str) -> None:
    page.fill("#identifier", next(_PHONES))
    page.fill("#password", "a-long-password")
    page.fill("#display_name", display_name)


@pytest.mark.parametrize(
    ("lang", "message"),
    [("zh", "昵称最多 30 个字符(现有 200 个)"), ("en", "Display name is limited to 30 characters (200 given)")],
)
def test_a_display_name_over_30_characters_is_refused_beside_the_field_and_kept(
    page: Page, lang: str, message: str
) -> None:
    page.goto(f"/signup?lang={lang}")
    expect(page.locator("#display_name")).to_have_attribute("maxlength", "30")
    # The browser would stop at 30 characters; a hostile client does not, and the server says no.
    page.locator("#display_name").evaluate("input => input.removeAttribute('maxlength')")
    fill_signup(page, TOO_LONG)
    page.click("#signup-submit")

    expect(page.locator("#error-display_name")).to_have_text(message)
    expect(page.locator("#display_name")).to_have_value(TOO_LONG)  # what was typed is not lost
    expect(page.locator("#signed-in")).to_have_count(0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_longest_display_name_stays_inside_the_page_header(page: Page, lang: str) -> None:
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(f"/signup?lang={lang}")
    fill_signup(page, LONGEST)
    page.click("#signup-submit")
    page.wait_for_url(re.compile(r"/$"))

    name = page.locator("#signed-in .display-name")
    expect(name).to_have_text(LONGEST)
    header = page.locator("header").bounding_box()
    box = name.bounding_box()
    assert header is not None
    assert box is not None
    # One line: the header is as tall as before, the name inside it, and the page no wider.
    assert header["height"] < 80
    assert box["x"] >= header["x"]
    assert box["x"] + box["width"] <= header["x"] + header["width"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_older_account_with_a_long_name_keeps_the_header_on_one_line(page: Page, live_container: Container) -> None:
    # Names were limited to 100 characters before the 30 of today; such accounts still sign in.
    phone = next(_PHONES)
    user = sign_up(live_container.uow(), phone, "a-long-password", live_container.now())
    with live_container.uow() as uow:
        row = uow.session.get(User, user.id)
        assert row is not None
        row.display_name = "很" * 100
        uow.commit()
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/login")
    page.fill("#identifier", phone)
    page.fill("#password", "a-long-password")
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/orders$"))

    header = page.locator("header").bounding_box()
    assert header is not None
    assert header["height"] < 80
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
