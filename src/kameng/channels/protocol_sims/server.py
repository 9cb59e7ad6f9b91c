"""What both protocol simulators share: a threaded HTTP server on 127.0.0.1 and RSA keys."""

from __future__ import annotations

import ipaddress
import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger(__name__)
# How long a test waits for the notifications it caused: several posts of at most 10 s each.
JOIN_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An RSA key pair in PEM: the private key as PKCS#8 (what WeChat Pay requires)."""

    private_pem: str
    public_pem: str


def new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str  # with its query string, as signed
    headers: dict[str, str]
    body: bytes
    client: str = ""  # the peer's address


Handler = Callable[[Received], Reply]


class LocalServer:
    """A ThreadingHTTPServer on a free port of 127.0.0.1 that hands every request to ``handle``."""

    def __init__(self, handle: Handler, port: int = 0) -> None:
        outer = handle

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    str(self.client_address[0]),
                )
                reply = outer(received)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the tests read the simulator's own records instead

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="channel-simulator", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, which must be running
            self._server.shutdown()
        self._server.server_close()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> tuple[int, bytes]:
    """POST as the channel posts a notification; returns the status and body of the answer."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise ValueError(f"not a notify URL: {url!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


class Deliveries:
    """The channel's notifications, posted one after the other on a thread of their own, after the
    answer that caused them (a channel notifies asynchronously). ``join`` waits until all are sent."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], object]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="channel-simulator-notify", daemon=True)
        self._thread.start()

    def submit(self, send: Callable[[], object]) -> None:
        self._queue.put(send)

    def join(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Until every notification queued so far was posted; a TimeoutError after ``timeout``
        seconds rather than waiting for ever (each post gives up after its own 10 seconds)."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._queue.unfinished_tasks} notification(s) not posted in {timeout:g} s")
                self._queue.all_tasks_done.wait(left)

    def _run(self) -> None:
        while True:
            send = self._queue.get()
            try:
                send()
            except Exception:
                # Whatever went wrong with one post (nobody listening, a broken answer), the thread
                # must live on: the notifications after it, and join(), depend on it.
                log.warning("the simulator could not post a notification", exc_info=True)
            finally:
                self._queue.task_done()


CONTROL_PREFIX = "/__sim__/"


def control_refusal(request: Received, enabled: bool) -> Reply | None:
    """The control endpoint answers only the machine itself, and only when the simulator was
    started with controls (simulator mode outside production): otherwise 403/404 in words."""
    if not enabled:
        return json_reply(404, {"error": "controls are off"})
    try:
        loopback = ipaddress.ip_address(request.client).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return json_reply(403, {"error": "controls answer 127.0.0.1 only"})
    return None


def json_reply(status: int, data: object) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), {"Content-Type": "application/json"})


def control_body(request: Received) -> dict[str, object] | Reply:
    """The control request's JSON object, or a 400 saying what is wrong."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return json_reply(400, {"error": "the body is not JSON"})
    if not isinstance(data, dict):
        return json_reply(400, {"error": "the body must be a JSON object"})
    return data


def control_fields(
    data: dict[str, object], known: set[str], flags: tuple[str, ...]
) -> tuple[dict[str, object], tuple[str, str] | None]:
    """The checks every simulator's behaviour control makes first: no field it does not know,
    each on/off flag true or false. The flags' changes, or the (field, problem) refused."""
    for name in data:
        if name not in known:
            return {}, (name, f"unknown field; known: {', '.join(sorted(known))}")
    changes: dict[str, object] = {}
    for flag in flags:
        if flag in data:
            if not isinstance(data[flag], bool):
                return {}, (flag, "true or false")
            changes[flag] = data[flag]
    return changes, None
