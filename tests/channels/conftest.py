"""The channel simulators as fixtures (see wechat_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.alipay_support import AlipayWorld, alipay_world
from tests.channels.wechat_support import WeChatWorld, wechat_world


@pytest.fixture
def wechat() -> Iterator[WeChatWorld]:
    yield from wechat_world()


@pytest.fixture
def alipay() -> Iterator[AlipayWorld]:
    yield from alipay_world()
