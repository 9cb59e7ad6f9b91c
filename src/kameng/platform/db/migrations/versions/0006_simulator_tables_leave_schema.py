"""the channel simulator's tables leave kameng's schema

The simulator keeps its books in tables of its own, created by the simulator itself when it is
configured (``kameng.channels.simulator.models``); production has no simulator and so no such
tables. Their rows are the simulator's test state and are not kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS sim_refunds")
    op.execute("DROP TABLE IF EXISTS sim_behaviors")


def downgrade() -> None:
    op.create_table(
        "sim_behaviors",
        sa.Column("out_trade_no", sa.String(length=40), nullable=False),
        sa.Column("refund", sa.String(length=16), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("out_trade_no", name=op.f("pk_sim_behaviors")),
    )
    op.create_table(
        "sim_refunds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("out_refund_no", sa.String(length=40), nullable=False),
        sa.Column("out_trade_no", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=False),
        sa.Column("settles_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_refunds")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_sim_refunds_out_refund_no")),
    )
