"""Hostile input at the boundary, on SQLite and PostgreSQL: every field refuses it with a 4xx that
names the field, in both languages, and nothing is stored.

The cases are read from the API's own OpenAPI document, so a new field or parameter is covered
the day it is added: a NUL and 10,000 characters in every text field of every JSON body and in
every string path and query parameter, 2**70 in every whole number, NaN, infinity and 1e400 in
every decimal (a field the schema marks ``x-decimal``). A body model without a base body below
fails the test until one is written. The pages' forms and path parameters get the same, through
a signed-in browser session (the site's own error page, or the message beside the field on the
next page).

A NUL is what PostgreSQL refuses and SQLite stores, which is why the fuzzing on SQLite alone
missed it; 2**70 does not fit in a 64-bit integer; NaN fails even a comparison."""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.simulator.models import SimulatorBase
from kameng.platform.i18n import Lang
from kameng.platform.inputs import field_label
from kameng.schema import Base
from kameng.webhooks.events import EventType, emit
from kameng.webhooks.models import WebhookDelivery
from tests.support.apps import container_of

API = "/api/v1"
PASSWORD = "kameng-demo-2026"
NUL = "ab\x00cd"
LONG = "x" * 10_000
HUGE = 2**70
TEXTS = {"NUL": NUL, "10,000 characters": LONG}
# As text, and as the JSON numbers Python's json module reads into floats (NaN, Infinity, 1e400).
NOT_DECIMALS_TEXT = ["NaN", "Infinity", "-Infinity", "1e400", "1E-400", "0.0000001"]
NOT_DECIMALS_RAW = ["NaN", "Infinity", "-Infinity", "1e400"]

# A valid body for every JSON body model of the API; a hostile value replaces one field at a time.
BASE_BODIES: dict[str, dict[str, Any]] = {
    "TokenRequest": {"identifier": "13800000001", "password": PASSWORD},
    "SignupRequest": {"identifier": "13900000099", "password": "a-long-password", "display_name": "新人"},
    "OrderRequest": {"product": "monthly-pass", "channel": "alipay", "coupon": "SORRY10", "duplicate_ack": True},
    "EventRequest": {"type": "outage", "hours": "2", "note": "机房断电", "benefit": "video"},
    "RefundRequestIn": {"reason": "changed_mind", "description": "不想要了"},
    "CommentIn": {"comment": "补充说明"},
    "ConsentIn": {"consent": True},
    "ApproveIn": {"amount": "1.00", "reason": "部分退款"},
    "RejectIn": {"rule": "P3", "comment": "不符合退款条件。"},
    "AskInfoIn": {"comment": "请补充截图"},
    "WithdrawalIn": {"amount": "1.00"},
    "DecisionIn": {"note": "核对无误"},
    "PasswordChange": {"current_password": PASSWORD, "new_password": "a-long-new-password"},
    "ApiKeyIn": {"name": "ERP", "scopes": ["orders:read"]},
    "EndpointIn": {"url": "http://127.0.0.1:9/hooks", "event_types": ["order.paid"], "description": "ERP"},
    "EndpointPatch": {"event_types": ["order.paid"], "enabled": True},
    # A gone merchant that does not exist: whatever passes the boundary stops at the lookup.
    "StartIn": {"merchant": "999999", "confirmed_orders": 0, "note": "商家跑路"},
    "OutageIn": {
        "scope": "product",
        "target": "no-such-product",  # whatever passes the boundary stops at the lookup
        "starts_at": "2026-11-01T00:00:00+08:00",
        "ends_at": "2026-11-01T02:00:00+08:00",
        "note": "机房断电",
    },
    "CancelIn": {"code": "123456", "password": PASSWORD, "reason": "不需要了"},
    "ProductIn": {
        "slug": "hostile-test",
        "merchant_id": 1,
        "kind": "virtual_goods",
        "name_zh": "测试",
        "name_en": "Test",
        "price": "1.00",
        "uses_card_keys": True,
        "benefits": {"points": 5},
    },
    "SaleIn": {"on_sale": True},
    "CardKeysIn": {"codes": ["HOSTILE-0001"], "preview": True},
    **{
        name: {
            "cooling_off_days": 7,
            "cooling_off": "full_if_unused",
            "proration": "by_day",
            "fee_percent": "5",
            "fee_min": "0.00",
            "fee_max": "20.00",
            "review_business_days": 2,
            "trial_counts_as_activation": True,
            **extra,
        }
        for name, extra in (
            ("DraftIn", {}),
            ("SimulateIn", {"since": "2020-01-01", "until": "2030-01-01"}),
            ("PublishIn", {"based_on": 1}),
        )
    },
}
# Bodies that are not a model: the scenario (its own cases below) and the channels' signed
# notifications (a NUL there breaks the signature: 400; the real channels' in tests/channels).
OWN_CASES = {
    (f"{API}/simulate", "post"),
    (f"{API}/payments/notify/simulator", "post"),
    (f"{API}/payments/notify/{{channel}}", "post"),
}
STAFF_PATHS = ("/approve", "/reject", "/ask-info", "/staff/", "/events")
# What only an operator reaches: API keys, what keys open, webhooks, disabling an account.
OPERATOR_PATHS = (f"{API}/integrations/", f"{API}/webhooks/", f"{API}/staff/users/", f"{API}/operator/")


