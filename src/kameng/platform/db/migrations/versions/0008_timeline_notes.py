"""timeline rows carry the system's words for readers as a catalog key and parameters

``ticket_timeline.note`` ({"key": ..., "params": {...}}) lets each reader see what the system did
in their own language; ``comment`` stays the words of record (and the hash covers it, not the
note). Rows written before have no note and show their comment as it was written.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_timeline") as batch:
        batch.add_column(sa.Column("note", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_timeline") as batch:
        batch.drop_column("note")
