"""The payment channels' settings: production refuses the simulators and local gateways, keys are
read from files and never printed, and KAMENG_CHANNELS=simulators wires both channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameng import compose
from kameng.channels.alipay.adapter import AlipayAdapter
from kameng.channels.protocol_sims.server import new_key_pair
from kameng.channels.routing import RoutedPayments, RoutedRefunds
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from kameng.settings import Settings, SettingsError

SECRET = "a3f9c1e07b5d42e8a6f0b9c3d7e1f5a2"
CARD_KEY_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def test_channels_are_off_unless_asked() -> None:
    assert Settings.from_env({}).channels == "off"


def test_an_unknown_channels_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="KAMENG_CHANNELS"):
        Settings.from_env({"KAMENG_CHANNELS": "sandbox"})


def test_production_refuses_the_channel_simulators() -> None:
    with pytest.raises(SettingsError, match="refuses the channel simulators"):
        Settings.from_env(
            {
                "KAMENG_ENV": "production",
                "KAMENG_SECRET_KEY": SECRET,
                "KAMENG_CARD_KEY_KEYS": CARD_KEY_KEY,
                "KAMENG_CHANNELS": "simulators",
            }
        )


def test_production_refuses_a_local_gateway() -> None:
    env = {
        "KAMENG_ENV": "production",
        "KAMENG_SECRET_KEY": SECRET,
        "KAMENG_CARD_KEY_KEYS": CARD_KEY_KEY,
        "KAMENG_CHANNELS": "real",
    }
    with pytest.raises(SettingsError, match="local gateway"):
        Settings.from_env({**env, "KAMENG_WECHATPAY_GATEWAY": "http://127.0.0.1:9000"})
    assert Settings.from_env(env).wechatpay_gateway == "https://api.mch.weixin.qq.com"


def test_real_channels_read_their_keys_from_files_and_never_print_them(tmp_path: Path) -> None:
    merchant, platform, app, alipay = new_key_pair(), new_key_pair(), new_key_pair(), new_key_pair()
    files = {
        "wx.key": merchant.private_pem,
        "wx.v3": "0123456789abcdef0123456789abcdef\n",
        "wx.pub": platform.public_pem,
        "ali.key": app.private_pem,
        "ali.pub": alipay.public_pem,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    settings = Settings.from_env(
        {
            "KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KAMENG_CHANNELS": "real",
            "KAMENG_WECHATPAY_MCHID": "1900000109",
            "KAMENG_WECHATPAY_APPID": "wx0000000000000000",
            "KAMENG_WECHATPAY_CERT_SERIAL_NO": "ABC",
            "KAMENG_WECHATPAY_PRIVATE_KEY_FILE": str(tmp_path / "wx.key"),
            "KAMENG_WECHATPAY_APIV3_KEY_FILE": str(tmp_path / "wx.v3"),
            "KAMENG_WECHATPAY_PUBLIC_KEY_FILE": str(tmp_path / "wx.pub"),
            "KAMENG_WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0001",
            "KAMENG_ALIPAY_APP_ID": "2021000000000001",
            "KAMENG_ALIPAY_PRIVATE_KEY_FILE": str(tmp_path / "ali.key"),
            "KAMENG_ALIPAY_PUBLIC_KEY_FILE": str(tmp_path / "ali.pub"),
        }
    )
    container = compose.build(settings)  # no call is made: public-key mode fetches no certificate
    try:
        wechat, ali = container.checkouts["wechat"], container.checkouts["alipay"]
        assert isinstance(wechat, WeChatPayAdapter)
        assert isinstance(ali, AlipayAdapter)
        assert wechat.config.apiv3_key == "0123456789abcdef0123456789abcdef"
        shown = repr(wechat.config) + repr(ali.config) + repr(settings)
        assert "PRIVATE KEY" not in shown
        assert "0123456789abcdef" not in shown
        assert isinstance(container.payments, RoutedPayments)
        assert isinstance(container.refunds, RoutedRefunds)
    finally:
        container.dispose()


def test_a_missing_key_file_is_named_not_shown(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KAMENG_CHANNELS": "real",
            "KAMENG_WECHATPAY_PRIVATE_KEY_FILE": str(tmp_path / "absent.pem"),
        }
    )
    with pytest.raises(SettingsError, match="KAMENG_WECHATPAY_PRIVATE_KEY_FILE: cannot read the file"):
        compose.build(settings)


def test_simulators_mode_starts_both_protocol_simulators_and_stops_them(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "KAMENG_CHANNELS": "simulators"}
    )
    container = compose.build(settings)
    try:
        wechat = container.checkouts["wechat"]
        assert isinstance(wechat, WeChatPayAdapter)
        assert wechat.config.gateway.startswith("http://127.0.0.1:")
        assert wechat.config.notify_url == "http://127.0.0.1:8000/api/v1/payments/notify/wechat"
        assert len(container.closers) == 2
    finally:
        container.dispose()
    assert container.closers == []
