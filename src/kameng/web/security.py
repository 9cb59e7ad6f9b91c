"""Security headers on every answer: what a browser may load, frame and send elsewhere.

The pages load nothing from other sites, so the policy allows only this origin. The one inline
handler of the site (the refund form's reason list, which refreshes the quote when the reason
changes) is allowed by its hash rather than by ``'unsafe-inline'``; inline ``style`` attributes
are allowed (they cannot run code). The OpenAPI pages (``/docs``, ``/redoc``) load their viewer
from a CDN and get no content policy; every other header still applies to them.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline event handlers the templates use, allowed one by one ('unsafe-hashes').
INLINE_HANDLERS = ("this.form.submit()",)
_HASHES = " ".join(
    f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'" for code in INLINE_HANDLERS
)
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' 'unsafe-hashes' {_HASHES}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCUMENTATION = ("/docs", "/redoc")


class SecurityHeaderSet:
    """The headers an answer to ``path`` gets (those the answer already has are kept as they are)."""

    def __init__(self, *, production: bool) -> None:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if production:  # only over HTTPS, which production is (behind the proxy that ends TLS)
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.documentation = tuple(headers)
        self.pages = (*headers, (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))

    def for_path(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        return self.documentation if path.startswith(DOCUMENTATION) else self.pages


def add_missing(message: Message, extra: tuple[tuple[bytes, bytes], ...]) -> None:
    """Append to an ``http.response.start`` message the headers of ``extra`` it does not have."""
    headers = message.get("headers", [])
    present = {name.lower() for name, _ in headers}
    message["headers"] = [*headers, *(h for h in extra if h[0] not in present)]


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering) adding the headers as the answer starts; the
    app has them from :class:`kameng.web.envelope.Envelope`, which does the same among other things."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.headers = SecurityHeaderSet(production=production)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers.for_path(str(scope.get("path", "")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing(message, extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
