"""The REST API, ``/api/v1``: products, orders, order events, the quote."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
