"""Shared fixtures: the real app served over HTTP, and a real Chromium to look at it.

``live_app`` (session) is ``create_app()`` with test settings (``live_settings``) whose database
and files live under a pytest temporary folder; creating it migrates that database and loads the
demo data. ``live_server`` (session) serves it with uvicorn in a background thread on a free
127.0.0.1 port and yields its base URL; ``http`` (session) is an httpx client aimed at it. The
server and its database last the whole session, so a test must not assume it is alone there:
sign up a fresh user rather than counting rows. ``live_app.state.container`` is the same object
the handlers use (its ``clock`` can be replaced to move time).

``browser`` (session) is Debian's Chromium driven by Playwright; ``page`` (function) is a fresh
context per test with ``base_url`` set to the live server, so a test says ``page.goto("/")``. A
browser test that fails leaves ``test-artifacts/FAILED-<test>.png`` and a ``.txt`` with the URL
and the page's console errors; ``KAMENG_TEST_SCREENSHOTS=all`` keeps a screenshot of every test.

Under ``pytest -n N --dist loadgroup`` every worker gets its own server and browser (session
fixtures are per process, and nothing here is shared between processes), so tests may land on any
worker. Tests marked ``browser`` are also put in one xdist group, so that only one worker pays for
starting Chromium where the installed xdist honours groups (see the hook below).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from kameng.platform.logs import UVICORN_LOGGERS, SecretMasker
from kameng.settings import Settings
from kameng.web.app import create_app
from tests.support.rate_limits import GENEROUS_RATE_LIMITS

# The database fixtures (both backends, one isolation scheme) and the live server's worker tick.
pytest_plugins = [
    "tests.support.database",
    "tests.support.apps",
    "tests.support.live_worker",
    "tests.support.smtp",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SERVER_START_TIMEOUT = 15.0
BROWSER_GROUP = "browser"

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # xdist turns the group into a node id suffix in its own hook of this name, registered after
    # this conftest (so called before it): tryfirst puts the marks in place in time. With pytest
    # 9.2 and xdist 3.8 that suffix is silently lost (pytest-dev/pytest-xdist#1386) and grouped
    # tests are spread like any others; correctness does not depend on the grouping, only speed.
    if not config.pluginmanager.hasplugin("xdist"):
        return
    group = pytest.mark.xdist_group(BROWSER_GROUP)
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("xdist_group"):
            item.add_marker(group)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item: a fixture's teardown can then tell a failed test.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(node: pytest.Item) -> bool:
    return any(report.failed for report in node.stash.get(_REPORTS, {}).values())


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A test that runs a command (``kameng worker`` through the CLI, say) configures logging for
    the whole process: a root handler on the stream the test captured, closed once it ends, and the
    root at INFO. Left in place, every later line logged (the live server's worker thread logs
    each outbox row) fails on that closed stream and masks secrets for nothing. Put it back."""
    root = logging.getLogger()
    level = root.level
    uvicorn_state = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate) for name in UVICORN_LOGGERS
    }
    yield
    for handler in list(root.handlers):
        if any(isinstance(f, SecretMasker) for f in handler.filters):
            root.removeHandler(handler)
    root.setLevel(level)
    for name, (handlers, propagate) in uvicorn_state.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    """``test-artifacts/`` at the repository root (gitignored): screenshots worth a look."""
    path = pytestconfig.rootpath / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def _live_socket() -> Iterator[socket.socket]:
    # Bind first and hand uvicorn the socket: asking for a free port and binding it later would
    # race with other xdist workers doing the same.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture(scope="session")
def live_settings(_live_socket: socket.socket, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The live server's settings, read as from the environment, every file in a temp folder."""
    home = tmp_path_factory.mktemp("live-server")
    return Settings.from_env(
        {
            "KAMENG_ENV": "test",
            "KAMENG_HOST": "127.0.0.1",
            "KAMENG_PORT": str(_live_socket.getsockname()[1]),
            "KAMENG_DATABASE_URL": f"sqlite:///{home / 'kameng.db'}",
            "KAMENG_SECRET_KEY": "test-secret-" + "x" * 32,
            **GENEROUS_RATE_LIMITS,
        }
    )


@pytest.fixture(scope="session")
def live_app(live_settings: Settings) -> FastAPI:
    """The application the live server runs (its database migrated and seeded with the demo)."""
    return create_app(live_settings)


@pytest.fixture(scope="session")
def live_server(_live_socket: socket.socket, live_settings: Settings, live_app: FastAPI) -> Iterator[str]:
    """The real app over real HTTP: yields its base URL, ``http://127.0.0.1:PORT``."""
    server = uvicorn.Server(uvicorn.Config(live_app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [_live_socket]}, name="kameng-live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the live server stopped while starting; see the captured log")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            pytest.fail(f"the live server did not start within {SERVER_START_TIMEOUT:.0f} s")
        time.sleep(0.02)
    try:
        yield f"http://{live_settings.host}:{live_settings.port}"
    finally:
        server.should_exit = True
        thread.join(10)
        if thread.is_alive():
            pytest.fail("the live server did not shut down within 10 s")


@pytest.fixture(scope="session")
def http(live_server: str) -> Iterator[httpx.Client]:
    """An HTTP client for the live server; paths are relative (``http.post("/api/v1/...")``)."""
    with httpx.Client(base_url=live_server, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, headless; never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium")
    playwright = sync_playwright().start()
    try:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as error:
            pytest.fail(f"could not launch {CHROMIUM}: {error.message}")
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, live_server: str, artifacts_dir: Path) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies from other tests), aimed at the live server.

    Chinese is the default language of the site, and the context's locale says so too; a test
    that wants another locale makes its own context from ``browser``.
    """
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []

    def note_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            problems.append(f"console.{message.type}: {message.text}")

    page.on("console", note_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        yield page
    finally:
        failed = _failed(request.node)
        if failed or os.environ.get("KAMENG_TEST_SCREENSHOTS") == "all":
            name = ("FAILED-" if failed else "") + re.sub(r"[^\w.-]+", "_", request.node.nodeid).strip("_")
            try:
                page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)
            except PlaywrightError as error:  # a crashed page must not hide the test's own failure
                problems.append(f"no screenshot: {error.message}")
            if failed:
                (artifacts_dir / f"{name}.txt").write_text("\n".join([page.url, *problems]) + "\n", encoding="utf-8")
        context.close()
