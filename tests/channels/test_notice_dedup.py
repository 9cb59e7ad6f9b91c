"""Notification de-duplication in the database: a replay is refused by another API process on the
same database, and after a restart; the worker forgets ids past the replay window. And refunds are
routed by the channel recorded on the payment, not guessed from its transaction id. SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kameng import compose
from kameng.channels.ports import BadSignature
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from kameng.domain.model import Channel
from kameng.orders.models import PaymentRow
from kameng.payouts.models import ChannelNoticeRow
from kameng.payouts.notices import REPLAY_WINDOW, StoredNotices, purge_notices
from kameng.payouts.services import trade_channel
from kameng.web.app import create_app
from kameng.worker import run_tick
from tests.channels.app_support import API, consumer, order_at, status
from tests.channels.wechat_support import WeChatWorld
from tests.support.apps import app_settings, container_of


def another_process(db_url: str, wechat: WeChatWorld) -> Iterator[TestClient]:
    """A second kameng API process on the same database, with its own adapter (same merchant)."""
    with TestClient(create_app(app_settings(db_url))) as other:
        container = container_of(other)
        compose.wire_channels(container, {"wechat": WeChatPayAdapter(wechat.adapter.config)})
        container.clock = wechat.clock
        yield other


def notice_rows(client: TestClient) -> int:
    with container_of(client).uow() as uow:
        return int(uow.session.scalar(select(func.count(ChannelNoticeRow.id))) or 0)


def test_a_replay_to_another_process_or_after_a_restart_is_refused(
    wired: TestClient, wechat: WeChatWorld, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    wechat.adapter.checkout(order["out_trade_no"], "月度会员", order["amount_fen"], wechat.clock.now)
    [(headers, body)] = wechat.sim.pay(order["out_trade_no"], deliver=False)
    assert wired.post(f"{API}/payments/notify/wechat", content=body, headers=headers).status_code == 200
    assert status(wired, auth, order["order_no"]) == "paid"
    assert notice_rows(wired) == 1

    caplog.set_level(logging.INFO, logger="kameng.channels.notify")
    for other in another_process(db_url, wechat):  # its adapter has never seen the notification
        again = other.post(f"{API}/payments/notify/wechat", content=body, headers=headers)
        assert (again.status_code, again.json()["code"]) == (200, "SUCCESS")  # received: stop sending
    assert "refused, nothing changed: replayed notification" in caplog.text
    assert "notification for" not in caplog.text.split("replayed notification")[-1]  # not applied again
    for restarted in another_process(db_url, wechat):  # a new process after a restart: the same
        caplog.clear()
        restarted.post(f"{API}/payments/notify/wechat", content=body, headers=headers)
        assert "replayed notification" in caplog.text
    assert notice_rows(wired) == 1


def test_two_processes_remembering_the_same_id_leave_one_row(wired: TestClient) -> None:
    container = container_of(wired)
    first, second = StoredNotices(container.uow, "wechat"), StoredNotices(container.uow, "wechat")
    first.check("N-1")
    second.check("N-1")  # both let it through at the same moment: both applications are idempotent
    first.remember("N-1", container.now())
    second.remember("N-1", container.now())
    assert notice_rows(wired) == 1
    with pytest.raises(BadSignature, match="replayed"):
        second.check("N-1")
    StoredNotices(container.uow, "alipay").check("N-1")  # another channel's ids are its own
    with pytest.raises(BadSignature):
        first.check("")
    with pytest.raises(BadSignature):
        first.check("x" * 65)


def test_the_worker_forgets_ids_past_the_replay_window(wired: TestClient) -> None:
    container = container_of(wired)
    book = StoredNotices(container.uow, "alipay")
    now = container.now()
    book.remember("old", now - REPLAY_WINDOW - timedelta(seconds=1))
    book.remember("recent", now - REPLAY_WINDOW + timedelta(seconds=30))
    assert purge_notices(container.uow(), now) == 1
    book.check("old")  # forgotten: its timestamp refuses it by now
    with pytest.raises(BadSignature):
        book.check("recent")
    later = now + REPLAY_WINDOW
    figures = run_tick(container, later)
    assert figures["channel_notices_forgotten"] == 1
    assert notice_rows(wired) == 0


def test_refunds_are_routed_by_the_channel_recorded_on_the_payment(wired: TestClient, wechat: WeChatWorld) -> None:
    container = container_of(wired)
    auth = consumer(wired)
    order = order_at(wired, auth, "wechat")
    wechat.adapter.checkout(order["out_trade_no"], "月度会员", order["amount_fen"], wechat.clock.now)
    [(headers, body)] = wechat.sim.pay(order["out_trade_no"], deliver=False)
    assert wired.post(f"{API}/payments/notify/wechat", content=body, headers=headers).status_code == 200
    assert trade_channel(container.uow(), order["out_trade_no"]) == "wechat"
    with container.uow() as uow:
        # A transaction id that merely looks like the local simulator's changes nothing now.
        uow.session.execute(
            update(PaymentRow)
            .where(PaymentRow.out_trade_no == order["out_trade_no"])
            .values(channel_txn_no="SIM-LOOKALIKE")
        )
        demo = uow.session.scalar(
            select(PaymentRow.out_trade_no)
            .where(PaymentRow.channel == Channel.WECHAT, PaymentRow.channel_txn_no.is_not(None))
            .where(PaymentRow.out_trade_no != order["out_trade_no"])
        )
        uow.commit()
    assert trade_channel(container.uow(), order["out_trade_no"]) == "wechat"
    assert demo is not None  # the demo's WeChat payment, taken by the local simulator
    assert trade_channel(container.uow(), demo) is None
    assert trade_channel(container.uow(), "P-nobody") is None
