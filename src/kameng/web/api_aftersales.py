"""After-sales REST API under /api/v1: refund requests, tickets, messages, evidence files."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
