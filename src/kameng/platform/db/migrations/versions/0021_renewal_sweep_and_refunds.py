"""renewals: the reminder still owed (memberships.remind_at), and what of each renewal was refunded

``memberships.remind_at`` is the renewal time whose reminder has not gone out yet, indexed: the
sweep reads only what it still has to remind, never the rows already reminded. It is set with
every new ``renews_at`` and cleared by the sweep once the reminder is recorded. Filled here for
the renewals not reminded yet.

``renewal_charges.refunded_fen``: each renewal charge is its own refundable amount, refunded
against its own trade (RULES.md S2), never beyond what it captured.

``step_up_failures``: the wrong passwords given as the step-up check, to bound them per account.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("remind_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_memberships_remind_at"), ["remind_at"], unique=False)
    op.execute(
        "UPDATE memberships SET remind_at = renews_at WHERE renews_at IS NOT NULL AND auto_renew"
        " AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE subscriptions.order_id = memberships.order_id"
        " AND subscriptions.reminded_for = memberships.renews_at)"
    )
    with op.batch_alter_table("renewal_charges") as batch:
        batch.add_column(sa.Column("refunded_fen", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "step_up_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_step_up_failures_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_failures")),
    )
    with op.batch_alter_table("step_up_failures") as batch:
        batch.create_index("ix_step_up_failures_user_at", ["user_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("step_up_failures") as batch:
        batch.drop_index("ix_step_up_failures_user_at")
    op.drop_table("step_up_failures")
    with op.batch_alter_table("renewal_charges") as batch:
        batch.drop_column("refunded_fen")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_index(batch.f("ix_memberships_remind_at"))
        batch.drop_column("remind_at")
