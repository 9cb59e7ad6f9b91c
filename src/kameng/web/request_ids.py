"""Every request gets an id: the one a proxy sent (``X-Request-ID``, if it looks like one) or a new
one. It is echoed in the answer's header, named by every log line of the request (a context
variable, :mod:`kameng.platform.logs`), stored on the outbox rows the request queued, and shown
on the 500 page, so a person's reference, the proxy's log and ours all meet.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng.platform.logs import REQUEST_ID_HEADER, new_request_id, request_context, sane_request_id

_STATE_KEY = "request_id"


class RequestIds:
    """Pure ASGI middleware: sets the request id for the request's context and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = sane_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER)) or new_request_id()
        # Kept in the scope as well: the 500 handler runs outside this middleware, after the
        # context variable is reset, and must name the same id.
        scope.setdefault("state", {})[_STATE_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_context(request_id):
            await self.app(scope, receive, send_with_id)


def request_id_of(request: Request) -> str:
    """The id :class:`RequestIds` gave this request (a sane incoming one, else a new one, when the
    middleware did not run)."""
    given = request.scope.get("state", {}).get(_STATE_KEY)
    if isinstance(given, str):
        return given
    return sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
