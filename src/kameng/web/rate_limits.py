"""The rate limits as route dependencies: ``dependencies=[limited("sign_in", by_identifier=True)]``.

Counted per client address (the proxy's ``X-Forwarded-For`` once ``KAMENG_FORWARDED_ALLOW_IPS``
trusts it: uvicorn puts the real address in the scope) and, where asked, per account name too,
so one address cannot try many accounts and many addresses cannot try one account. Over the
limit, the route answers 429 with ``Retry-After`` (web/errors.py: JSON on the API, a page
elsewhere).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from starlette.types import Scope

from kameng.platform.rate_limits import Door, RateLimits

MAX_IDENTIFIER = 200


def address_key(scope: Scope) -> str:
    """The key a request is counted under by its client's address (the one the server saw). Read
    from the ASGI scope, so that the direct way (web/direct.py) counts a request as this module's
    dependency does, without building a Request."""
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


async def _identifier(request: Request) -> str | None:
    """The account name the request signs in as, read from its JSON or form body (both cached by
    Starlette, so the route reads them again for free); None when there is none to read."""
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
            value = body.get("identifier") if isinstance(body, dict) else None
        else:
            value = (await request.form()).get("identifier")
    except Exception:  # a malformed body: the route's own validation answers it
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()[:MAX_IDENTIFIER]


def limited(door: Door, *, by_identifier: bool = False) -> Any:
    """A dependency counting this request at ``door``."""

    async def check(request: Request) -> None:
        limits: RateLimits = request.app.state.rate_limits
        keys = [address_key(request.scope)]
        if by_identifier and (identifier := await _identifier(request)) is not None:
            keys.append(f"id:{identifier}")
        # On the event loop (redis.asyncio, or a dictionary in memory): no worker-thread hop.
        await limits.hit_async(door, keys)

    return Depends(check)
