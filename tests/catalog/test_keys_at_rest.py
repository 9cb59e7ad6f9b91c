"""Card keys at rest: a dump of the database holds no card key in clear (SQLite: every row of
every table read back; PostgreSQL: ``pg_dump`` itself); the ring rotates, batch by batch, and
resumes; the migration that brought encryption converts the keys stored before it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, MetaData, func, inspect, select, text
from sqlalchemy.engine import make_url

from kameng.accounts.models import User
from kameng.catalog.card_keys import import_card_keys
from kameng.catalog.key_rotation import left_to_rotate, rotate_card_keys
from kameng.catalog.models import ProductRow
from kameng.demo import card_key_code
from kameng.domain.users import Role
from kameng.orders.models import CardKeyRow
from kameng.platform.access import Viewer
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.secrets_ring import CardKeyRing, RingError
from kameng.settings import Settings, SettingsError

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
IMPORTED = [f"SECRET-{n:04d}-XYZ" for n in range(1, 41)]


def _operator(make_user: Callable[..., User]) -> Viewer:
    user = make_user("ops@kameng.test", role=Role.OPERATOR)
    return Viewer(user.id, user.role)


def _game(uow: UnitOfWork) -> int:
    with uow:
        product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == "game-points-50"))
    assert product_id is not None
    return product_id


def _dump(engine: Engine, url: str) -> str:
    """Everything the database holds, as text: ``pg_dump`` on PostgreSQL, every table's every
    row (and the raw file) on SQLite."""
    if engine.dialect.name == "postgresql":
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump is needed for this test (postgresql-client)"
        parsed = make_url(url)
        command = [pg_dump, "--data-only", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
        command += ["-U", parsed.username or "postgres", parsed.database or ""]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
        return done.stdout
    rows: list[str] = []
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.tables.values():
            rows.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    # And the files themselves, the write-ahead log included: a copy of them is a backup too.
    database = Path(make_url(url).database or "")
    raw = [path.read_bytes().decode("latin-1") for path in (database, Path(f"{database}-wal")) if path.is_file()]
    return "\n".join([*rows, *raw])


@pytest.mark.usefixtures("catalog")
def test_a_database_dump_holds_no_card_key_in_clear(
    uow: UnitOfWork, engine: Engine, db_url: str, make_user: Callable[..., User], now: datetime
) -> None:
    import_card_keys(uow, _operator(make_user), _game(uow), "\n".join(IMPORTED), "at-rest", now)
    with uow:
        secrets = list(uow.session.scalars(select(CardKeyRow.secret)))
    assert len(secrets) == 30 + len(IMPORTED)
    dump = _dump(engine, db_url)
    assert secrets[0] in dump  # the dump is real: it holds the ciphertexts
    for code in [*IMPORTED, card_key_code("game-points-50", 1), card_key_code("game-points-50", 30)]:
        assert code not in dump
        assert code.lower() not in dump.lower()


@pytest.mark.usefixtures("catalog")
def test_rotation_re_encrypts_in_batches_and_resumes_where_it_stopped(
    engine: Engine, uow: UnitOfWork, make_user: Callable[..., User], now: datetime
) -> None:
    import_card_keys(uow, _operator(make_user), _game(uow), "\n".join(IMPORTED), "rotate", now)
    old = CardKeyRing.development()
    new_key = Fernet.generate_key().decode()
    both = UnitOfWork(make_session_factory(engine, CardKeyRing(((new_key, *old.keys)), old.fingerprint_key)))
    assert left_to_rotate(both) == 70

    first = rotate_card_keys(both, batch=25, most_batches=1)  # stopped after one batch
    assert (first.rows, first.batches, first.left) == (25, 1, 45)
    rest = rotate_card_keys(both, batch=25)
    assert (rest.rows, rest.batches, rest.left) == (45, 2, 0)

    only_new = CardKeyRing((new_key,), old.fingerprint_key)
    with UnitOfWork(make_session_factory(engine, only_new)) as fresh:
        rows = fresh.session.scalars(select(CardKeyRow).order_by(CardKeyRow.id)).all()
        codes = {only_new.decrypt(row.secret) for row in rows}
        assert set(IMPORTED) <= codes
        assert all(row.fingerprint == only_new.fingerprint(only_new.decrypt(row.secret)) for row in rows)
        with pytest.raises(RingError):
            old.decrypt(rows[0].secret)  # the old key alone no longer opens anything


def test_the_ring_encrypts_each_time_anew_and_fingerprints_under_its_own_key() -> None:
    ring = CardKeyRing.development("one secret")
    other = CardKeyRing.development("another secret")
    assert ring.encrypt("ABCD-0001") != ring.encrypt("ABCD-0001")  # no equal ciphertexts to compare
    assert ring.decrypt(ring.encrypt(" ＡＢＣＤ-0001 ")) == "ABCD-0001"
    assert ring.fingerprint("ABCD-0001") == ring.fingerprint("ＡＢＣＤ-0001")
    assert ring.fingerprint("ABCD-0001") != other.fingerprint("ABCD-0001")
    with pytest.raises(RingError):
        other.decrypt(ring.encrypt("ABCD-0001"))
    with pytest.raises(RingError):
        CardKeyRing.build(["not-a-key"], None, "secret")


def test_production_refuses_to_start_without_card_key_keys_and_never_echoes_them() -> None:
    production = {"KAMENG_ENV": "production", "KAMENG_SECRET_KEY": "s" * 40}
    with pytest.raises(SettingsError, match=r"^KAMENG_CARD_KEY_KEYS: production"):
        Settings.from_env(production)
    with pytest.raises(SettingsError, match=r"^KAMENG_CARD_KEY_KEYS: key 2: not a Fernet key") as bad:
        Settings.from_env({**production, "KAMENG_CARD_KEY_KEYS": Fernet.generate_key().decode() + ",oops-secret"})
    assert "oops-secret" not in str(bad.value)
    key = Fernet.generate_key().decode()
    settings = Settings.from_env({**production, "KAMENG_CARD_KEY_KEYS": f" {key} ,"})
    assert settings.card_key_ring_keys == [key]
    assert key not in repr(settings)


def test_the_migration_encrypts_the_keys_stored_before_it_and_the_downgrade_gives_them_back(
    empty_db_url: str,
) -> None:
    ring = CardKeyRing.development("migration secret")
    migrate.upgrade(empty_db_url, "0016")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO merchants (name_zh, name_en, created_at) VALUES ('m', 'm', :t)"),
                {"t": WHEN},
            )
            conn.execute(
                text(
                    "INSERT INTO products (slug, merchant_id, kind, name_zh, name_en, description_zh,"
                    " description_en, price_fen, promo, benefits, bonus_fen, renewable, uses_card_keys, active,"
                    " sort_order, created_at) VALUES ('g', 1, 'virtual_goods', 'g', 'g', '', '', 100, false,"
                    " '{}', 0, false, true, true, 0, :t)"
                ),
                {"t": WHEN},
            )
            for code in ("OLD-KEY-0001", "OLD-KEY-0002"):
                conn.execute(
                    text(
                        "INSERT INTO card_keys (product_id, code, status, created_at)"
                        " VALUES (1, :code, 'available', :t)"
                    ),
                    {"code": code, "t": WHEN},
                )
        migrate.upgrade(empty_db_url, card_keys=ring)
        assert "code" not in {column["name"] for column in inspect(engine).get_columns("card_keys")}
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT secret, fingerprint, ring_tag FROM card_keys ORDER BY id")).all()
            assert conn.execute(select(func.count()).select_from(text("products"))).scalar_one() == 1
        assert [ring.decrypt(secret) for secret, _, _ in rows] == ["OLD-KEY-0001", "OLD-KEY-0002"]
        assert {tag for _, _, tag in rows} == {ring.tag}
        assert rows[0][1] == ring.fingerprint("OLD-KEY-0001")

        migrate.downgrade(empty_db_url, "0016", card_keys=ring)
        with engine.connect() as conn:
            codes = conn.execute(text("SELECT code FROM card_keys ORDER BY id")).scalars().all()
        assert codes == ["OLD-KEY-0001", "OLD-KEY-0002"]
    finally:
        engine.dispose()


def test_kameng_card_keys_rotate_resumes_until_none_is_left(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kameng.cli.main import app
    from kameng.demo import seed_catalog
    from kameng.platform.secrets_ring import fernet_key_from

    url = f"sqlite:///{tmp_path / 'kameng.db'}"
    secret = "rotation-secret-" + "r" * 20
    old = CardKeyRing.development(secret)
    migrate.upgrade(url, card_keys=old)
    engine = make_engine(url)
    try:
        assert seed_catalog(UnitOfWork(make_session_factory(engine, old)), WHEN)
    finally:
        engine.dispose()
    new_key = Fernet.generate_key().decode()
    env = {
        "KAMENG_DATABASE_URL": url,
        "KAMENG_SECRET_KEY": secret,
        "KAMENG_CARD_KEY_KEYS": f"{new_key},{fernet_key_from(secret)}",
        "KAMENG_CHANNELS": "off",
    }
    runner = CliRunner()
    stopped = runner.invoke(app, ["card-keys", "rotate", "--batch", "10", "--batches", "2"], env=env)
    assert stopped.exit_code == 3, stopped.output
    assert "re-encrypted 20 card keys in 2 batches; 10 left" in stopped.output
    finished = runner.invoke(app, ["card-keys", "rotate", "--batch", "10"], env=env)
    assert finished.exit_code == 0, finished.output
    assert "re-encrypted 10 card keys in 1 batches; 0 left" in finished.output
    wrong = runner.invoke(
        app, ["card-keys", "rotate"], env={**env, "KAMENG_CARD_KEY_KEYS": Fernet.generate_key().decode()}
    )
    assert wrong.exit_code == 1  # a ring that opens none of the keys: said, not a traceback
    assert "no key of the ring" in wrong.output
