"""A WeChat Pay protocol simulator on 127.0.0.1 and an adapter wired to it through the real SDK."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from kameng.channels.protocol_sims.server import new_key_pair
from kameng.channels.protocol_sims.wechat import WeChatPaySimulator
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from kameng.channels.wechatpay.config import WeChatPayConfig


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class WeChatWorld:
    sim: WeChatPaySimulator
    adapter: WeChatPayAdapter
    clock: Clock


def wechat_world(notify_url: str = "http://127.0.0.1:9/notify") -> Iterator[WeChatWorld]:
    merchant = new_key_pair()
    apiv3_key = secrets.token_hex(16)  # 32 characters, as WeChat's
    clock = Clock(datetime.now(UTC))
    sim = WeChatPaySimulator("1900000109", "wx0sim0000000000", merchant.public_pem, apiv3_key, clock=clock).start()
    config = WeChatPayConfig(
        mchid="1900000109",
        appid="wx0sim0000000000",
        private_key_pem=merchant.private_pem,
        cert_serial_no="SIMCERT0001",
        apiv3_key=apiv3_key,
        public_key_pem=sim.platform.public_pem,
        public_key_id=sim.public_key_id,
        notify_url=notify_url,
        gateway=sim.base_url,
    )
    try:
        yield WeChatWorld(sim, WeChatPayAdapter(config), clock)
    finally:
        sim.stop()
