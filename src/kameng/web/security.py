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


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering): adds the headers as the answer starts."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if production:  # only over HTTPS, which production is (behind the proxy that ends TLS)
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = headers
        self.policy = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self.headers)
        if not str(scope.get("path", "")).startswith(DOCUMENTATION):
            extra.append(self.policy)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
