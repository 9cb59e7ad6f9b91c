"""Route dispatch by the address's first words, instead of asking every feature's router in turn.

FastAPI keeps each included router as one entry of the app's routes and, for every request, asks
each entry whether it matches, which asks each of its routes (about 120 of them here, with
FastAPI's bookkeeping around each): a refund request paid for a score of routers' refusals before
its own was reached. :class:`RouteIndex` sits in front of those entries and knows, for each, the
literal words its addresses start with (``/api/v1/orders/{order_no}/…`` starts with
``api/v1/orders``); it asks only the entries that could take the address, in their order.

The answer stays FastAPI's own: the first entry that fully matches is the same entry FastAPI would
have found (the others cannot match the address at all). When none fully matches (a 404, a 405, a
missing trailing slash) the index steps aside and FastAPI's usual walk gives the usual answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

# How many leading words of an address the index tells apart: api/v1/<feature> is enough.
DEPTH = 3
_SELECTED = "kameng.route_index.selected"
Key = tuple[str, ...]


class RouteIndex(BaseRoute):
    """One entry of the app's routes answering for the entries after it."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        by_key: dict[Key, set[int]] = {}
        for position, route in enumerate(self.routes):
            for key in _keys_of(route):
                by_key.setdefault(key, set()).add(position)
        self.by_key = {key: tuple(sorted(positions)) for key, positions in by_key.items()}

    def candidates(self, path: str) -> list[BaseRoute]:
        """The entries that could take ``path``, in the app's order."""
        words = tuple(path.split("/")[1 : DEPTH + 1])
        found: set[int] = set()
        for depth in range(len(words) + 1):
            found.update(self.by_key.get(words[:depth], ()))
        return [self.routes[position] for position in sorted(found)]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, _SELECTED: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_SELECTED)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        # Addresses are built by the routes themselves, which follow this entry.
        raise NoMatchFound(name, path_params)


def install_route_index(app: FastAPI) -> None:
    """Put a :class:`RouteIndex` in front of the app's included routers (after FastAPI's own
    documentation routes, which keep their place). Call once, after the last ``include_router``."""
    routes = app.router.routes
    first = next((i for i, route in enumerate(routes) if hasattr(route, "original_router")), len(routes))
    routes.insert(first, RouteIndex(routes[first:]))


def _keys_of(route: BaseRoute) -> set[Key]:
    """The literal leading words of every address ``route`` may take; ``()`` (any address) when
    it cannot tell."""
    keys: set[Key] = set()
    for template in _templates(route):
        if template is None:
            return {()}
        keys.add(_literal_words(template))
    return keys or {()}


def _templates(route: BaseRoute) -> Iterator[str | None]:
    contexts = getattr(route, "effective_route_contexts", None)
    if contexts is None:  # a route of the app itself
        yield getattr(route, "path_format", None)
        return
    for context in contexts():
        yield getattr(getattr(context, "starlette_route", None), "path_format", None) or getattr(
            context, "path_format", None
        )


def _literal_words(template: str) -> Key:
    """``/api/v1/orders/{order_no}/refund-requests`` → ``("api", "v1", "orders")``: the words before
    the first parameter, but a word a parameter shares (``/files/report-{n}``) is not one."""
    literal, parameter, _ = template.partition("{")
    words = literal.split("/")[1:]
    if parameter:
        words = words[:-1]
    return tuple(words[:DEPTH])
