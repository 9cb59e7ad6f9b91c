"""WeChat Pay end to end through the real wechatpayv3 code against the protocol simulator."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kameng.channels.ports import ABNORMAL, PROCESSING, SUCCESS, ChannelRefused, ChannelUnavailable
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from tests.channels.wechat_support import WeChatWorld


def paid_trade(world: WeChatWorld, out_trade_no: str = "P20261120001", total: int = 3000) -> None:
    code_url = world.adapter.create_native(out_trade_no, "月度会员", total, world.clock.now + timedelta(minutes=15))
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    world.sim.pay(out_trade_no, deliver=False)


def test_native_payment_gives_a_code_and_a_scannable_image(wechat: WeChatWorld) -> None:
    code_url = wechat.adapter.create_native("P1", "月度会员", 2500, wechat.clock.now + timedelta(minutes=15))
    again = wechat.adapter.create_native("P1", "月度会员", 2500, wechat.clock.now + timedelta(minutes=15))
    assert again == code_url  # the same trade, the same code
    png = WeChatPayAdapter.qr_png(code_url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    trade = wechat.adapter.query("P1")
    assert trade is not None
    assert (trade.state, trade.total_fen, trade.success_time) == ("NOTPAY", 2500, None)
    assert wechat.adapter.query("P-unknown") is None
    # The simulator checked the merchant's signature on every request the SDK made.
    assert all(r.headers["authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ") for r in wechat.sim.requests)


def test_payment_notification_is_verified_and_decrypted(wechat: WeChatWorld) -> None:
    wechat.adapter.create_native("P2", "月度会员", 2500, wechat.clock.now + timedelta(minutes=15))
    [(headers, body)] = wechat.sim.pay("P2", deliver=False)
    assert b"out_trade_no" not in body  # the resource travels encrypted (base64 has no "_")
    note = wechat.adapter.payment_notification(headers, body, wechat.clock.now)
    assert (note.out_trade_no, note.amount_fen, note.succeeded) == ("P2", 2500, True)
    assert note.transaction_id.startswith("4200")
    trade = wechat.adapter.query("P2")
    assert trade is not None
    assert trade.state == "SUCCESS"


def test_close_an_unpaid_trade_but_not_a_paid_one(wechat: WeChatWorld) -> None:
    wechat.adapter.create_native("P3", "月度会员", 100, wechat.clock.now + timedelta(minutes=15))
    assert wechat.adapter.close("P3") is True
    trade = wechat.adapter.query("P3")
    assert trade is not None
    assert trade.state == "CLOSED"
    paid_trade(wechat, "P4")
    assert wechat.adapter.close("P4") is False


def test_refund_in_full_processing_then_success(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    answer = wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert (answer.status, answer.channel_status) == (PROCESSING, "PROCESSING")
    again = wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert again.refund_id == answer.refund_id  # a retry under the same number is the same refund
    done = wechat.adapter.query_refund("R1", wechat.clock.now)
    assert done is not None
    assert done.status == SUCCESS
    assert wechat.adapter.query_refund("R-unknown", wechat.clock.now) is None


def test_two_partial_refunds_a_minute_apart(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    first = wechat.adapter.request_refund("R1", "P20261120001", 1000, wechat.clock.now)
    with pytest.raises(ChannelUnavailable):  # one refund per order per minute: later, same number
        wechat.adapter.refund("R2", "P20261120001", 1000, wechat.clock.now, 1, wechat.clock.now)
    wechat.clock.now += timedelta(minutes=1, seconds=1)
    second = wechat.adapter.request_refund("R2", "P20261120001", 1500, wechat.clock.now)
    assert first.refund_id != second.refund_id
    assert [r.amount for r in wechat.sim.refunds.values()] == [1000, 1500]
    wechat.clock.now += timedelta(minutes=2)
    refused = wechat.adapter.request_refund("R3", "P20261120001", 600, wechat.clock.now)  # 500 left
    assert (refused.status, refused.channel_status) == (ABNORMAL, "REFUSED")
    assert refused.failure == "支付渠道拒绝了这笔退款"


def test_closed_refund_is_resubmitted_under_a_new_number(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    wechat.sim.script_refunds("P20261120001", ["PROCESSING", "CLOSED"])
    wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    closed = wechat.adapter.query_refund("R1", wechat.clock.now)
    assert closed is not None
    assert (closed.status, closed.channel_status) == (ABNORMAL, "CLOSED")  # final for this number
    still = wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert still.channel_status == "CLOSED"  # the old number stays closed
    wechat.clock.now += timedelta(minutes=1, seconds=1)
    fresh = wechat.adapter.request_refund("R2", "P20261120001", 3000, wechat.clock.now)
    assert fresh.status == PROCESSING
    settled = wechat.adapter.query_refund("R2", wechat.clock.now)
    assert settled is not None
    assert settled.status == SUCCESS


def test_abnormal_refund_is_not_final_and_is_settled_through_abnormal_refund(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    wechat.sim.script_refunds("P20261120001", ["PROCESSING", "ABNORMAL"])
    wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    for _ in range(3):  # it waits at WeChat: kameng keeps asking, nothing is failed
        waiting = wechat.adapter.query_refund("R1", wechat.clock.now)
        assert waiting is not None
        assert (waiting.status, waiting.channel_status) == (PROCESSING, "ABNORMAL")
    sent = wechat.adapter.abnormal_refund("R1", ("ICBC_DEBIT", "6222020200112233445", "张三"))
    assert sent.status == PROCESSING
    assert wechat.sim.refunds["R1"].bank_account == "6222020200112233445"  # encrypted by the SDK, read by WeChat
    arrived = wechat.adapter.query_refund("R1", wechat.clock.now)
    assert arrived is not None
    assert arrived.status == SUCCESS
    with pytest.raises(ChannelRefused):
        wechat.adapter.abnormal_refund("R1")


def test_a_refund_past_365_days_is_refused_before_calling(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    wechat.clock.now += timedelta(days=366)
    before = len(wechat.sim.requests)
    answer = wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert (answer.status, answer.channel_status) == (ABNORMAL, "REFUSED")
    assert answer.failure == "该笔支付已超过 365 天，支付渠道不再受理原路退款"
    assert [r.path.split("?")[0] for r in wechat.sim.requests[before:]] == [
        "/v3/pay/transactions/out-trade-no/P20261120001"
    ]  # only the query: no refund request was sent
    assert wechat.sim.refunds == {}


def test_channel_failures_are_retried_later_not_failed(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    wechat.sim.misbehave.fail_next.append(("/v3/refund/domestic/refunds", 500, "SYSTEM_ERROR"))
    with pytest.raises(ChannelUnavailable):
        wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now)
    assert wechat.adapter.request_refund("R1", "P20261120001", 3000, wechat.clock.now).status == PROCESSING


def test_the_partial_refund_limits_are_checked_before_calling(wechat: WeChatWorld) -> None:
    paid_trade(wechat)
    history: dict[str, tuple[int, datetime | None]] = {"P20261120001": (50, None)}
    adapter = WeChatPayAdapter(wechat.adapter.config, refund_history=lambda trade, _besides: history[trade])
    before = len(wechat.sim.requests)
    fifty = adapter.request_refund("R51", "P20261120001", 100, wechat.clock.now)
    assert (fifty.status, fifty.failure) == (ABNORMAL, "该订单的部分退款已达 50 次上限，支付渠道不再受理")
    history["P20261120001"] = (1, wechat.clock.now - timedelta(seconds=30))
    with pytest.raises(ChannelUnavailable, match="too_soon"):  # the outbox tries again in a minute, same number
        adapter.request_refund("R2", "P20261120001", 100, wechat.clock.now)
    assert all("/refund/" not in r.path for r in wechat.sim.requests[before:])  # only trade queries went out
    assert wechat.sim.refunds == {}
