"""Pages for people: consumers, staff. Server-rendered (Jinja2), Chinese first."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
