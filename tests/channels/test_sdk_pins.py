"""The adapters re-target private attributes of the SDKs: a new SDK version that renames them must
fail here (and at start-up), never send a request to the real host."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from alipay import AliPay
from wechatpayv3 import WeChatPay

from kameng.channels.alipay import adapter as alipay_adapter
from kameng.channels.wechatpay import adapter as wechat_adapter
from tests.channels.alipay_support import AlipayWorld
from tests.channels.wechat_support import WeChatWorld


def test_the_pinned_sdk_versions_are_installed() -> None:
    assert version("wechatpayv3").startswith("2.0.")
    assert version("python-alipay-sdk").startswith("3.4.")


def test_the_wechat_gateway_attribute_exists_and_is_retargeted(wechat: WeChatWorld) -> None:
    sdk: WeChatPay = wechat.adapter._sdk
    assert sdk._core._gate_way == wechat.sim.base_url
    del sdk._core._gate_way  # what a rename in a new version looks like to us
    with pytest.raises(RuntimeError, match="_gate_way"):
        wechat_adapter.retarget(sdk, "http://127.0.0.1:1")


def test_the_alipay_gateway_attribute_exists_and_is_retargeted(alipay: AlipayWorld) -> None:
    sdk: AliPay = alipay.adapter._sdk
    assert sdk._gateway == alipay.sim.gateway
    del sdk._gateway
    with pytest.raises(RuntimeError, match="_gateway"):
        alipay_adapter.retarget(sdk, "http://127.0.0.1:1")
