"""What wraps every answer of ours, in one pure ASGI middleware instead of a layer each: the
request id (:mod:`kameng.web.request_ids`), the HTTP metrics (:mod:`kameng.web.metrics`), the
security headers (:mod:`kameng.web.security`), and the cookie session for the requests that use it.

Each layer costs a call and a wrapped ``send`` on every request; one pass over the request's
headers and one ``send`` wrapper do all of it.

The cookie session (Starlette's ``SessionMiddleware``: page sign-in, CSRF token, drafts, flashes)
is skipped for API calls that carry an ``Authorization`` header: the API authenticates by that
header only and never reads the cookie session, so a bearer call gets no session cookie set or
read. Every other request (the pages, their forms and their CSRF checks) goes through it as before.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng.platform.logs import new_request_id, request_context, sane_request_id
from kameng.web.metrics import UNMATCHED, Metrics
from kameng.web.request_ids import REQUEST_ID_SCOPE_KEY
from kameng.web.security import SecurityHeaderSet, add_missing

_REQUEST_ID = b"x-request-id"
_AUTHORIZATION = b"authorization"
_API = "/api/"


class Envelope:
    """Outermost of our middleware: every answer (an error page too) and log line has the id."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, production: bool, cookie_session: dict[str, Any]) -> None:
        self.app = app
        self.with_cookie_session = SessionMiddleware(app, **cookie_session)
        self.metrics = metrics
        self.security = SecurityHeaderSet(production=production)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.with_cookie_session(scope, receive, send)
            return
        started = time.perf_counter()
        sent_id: str | None = None
        bearer = False
        for name, value in scope["headers"]:
            if name == _REQUEST_ID and sent_id is None:
                sent_id = value.decode("latin-1")
            elif name == _AUTHORIZATION:
                bearer = True
        request_id = sane_request_id(sent_id) or new_request_id()
        # Kept in the scope as well: the 500 handler runs outside this middleware, after the
        # context variable is reset, and must name the same id.
        scope.setdefault("state", {})[REQUEST_ID_SCOPE_KEY] = request_id
        path = str(scope.get("path", ""))
        extra = ((_REQUEST_ID, request_id.encode("latin-1")), *self.security.for_path(path))
        status = 500  # an exception that escapes is answered 500 by the error handler outside

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # Our id replaces any the app set; the app's own security headers are kept.
                message["headers"] = [h for h in message.get("headers", []) if h[0].lower() != _REQUEST_ID]
                add_missing(message, extra)
            await send(message)

        inner = self.app if bearer and path.startswith(_API) else self.with_cookie_session
        try:
            with request_context(request_id):
                await inner(scope, receive, send_wrapped)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], str(template), status, time.perf_counter() - started)
