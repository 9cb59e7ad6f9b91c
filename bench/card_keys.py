"""Card-key imports and the key ring's rotation, on SQLite and PostgreSQL.

A fresh database with the demo catalog (30 keys of game-points-50 in stock). Timed, in process:
the preview of a list of 20,000 new keys (parse, fingerprint each, look each up in stock), its
commit (encrypt and insert each, one transaction), the refusal of a second list of 20,000 whose
last line repeats a key in stock (all checked, nothing written), and then the rotation of every
key to a new ring key, in batches of 500 (decrypt, encrypt, fingerprint, update).

    .venv/bin/python bench/run.py --only card_keys [--quick]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from checkout import fresh_database
from cryptography.fernet import Fernet
from sqlalchemy import select

from kameng import compose
from kameng.accounts import services as accounts
from kameng.catalog.card_keys import ImportRefused, commit_import, import_card_keys, preview_import
from kameng.catalog.key_rotation import rotate_card_keys
from kameng.catalog.models import ProductRow
from kameng.demo import seed_catalog
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db import migrate
from kameng.platform.db.database import make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.secrets_ring import CardKeyRing
from kameng.settings import Settings

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SECRET = "bench-card-keys-" + "b" * 20


def _one(backend: str, keys: int) -> dict[str, Any]:
    with fresh_database(backend) as url:
        settings = Settings(database_url=url, environment="test", secret_key=SECRET)
        ring = CardKeyRing.from_settings(settings)
        migrate.upgrade(url, card_keys=ring)
        container = compose.build(settings)
        try:
            uow = container.uow()
            seed_catalog(uow, NOW)
            user = accounts.sign_up(uow, "ops@bench.test", "a-long-password", NOW, role=Role.OPERATOR)
            operator = Viewer(user.id, user.role)
            with uow:
                product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == "game-points-50"))
            assert product_id is not None
            listed = "\n".join(f"BENCH-{n:08d}-KEY" for n in range(keys))

            started = time.perf_counter()
            preview = preview_import(uow, operator, product_id, listed, "paste", NOW)
            preview_s = time.perf_counter() - started
            assert preview.token is not None
            started = time.perf_counter()
            done = commit_import(uow, operator, preview.token, NOW)
            commit_s = time.perf_counter() - started
            assert done.keys == keys

            clash = "\n".join(f"MORE-{n:08d}-KEY" for n in range(keys - 1)) + "\nBENCH-00000000-KEY"
            started = time.perf_counter()
            refused_lines: list[int] = []
            try:
                import_card_keys(uow, operator, product_id, clash, "refused", NOW)
            except ImportRefused as refused:
                refused_lines = [bad.line for bad in refused.problems]
            if refused_lines != [keys]:
                raise AssertionError(f"the duplicate on line {keys} was not refused: {refused_lines}")
            refuse_s = time.perf_counter() - started

            rotated = CardKeyRing((Fernet.generate_key().decode(), *ring.keys), ring.fingerprint_key)
            started = time.perf_counter()
            rotation = rotate_card_keys(UnitOfWork(make_session_factory(container.engine, rotated)), batch=500)
            rotate_s = time.perf_counter() - started
            assert rotation.left == 0
        finally:
            container.dispose()
    return {
        "backend": backend,
        "keys": keys,
        "preview s": round(preview_s, 2),
        "commit s": round(commit_s, 2),
        "keys/s imported": round(keys / (preview_s + commit_s)),
        "duplicate refused s": round(refuse_s, 2),
        "rotated": rotation.rows,
        "keys/s rotated": round(rotation.rows / rotate_s),
    }


def bench_card_keys(quick: bool) -> dict[str, Any]:
    keys = 2_000 if quick else 20_000
    return {"imports and rotation": [_one(backend, keys) for backend in ("sqlite", "postgresql")]}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_card_keys("--quick" in sys.argv), indent=2))
