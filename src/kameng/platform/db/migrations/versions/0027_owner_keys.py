"""owner keys: a consumer's row refers to its parent together with the consumer

Every foreign key from one consumer-owned table to another (a ticket to its order, a timeline row
to its ticket, a refund to its order and ticket, …) becomes ``(column, user_id)`` referencing the
parent's ``(id, user_id)``, on a new unique index of the parent's. The database then refuses a
row whose consumer is not its parent's, and the row's own key to ``users`` goes where the parent
is not optional: the parent's is checked already. One look-up per insert instead of two
(docs/performance.md), and the shape Citus enforces between tables distributed by ``user_id``
(docs/scaling.md).

On SQLite the tables are rebuilt (batch mode), with the foreign keys off while they are
(migrations/env.py), and checked afterwards.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

PARENTS = ("orders", "tickets", "refunds", "withdrawals", "subscriptions")

# (table, column, parent table): each becomes an owner key.
KEYS = (
    ("order_events", "order_id", "orders"),
    ("payments", "order_id", "orders"),
    ("memberships", "order_id", "orders"),
    ("tickets", "order_id", "orders"),
    ("ticket_timeline", "ticket_id", "tickets"),
    ("evidence_files", "ticket_id", "tickets"),
    ("messages", "ticket_id", "tickets"),
    ("refunds", "order_id", "orders"),
    ("refunds", "ticket_id", "tickets"),
    ("abnormal_refund_actions", "refund_id", "refunds"),
    ("withdrawal_legs", "withdrawal_id", "withdrawals"),
    ("withdrawal_legs", "order_id", "orders"),
    ("withdrawal_legs", "refund_id", "refunds"),
    ("withdrawal_legs", "source_refund_id", "refunds"),
    ("subscriptions", "order_id", "orders"),
    ("renewal_charges", "subscription_id", "subscriptions"),
    ("renewal_charges", "order_id", "orders"),
    ("mass_refund_items", "order_id", "orders"),
    ("mass_refund_items", "ticket_id", "tickets"),
)

# Tables whose key to ``users`` goes: their owner key to a parent that is never NULL covers it.
# (``messages`` keeps its own: a message about no ticket names its consumer only there.)
WITHOUT_USER_KEY = (
    "order_events",
    "payments",
    "memberships",
    "tickets",
    "ticket_timeline",
    "evidence_files",
    "refunds",
    "abnormal_refund_actions",
    "withdrawal_legs",
    "subscriptions",
    "renewal_charges",
    "mass_refund_items",
)


def _tables() -> list[str]:
    """Each table once, in the order of ``KEYS`` (a table's parents come before it)."""
    return list(dict.fromkeys(table for table, _column, _parent in KEYS))


def _key_name(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def upgrade() -> None:
    # IF NOT EXISTS: on a large live database the operator builds these first, without blocking
    # writes (CREATE UNIQUE INDEX CONCURRENTLY, docs/deploy.md), and the migration then only
    # swaps the keys. The same words on PostgreSQL and SQLite.
    for parent in PARENTS:
        op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS uq_{parent}_id_user ON {parent} (id, user_id)")
    for table in _tables():
        with op.batch_alter_table(table) as batch:
            if table in WITHOUT_USER_KEY:
                batch.drop_constraint(_key_name(table, "user_id", "users"), type_="foreignkey")
            for key_table, column, parent in KEYS:
                if key_table != table:
                    continue
                batch.drop_constraint(_key_name(table, column, parent), type_="foreignkey")
                batch.create_foreign_key(
                    _key_name(table, column, parent), parent, [column, "user_id"], ["id", "user_id"]
                )


def downgrade() -> None:
    for table in reversed(_tables()):
        with op.batch_alter_table(table) as batch:
            for key_table, column, parent in KEYS:
                if key_table != table:
                    continue
                batch.drop_constraint(_key_name(table, column, parent), type_="foreignkey")
                batch.create_foreign_key(_key_name(table, column, parent), parent, [column], ["id"])
            if table in WITHOUT_USER_KEY:
                batch.create_foreign_key(_key_name(table, "user_id", "users"), "users", ["user_id"], ["id"])
    for parent in reversed(PARENTS):
        op.drop_index(f"uq_{parent}_id_user", table_name=parent)
