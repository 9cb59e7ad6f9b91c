"""Rate limits on the doors people knock on repeatedly: signing in, getting a token, signing up,
asking for refunds, looking orders up.

Counted with the ``limits`` package in a moving window, in Redis when a URL is configured (so
every API process shares the counts) or in this process's memory otherwise. A door may have
several limits (``10/minute;50/hour``) and is counted under several keys (the client's address,
and for signing in the account name too): the first one exhausted refuses the request with the
seconds to wait. If Redis cannot be reached the request is let through and the failure logged:
an unavailable counter must not lock every customer out.

The web app counts with :meth:`RateLimits.hit_async`, on the event loop: the in-memory counter is a
dictionary update, and Redis is asked through ``redis.asyncio`` (redis-py's own), so a request
costs no worker-thread hop for its count. :meth:`RateLimits.hit` is the same count, blocking.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from kameng.platform.errors import TooManyRequests

log = logging.getLogger("kameng.rate_limits")

Door = Literal["sign_in", "sign_up", "token", "refund_request", "order_lookup"]
DOORS: tuple[Door, ...] = ("sign_in", "sign_up", "token", "refund_request", "order_lookup")


class RateLimits:
    def __init__(
        self,
        limits: Mapping[Door, str],
        redis_url: str | None = None,
        *,
        enabled: bool = True,
        key_prefix: str = "kameng",
    ) -> None:
        self.enabled = enabled
        self.redis_url = redis_url
        self.key_prefix = f"{key_prefix}:limits"
        self.storage: Storage = RedisStorage(redis_url, key_prefix=self.key_prefix) if redis_url else MemoryStorage()
        # redis.asyncio's connections belong to the event loop that opened them: one client per
        # loop (a server has one; tests start a loop per client).
        self._async_limiter: tuple[asyncio.AbstractEventLoop, AsyncMovingWindowRateLimiter] | None = None
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.limits: dict[Door, list[RateLimitItem]] = {door: parse_many(text) for door, text in limits.items()}

    def hit(self, door: Door, keys: Sequence[str]) -> None:
        """Count one request at ``door`` under each key; raises :class:`TooManyRequests` when one
        of the door's limits is used up for one of them."""
        if not self.enabled:
            return
        try:
            for item in self.limits.get(door, []):
                for key in keys:
                    if not self.limiter.hit(item, door, key):
                        raise TooManyRequests(self._retry_after(item, door, key))
        except TooManyRequests:
            raise
        except Exception:  # the counter's store is down: let the request through, say so
            log.warning("rate limit %s not checked: the counter store failed", door, exc_info=True)

    async def hit_async(self, door: Door, keys: Sequence[str]) -> None:
        """:meth:`hit` without blocking the event loop: in memory it is :meth:`hit` itself (no I/O),
        with Redis the same moving-window script through ``redis.asyncio``."""
        if not self.enabled:
            return
        if self.redis_url is None:
            self.hit(door, keys)
            return
        try:
            limiter = self._limiter_of_this_loop(self.redis_url)
            for item in self.limits.get(door, []):
                for key in keys:
                    if not await limiter.hit(item, door, key):
                        stats = await limiter.get_window_stats(item, door, key)
                        raise TooManyRequests(_seconds_until(stats.reset_time))
        except TooManyRequests:
            raise
        except Exception:  # the counter's store is down: let the request through, say so
            log.warning("rate limit %s not checked: the counter store failed", door, exc_info=True)

    def _limiter_of_this_loop(self, redis_url: str) -> AsyncMovingWindowRateLimiter:
        loop = asyncio.get_running_loop()
        if self._async_limiter is None or self._async_limiter[0] is not loop:
            storage = AsyncRedisStorage(f"async+{redis_url}", implementation="redispy", key_prefix=self.key_prefix)
            self._async_limiter = (loop, AsyncMovingWindowRateLimiter(storage))
        return self._async_limiter[1]

    def _retry_after(self, item: RateLimitItem, door: Door, key: str) -> int:
        return _seconds_until(self.limiter.get_window_stats(item, door, key).reset_time)

    def reset(self) -> None:
        """Forget every count (this prefix's keys only, in Redis)."""
        self.storage.reset()


def _seconds_until(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))
