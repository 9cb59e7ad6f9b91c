"""The simulators' control endpoint (``/__sim__/behaviour``): what ``make run``, a tester or a
browser test uses to make a channel slow, failing, PROCESSING then SUCCESS, CLOSED or ABNORMAL,
or notify twice. 127.0.0.1 only, and only on a simulator started with controls."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kameng import compose
from kameng.channels.ports import ABNORMAL, PROCESSING, ChannelUnavailable
from kameng.channels.protocol_sims.server import Received, control_refusal
from kameng.settings import Settings, SettingsError
from tests.channels.alipay_support import AlipayWorld, alipay_world
from tests.channels.test_alipay import paid_trade as alipay_paid
from tests.channels.test_wechatpay import paid_trade as wechat_paid
from tests.channels.wechat_support import WeChatWorld, wechat_world


@pytest.fixture
def wechat() -> Iterator[WeChatWorld]:
    for world in wechat_world():
        world.sim.controls = True
        yield world


@pytest.fixture
def alipay() -> Iterator[AlipayWorld]:
    for world in alipay_world():
        world.sim.controls = True
        yield world


def control(base_url: str, path: str, body: object | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + "/__sim__/" + path, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_wechat_behaviour_is_read_and_set_over_http(wechat: WeChatWorld) -> None:
    status, behaviour = control(wechat.sim.base_url, "behaviour")
    assert status == 200
    assert behaviour["notify_twice"] is False
    status, behaviour = control(
        wechat.sim.base_url, "behaviour", {"notify_twice": True, "refund_states": ["PROCESSING", "CLOSED"]}
    )
    assert (status, behaviour["notify_twice"], behaviour["refund_states"]) == (200, True, ["PROCESSING", "CLOSED"])
    wechat_paid(wechat)
    answer = wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert answer.status == PROCESSING
    closed = wechat.adapter.query_refund("R1", wechat.clock.now)
    assert closed is not None
    assert (closed.status, closed.channel_status) == (ABNORMAL, "CLOSED")


def test_wechat_script_of_one_trade_and_advance_over_http(wechat: WeChatWorld) -> None:
    wechat_paid(wechat)
    status, _ = control(
        wechat.sim.base_url,
        "behaviour",
        {"script": {"out_trade_no": "P20261120001", "states": ["PROCESSING", "ABNORMAL"]}},
    )
    assert status == 200
    wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert control(wechat.sim.base_url, "refunds/R1/advance", {}) == (
        200,
        {"out_refund_no": "R1", "status": "ABNORMAL"},
    )
    assert control(wechat.sim.base_url, "refunds/R-none/advance", {})[0] == 404


def test_wechat_failure_and_delay_over_http(wechat: WeChatWorld) -> None:
    wechat_paid(wechat)
    status, _ = control(
        wechat.sim.base_url, "behaviour", {"fail_next": [{"path": "/v3/refund", "status": 500, "code": "SYSTEM_ERROR"}]}
    )
    assert status == 200
    with pytest.raises(ChannelUnavailable):
        wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert control(wechat.sim.base_url, "behaviour", {"delay_seconds": 0.3})[0] == 200
    started = time.monotonic()
    assert wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now).status == PROCESSING
    assert time.monotonic() - started >= 0.3
    assert control(wechat.sim.base_url, "behaviour", {"delay_seconds": 0})[1]["delay_seconds"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"delay_seconds": 3600}, "delay_seconds"),
        ({"delay_seconds": "1"}, "delay_seconds"),
        ({"notify_twice": "yes"}, "notify_twice"),
        ({"refund_states": ["DONE"]}, "refund_states"),
        ({"refund_states": []}, "refund_states"),
        ({"fail_next": [{"path": "/etc", "status": 500}]}, "fail_next.path"),
        ({"fail_next": [{"path": "/v3/refund", "status": 200}]}, "fail_next.status"),
        ({"fail_next": "all"}, "fail_next"),
        ({"script": {"states": ["SUCCESS"]}}, "script.out_trade_no"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_wechat_bad_behaviour_is_refused_in_words_and_changes_nothing(
    wechat: WeChatWorld, body: dict[str, object], field: str
) -> None:
    before = control(wechat.sim.base_url, "behaviour")[1]
    status, answer = control(wechat.sim.base_url, "behaviour", {"notify_twice": True, **body})
    assert (status, answer["field"]) == (400, field)
    assert answer["error"]
    assert control(wechat.sim.base_url, "behaviour")[1] == before


def test_not_json_is_refused(wechat: WeChatWorld, alipay: AlipayWorld) -> None:
    for base in (wechat.sim.base_url, alipay.sim.base_url):
        request = urllib.request.Request(base + "/__sim__/behaviour", data=b"{not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400


def test_alipay_behaviour_over_http(alipay: AlipayWorld) -> None:
    alipay_paid(alipay)
    status, behaviour = control(alipay.sim.base_url, "behaviour", {"slow_refunds": {"P20261120001": 1}})
    assert (status, behaviour["slow_refunds"]) == (200, {"P20261120001": 1})
    answer = alipay.adapter.request_refund("R1", "P20261120001", 3000, alipay.clock.now)
    assert answer.channel_status == "FUND_CHANGE_N"
    failing = {"fail_next": [{"method": "alipay.trade.refund", "sub_code": "ACQ.SYSTEM_ERROR"}]}
    assert control(alipay.sim.base_url, "behaviour", failing)[0] == 200
    assert alipay.sim.misbehave.fail_next == [("alipay.trade.refund", "ACQ.SYSTEM_ERROR", "模拟故障")]
    assert control(alipay.sim.base_url, "behaviour", {"slow_refunds": {"P1": 99}}) == (
        400,
        {"error": "a number of queries from 0 to 20", "field": "slow_refunds.P1"},
    )
    assert control(alipay.sim.base_url, "behaviour", {"fail_next": [{"method": "x"}]})[1]["field"] == "fail_next.method"


def test_controls_are_off_unless_started_with_them() -> None:
    for world in wechat_world():
        assert control(world.sim.base_url, "behaviour") == (404, {"error": "controls are off"})
        assert control(world.sim.base_url, "behaviour", {"notify_twice": True})[0] == 404
        assert world.sim.misbehave.notify_twice is False
    for other in alipay_world():
        assert control(other.sim.base_url, "behaviour")[0] == 404


def test_controls_answer_the_machine_itself_only() -> None:
    def asked_from(address: str) -> int | None:
        refusal = control_refusal(Received("GET", "/__sim__/behaviour", {}, b"", address), enabled=True)
        return None if refusal is None else refusal.status

    assert asked_from("127.0.0.1") is None
    assert asked_from("::1") is None
    assert asked_from("192.168.1.20") == 403
    assert asked_from("") == 403


def test_make_run_puts_the_simulators_on_the_ports_given_with_their_controls_on(tmp_path: Path) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    settings = Settings.from_env(
        {
            "KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KAMENG_CHANNELS": "simulators",
            "KAMENG_WECHATPAY_SIMULATOR_PORT": str(ports[0]),
            "KAMENG_ALIPAY_SIMULATOR_PORT": str(ports[1]),
        }
    )
    container = compose.build(settings)
    try:
        for port in ports:
            status, behaviour = control(f"http://127.0.0.1:{port}", "behaviour", {"notify_twice": True})
            assert (status, behaviour["notify_twice"]) == (200, True)
    finally:
        container.dispose()
    with pytest.raises(SettingsError):
        Settings.from_env({"KAMENG_WECHATPAY_SIMULATOR_PORT": "70000"})
