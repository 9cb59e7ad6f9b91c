"""late payments returned through the channel

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:04:59.919509
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=20), server_default="ticket", nullable=False))
        batch_op.alter_column(
            "ticket_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.alter_column(
            "ticket_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        )
        batch_op.drop_column("purpose")
