"""channel notices, ABNORMAL refund actions, the gateway that took a payment

- ``channel_notices``: the ids of the channels' notifications already applied, unique per
  channel, so that de-duplication holds across API processes and restarts (purged by the worker
  after the replay window).
- ``abnormal_refund_actions``: one staff decision per WeChat refund stuck in ABNORMAL (to the
  consumer's bank card, or to their balance), the audit record of it.
- ``refunds.channel_status``: the channel's own word in its last answer (WeChat's ABNORMAL).
- ``payments.gateway``: the real channel whose verified notification brought the money (refunds
  are routed by it). Rows already there are filled once from what could be told before: a wechat
  or alipay payment whose transaction id is not the local simulator's (``SIM…``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_notices",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("notice_id", sa.String(length=64), nullable=False),
        sa.Column("seen_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_notices")),
        sa.UniqueConstraint("channel", "notice_id", name=op.f("uq_channel_notices_channel")),
    )
    op.create_index(op.f("ix_channel_notices_seen_at"), "channel_notices", ["seen_at"], unique=False)
    op.create_table(
        "abnormal_refund_actions",
        sa.Column("id", ID, nullable=False),
        sa.Column("refund_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("destination", sa.String(length=16), nullable=False),
        sa.Column("bank_type", sa.String(length=32), nullable=True),
        sa.Column("account_tail", sa.String(length=4), nullable=True),
        sa.Column("actor_id", ID, nullable=False),
        sa.Column("at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel_status", sa.String(length=32), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_abnormal_refund_actions_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_abnormal_refund_actions_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_abnormal_refund_actions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abnormal_refund_actions")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_abnormal_refund_actions_refund_id")),
    )
    op.create_index(op.f("ix_abnormal_refund_actions_user_id"), "abnormal_refund_actions", ["user_id"], unique=False)
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("gateway", sa.String(length=16), nullable=True))
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("channel_status", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE payments SET gateway = CAST(channel AS VARCHAR(16)) WHERE channel IN ('wechat', 'alipay')"
        " AND channel_txn_no IS NOT NULL AND channel_txn_no NOT LIKE 'SIM%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("channel_status")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("gateway")
    op.drop_index(op.f("ix_abnormal_refund_actions_user_id"), table_name="abnormal_refund_actions")
    op.drop_table("abnormal_refund_actions")
    op.drop_index(op.f("ix_channel_notices_seen_at"), table_name="channel_notices")
    op.drop_table("channel_notices")
