"""Which notifications a channel adapter has already applied: a replay is refused by its id.

An id is remembered only once its notification has been applied (``remember``, called by the
notify endpoint after the commit), so a notification whose application failed half-way is taken
again when the channel retries it. :class:`SeenNotices` keeps them in memory (an adapter on its
own, in the adapter tests); inside kameng ``compose.wire_channels`` gives every adapter the
database's book (``payouts.notices.StoredNotices``), shared by every API process and kept across
restarts for the replay window."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Protocol

from kameng.channels.ports import BadSignature


class NoticeBook(Protocol):
    """Where a channel's applied notification ids are kept."""

    def check(self, notice_id: str) -> None:
        """Raise :class:`BadSignature` ("replayed notification") for an id already applied."""
        ...

    def remember(self, notice_id: str, now: datetime) -> None: ...


class SeenNotices:
    def __init__(self, limit: int = 10_000) -> None:
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def check(self, notice_id: str) -> None:
        if not notice_id:
            raise BadSignature("no notification id")
        with self._lock:
            if notice_id in self._seen:
                raise BadSignature("replayed notification")

    def remember(self, notice_id: str, now: datetime) -> None:
        with self._lock:
            self._seen[notice_id] = now
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
