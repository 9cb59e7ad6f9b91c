"""ticket timeline head

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:36:51.486250
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timeline_head", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("timeline_rows", sa.Integer(), server_default="0", nullable=False))
    # Tickets written before this revision take their head from the rows they already have.
    op.execute(
        "UPDATE tickets SET"
        " timeline_rows = (SELECT COALESCE(MAX(t.seq), 0) FROM ticket_timeline t WHERE t.ticket_id = tickets.id),"
        " timeline_head = COALESCE((SELECT t.hash FROM ticket_timeline t WHERE t.ticket_id = tickets.id"
        " ORDER BY t.seq DESC LIMIT 1), '')"
    )


def downgrade() -> None:

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("timeline_rows")
        batch_op.drop_column("timeline_head")
