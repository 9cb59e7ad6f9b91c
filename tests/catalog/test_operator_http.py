"""The operator's catalog over HTTP: the API (/api/v1/operator/…) and the pages
(/operator/catalog…), on the demo data, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kameng.demo import DEMO_PASSWORD, card_key_code
from tests.accounts.test_revocation import bearer, sign_in, token_for
from tests.support.pages import csrf_of

API = "/api/v1/operator"
OPERATOR = "operator@kameng.test"


def _operator(client: TestClient) -> dict[str, str]:
    return bearer(token_for(client, OPERATOR))


def _available(page: str) -> int:
    return int(page.split('id="stock-available">', 1)[1].split("<", 1)[0])


def _game_id(client: TestClient, auth: dict[str, str]) -> int:
    products = client.get(f"{API}/products", headers=auth).json()
    return int(next(p["id"] for p in products if p["slug"] == "game-points-50"))


def test_the_api_imports_card_keys_once_per_idempotency_key(client: TestClient) -> None:
    auth = _operator(client)
    game = _game_id(client, auth)
    before = client.get(f"{API}/products/{game}/card-keys", headers=auth).json()
    body = {"codes": ["API-KEY-0001", "API-KEY-0002", "API-KEY-0003"]}
    first = client.post(f"{API}/products/{game}/card-keys", json=body, headers={**auth, "Idempotency-Key": "imp-1"})
    assert first.status_code == 200, first.text
    assert (first.json()["keys"], first.json()["imported"], first.json()["replayed"]) == (3, True, False)
    again = client.post(f"{API}/products/{game}/card-keys", json=body, headers={**auth, "Idempotency-Key": "imp-1"})
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    after = client.get(f"{API}/products/{game}/card-keys", headers=auth).json()
    assert after["available"] == before["available"] + 3
    other = client.post(
        f"{API}/products/{game}/card-keys",
        json={"codes": ["API-KEY-0009"]},
        headers={**auth, "Idempotency-Key": "imp-1"},
    )
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")


def test_the_api_refuses_a_list_with_a_duplicate_whole_naming_the_lines(client: TestClient) -> None:
    auth = _operator(client)
    game = _game_id(client, auth)
    before = client.get(f"{API}/products/{game}/card-keys", headers=auth).json()
    csv = "code\nDUP-0001\n" + card_key_code("game-points-50", 3) + "\nDUP-0002\nDUP-0001\n"
    answer = client.post(
        f"{API}/products/{game}/card-keys", json={"csv": csv}, headers={**auth, "Idempotency-Key": "d"}
    )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"]["field"] == "csv"
    assert [(p["line"], p["problem"], p["first_line"]) for p in body["problems"]] == [
        (3, "already_in_stock", None),
        (5, "duplicate_in_list", 2),
    ]
    assert body["problems"][1]["message"]["zh"] == "第 5 行:与第 2 行重复"
    assert client.get(f"{API}/products/{game}/card-keys", headers=auth).json() == before
    preview = client.post(
        f"{API}/products/{game}/card-keys",
        json={"codes": ["OK-0001"], "preview": True},
        headers={**auth, "Idempotency-Key": "p"},
    )
    assert (preview.status_code, preview.json()["imported"], preview.json()["keys"]) == (200, False, 1)
    assert client.get(f"{API}/products/{game}/card-keys", headers=auth).json() == before


def test_the_api_creates_and_edits_a_product_and_only_for_operators(client: TestClient) -> None:
    auth = _operator(client)
    body = {
        "slug": "music-monthly",
        "merchant_id": 1,
        "kind": "membership",
        "name_zh": "音乐月卡",
        "name_en": "Music, monthly",
        "price": "15.00",
        "term_unit": "months",
        "term_value": 1,
    }
    made = client.post(f"{API}/products", json=body, headers=auth)
    assert made.status_code == 201, made.text
    assert (made.json()["price_fen"], made.json()["term_months"], made.json()["on_sale"]) == (1500, 1, True)
    assert client.get("/api/v1/products/music-monthly").status_code == 200  # in the shop window
    again = client.post(f"{API}/products", json=body, headers=auth)
    assert (again.status_code, again.json()["error"]["field"]) == (422, "slug")  # never a second product
    edited = client.put(f"{API}/products/{made.json()['id']}", json={**body, "price": "12.50"}, headers=auth)
    assert edited.json()["price_fen"] == 1250
    off = client.put(f"{API}/products/{made.json()['id']}/sale", json={"on_sale": False}, headers=auth)
    assert off.json()["on_sale"] is False
    assert client.get("/api/v1/products/music-monthly").status_code == 404
    bad = client.post(f"{API}/products", json={**body, "slug": "x2", "term_unit": ""}, headers=auth)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "term_unit")
    for who in ("13800000001", "supervisor@kameng.test"):
        other = bearer(token_for(client, who))
        assert client.get(f"{API}/products", headers=other).status_code == 404
        assert client.post(f"{API}/products", json={**body, "slug": "x3"}, headers=other).status_code == 404
    assert client.get(f"{API}/products").status_code == 401


def test_the_low_stock_alerts_reach_the_api_and_the_catalog_page(client: TestClient) -> None:
    auth = _operator(client)
    game = _game_id(client, auth)
    product = client.get(f"{API}/products/{game}", headers=auth).json()
    assert client.get(f"{API}/low-stock", headers=auth).json() == []
    body = {
        key: product[key]
        for key in ("slug", "merchant_id", "kind", "price", "benefits", "renewable", "uses_card_keys", "on_sale")
    }
    body |= {"name_zh": product["name"]["zh"], "name_en": product["name"]["en"], "low_stock_threshold": 100}
    assert client.put(f"{API}/products/{game}", json=body, headers=auth).status_code == 200
    (alert,) = client.get(f"{API}/low-stock", headers=auth).json()
    assert (alert["slug"], alert["threshold"]) == ("game-points-50", 100)
    sign_in(client, OPERATOR, DEMO_PASSWORD)
    page = client.get("/operator/catalog")
    assert page.status_code == 200
    assert 'id="low-stock"' in page.text
    assert 'id="alert-game-points-50"' in page.text
    # The console's home warns too, naming the product in the reader's language, with its link.
    home = client.get("/operator")
    assert 'data-key="op.warn.low_stock"' in home.text
    assert f'href="/operator/catalog/products/{game}"' in home.text
    assert product["name"]["zh"] in home.text
    assert product["name"]["en"] in client.get("/operator?lang=en").text


def test_the_pages_preview_then_commit_an_import_and_refuse_a_duplicate(client: TestClient) -> None:
    sign_in(client, OPERATOR, DEMO_PASSWORD)
    game = _game_id(client, _operator(client))
    page = client.get(f"/operator/catalog/products/{game}")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    available = _available(page.text)
    refused = client.post(
        f"/operator/catalog/products/{game}/card-keys/preview",
        data={"csrf": csrf, "codes": "PAGE-0001\nPAGE-0001"},
        files={"file": ("", b"")},
    )
    assert refused.status_code == 422
    assert "第 2 行:与第 1 行重复" in refused.text
    assert 'id="commit-import"' not in refused.text
    preview = client.post(
        f"/operator/catalog/products/{game}/card-keys/preview",
        data={"csrf": csrf},
        files={"file": ("keys.csv", b"code\nPAGE-0001\nPAGE-0002\n", "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert 'id="commit-import"' in preview.text
    token = preview.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    for _ in range(2):  # a double click imports once
        done = client.post(
            f"/operator/catalog/products/{game}/card-keys/commit",
            data={"csrf": csrf, "token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert _available(client.get(f"/operator/catalog/products/{game}").text) == available + 2


def test_the_catalog_pages_are_the_operators_alone(client: TestClient) -> None:
    sign_in(client, "supervisor@kameng.test", DEMO_PASSWORD)
    assert client.get("/operator/catalog").status_code == 404
    assert client.get("/operator/catalog/products/1").status_code == 404
    assert client.get("/operator/catalog/products/new").status_code == 404


def test_an_upload_larger_than_an_import_is_refused_before_it_is_read(client: TestClient) -> None:
    sign_in(client, OPERATOR, DEMO_PASSWORD)
    game = _game_id(client, _operator(client))
    csrf = csrf_of(client.get(f"/operator/catalog/products/{game}").text)
    answer = client.post(
        f"/operator/catalog/products/{game}/card-keys/preview",
        data={"csrf": csrf},
        files={"file": ("keys.csv", b"K" * 1_100_000, "text/csv")},
    )
    assert answer.status_code == 422
    assert "文件太大" in answer.text
