"""calendar years: the official schedules an operator loads for years the package lacks

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("loaded_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loaded_by"], ["users.id"], name=op.f("fk_calendar_years_loaded_by_users")),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )


def downgrade() -> None:
    op.drop_table("calendar_years")
