"""Rate limits: the default limits refuse with 429 and Retry-After in the reader's language, per
client address and, for signing in, per account name; counted in memory or in a real Redis."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kameng import compose
from kameng.platform.errors import TooManyRequests
from kameng.platform.rate_limits import DOORS, RateLimits
from kameng.settings import Settings
from kameng.web.app import create_app
from tests.support.apps import app_settings

REDIS = "redis://127.0.0.1:6379/15"
DEFAULTS = {f"KAMENG_RATE_LIMIT_{door.upper()}": getattr(Settings(), f"rate_limit_{door}") for door in DOORS}
WRONG = {"identifier": "13800000001", "password": "not-the-password"}

# The counts do not live in the database: one backend is enough for the app's own storage.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _redis_or_fail() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS} is not reachable (.ci/run starts it): {error}")


@pytest.fixture(params=["memory", "redis"])
def limited_app(request: pytest.FixtureRequest, db_url: str) -> Iterator[FastAPI]:
    """The app with the default limits, counting in memory or in Redis under a key prefix of its
    own (removed afterwards)."""
    env = dict(DEFAULTS)
    if request.param == "redis":
        _redis_or_fail()
        env["KAMENG_REDIS_URL"] = REDIS
    settings = app_settings(db_url, **env)
    app = create_app(settings)
    limits: RateLimits = compose.rate_limits(settings, key_prefix=f"kameng-test-{secrets.token_hex(6)}")
    assert (settings.redis_url is not None) == (type(limits.storage).__name__ == "RedisStorage")
    app.state.rate_limits = limits
    yield app
    limits.reset()


@sqlite_only
def test_the_default_token_limit_refuses_the_eleventh_try_in_a_minute_with_retry_after(limited_app: FastAPI) -> None:
    with TestClient(limited_app) as client:
        answers = [client.post("/api/v1/auth/token", json=WRONG) for _ in range(11)]

    assert [a.status_code for a in answers[:10]] == [401] * 10
    refused = answers[10]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert refused.headers["retry-after"] in error["message"]
    assert "请等待" in error["message_zh"]


@sqlite_only
def test_signing_in_is_limited_per_account_name_across_addresses(limited_app: FastAPI) -> None:
    statuses = []
    with TestClient(limited_app) as warm:  # start-up (demo data) once
        warm.get("/healthz")
    for number in range(11):
        with TestClient(limited_app, client=(f"10.0.0.{number + 1}", 40000)) as client:
            statuses.append(client.post("/api/v1/auth/token", json=WRONG).status_code)
        with TestClient(limited_app, client=(f"10.0.1.{number + 1}", 40000)) as client:
            other = client.post("/api/v1/auth/token", json={**WRONG, "identifier": f"1390000{number:04d}"})
            assert other.status_code == 401

    assert statuses == [401] * 10 + [429]


@sqlite_only
def test_another_address_is_not_held_back_by_a_noisy_one(limited_app: FastAPI) -> None:
    with TestClient(limited_app, client=("10.9.9.9", 40000)) as noisy:
        for _ in range(5):
            noisy.post("/api/v1/auth/signup", json={"identifier": "not a phone", "password": "x"})
        assert noisy.post("/api/v1/auth/signup", json={}).status_code == 429
    with TestClient(limited_app, client=("10.9.9.10", 40000)) as calm:
        assert calm.post("/api/v1/auth/signup", json={}).status_code == 422


@sqlite_only
def test_the_sign_in_page_answers_a_page_with_retry_after_in_the_readers_language(limited_app: FastAPI) -> None:
    with TestClient(limited_app) as client:
        for _ in range(10):
            client.post("/login", data={"identifier": "13800000001", "password": "wrong"})
        chinese = client.post("/login", data={"identifier": "13800000001", "password": "wrong"})
        client.cookies.set("lang", "en")
        english = client.post("/login", data={"identifier": "13800000001", "password": "wrong"})

    assert chinese.status_code == 429
    assert chinese.headers["content-type"].startswith("text/html")
    assert "Retry-After" in chinese.headers
    assert "操作过于频繁" in chinese.text
    assert english.status_code == 429
    assert "Too many attempts" in english.text
    assert "rate_limited" not in english.text.replace('data-code="rate_limited"', "")


@sqlite_only
def test_order_lookups_and_refund_requests_are_limited_as_configured(db_url: str) -> None:
    settings = app_settings(
        db_url, KAMENG_RATE_LIMIT_ORDER_LOOKUP="3/minute", KAMENG_RATE_LIMIT_REFUND_REQUEST="2/hour"
    )
    with TestClient(create_app(settings)) as client:
        lookups = [client.get("/api/v1/orders/26010100000001").status_code for _ in range(4)]
        pages = [client.get("/orders/26010100000001").status_code for _ in range(1)]
        refunds = [client.post("/api/v1/orders/26010100000001/refund-requests", json={}).status_code for _ in range(3)]

    assert lookups[:3] != [429] * 3
    assert lookups[3] == 429
    assert pages == [429]  # the page and the API share the door's count
    assert refunds[2] == 429
    assert 429 not in refunds[:2]


@sqlite_only
def test_limits_switched_off_never_refuse(db_url: str) -> None:
    settings = app_settings(db_url, **DEFAULTS, KAMENG_RATE_LIMITS_ENABLED="0")
    with TestClient(create_app(settings)) as client:
        statuses = {client.post("/api/v1/auth/token", json=WRONG).status_code for _ in range(12)}

    assert statuses == {401}


def test_an_unreachable_redis_lets_requests_through_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    limits = RateLimits({"token": "1/minute"}, "redis://127.0.0.1:1/0")

    with caplog.at_level(logging.WARNING, logger="kameng.rate_limits"):
        limits.hit("token", ["addr:1"])
        limits.hit("token", ["addr:1"])

    assert any("not checked" in record.getMessage() for record in caplog.records)


def test_a_redis_counter_is_shared_by_every_process_using_it() -> None:
    _redis_or_fail()
    prefix = f"kameng-test-{secrets.token_hex(6)}"
    first, second = (RateLimits({"sign_in": "3/minute"}, REDIS, key_prefix=prefix) for _ in range(2))
    try:
        first.hit("sign_in", ["addr:1"])
        second.hit("sign_in", ["addr:1"])
        first.hit("sign_in", ["addr:1"])
        with pytest.raises(TooManyRequests) as refused:
            second.hit("sign_in", ["addr:1"])
    finally:
        first.reset()

    assert 1 <= refused.value.retry_after <= 60


def _on_a_loop_of_its_own(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` on a new event loop in a thread of its own: a browser test earlier in the same
    process may keep a loop running in this thread, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, work).result()


def test_the_apps_count_on_the_event_loop_shares_the_redis_counter_and_refuses_with_retry_after() -> None:
    _redis_or_fail()
    prefix = f"kameng-test-{secrets.token_hex(6)}"
    blocking, on_the_loop = (RateLimits({"sign_in": "3/minute"}, REDIS, key_prefix=prefix) for _ in range(2))

    async def three_hits_on_the_loop() -> None:
        await on_the_loop.hit_async("sign_in", ["addr:1"])
        await on_the_loop.hit_async("sign_in", ["addr:1"])
        await on_the_loop.hit_async("sign_in", ["addr:1"])

    try:
        blocking.hit("sign_in", ["addr:1"])
        with pytest.raises(TooManyRequests) as refused:
            _on_a_loop_of_its_own(three_hits_on_the_loop())
    finally:
        blocking.reset()

    assert 1 <= refused.value.retry_after <= 60


def test_an_unreachable_redis_lets_the_apps_count_through_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    limits = RateLimits({"token": "1/minute"}, "redis://127.0.0.1:1/0")

    async def two_hits() -> None:
        await limits.hit_async("token", ["addr:1"])
        await limits.hit_async("token", ["addr:1"])

    with caplog.at_level(logging.WARNING, logger="kameng.rate_limits"):
        _on_a_loop_of_its_own(two_hits())

    assert any("not checked" in record.getMessage() for record in caplog.records)
