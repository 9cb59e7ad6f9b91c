"""Local HTTP stand-ins on 127.0.0.1, each in a thread: a webhook receiver that checks every
signature with the Standard Webhooks reference package (not kameng's signer), and a Telegram Bot
API that checks the path and the JSON of ``sendMessage``."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    refusal: str = ""
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class WebhookReceiver:
    """Answers each request by the next step of ``plan`` ("ok", "500", "sleep"; "ok" once the plan
    runs out). A request whose signature none of ``secrets`` verifies is answered 400."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    plan: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    sleep_seconds: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: bytes, headers: dict[str, str]) -> str:
        """'' when one of the known secrets verifies the message, else why not."""
        problems = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return ""
            except WebhookVerificationError as error:
                problems.append(str(error))
        return "; ".join(problems) or "no secret known"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        refusal = self.verify(body, headers)
        request = Received(path, headers, body, not refusal, refusal)
        with self.lock:
            self.received.append(request)
            step = self.plan.popleft() if self.plan else "ok"
        if refusal:
            request.status = 400
            return 400, f"refused: {refusal}".encode()
        if step == "500":
            request.status = 500
            return 500, b"receiver broke: \x00 try later"
        if step == "sleep":
            time.sleep(self.sleep_seconds)
            request.status = 599  # answered after the sender gave up
            return 200, b'{"received": "late"}'
        request.status = 200
        return 200, b'{"received": true}'

    @property
    def delivered(self) -> list[Received]:
        """The requests verified and answered 200 in time."""
        return [request for request in self.received if request.verified and request.status == 200]


@dataclass
class TelegramStandIn:
    """``POST /bot<token>/sendMessage`` with a JSON body answers ``{"ok": true, ...}``; anything
    else is recorded as a problem and answered like the real API's 404."""

    token: str
    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fail_next: int = 0

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if path != f"/bot{self.token}/sendMessage":
            self.problems.append(f"wrong path {path}")
            return 404, b'{"ok": false, "error_code": 404, "description": "Not Found"}'
        if not headers.get("content-type", "").startswith("application/json"):
            self.problems.append("not JSON")
            return 400, b'{"ok": false}'
        if self.fail_next:
            self.fail_next -= 1
            return 502, b"bad gateway"
        message = json.loads(body)
        if not isinstance(message.get("chat_id"), str | int) or not message.get("text"):
            self.problems.append(f"bad body {message!r}")
            return 400, b'{"ok": false}'
        self.messages.append(message)
        return 200, json.dumps({"ok": True, "result": {"message_id": len(self.messages)}}).encode()


def serve(app: WebhookReceiver | TelegramStandIn) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port in a thread; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer = app.answer(self.path, headers, body)
            try:
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller gave up waiting (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="stand-in", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
