"""The channel simulators as fixtures (see wechat_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kameng import compose
from tests.channels.alipay_support import AlipayWorld, alipay_world
from tests.channels.wechat_support import WeChatWorld, wechat_world
from tests.support.apps import container_of


@pytest.fixture
def wechat() -> Iterator[WeChatWorld]:
    yield from wechat_world()


@pytest.fixture
def alipay() -> Iterator[AlipayWorld]:
    yield from alipay_world()


@pytest.fixture
def wired(client: TestClient, wechat: WeChatWorld, alipay: AlipayWorld) -> TestClient:
    """The app (``client``, on SQLite or PostgreSQL) with WeChat Pay and Alipay wired behind its
    ports, each on its protocol simulator, and one clock for kameng and both channels."""
    container = container_of(client)
    compose.wire_channels(container, {"wechat": wechat.adapter, "alipay": alipay.adapter})
    wechat.clock.now = container.now()
    container.clock = wechat.clock
    alipay.clock = wechat.clock
    alipay.sim.clock = wechat.clock
    alipay.adapter._clock = wechat.clock
    alipay.adapter._sdk.clock = wechat.clock
    return client
