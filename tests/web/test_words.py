"""Every page speaks one language and shows no internal code as a word (issue: codes leak).

A crawler signs in as each kind of person (a visitor, a consumer with orders and tickets in every
state, an agent, a supervisor), follows every same-site link it finds, and reads each page's
visible text in Chinese and in English. It fails on:

- an internal code shown as a word: any enum value of the domain written with an underscore
  (``full_if_unused``, ``changed_mind``) on any page, and on Chinese pages also the one-word ones
  (``closed``, ``paid``, ``wechat``, ``video``);
- a mixed language: Latin words on a Chinese page beyond the names that are the same in both
  languages, or Chinese characters on an English page.

What a person typed (names, descriptions, comments) is theirs and is left as typed; templates mark
it ``data-typed`` and the crawler skips it, as it skips a part marked with another ``lang`` (the
language switch names each language in its own words).
"""

from __future__ import annotations

import re
from collections import deque
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from kameng.demo import DEMO_PASSWORD
from kameng.domain import aftersales, model, states, tickets, users

pytestmark = pytest.mark.browser

MOST_PAGES = 80
SKIP = re.compile(r"^/(logout|api/|static/|docs|redoc|openapi)|\.(pdf|json|png|jpg|txt)$|/evidence|/files/")
CODES = {
    member.value
    for module in (model, states, tickets, users, aftersales)
    for enum in vars(module).values()
    if isinstance(enum, type) and issubclass(enum, StrEnum)
    for member in enum
}
UNDERSCORED = {code for code in CODES if "_" in code}
# Latin words that are the same on a Chinese page: the site's name, units and standard acronyms.
SAME_IN_BOTH = {"kameng", "vip", "pdf", "api", "cny", "sms", "json", "id", "utc", "app", "sha", "ok"}
LATIN_WORD = re.compile(r"(?<![\w@./:-])[A-Za-z][A-Za-z]{2,}(?![\w@./-])")
CJK = re.compile(r"[\u3400-\u9fff]")

PEOPLE = {
    "visitor": None,
    "consumer": "13800000001",  # orders in every state
    "consumer with a ticket in review": "13800000002",
    "agent": "agent@kameng.test",
    "supervisor": "supervisor@kameng.test",
}

VISIBLE_TEXT = """(pageLang) => {
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { out.push(node.textContent); return; }
    if (node.nodeType !== Node.ELEMENT_NODE || skip.has(node.tagName)) return;
    if (node.hasAttribute("data-typed")) return;  // what a person typed, left as typed
    // A part marked as another language on purpose (the language switch says 中文 / English).
    if (node.hasAttribute("lang") && node !== document.documentElement && !node.lang.startsWith(pageLang)) return;
    if (node.tagName === "INPUT" || node.tagName === "TEXTAREA") return;
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return out.join(" ");
}"""


def _log_in(page: Page, identifier: str) -> None:
    page.goto("/login")
    page.fill("#identifier", identifier)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#signed-in")


def _problems(text: str, lang: str) -> list[str]:
    found = [f"code {code!r}" for code in sorted(UNDERSCORED) if re.search(rf"\b{re.escape(code)}\b", text)]
    if lang == "zh":
        found += [f"code {word!r}" for word in sorted(set(LATIN_WORD.findall(text))) if word in CODES]
        found += [
            f"English word {word!r}"
            for word in sorted(set(LATIN_WORD.findall(text)))
            if word.lower() not in SAME_IN_BOTH and word not in CODES
        ]
    else:
        found += [f"Chinese {chars!r}" for chars in sorted(set(re.findall(r"[\u3400-\u9fff]+", text)))]
    return found


def _crawl(page: Page, site: str, lang: str) -> dict[str, list[str]]:
    origin = urlsplit(site)
    seen: set[str] = set()
    queue: deque[str] = deque(["/"])
    report: dict[str, list[str]] = {}
    while queue and len(seen) < MOST_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(path)
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        problems = _problems(page.evaluate(VISIBLE_TEXT, lang), lang)
        if problems:
            report[path] = problems
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            target = urlsplit(urljoin(page.url, href))
            if target.netloc != origin.netloc or SKIP.search(target.path):
                continue
            # Query strings other than the language are separate pages (filters, cursors): keep one.
            link = target.path + (f"?{target.query}" if target.query and "lang=" not in target.query else "")
            if link not in seen:
                queue.append(link)
    report["(pages read)"] = [] if len(seen) >= 12 else [f"only {len(seen)} pages: {sorted(seen)}"]
    if not report["(pages read)"]:
        del report["(pages read)"]
    return report


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("person", list(PEOPLE))
def test_every_page_speaks_one_language_without_codes(
    browser: Browser, live_server: str, person: str, lang: str
) -> None:
    context = browser.new_context(base_url=live_server, locale="zh-CN" if lang == "zh" else "en-US")
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    try:
        page = context.new_page()
        identifier = PEOPLE[person]
        if identifier:
            _log_in(page, identifier)
        report = _crawl(page, live_server, lang)
    finally:
        context.close()
    assert report == {}, "\n".join(f"{path}: {'; '.join(problems)}" for path, problems in report.items())
