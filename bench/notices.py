"""What the database de-duplication of the channels' notifications costs, beside what verifying a
WeChat Pay notification costs anyway (RSA signature through the SDK, AES-256-GCM decryption).

In process, one thread, on a fresh SQLite file and a fresh PostgreSQL database (migrated):
``check`` (is this id known?) then ``remember`` (insert it) for N new ids, as the notify endpoint
does per notification; then N replays refused by ``check``; then the worker's purge of them all.
Beside it: N WeChat payment notifications verified and decrypted by the adapter through the SDK.

    .venv/bin/python bench/run.py --only notices [--quick]
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from checkout import fresh_database

from kameng.channels.ports import BadSignature
from kameng.channels.protocol_sims.server import new_key_pair
from kameng.channels.protocol_sims.wechat import WeChatPaySimulator
from kameng.channels.protocol_sims.wechat_books import SimTrade, trade_body
from kameng.channels.wechatpay.adapter import WeChatPayAdapter
from kameng.channels.wechatpay.config import WeChatPayConfig
from kameng.payouts.notices import REPLAY_WINDOW, StoredNotices, purge_notices
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork


def _per_s(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _book(backend: str, count: int) -> dict[str, Any]:
    with fresh_database(backend) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        try:
            book = StoredNotices(lambda: UnitOfWork(factory), "wechat")
            ids = [secrets.token_hex(16) for _ in range(count)]
            now = datetime.now(UTC)
            started = time.perf_counter()
            for notice_id in ids:
                book.check(notice_id)
                book.remember(notice_id, now)
            applied = time.perf_counter() - started
            started = time.perf_counter()
            refused = 0
            for notice_id in ids:
                try:
                    book.check(notice_id)
                except BadSignature:
                    refused += 1
            replays = time.perf_counter() - started
            started = time.perf_counter()
            purged = purge_notices(UnitOfWork(factory), now + REPLAY_WINDOW + timedelta(seconds=1))
            purge = time.perf_counter() - started
        finally:
            engine.dispose()
    return {
        "notifications": count,
        "check_and_remember_per_s": _per_s(count, applied),
        "us_per_new_notification": round(applied / count * 1e6),
        "replays_refused": refused,
        "replay_checks_per_s": _per_s(count, replays),
        "purged": purged,
        "purge_ms": round(purge * 1000, 1),
    }


def _verify(count: int) -> dict[str, Any]:
    merchant, apiv3_key = new_key_pair(), secrets.token_hex(16)
    sim = WeChatPaySimulator("1900000109", "wx0sim0000000000", merchant.public_pem, apiv3_key)
    config = WeChatPayConfig(
        mchid=sim.mchid,
        appid=sim.appid,
        private_key_pem=merchant.private_pem,
        cert_serial_no="SIMCERT0001",
        apiv3_key=apiv3_key,
        public_key_pem=sim.platform.public_pem,
        public_key_id=sim.public_key_id,
        notify_url="http://127.0.0.1:9/notify",
        gateway="http://127.0.0.1:9",
    )
    adapter = WeChatPayAdapter(config, remembered_notices=count + 1)
    now = datetime.now(UTC)
    notices = []
    for index in range(count):
        trade = SimTrade(f"P{index:08d}", "bench", 3000, "", "t", "SUCCESS", "4200" + secrets.token_hex(8), now)
        notices.append(sim.notification("TRANSACTION.SUCCESS", "transaction", trade_body(trade, sim.appid, sim.mchid)))
    started = time.perf_counter()
    for headers, body in notices:
        adapter.read_notification(headers, body, now)
    seconds = time.perf_counter() - started
    sim.stop()
    return {"notifications": count, "verified_per_s": _per_s(count, seconds), "us_each": round(seconds / count * 1e6)}


def bench_notices(quick: bool) -> dict[str, Any]:
    count = 300 if quick else 3000
    return {
        "wechat_verify_and_decrypt": _verify(count),
        "dedup_sqlite": _book("sqlite", count),
        "dedup_postgresql": _book("postgresql", count),
    }
