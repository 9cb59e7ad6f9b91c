"""messages keep their words in every language in one JSON column

``text_zh`` and ``text_en`` become ``texts`` ({"zh": ..., "en": ...}): the words as sent, rendered
from the catalogs when the message is written, so adding a language adds a catalog and no column.
Messages already sent keep exactly the text they were sent with.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

messages = sa.table(
    "messages",
    sa.column("id", sa.BigInteger),
    sa.column("text_zh", sa.Text),
    sa.column("text_en", sa.Text),
    sa.column("texts", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("texts", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(messages.c.id, messages.c.text_zh, messages.c.text_en)).all()
    for id_, zh, en in rows:
        connection.execute(messages.update().where(messages.c.id == id_).values(texts={"zh": zh, "en": en}))
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("texts", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("text_zh")
        batch.drop_column("text_en")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("text_zh", sa.Text(), nullable=True))
        batch.add_column(sa.Column("text_en", sa.Text(), nullable=True))
    connection = op.get_bind()
    for id_, texts in connection.execute(sa.select(messages.c.id, messages.c.texts)).all():
        connection.execute(
            messages.update()
            .where(messages.c.id == id_)
            .values(text_zh=texts.get("zh", ""), text_en=texts.get("en", ""))
        )
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("text_zh", existing_type=sa.Text(), nullable=False)
        batch.alter_column("text_en", existing_type=sa.Text(), nullable=False)
        batch.drop_column("texts")
