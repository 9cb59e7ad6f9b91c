"""A stand-in for kameng's notify endpoint on 127.0.0.1: it keeps what the simulators post to it.

The tests hand what arrived to the app (through its TestClient) in the order it came, so that the
notification that crossed HTTP is the one kameng verifies, byte for byte."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from kameng.channels.protocol_sims.server import LocalServer, Received, Reply


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
        if request.path.endswith("/alipay"):
            return Reply(200, b"success", {"Content-Type": "text/plain"})
        return Reply(200, b'{"code":"SUCCESS","message":"OK"}', {"Content-Type": "application/json"})

    def take(self) -> list[Received]:
        with self._lock:
            taken, self.received = self.received, []
        return taken


def serve_inbox() -> Iterator[tuple[Inbox, str]]:
    inbox = Inbox()
    server = LocalServer(inbox.answer).start()
    try:
        yield inbox, server.base_url
    finally:
        server.stop()
