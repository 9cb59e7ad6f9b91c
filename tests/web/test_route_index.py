"""The route index finds, for every address the app serves, the route FastAPI's own walk finds."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match

from kameng.web.route_index import RouteIndex
from tests.web.test_hostile_input import all_routes


def _index_of(client: TestClient) -> tuple[RouteIndex, list[BaseRoute]]:
    routes: list[BaseRoute] = client.app.routes  # type: ignore[attr-defined]
    index = next(route for route in routes if isinstance(route, RouteIndex))
    return index, [route for route in routes if route is not index]


def _walk(routes: list[BaseRoute], scope: dict[str, Any]) -> BaseRoute | None:
    """FastAPI's order: the first route that fully matches."""
    for route in routes:
        match, _ = route.matches(dict(scope))
        if match is Match.FULL:
            return route
    return None


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def test_every_route_is_found_where_fastapi_finds_it(client: TestClient) -> None:
    index, routes = _index_of(client)
    checked = 0
    for route in all_routes(routes):
        for method in route.methods:
            for value in ("1", "KM20260101", "x.csv"):
                path = re.sub(r"\{[^}]*\}", value, route.path)
                scope = _scope(method, path)
                expected = _walk(routes, scope)
                match, child = index.matches(dict(scope))
                found = child.get("kameng.route_index.selected") if match is Match.FULL else None
                assert found is expected, (method, path)
                checked += 1
    assert checked > 100


def test_addresses_no_route_takes_are_left_to_fastapi(client: TestClient) -> None:
    index, _ = _index_of(client)
    for method, path in [
        ("GET", "/no-such-page"),
        ("GET", "/api/v1/orders/"),  # the trailing slash FastAPI redirects
        ("DELETE", "/api/v1/products"),  # a 405
        ("GET", "//api/v1/products"),
        ("GET", ""),
    ]:
        assert index.matches(_scope(method, path))[0] is Match.NONE, path
    assert client.get("/no-such-page").status_code == 404
    assert client.delete("/api/v1/products").status_code == 405


def test_the_index_takes_only_the_routers_an_address_could_reach(client: TestClient) -> None:
    index, _ = _index_of(client)
    paths = {
        getattr(context, "path_format", "")
        for route in index.candidates("/api/v1/orders/KM1/refund-requests")
        for context in route.effective_route_contexts()  # type: ignore[attr-defined]
    }
    assert any(path.startswith("/api/v1/orders/") for path in paths)
    assert len(index.candidates("/api/v1/orders/KM1/refund-requests")) <= 3 < len(index.routes)
