"""orders by consumer, product and time: the checkout's duplicate check reads one row

Placing an order asks whether the consumer bought the same product in the last day (their latest
such order, to name it). With the consumer known only from the bearer token's session in the same
statement (docs/performance.md, tenth pass), the planner could not use that consumer's row count
and sometimes chose to read all of the consumer's orders of the day through ``(user_id,
created_at)`` and sort them: the more a consumer bought that day, the more rows each checkout
read. On ``(user_id, product_id, created_at)`` the latest order of the product is the first entry
read backwards, whatever the plan's estimates.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_user_product_created", "orders", ["user_id", "product_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_user_product_created", table_name="orders")
