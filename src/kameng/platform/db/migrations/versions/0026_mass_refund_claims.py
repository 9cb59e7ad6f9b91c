"""mass refund claims: the ranges of a run's orders taken by its batches

- ``mass_refund_claims``: one row per batch of a mass refund, the range of orders it took (first
  and last order id), claimed before the batch runs and finished in the batch's transaction, so
  that several processes run one run's batches at once without taking the same orders, and a
  batch whose process died is taken again (docs/mass-refunds.md).

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-06 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kameng.platform.db.types

revision = "0026"
down_revision = "0022"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mass_refund_claims",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("first_order_id", sa.BigInteger(), nullable=False),
        sa.Column("last_order_id", sa.BigInteger(), nullable=False),
        sa.Column("claimed_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kameng.platform.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["mass_refund_runs.id"], name=op.f("fk_mass_refund_claims_run_id_mass_refund_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mass_refund_claims")),
    )
    op.create_index("ix_mass_refund_claims_run_finished", "mass_refund_claims", ["run_id", "finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mass_refund_claims_run_finished", table_name="mass_refund_claims")
    op.drop_table("mass_refund_claims")
