"""after-sales tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:23:29.212135
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("next_attempt_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["done_at", "next_attempt_at"], unique=False)

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
    op.create_table(
        "tickets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_no", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "changed_mind",
                "mistaken_purchase",
                "duplicate_purchase",
                "not_as_described",
                "platform_fault",
                "not_delivered",
                "merchant_gone",
                "renewal_without_notice",
                name="ticket_reason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "auto_approved",
                "in_review",
                "needs_info",
                "approved",
                "rejected",
                "appealed",
                "rejected_final",
                "refunding",
                "refunded",
                "refund_failed",
                "withdrawn",
                name="ticket_status",
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
                name="ticket_decision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rules", sa.String(length=40), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        sa.Column("quoted_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=True),
        sa.Column("approve_reason", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("auto_approve_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejected_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reject_rule", sa.String(length=10), nullable=True),
        sa.Column("reject_comment", sa.Text(), nullable=False),
        sa.Column("appeal_until", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=80), nullable=True),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_tickets_decided_by_users")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_tickets_order_id_orders")),
        sa.ForeignKeyConstraint(["rejected_by"], ["users.id"], name=op.f("fk_tickets_rejected_by_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_tickets_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("ticket_no", name=op.f("uq_tickets_ticket_no")),
        sa.UniqueConstraint("user_id", "idempotency_key", name=op.f("uq_tickets_user_id")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_tickets_queue", ["status", "priority", "due_at"], unique=False)
        batch_op.create_index("ix_tickets_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "evidence_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_evidence_files_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_evidence_files_uploaded_by_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_evidence_files_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_files")),
    )
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_files_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_messages_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_messages_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_messages_key")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("out_refund_no", sa.String(length=40), nullable=False),
        sa.Column("out_trade_no", sa.String(length=40), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "wechat",
                "alipay",
                "bank_card",
                "balance",
                name="refund_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "processing",
                "succeeded",
                "failed",
                name="refund_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel_refund_no", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settled_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_refunds_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_refunds_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_refunds_out_refund_no")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_refunds_status_poll", ["status", "next_poll_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_refunds_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_timeline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("quote", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_ticket_timeline_actor_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_timeline_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_timeline")),
        sa.UniqueConstraint("ticket_id", "seq", name=op.f("uq_ticket_timeline_ticket_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_check_constraint("refund_within_captured", "refunded_fen >= 0 AND refunded_fen <= amount_fen")


def downgrade() -> None:

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_orders_refund_within_captured"), type_="check")
        batch_op.drop_column("refunded_fen")

    op.drop_table("ticket_timeline")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_ticket_id"))
        batch_op.drop_index("ix_refunds_status_poll")
        batch_op.drop_index(batch_op.f("ix_refunds_order_id"))

    op.drop_table("refunds")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_user_created")

    op.drop_table("messages")
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_files_ticket_id"))

    op.drop_table("evidence_files")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_user_created")
        batch_op.drop_index("ix_tickets_queue")
        batch_op.drop_index(batch_op.f("ix_tickets_order_id"))

    op.drop_table("tickets")
    op.drop_table("sim_refunds")
    op.drop_table("sim_behaviors")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
