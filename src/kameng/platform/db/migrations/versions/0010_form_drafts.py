"""form drafts: what a person typed in a form that could not be sent

A form sent after the session expired keeps its text here (the session cookie holds only the
token), so that signing in again brings the person back to the form with the text filled in.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_drafts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_drafts")),
        sa.UniqueConstraint("token", name=op.f("uq_form_drafts_token")),
    )
    op.create_index("ix_form_drafts_created", "form_drafts", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_form_drafts_created", table_name="form_drafts")
    op.drop_table("form_drafts")
