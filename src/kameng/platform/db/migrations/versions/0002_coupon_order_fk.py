"""coupons.used_by_order_id references orders on PostgreSQL too

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:30:00

0001 declared this foreign key inside ``create_table`` with ``use_alter=True``. SQLAlchemy then
leaves it out of CREATE TABLE and expects a separate ALTER, which 0001 never issued: on
PostgreSQL the constraint was missing (found by tests/platform/test_migrations.py comparing the
migrated schema with the models). SQLite cannot ALTER a constraint in, so there SQLAlchemy had
written it inline and nothing is to be done.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NAME = "fk_coupons_used_by_order_id_orders"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.create_foreign_key(NAME, "coupons", "orders", ["used_by_order_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_constraint(NAME, "coupons", type_="foreignkey")
