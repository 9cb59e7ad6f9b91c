"""orphan payments: money a channel took for a trade we never opened, sent back

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orphan_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.Column("received_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orphan_payments")),
        sa.UniqueConstraint("channel", "out_trade_no", name=op.f("uq_orphan_payments_channel")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_orphan_payments_out_refund_no")),
    )


def downgrade() -> None:
    op.drop_table("orphan_payments")
