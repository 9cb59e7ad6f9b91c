"""The rate limits every test app runs with: limits the tests cannot reach, still counted
(tests/web/test_rate_limits.py proves that the defaults refuse)."""

from __future__ import annotations

from kameng.platform.rate_limits import DOORS

GENEROUS_RATE_LIMITS = {f"KAMENG_RATE_LIMIT_{door.upper()}": "100000/minute" for door in DOORS}
