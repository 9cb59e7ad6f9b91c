"""`kameng serve` with several API processes (KAMENG_WORKERS) behind one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kameng.settings import Settings, SettingsError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def test_the_number_of_processes_is_a_setting_with_a_clear_error() -> None:
    assert Settings.from_env({}).workers == 1
    assert Settings.from_env({"KAMENG_WORKERS": "4"}).workers == 4
    with pytest.raises(SettingsError, match="KAMENG_WORKERS"):
        Settings.from_env({"KAMENG_WORKERS": "many"})
    with pytest.raises(SettingsError, match="KAMENG_WORKERS"):
        Settings.from_env({"KAMENG_WORKERS": "0"})


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
def test_two_api_processes_serve_one_port_and_one_database(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KAMENG_ENV": "test",
        "KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'kameng.db'}",
        "KAMENG_PORT": str(port),
        "KAMENG_WORKERS": "2",
        "KAMENG_EMBEDDED_WORKER": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "kameng", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        answers: list[int] = []
        while time.monotonic() < deadline and len(answers) < 20:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                answers.append(httpx.get(f"http://127.0.0.1:{port}/api/v1/products", timeout=5).status_code)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answers == [200] * 20  # the demo catalog, prepared once before the processes started
        # uvicorn's supervisor, with the two API processes under it (and its own helper).
        assert len(_children(server.pid)) >= 2
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
