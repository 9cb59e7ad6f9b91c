"""card keys encrypted at rest; card-key imports; a low-stock threshold per product

``card_keys.code`` (the key in clear) becomes ``secret`` (a Fernet token), ``fingerprint`` (a
keyed HMAC, unique) and ``ring_tag`` (which key wrote it). The keys already stored are encrypted
here, in the same migration, so that no database at this revision holds a key in clear, not even
between two deployment steps. The ring is the one the caller passes (``migrate.upgrade(...,
card_keys=...)``: the app's start, ``kameng db upgrade``), else the one the settings describe,
read as the app reads them (``Settings.from_env``: environment and ``.env``); production settings
without ``KAMENG_CARD_KEY_KEYS`` are refused, so the migration stops before changing anything.
The downgrade decrypts them back into ``code`` with the same ring.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

import kameng.platform.db.types
from kameng.platform.secrets_ring import SESSION_INFO_KEY, CardKeyRing

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 500


def _ring() -> CardKeyRing:
    given = context.config.attributes.get(SESSION_INFO_KEY)
    if isinstance(given, CardKeyRing):
        return given
    from kameng.settings import Settings

    return CardKeyRing.from_settings(Settings.from_env())


def upgrade() -> None:
    op.create_table(
        "card_key_imports",
        sa.Column("id", ID, nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "previewed",
                "committed",
                "refused",
                name="card_key_import_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("key_count", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Text(), nullable=False),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("committed_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_card_key_imports_created_by_users")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_card_key_imports_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_key_imports")),
        sa.UniqueConstraint("created_by", "idempotency_key", name=op.f("uq_card_key_imports_created_by")),
    )
    with op.batch_alter_table("card_key_imports") as batch:
        batch.create_index(batch.f("ix_card_key_imports_product_id"), ["product_id"], unique=False)

    op.add_column("products", sa.Column("low_stock_threshold", sa.Integer(), server_default="5", nullable=False))

    with op.batch_alter_table("card_keys") as batch:
        batch.add_column(sa.Column("secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("ring_tag", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("import_id", ID, nullable=True))

    bind = op.get_bind()
    keys = sa.table(
        "card_keys",
        sa.column("id", ID),
        sa.column("code", sa.String()),
        sa.column("secret", sa.Text()),
        sa.column("fingerprint", sa.String()),
        sa.column("ring_tag", sa.String()),
    )
    if bind.execute(sa.select(sa.func.count()).select_from(keys)).scalar_one():
        ring = _ring()
        last = 0
        while True:
            rows = bind.execute(
                sa.select(keys.c.id, keys.c.code).where(keys.c.id > last).order_by(keys.c.id).limit(BATCH)
            ).all()
            if not rows:
                break
            for key_id, code in rows:
                bind.execute(
                    keys.update()
                    .where(keys.c.id == key_id)
                    .values(secret=ring.encrypt(code), fingerprint=ring.fingerprint(code), ring_tag=ring.tag)
                )
            last = rows[-1][0]

    with op.batch_alter_table("card_keys") as batch:
        batch.alter_column("secret", existing_type=sa.Text(), nullable=False)
        batch.alter_column("fingerprint", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("ring_tag", existing_type=sa.String(length=16), nullable=False)
        batch.drop_constraint("uq_card_keys_code", type_="unique")
        batch.drop_column("code")
        batch.create_unique_constraint(batch.f("uq_card_keys_fingerprint"), ["fingerprint"])
        batch.create_index(batch.f("ix_card_keys_ring_tag"), ["ring_tag"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_card_keys_import_id_card_key_imports"), "card_key_imports", ["import_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("card_keys") as batch:
        batch.add_column(sa.Column("code", sa.String(length=120), nullable=True))
    bind = op.get_bind()
    keys = sa.table("card_keys", sa.column("id", ID), sa.column("code", sa.String()), sa.column("secret", sa.Text()))
    if bind.execute(sa.select(sa.func.count()).select_from(keys)).scalar_one():
        ring = _ring()
        for key_id, secret in bind.execute(sa.select(keys.c.id, keys.c.secret)).all():
            bind.execute(keys.update().where(keys.c.id == key_id).values(code=ring.decrypt(secret)))
    with op.batch_alter_table("card_keys") as batch:
        batch.drop_constraint("fk_card_keys_import_id_card_key_imports", type_="foreignkey")
        batch.drop_index("ix_card_keys_ring_tag")
        batch.drop_constraint("uq_card_keys_fingerprint", type_="unique")
        batch.drop_column("import_id")
        batch.drop_column("ring_tag")
        batch.drop_column("fingerprint")
        batch.drop_column("secret")
        batch.alter_column("code", existing_type=sa.String(length=120), nullable=False)
        batch.create_unique_constraint("uq_card_keys_code", ["code"])
    # Not a batch: on SQLite a batch copies the table and drops the old one, which the rows that
    # point at products (orders, policies) forbid. SQLite 3.35+ drops a column in place.
    op.execute("ALTER TABLE products DROP COLUMN low_stock_threshold")
    with op.batch_alter_table("card_key_imports") as batch:
        batch.drop_index("ix_card_key_imports_product_id")
    op.drop_table("card_key_imports")
