"""The card keys' key ring rotated: every key re-encrypted with the ring's newest key (and its
fingerprint computed again), batch by batch, each batch its own transaction, so that a rotation
stopped half-way keeps what it did and the next run goes on from there (``kameng card-keys
rotate``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from kameng.catalog.models import CardKeyImportRow
from kameng.domain.card_keys import ImportStatus
from kameng.orders.models import CardKeyRow
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.secrets_ring import card_key_ring


@dataclass
class Rotation:
    rows: int = 0
    batches: int = 0
    imports: int = 0
    left: int = field(default=0)


def rotate_batch(uow: UnitOfWork, batch: int = 500) -> int:
    """Re-encrypt (and fingerprint again) up to ``batch`` card keys not yet written by the ring's
    newest key; one transaction. Answers how many; 0 means none is left."""
    with uow:
        ring = card_key_ring(uow.session)
        query = select(CardKeyRow).where(CardKeyRow.ring_tag != ring.tag).order_by(CardKeyRow.id).limit(batch)
        if uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = uow.session.scalars(query).all()
        for row in rows:
            code = ring.decrypt(row.secret)
            row.secret, row.fingerprint, row.ring_tag = ring.encrypt(code), ring.fingerprint(code), ring.tag
        uow.commit()
        return len(rows)


def rotate_pending_imports(uow: UnitOfWork) -> int:
    """Previewed imports' waiting keys, sealed again with the newest key."""
    with uow:
        ring = card_key_ring(uow.session)
        rows = uow.session.scalars(
            select(CardKeyImportRow).where(CardKeyImportRow.status == ImportStatus.PREVIEWED).with_for_update()
        ).all()
        for row in rows:
            if row.pending:
                row.pending = ring.reseal(row.pending)
        uow.commit()
        return len(rows)


def left_to_rotate(uow: UnitOfWork) -> int:
    with uow:
        ring = card_key_ring(uow.session)
        return uow.session.scalar(select(func.count(CardKeyRow.id)).where(CardKeyRow.ring_tag != ring.tag)) or 0


def rotate_card_keys(uow: UnitOfWork, batch: int = 500, most_batches: int | None = None) -> Rotation:
    """Every card key under the ring's newest key, batch by batch (each its own transaction, so
    an interrupted rotation keeps what it did and the next run goes on from there)."""
    done = Rotation(imports=rotate_pending_imports(uow))
    while most_batches is None or done.batches < most_batches:
        count = rotate_batch(uow, batch)
        if count == 0:
            break
        done.rows += count
        done.batches += 1
    done.left = left_to_rotate(uow)
    return done