# --------------------------------------------------------------------------------------------
# The demo world, and what "nothing stored" means


@dataclass(frozen=True)
class World:
    consumer: dict[str, str]
    staff: dict[str, str]
    values: dict[str, Any]  # a valid value for each path parameter
    operator: dict[str, str]


def token(client: TestClient, identifier: str) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"identifier": identifier, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture
def world(client: TestClient) -> World:
    consumer, staff = token(client, "13800000001"), token(client, "supervisor@kameng.test")
    orders = client.get(f"{API}/orders", headers=consumer).json()
    paid = next(o["order_no"] for o in orders if o["status"] == "paid")
    pending = next(o["order_no"] for o in orders if o["status"] == "pending_payment")
    ticket = client.get(f"{API}/staff/tickets", headers=staff).json()["items"][0]["ticket_no"]
    operator = token(client, "operator@kameng.test")
    key = client.post(f"{API}/integrations/api-keys", headers=operator, json=BASE_BODIES["ApiKeyIn"]).json()
    endpoint = client.post(f"{API}/webhooks/endpoints", headers=operator, json=BASE_BODIES["EndpointIn"]).json()
    container = container_of(client)
    with container.uow() as uow:
        emit(uow, EventType.ORDER_PAID, paid, {"order_no": paid}, container.now())
        uow.commit()
        delivery = uow.session.scalars(select(WebhookDelivery.id)).first()
        agent = uow.session.scalar(select(User.id).where(User.email == "agent@kameng.test"))
    subscription = client.get(f"{API}/subscriptions", headers=consumer).json()[0]["sub_no"]
    values = {
        "sub_no": subscription,
        "order_no": paid,
        "ticket_no": ticket,
        "slug": "monthly-pass",
        "out_trade_no": f"P{pending}",
        "file_id": 1,
        "withdrawal_no": "W26010100000000",  # none such: a hostile value must be refused before the lookup
        "session_id": client.get(f"{API}/auth/sessions", headers=consumer).json()[0]["id"],
        "key_id": key["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery,
        "user_id": agent,
        "product_id": 7,  # game-points-50, which delivers card keys
        "run_id": 999999,  # no such mass-refund run: a hostile value must be refused before the lookup
        "action": "stop",
    }
    return World(consumer, staff, values, operator)


# When a session or an API key was last used is bookkeeping of every authenticated request, not
# something a refused request stored.
TOUCHED = {"last_seen_at", "last_used_at"}


def everything(client: TestClient) -> dict[str, list[str]]:
    """Every row of every table, as text: compared before and after a refused request."""
    engine = container_of(client).engine
    tables = [*Base.metadata.sorted_tables, *SimulatorBase.metadata.sorted_tables]
    with engine.connect() as conn:
        return {
            table.name: sorted(
                repr(tuple(row))
                for row in conn.execute(select(*(column for column in table.columns if column.name not in TOUCHED)))
            )
            for table in tables
        }


def names(message: str, field: str, lang: Lang) -> bool:
    """Whether a message names ``field``: as the API spells it, or by its name for people."""
    return field in message or field_label(field)[lang] in message


# --------------------------------------------------------------------------------------------
# Reading the cases from the OpenAPI document


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def staff(self) -> bool:
        return any(part in self.path for part in STAFF_PATHS)

    @property
    def operator(self) -> bool:
        return self.path.startswith(OPERATOR_PATHS)


@dataclass(frozen=True)
class Case:
    label: str
    operation: Operation
    field: str
    path: dict[str, Any]
    query: dict[str, Any]
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    raw_body: str | None = None


def operations(doc: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in doc["paths"].items():
        for method, spec in methods.items():
            yield Operation(method, path, spec)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The body model's name and schema (a $ref, a nullable $ref, or an inlined model)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name, doc["components"]["schemas"][name]
    for option in schema.get("anyOf", []):
        found = _resolve(doc, option)
        if found:
            return found
    if "title" in schema and "properties" in schema:
        return schema["title"], schema
    return None


def json_body(doc: dict[str, Any], operation: Operation) -> tuple[str, dict[str, Any]] | None:
    content = operation.spec.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    found = _resolve(doc, content["application/json"]["schema"])
    assert found, f"{operation.method} {operation.path}: a JSON body the test cannot read"
    return found


def kinds(schema: dict[str, Any]) -> set[str]:
    """What a property accepts: its JSON types, and ``decimal`` when marked ``x-decimal``."""
    found: set[str] = set()
    if "x-decimal" in schema:
        found.add("decimal")
    if "type" in schema:
        found.add(schema["type"])
    if "$ref" in schema or "enum" in schema or "const" in schema:
        found.add("string")  # the enums are strings
    for option in schema.get("anyOf", []):
        found |= kinds(option)
    return found


def base_request(doc: dict[str, Any], operation: Operation, world: World) -> Case:
    path = {p["name"]: world.values[p["name"]] for p in operation.spec.get("parameters", []) if p["in"] == "path"}
    headers = dict(world.operator if operation.operator else world.staff if operation.staff else world.consumer)
    if any(p["name"] == "Idempotency-Key" for p in operation.spec.get("parameters", [])):
        headers["Idempotency-Key"] = "hostile-input"
    found = json_body(doc, operation)
    body = copy.deepcopy(BASE_BODIES[found[0]]) if found else None
    return Case("base", operation, "", path, {}, headers, body)


def hostile_cases(doc: dict[str, Any], world: World) -> Iterator[Case]:
    for operation in operations(doc):
        if (operation.path, operation.method) in OWN_CASES:
            continue
        base = base_request(doc, operation, world)
        for parameter in operation.spec.get("parameters", []):
            name, where, accepts = parameter["name"], parameter["in"], kinds(parameter["schema"])
            values: dict[str, Any] = {}
            if "integer" in accepts:
                values["2**70"] = HUGE
            elif "string" in accepts and where != "header":
                values.update(TEXTS)
            elif "string" in accepts:
                values["10,000 characters"] = LONG  # a NUL cannot even be sent in a header
            for label, value in values.items():
                case = copy.deepcopy(base)
                target = {"path": case.path, "query": case.query, "header": case.headers}[where]
                target[name] = value
                yield Case(
                    f"{label} in {where} {name}", operation, name, case.path, case.query, case.headers, case.body
                )
        found = json_body(doc, operation)
        if not found:
            continue
        for name, schema in found[1].get("properties", {}).items():
            accepts = kinds(schema)
            values = {}
            if "string" in accepts:
                values.update(TEXTS)
            if "integer" in accepts:
                values["2**70"] = HUGE
            for label, value in values.items():
                body = {**(base.body or {}), name: value}
                yield Case(f"{label} in body {name}", operation, name, base.path, {}, base.headers, body)
            if "decimal" in accepts:
                for text in NOT_DECIMALS_TEXT:
                    body = {**(base.body or {}), name: text}
                    yield Case(f"{text!r} in body {name}", operation, name, base.path, {}, base.headers, body)
                if "number" in accepts:
                    for raw in NOT_DECIMALS_RAW:
                        text = json.dumps({**(base.body or {}), name: "RAW"}).replace('"RAW"', raw)
                        yield Case(
                            f"JSON {raw} in body {name}", operation, name, base.path, {}, base.headers, None, text
                        )


def send(client: TestClient, case: Case) -> Any:
    # Path parameters travel percent-encoded, as a browser or a client library sends them.
    url = case.operation.path.format(**{name: quote(str(value), safe="") for name, value in case.path.items()})
    headers = dict(case.headers)
    if case.raw_body is not None:
        headers["content-type"] = "application/json"
        return client.request(case.operation.method, url, params=case.query, headers=headers, content=case.raw_body)
    return client.request(case.operation.method, url, params=case.query, headers=headers, json=case.body)


def refused_naming_the_field(answer: Any, field: str) -> str | None:
    """None when the answer is a 4xx naming ``field`` in both languages; else what is wrong."""
    if not 400 <= answer.status_code < 500:
        return f"answered {answer.status_code}: {answer.text[:300]}"
    error = answer.json().get("error", {})
    fields = {error.get("field"), *(problem.get("field") for problem in error.get("errors", []))}
    if field not in fields:
        return f"the error names {fields}, not {field}: {answer.text[:300]}"
    for lang, key in (("en", "message"), ("zh", "message_zh")):
        if not names(error.get(key, ""), field, lang):  # type: ignore[arg-type]
            return f"the {lang} message does not name {field}: {error.get(key)!r}"
    return None


# --------------------------------------------------------------------------------------------
# The API


def test_every_field_and_parameter_of_the_api_refuses_hostile_input_naming_it(client: TestClient, world: World) -> None:
    doc = client.get("/openapi.json").json()
    cases = list(hostile_cases(doc, world))
    # The document still has what the cases are made from: bodies, path and query parameters.
    assert len(cases) > 100
    assert {case.field for case in cases} >= {"display_name", "description", "comment", "hours", "amount", "file_id"}
    before = everything(client)
    failures = []
    for case in cases:
        answer = send(client, case)
        problem = refused_naming_the_field(answer, case.field)
        if problem:
            failures.append(f"{case.operation.method.upper()} {case.operation.path}, {case.label}: {problem}")
    assert failures == []
    assert everything(client) == before


def test_every_json_body_model_has_a_base_body_and_every_number_is_a_decimal_or_whole(client: TestClient) -> None:
    # So that a new body model, or a new float field, cannot slip past the cases above.
    doc = client.get("/openapi.json").json()
    for operation in operations(doc):
        if (operation.path, operation.method) in OWN_CASES:
            continue
        found = json_body(doc, operation)
        if found is None:
            continue
        name, schema = found
        assert name in BASE_BODIES, f"{operation.method} {operation.path}: add a base body for {name}"
        for field, property_schema in schema.get("properties", {}).items():
            accepts = kinds(property_schema)
            assert "number" not in accepts or "decimal" in accepts, f"{name}.{field} takes a float"


def test_the_base_bodies_are_valid_so_each_case_tests_one_field(client: TestClient, world: World) -> None:
    # A base body that were itself refused would make every case above pass for the wrong reason.
    answer = client.post(
        f"{API}/tickets/{world.values['ticket_no']}/ask-info", json=BASE_BODIES["AskInfoIn"], headers=world.staff
    )
    assert answer.status_code == 200, answer.text
    order = client.post(
        f"{API}/orders", json=BASE_BODIES["OrderRequest"], headers={**world.consumer, "Idempotency-Key": "valid"}
    )
    assert order.status_code == 201, order.text
    signup = client.post(f"{API}/auth/signup", json=BASE_BODIES["SignupRequest"])
    assert signup.status_code == 201, signup.text


def multipart(fields: dict[str, str], filename: str | None = None) -> tuple[bytes, str]:
    """A multipart body written by hand: an HTTP client would percent-encode a NUL in a file
    name, and a hostile client does not."""
    boundary = "hostile-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    if filename is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="evidence"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n0000\r\n"
        )
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode("utf-8", "surrogatepass"), f"multipart/form-data; boundary={boundary}"


def test_a_refund_request_sent_as_multipart_refuses_hostile_text_and_file_names(
    client: TestClient, world: World
) -> None:
    url = f"{API}/orders/{world.values['order_no']}/refund-requests"
    before = everything(client)
    failures = []
    for label, value in TEXTS.items():
        cases = [
            ("description", multipart({"reason": "changed_mind", "description": value})),
            ("reason", multipart({"reason": value, "description": "不想要了"})),
            # A file name of 10,000 characters is more than the multipart parser reads of a part's
            # header: the body as a whole is refused.
            (
                "evidence[0]" if value == NUL else "body",
                multipart({"reason": "changed_mind"}, filename=f"shot{value}.png"),
            ),
        ]
        for field, (body, content_type) in cases:
            headers = {**world.consumer, "Idempotency-Key": "multipart", "content-type": content_type}
            problem = refused_naming_the_field(client.post(url, content=body, headers=headers), field)
            if problem:
                failures.append(f"{label} in {field}: {problem}")
    assert failures == []
    assert everything(client) == before


def test_a_forged_payment_notification_with_a_nul_is_a_bad_signature(client: TestClient) -> None:
    body = json.dumps({"out_trade_no": NUL, "amount_fen": HUGE, "status": "SUCCESS"})
    answer = client.post(f"{API}/payments/notify/simulator", content=body, headers={"X-Sim-Signature": "0" * 64})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_signature"


# --------------------------------------------------------------------------------------------
# The scenario simulator: its body is a scenario document, its errors say "<field>: what"

SCENARIO: dict[str, Any] = {
    "name": "hostile",
    "timezone": "Asia/Shanghai",
    "product": {"kind": "membership", "term": {"months": 12}, "price": "100.00", "benefits": {"video": 10}},
    "policy": {"fee_percent": "1.5", "cooling_off_days": 7, "review_business_days": 2},
    "order": {"paid": "100.00", "channel": "alipay", "paid_at": "2026-03-02T10:00:00+08:00"},
    "events": [
        {"at": "2026-03-02T12:00:00+08:00", "type": "activated"},
        {"at": "2026-03-03T12:00:00+08:00", "type": "benefit_used", "benefit": "video", "count": 1},
        {"at": "2026-03-04T12:00:00+08:00", "type": "outage", "hours": "3"},
    ],
    "request": {"at": "2026-03-22T09:00:00+08:00", "reason": "changed_mind"},
}
SCENARIO_TEXTS = [
    "name",
    "timezone",
    "jurisdiction",
    "product.kind",
    "order.channel",
    "request.reason",
    "events[1].benefit",
]
SCENARIO_DECIMALS = ["product.price", "order.paid", "policy.fee_percent", "events[2].hours"]
SCENARIO_WHOLES = ["product.term.months", "policy.cooling_off_days", "policy.review_business_days", "events[1].count"]


def scenario_with(dotted: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(SCENARIO)
    *parents, key = re.split(r"\.|(?=\[)", dotted)
    target: Any = body
    for part in parents:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    target[key] = value
    return body


def test_the_simulator_refuses_hostile_scenarios_naming_the_field(client: TestClient) -> None:
    assert client.post(f"{API}/simulate", json=SCENARIO).status_code == 200
    cases = [(field, value) for field in SCENARIO_TEXTS for value in TEXTS.values()]
    cases += [(field, value) for field in SCENARIO_DECIMALS for value in NOT_DECIMALS_TEXT]
    cases += [(field, HUGE) for field in SCENARIO_WHOLES]
    failures = []
    for field, value in cases:
        answer = client.post(f"{API}/simulate", json=scenario_with(field, value))
        shown = repr(value)[:20]
        if answer.status_code != 422:
            failures.append(f"{shown} in {field}: {answer.status_code} {answer.text[:200]}")
        elif not answer.json()["error"].startswith(f"{field}: "):
            failures.append(f"{shown} in {field}: {answer.json()['error'][:200]}")
    assert failures == []


def test_a_deeply_nested_body_is_refused_not_a_crash(client: TestClient, world: World) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for url in (f"{API}/orders/{world.values['order_no']}/refund-requests", f"{API}/orders", f"{API}/simulate"):
        headers = {**world.consumer, "Idempotency-Key": "deep", "content-type": "application/json"}
        answer = client.post(url, content=deep, headers=headers)
        assert 400 <= answer.status_code < 500, (url, answer.status_code)


# --------------------------------------------------------------------------------------------
# The pages

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def signed_in(client: TestClient, identifier: str, lang: Lang) -> TestClient:
    """A browser session of its own on the same app, signed in through the login form."""
    session = TestClient(client.app)
    session.cookies.set("lang", lang)
    page = session.get("/login")
    csrf = CSRF.search(page.text)
    assert csrf, page.text[:300]
    form = {"csrf": csrf.group(1), "identifier": identifier, "password": PASSWORD, "next": "/orders"}
    answer = session.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return session


def csrf_of(session: TestClient) -> str:
    found = CSRF.search(session.get("/orders").text)
    assert found
    return found.group(1)


@dataclass(frozen=True)
class Form:
    url: str
    fields: dict[str, str]
    hostile: tuple[str, ...]
    who: str  # "consumer", "ticket_owner" (the review ticket's buyer), "staff" or "anonymous"


def page_forms(values: dict[str, Any]) -> list[Form]:
    order, ticket = values["order_no"], values["ticket_no"]
    return [
        Form(
            "/signup",
            {"identifier": "13900000088", "password": "a-long-password", "display_name": "新人"},
            ("identifier", "password", "display_name"),
            "anonymous",
        ),
        Form("/login", {"identifier": "13800000001", "password": PASSWORD}, ("identifier", "password"), "anonymous"),
        Form(
            "/checkout/monthly-pass",
            {"channel": "alipay", "coupon": "", "idempotency_key": "k1", "duplicate_ack": "1"},
            ("channel", "coupon", "idempotency_key"),
            "consumer",
        ),
        Form(
            f"/orders/{order}/usage", {"action": "use_benefit", "benefit": "video"}, ("action", "benefit"), "consumer"
        ),
        Form(
            f"/orders/{order}/refund",
            {"reason": "changed_mind", "description": "不想要了", "idempotency_key": "k2"},
            ("reason", "description", "idempotency_key"),
            "consumer",
        ),
        Form(f"/tickets/{ticket}/appeal", {"comment": "请再看看"}, ("comment",), "ticket_owner"),
        Form(
            f"/orders/{order}/platform-event",
            {"type": "outage", "hours": "2", "note": "断电"},
            ("type", "hours", "note"),
            "staff",
        ),
        Form(
            f"/staff/tickets/{ticket}/approve",
            {"amount": "1.00", "reason": "部分退款", "comment": ""},
            ("amount", "reason", "comment"),
            "staff",
        ),
        Form(
            f"/staff/tickets/{ticket}/reject",
            {"rule": "P3", "comment": "不符合退款条件。"},
            ("rule", "comment"),
            "staff",
        ),
        Form(f"/pay/sim/{values['out_trade_no']}", {"outcome": "succeed"}, ("outcome",), "consumer"),
    ]


ERROR_SHOWN = re.compile(
    r'class="[^"]*\berror\b[^"]*"[^>]*>(.*?)</(?:p|div)>|id="error"[^>]*>\s*<h1>(.*?)</h1>', re.DOTALL
)


def errors_shown(page: str) -> list[str]:
    """The error messages a page shows: beside a field, above a form, or as the error page."""
    return [html.unescape(beside or whole) for beside, whole in ERROR_SHOWN.findall(page)]


def shown_after(session: TestClient, answer: Any) -> tuple[int, list[str]]:
    """The errors on the page a person ends on: the answer itself, or the page a redirect leads
    to (where a refusal carried in the session is shown)."""
    if answer.status_code == 303:
        return answer.status_code, errors_shown(session.get(answer.headers["location"]).text)
    return answer.status_code, errors_shown(answer.text)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_form_refuses_hostile_input_beside_the_field_in_the_readers_language(
    client: TestClient, world: World, lang: Lang
) -> None:
    sessions = {
        "consumer": signed_in(client, "13800000001", lang),
        "ticket_owner": signed_in(client, "13800000002", lang),
        "staff": signed_in(client, "supervisor@kameng.test", lang),
        "anonymous": TestClient(client.app),
    }
    sessions["anonymous"].cookies.set("lang", lang)
    before = everything(client)
    failures = []
    for form in page_forms(world.values):
        session = sessions[form.who]
        for field in form.hostile:
            hostile = {**TEXTS, **({"NaN": "NaN", "1e400": "1e400"} if field in {"hours", "amount"} else {})}
            for label, value in hostile.items():
                page = session.get("/login" if form.who == "anonymous" else "/orders")
                csrf = CSRF.search(page.text)
                assert csrf
                data = {**form.fields, field: value, "csrf": csrf.group(1)}
                answer = session.post(form.url, data=data, follow_redirects=False)
                status, shown = shown_after(session, answer)
                name = field_label(field)[lang]
                if status >= 500 or (status < 400 and status != 303):
                    failures.append(f"{form.url} {label} in {field}: answered {status}")
                elif not any(name in message for message in shown):
                    failures.append(f"{form.url} {label} in {field}: no error names {name!r}, only {shown}")
    assert failures == []
    assert everything(client) == before


def all_routes(routes: list[Any]) -> Iterator[APIRoute]:
    # FastAPI keeps an included router as one entry (its routes under ``original_router``).
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def page_routes(client: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every page route (not the API) with a path parameter, and the parameters' kinds."""
    for route in all_routes(client.app.routes):  # type: ignore[attr-defined]
        if route.path.startswith("/api/") or not route.dependant.path_params:
            continue
        for method in route.methods:
            params = {param.name: param.field_info.annotation for param in route.dependant.path_params}
            yield method, route.path, params


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_address_refuses_hostile_path_parameters_on_its_own_error_page(
    client: TestClient, world: World, lang: Lang
) -> None:
    session = signed_in(client, "supervisor@kameng.test", lang)
    csrf = csrf_of(session)
    values = {**world.values, "action": "approve"}
    before = everything(client)
    failures = []
    routes = list(page_routes(client))
    assert len(routes) > 15
    for method, path, params in routes:
        for name in params:
            hostile = {"2**70": HUGE} if name == "file_id" else TEXTS
            for label, value in hostile.items():
                url = path.format(**{key: quote(str(v), safe="") for key, v in {**values, name: value}.items()})
                answer = session.request(method, url, headers={"x-csrf-token": csrf}, follow_redirects=False)
                shown = errors_shown(answer.text)
                if answer.status_code != 422:
                    failures.append(f"{method} {path}, {label} in {name}: answered {answer.status_code}")
                elif not any(field_label(name)[lang] in message for message in shown):
                    failures.append(f"{method} {path}, {label} in {name}: no error names it, only {shown}")
    assert failures == []
    assert everything(client) == before


def test_a_search_and_a_coupon_typed_in_the_address_are_checked_too(client: TestClient) -> None:
    staff = signed_in(client, "supervisor@kameng.test", "en")
    for url in ("/staff/orders?q=" + "%00", "/staff/orders?q=" + "9" * 10_000, "/checkout/monthly-pass?coupon=%00"):
        answer = staff.get(url)
        assert answer.status_code == 422, url
    assert any("Search" in message for message in errors_shown(staff.get("/staff/orders?q=%00").text))
