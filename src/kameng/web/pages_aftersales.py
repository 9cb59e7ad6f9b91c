"""After-sales pages: the refund request, 我的售后, ticket pages, the staff queue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
