"""A serving app keeps what it built at start-up out of the garbage collector's full scans, and
gives it back when it stops (platform/heap.py)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from kameng.web.app import create_app
from tests.support.apps import app_settings


def test_the_app_freezes_its_start_up_objects_while_it_serves_and_thaws_them_when_it_stops(db_url: str) -> None:
    app = create_app(app_settings(db_url), run_worker=False)
    gc.unfreeze()  # whatever an earlier test left frozen: this one counts its own
    assert gc.get_freeze_count() == 0

    with TestClient(app) as client:
        serving = gc.get_freeze_count()
        assert client.get("/healthz").status_code == 200
        assert serving > 10_000

    assert gc.get_freeze_count() == 0
