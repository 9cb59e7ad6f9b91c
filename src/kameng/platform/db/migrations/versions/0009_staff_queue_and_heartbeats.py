"""staff queue keyset index and worker heartbeats

The staff queue pages by (status, priority, due_at, id): the index gains ``id`` so that each
page is one index seek, whatever its depth. Workers write a heartbeat row at every tick.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_queue")
        batch.create_index("ix_tickets_queue_keyset", ["status", "priority", "due_at", "id"])
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=120), nullable=False),
        sa.Column("started_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("ticks", sa.Integer(), nullable=False),
        sa.Column("failures_in_row", sa.Integer(), nullable=False),
        sa.Column("last_ok_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index("ix_worker_heartbeats_beat_at", "worker_heartbeats", ["beat_at"])


def downgrade() -> None:
    op.drop_index("ix_worker_heartbeats_beat_at", table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_queue_keyset")
        batch.create_index("ix_tickets_queue", ["status", "priority", "due_at"])
