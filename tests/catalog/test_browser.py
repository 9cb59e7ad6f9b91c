"""The home page in a real Chromium: the demo catalog and its refund terms, Chinese first."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

ANNUAL_CARD = 'section.product[data-slug="annual-card"]'
ANNUAL_CARD_ZH = "视频会员年卡"
ANNUAL_CARD_EN = "Video membership, annual card"
NOT_ACTIVATED_TERM_ZH = "未激活前:一键全额退款,无需审核。"
FEE_TERM_ZH = "按剩余金额收取 5% 手续费,最高 20.00 元。"
# One product of each kind the platform sells, as the demo catalog has them.
DEMO_SLUGS = {"annual-card": "会员", "game-points-50": "虚拟商品", "top-up-100": "余额充值"}


def fontconfig_families() -> str:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.fail("fc-list is missing: install fontconfig and fonts-noto-cjk (apt-get install)")
    return subprocess.run([fc_list, ":", "family"], capture_output=True, text=True, check=True).stdout


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def rendering_fonts(page: Page, selector: str) -> dict[str, int]:
    """The fonts Chromium actually drew the element's text with: family → glyph count.

    Asked of the renderer through the DevTools protocol, so a page whose Chinese falls back to
    empty boxes (no CJK font installed) cannot pass by merely having the right characters in
    its DOM.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no element matches {selector}"
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def test_home_page_lists_the_demo_catalog_in_chinese_by_default(page: Page) -> None:
    page.goto("/")

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("商品目录")
    for slug, kind in DEMO_SLUGS.items():
        product = page.locator(f'section.product[data-slug="{slug}"]')
        expect(product.locator(".meta").first).to_contain_text(kind)
        expect(product.locator("ul.terms li").first).to_be_visible()
    card = page.locator(ANNUAL_CARD)
    expect(card.get_by_role("heading", level=2)).to_have_text(ANNUAL_CARD_ZH)
    expect(card.locator(".price")).to_have_text("¥199.00")
    expect(card.get_by_text(NOT_ACTIVATED_TERM_ZH)).to_be_visible()
    expect(card.get_by_text(FEE_TERM_ZH)).to_be_visible()
    expect(page.locator("#switch-lang")).to_have_text("English")


def test_language_switch_goes_to_english_and_the_choice_sticks_on_reload(page: Page) -> None:
    page.goto("/")
    page.locator("#switch-lang").click()

    page.wait_for_url("**/?lang=en")
    card = page.locator(ANNUAL_CARD)
    expect(card.get_by_role("heading", level=2)).to_have_text(ANNUAL_CARD_EN)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert cookies.get("lang") == "en"

    page.goto("/")
    expect(card.get_by_role("heading", level=2)).to_have_text(ANNUAL_CARD_EN)
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    page.reload()
    expect(card.get_by_role("heading", level=2)).to_have_text(ANNUAL_CARD_EN)

    page.locator("#switch-lang").click()
    page.wait_for_url("**/?lang=zh")
    page.goto("/")
    expect(card.get_by_role("heading", level=2)).to_have_text(ANNUAL_CARD_ZH)


def test_chinese_text_is_drawn_with_a_cjk_font_in_the_full_page_screenshot(page: Page, artifacts_dir: Path) -> None:
    assert "Noto Sans CJK" in fontconfig_families(), (
        "fonts-noto-cjk is not installed (fc-list has no 'Noto Sans CJK'): Chinese pages would "
        "render as empty boxes; apt-get install fonts-noto-cjk"
    )
    page.goto("/")
    expect(page.locator(ANNUAL_CARD).get_by_text(NOT_ACTIVATED_TERM_ZH)).to_be_visible()
    page.evaluate("document.fonts.ready")

    for selector, text in [
        (f"{ANNUAL_CARD} h2", ANNUAL_CARD_ZH),
        (f"{ANNUAL_CARD} ul.terms li", NOT_ACTIVATED_TERM_ZH),
    ]:
        fonts = rendering_fonts(page, selector)
        cjk_glyphs = sum(count for family, count in fonts.items() if "Noto Sans CJK" in family)
        han = sum(1 for char in text if "\u4e00" <= char <= "\u9fff")
        assert cjk_glyphs >= han, f"{selector} ({text}) was drawn with {fonts}, not Noto Sans CJK"

    shot = artifacts_dir / "home-zh.png"
    page.screenshot(path=str(shot), full_page=True)
    width, height = png_size(shot)
    assert width == page.viewport_size["width"]
    assert height >= page.evaluate("document.documentElement.scrollHeight")
