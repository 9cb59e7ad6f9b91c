"""The two hottest API routes, answered without the framework's per-request layers.

Placing an order and asking for a refund are the writes a shop sees most. FastAPI takes each
request through its own middleware, its router, its dependency solver (which looks at every
parameter and dependency of the route again on every call), its endpoint wrapper and its response
machinery. Measured in process (``bench/step_cpu.py``), those layers cost a refund request about
0.55 ms beside its 2.4 ms step, and the direct way 0.35 ms: a saving of 0.2 ms, about 7 % of the
request's CPU in the app (docs/performance.md).

A :class:`DirectRoute` answers such a request itself when the request is plain: a bearer token, a
valid ``Idempotency-Key``, valid path parameters, and a JSON body that the route's own model
accepts. Everything else goes to the FastAPI route, which stays registered and unchanged: the
OpenAPI document, a multipart body, a missing token, a bad header or body, each answered as before,
by the same code. So the direct way adds no second set of error answers:

- what it does not take goes on untouched, before anything is counted; a body it has read goes on
  replayed, byte for byte;
- the rate limit is counted as the route's ``limited(door)`` dependency counts it, once;
- a service's refusal (a 404, a 409, a 401 for a revoked token) is answered by the app's own
  exception handler for it; anything unexpected propagates as from any route (the 500 handler,
  with the request id);
- ``scope["route"]`` is the FastAPI route, so the metrics name the same template, and the
  envelope around (request id, security headers, metrics) is the same middleware.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng.container import Container
from kameng.platform.errors import ServiceError
from kameng.platform.rate_limits import Door, RateLimits
from kameng.web.deps import IdempotencyKey
from kameng.web.rate_limits import address_key

# A body larger than this goes to the FastAPI route: these routes' JSON bodies are a few hundred
# bytes (a refund request's description is at most 2,000 characters), and a large one is better
# answered by the code that answers it today.
MOST_BODY_BYTES = 64 * 1024
_JSON = "application/json"
_AUTHORIZATION = b"authorization"
_CONTENT_TYPE = b"content-type"
_IDEMPOTENCY_KEY = b"idempotency-key"
_KEY = TypeAdapter(IdempotencyKey)
Handler = Callable[[Request, Exception], Awaitable[Response]]


@dataclass(frozen=True)
class DirectCall:
    """What a plain request brought, checked: run on a worker thread by :attr:`DirectRoute.answer`."""

    container: Container
    token: str
    path: dict[str, Any]
    body: BaseModel
    idempotency_key: str


@dataclass(frozen=True)
class DirectRoute:
    """A POST route answered directly when the request is plain (the module's docstring)."""

    template: str  # the FastAPI route's path, e.g. /api/v1/orders/{order_no}/refund-requests
    parameters: dict[str, TypeAdapter[Any]]  # each path parameter's own type, as the route declares it
    body: type[BaseModel]
    answer: Callable[[DirectCall], tuple[BaseModel, int]]  # blocking: the answer and its status
    door: Door | None = None  # the route's rate limit, when it has one


class DirectRoutes:
    """ASGI middleware: :class:`DirectRoute`\\ s first, the app for everything else."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[DirectRoute], registered: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = [(route, compile_path(route.template)[0], _registered(route, registered)) for route in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = get_route_path(scope)
            for route, pattern, registered in self.routes:
                found = pattern.match(path)
                if found is not None:
                    await self._direct(route, registered, found.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _direct(
        self,
        route: DirectRoute,
        registered: BaseRoute,
        raw_path: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        heard = _headers(scope)
        token = _bearer(heard.get(_AUTHORIZATION))
        key = _valid(_KEY, heard.get(_IDEMPOTENCY_KEY))
        path = {name: _valid(route.parameters[name], value) for name, value in raw_path.items()}
        if token is None or key is None or None in path.values() or not _is_json(heard.get(_CONTENT_TYPE)):
            await self.app(scope, receive, send)
            return
        chunks, finished = await _read_body(receive)
        body = _parsed(route.body, b"".join(chunks)) if finished else None
        if body is None:
            await self.app(scope, _replaying(chunks, finished, receive), send)
            return
        scope["route"] = registered
        app = scope["app"]
        try:
            if route.door is not None:
                limits: RateLimits = app.state.rate_limits
                await limits.hit_async(route.door, [address_key(scope)])
            call = DirectCall(app.state.container, token, path, body, key)
            model, status = await run_in_threadpool(route.answer, call)
        except ServiceError as refusal:
            request = Request(scope, receive)
            response = await _handler_of(request, refusal)(request, refusal)
            await response(scope, receive, send)
            return
        content = model.model_dump_json().encode()
        headers = [(b"content-type", _JSON.encode()), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def _registered(route: DirectRoute, registered: Sequence[BaseRoute]) -> BaseRoute:
    """The FastAPI route that answers ``route``'s requests when they are not plain."""
    for candidate in registered:
        if getattr(candidate, "path", None) == route.template and "POST" in (getattr(candidate, "methods", None) or ()):
            return candidate
    raise LookupError(f"no POST route is registered at {route.template}")


def _handler_of(request: Request, refusal: ServiceError) -> Handler:
    """The app's exception handler for ``refusal``: the nearest of its classes that has one (the
    app registers one for ``ServiceError`` itself, web/errors.py)."""
    handlers: dict[Any, Handler] = request.app.exception_handlers
    return next(handlers[kind] for kind in type(refusal).__mro__ if kind in handlers)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The headers these routes read, by their lower-case names (the first of each)."""
    wanted: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in (_AUTHORIZATION, _IDEMPOTENCY_KEY, _CONTENT_TYPE):
            wanted.setdefault(name, value)
    return wanted


def _bearer(value: bytes | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.decode("latin-1").partition(" ")
    return credentials if scheme.lower() == "bearer" and credentials else None


def _valid(adapter: TypeAdapter[Any], value: bytes | str | None) -> Any:
    """The value as the route's parameter would take it, or None when the route would refuse it."""
    if value is None:
        return None
    try:
        return adapter.validate_python(value.decode("latin-1") if isinstance(value, bytes) else value)
    except ValidationError:
        return None


def _is_json(value: bytes | None) -> bool:
    return value is not None and value.decode("latin-1").split(";", 1)[0].strip().lower() == _JSON


async def _read_body(receive: Receive) -> tuple[list[bytes], bool]:
    """The body's chunks, and whether that is all of it (False past :data:`MOST_BODY_BYTES`, or
    when the client went away: the rest is for the FastAPI route to meet)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return chunks, True
        if size > MOST_BODY_BYTES:
            return chunks, False


def _parsed(model: type[BaseModel], body: bytes) -> BaseModel | None:
    """The body as the route's model, or None when the route would refuse it."""
    try:
        return model.model_validate(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError, ValidationError):
        return None


def _replaying(chunks: list[bytes], finished: bool, receive: Receive) -> Receive:
    """``receive`` that first gives back what was already read, as one message."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": not finished}
        return await receive()

    return replay
