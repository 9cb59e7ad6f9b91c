"""The channels' notification ids in the database (``channel_notices``): de-duplication that holds
across API processes and restarts.

A replay is refused wherever it lands: the id is looked up before the notification is applied,
and written once it has been (by the notify endpoint, after the application's commit), unique per
channel, so that two processes that apply the same notification at the same moment (both
idempotent) leave one row. Rows older than :data:`REPLAY_WINDOW` are deleted by the worker: by
then the notification's own timestamp (±5 minutes, checked by the adapters) refuses it anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from kameng.channels.ports import BadSignature
from kameng.payouts.models import ChannelNoticeRow
from kameng.platform.db.uow import UnitOfWork

log = logging.getLogger("kameng.payouts.notices")

# Twice the adapters' ±5 minute timestamp window: a notification seen at T carries a timestamp of
# at least T - 5 min, so from T + 10 min on it is stale whoever replays it.
REPLAY_WINDOW = timedelta(minutes=10)
NOTICE_ID_LENGTH = 64


class StoredNotices:
    """One channel's applied notification ids, in the database (a ``NoticeBook``)."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], channel: str) -> None:
        self._uow = uow_factory
        self.channel = channel

    def check(self, notice_id: str) -> None:
        if not notice_id:
            raise BadSignature("no notification id")
        if len(notice_id) > NOTICE_ID_LENGTH:
            raise BadSignature("notification id too long")
        with self._uow() as uow:
            seen = uow.session.scalar(
                select(ChannelNoticeRow.id).where(
                    ChannelNoticeRow.channel == self.channel, ChannelNoticeRow.notice_id == notice_id
                )
            )
        if seen is not None:
            raise BadSignature("replayed notification")

    def remember(self, notice_id: str, now: datetime) -> None:
        if not notice_id or len(notice_id) > NOTICE_ID_LENGTH:
            return  # check() refused it already: nothing was applied
        with self._uow() as uow:
            uow.session.add(ChannelNoticeRow(channel=self.channel, notice_id=notice_id, seen_at=now))
            try:
                uow.commit()
            except IntegrityError:
                # Another process applied the same notification at the same moment: one row is enough.
                log.info("%s notification %s was remembered by another process", self.channel, notice_id)


def purge_notices(uow: UnitOfWork, now: datetime, window: timedelta = REPLAY_WINDOW) -> int:
    """Forget the ids older than the replay window (a worker step); returns how many."""
    with uow:
        result = uow.session.execute(delete(ChannelNoticeRow).where(ChannelNoticeRow.seen_at < now - window))
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)
