"""ticket timeline owner: each timeline row carries its ticket's user_id

Consumer tables are distributed by ``user_id`` when kameng grows past one database
(docs/scaling.md); the timeline must live on the same shard as its ticket, so it carries the
owner too. Filled from the tickets for the rows already there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_timeline") as batch:
        batch.add_column(sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
    op.execute(
        "UPDATE ticket_timeline SET user_id = (SELECT tickets.user_id FROM tickets"
        " WHERE tickets.id = ticket_timeline.ticket_id)"
    )
    with op.batch_alter_table("ticket_timeline") as batch:
        batch.alter_column(
            "user_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        )
        batch.create_foreign_key(op.f("fk_ticket_timeline_user_id_users"), "users", ["user_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("ticket_timeline") as batch:
        batch.drop_constraint(op.f("fk_ticket_timeline_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")
