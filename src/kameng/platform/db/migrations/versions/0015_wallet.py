"""the wallet: withdrawals, their legs, held cash

A withdrawal holds the amount asked for at once (``balances.held_fen``, neither spendable nor
withdrawable again while it is in review); once approved, each leg is a refund of its own to one
original payment.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:42:40.662122
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("withdrawal_no", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "in_review",
                "paying",
                "done",
                "rejected",
                "cancelled",
                name="withdrawal_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "decision",
            sa.Enum(
                "auto_approve",
                "review",
                "reject",
                name="withdrawal_decision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("asked_fen", sa.BigInteger(), nullable=False),
        sa.Column("payout_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("released_fen", sa.BigInteger(), nullable=False),
        sa.Column("returned_fen", sa.BigInteger(), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
        sa.Column("settled_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_withdrawals_decided_by_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_withdrawals_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
        sa.UniqueConstraint("user_id", "idempotency_key", name=op.f("uq_withdrawals_user_id")),
        sa.UniqueConstraint("withdrawal_no", name=op.f("uq_withdrawals_withdrawal_no")),
    )
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.create_index("ix_withdrawals_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index("ix_withdrawals_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "withdrawal_legs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("withdrawal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("refund_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "source_kind",
            sa.Enum(
                "top_up", "refund_in", name="withdrawal_source", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("source_refund_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("bonus_taken_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "sent",
                "paid",
                "returned",
                name="withdrawal_leg_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("settled_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_withdrawal_legs_order_id_orders")),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], name=op.f("fk_withdrawal_legs_refund_id_refunds")),
        sa.ForeignKeyConstraint(
            ["source_refund_id"], ["refunds.id"], name=op.f("fk_withdrawal_legs_source_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_withdrawal_legs_user_id_users")),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"], ["withdrawals.id"], name=op.f("fk_withdrawal_legs_withdrawal_id_withdrawals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawal_legs")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_withdrawal_legs_refund_id")),
        sa.UniqueConstraint("withdrawal_id", "position", name=op.f("uq_withdrawal_legs_withdrawal_id")),
    )
    with op.batch_alter_table("withdrawal_legs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_withdrawal_legs_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_withdrawal_legs_source_refund_id"), ["source_refund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_withdrawal_legs_withdrawal_id"), ["withdrawal_id"], unique=False)

    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_fen", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.drop_column("held_fen")

    with op.batch_alter_table("withdrawal_legs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_withdrawal_legs_withdrawal_id"))
        batch_op.drop_index(batch_op.f("ix_withdrawal_legs_source_refund_id"))
        batch_op.drop_index(batch_op.f("ix_withdrawal_legs_order_id"))

    op.drop_table("withdrawal_legs")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_index("ix_withdrawals_user_created")
        batch_op.drop_index("ix_withdrawals_status_created")

    op.drop_table("withdrawals")
