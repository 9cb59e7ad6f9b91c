"""renewals: the reminder still owed (memberships.remind_at), and what of each renewal was refunded

``memberships.remind_at`` is the renewal time whose reminder has not gone out yet, indexed: the
sweep reads only what it still has to remind, never the rows already reminded. It is set with
every new ``renews_at`` and cleared by the sweep once the reminder is recorded. Filled here for
the renewals not reminded yet.

``renewal_charges.refunded_fen``: each renewal charge is its own refundable amount, refunded
against its own trade (RULES.md S2), never beyond what it captured.

Revision ID: 0021
Revises: 0016
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0021"
down_revision = "0016"
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


def downgrade() -> None:
    with op.batch_alter_table("renewal_charges") as batch:
        batch.drop_column("refunded_fen")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_index(batch.f("ix_memberships_remind_at"))
        batch.drop_column("remind_at")
