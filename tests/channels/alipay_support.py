"""An Alipay protocol simulator on 127.0.0.1 and an adapter wired to it through the real SDK."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from kameng.channels.alipay.adapter import AlipayAdapter, AlipayConfig
from kameng.channels.protocol_sims.alipay import AlipaySimulator
from kameng.channels.protocol_sims.server import new_key_pair
from tests.channels.wechat_support import Clock


@dataclass
class AlipayWorld:
    sim: AlipaySimulator
    adapter: AlipayAdapter
    clock: Clock


def alipay_world(
    notify_url: str = "http://127.0.0.1:9/notify", return_url: str = "http://127.0.0.1:9/back"
) -> Iterator[AlipayWorld]:
    app = new_key_pair()
    clock = Clock(datetime.now(UTC))
    sim = AlipaySimulator("2021000000000001", app.public_pem, clock=clock).start()
    config = AlipayConfig(
        app_id="2021000000000001",
        app_private_key_pem=app.private_pem,
        alipay_public_key_pem=sim.keys.public_pem,
        notify_url=notify_url,
        return_url=return_url,
        gateway=sim.gateway,
    )
    try:
        yield AlipayWorld(sim, AlipayAdapter(config, clock=clock), clock)
    finally:
        sim.stop()
