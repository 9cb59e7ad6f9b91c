"""``POST /api/v1/simulate``: the engine's answer for one scenario, as ``kameng simulate`` gives it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kameng.platform.documents import DocumentError, load_json
from kameng.scenarios.services import simulate_data
from kameng.web.deps import ContainerDep

router = APIRouter(prefix="/api/v1")

SCENARIO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One scenario, as in design/SCENARIOS.md (amounts as strings of yuan).",
    "required": ["product", "order", "request"],
    "properties": {
        "name": {"type": "string"},
        "jurisdiction": {"type": "string", "enum": ["CN"]},
        "timezone": {"type": "string", "example": "Asia/Shanghai"},
        "product": {"type": "object"},
        "policy": {"type": "object"},
        "order": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}},
        "request": {"type": "object"},
        "expect": {"type": "object"},
    },
}


@router.post(
    "/simulate",
    tags=["refunds"],
    summary="Quote one refund scenario",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": SCENARIO_SCHEMA}}},
    },
    responses={422: {"description": "Malformed scenario: {name, error} says what and where."}},
)
async def simulate(request: Request, container: ContainerDep) -> Response:
    """The engine's decision for one scenario, exactly as `kameng simulate` prints it."""
    body = await request.body()
    try:
        data = load_json(body, "body")
    except DocumentError as error:
        return JSONResponse({"name": "", "error": str(error)}, status_code=422)
    answer = simulate_data(data, container.calendar)
    return JSONResponse(answer, status_code=422 if "error" in answer else 200)
