"""Card-key stock: imports (preview, then one transaction), stock per product, low-stock alerts,
and the key ring's rotation.

An import is read and checked first (:func:`preview_import`): every line at fault is named, a
duplicate within the list and a key already in stock alike. Only a list with no fault is kept,
as a ``previewed`` import whose keys wait encrypted; :func:`commit_import` then checks the stock
again and puts every key in it in one transaction, or none. Committing the same import again
(a double click, a retried request) answers what the first commit did.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from kameng.catalog.models import CardKeyImportRow, ProductRow
from kameng.domain.card_keys import (
    IMPORT,
    BadLine,
    ImportStatus,
    ParsedList,
    parse_list,
    with_stock_duplicates,
)
from kameng.domain.states import CardKeyStatus
from kameng.domain.users import Role
from kameng.orders.models import CardKeyRow
from kameng.platform import inputs
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import Conflict, ErrorCode, InvalidInput, ServiceError, not_found
from kameng.platform.i18n import Lang, translate
from kameng.platform.secrets_ring import card_key_ring

# At the boundary: what one import may hold (a larger stock is several imports).
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_KEYS = 20_000
# Fingerprints asked for per query (below every backend's limit on bound parameters).
_CHUNK = 500
SOURCES = frozenset({"paste", "csv", "api"})


def require_operator(viewer: Viewer) -> None:
    """The catalog's stock is the operators' alone: anyone else finds nothing here."""
    if viewer.role is not Role.OPERATOR:
        raise not_found("product")


@dataclass(frozen=True)
class ImportPreview:
    """What an import would do: counts, and every line at fault with its number."""

    product_id: int
    lines: int
    keys: int
    problems: list[BadLine]
    token: str | None = None  # set when the list had no fault and waits to be committed
    status: ImportStatus | None = None

    @property
    def ok(self) -> bool:
        return self.token is not None


@dataclass(frozen=True)
class ImportResult:
    import_id: int
    product_id: int
    keys: int
    committed_at: datetime
    replayed: bool = False  # the import had been committed already: nothing was added this time


class ImportRefused(InvalidInput):
    """A list with lines at fault: nothing was imported. ``problems`` names every line."""

    def __init__(
        self, problems: Sequence[BadLine], key: str = "catalogkeys.error.refused", field_name: str = "codes"
    ) -> None:
        self.problems = list(problems)
        super().__init__(
            "card_keys_refused",
            key,
            field_name,
            label=inputs.field_label(field_name),
            count=len(self.problems),
            lines=_lines(self.problems),
        )


def _lines(problems: Sequence[BadLine], most: int = 20) -> str:
    shown = ", ".join(str(bad.line) for bad in problems[:most])
    return shown + (" …" if len(problems) > most else "")


def problem_text(bad: BadLine, lang: Lang) -> str:
    """One line's fault in words: "第 3 行:与第 1 行重复" / "Line 3: the same key as line 1"."""
    return translate(f"catalogkeys.problem.{bad.problem.value}", lang, line=bad.line, first=bad.first_line or 0)


def read_upload(data: bytes, field_name: str = "file") -> str:
    """An uploaded CSV or text file as text (UTF-8, or GB18030 as Chinese spreadsheets save)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(ErrorCode.FILE_TOO_LARGE, "catalogkeys.error.too_large", field_name, most=MAX_IMPORT_BYTES)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(ErrorCode.FILE_TYPE, "catalogkeys.error.not_text", field_name)


def _parse(text: str, field_name: str) -> ParsedList:
    if len(text.encode("utf-8")) > MAX_IMPORT_BYTES:
        raise InvalidInput(ErrorCode.FILE_TOO_LARGE, "catalogkeys.error.too_large", field_name, most=MAX_IMPORT_BYTES)
    if "\x00" in text:
        raise InvalidInput(ErrorCode.BAD_TEXT, "catalogkeys.error.not_text", field_name)
    parsed = parse_list(text)
    if not parsed.keys and not parsed.problems:
        raise InvalidInput(ErrorCode.EMPTY_FILE, "catalogkeys.error.empty", field_name)
    if len(parsed.keys) > MAX_IMPORT_KEYS:
        raise InvalidInput(ErrorCode.OUT_OF_RANGE, "catalogkeys.error.too_many", field_name, most=MAX_IMPORT_KEYS)
    return parsed


def _in_stock(uow: UnitOfWork, fingerprints: Sequence[str]) -> set[int]:
    """Positions in ``fingerprints`` of keys already in stock (whatever their status: a key sold,
    or revoked, is never sold again)."""
    found: set[str] = set()
    for start in range(0, len(fingerprints), _CHUNK):
        chunk = fingerprints[start : start + _CHUNK]
        found.update(uow.session.scalars(select(CardKeyRow.fingerprint).where(CardKeyRow.fingerprint.in_(chunk))))
    return {index for index, value in enumerate(fingerprints) if value in found}


def _card_key_product(uow: UnitOfWork, product_id: int) -> ProductRow:
    product = uow.session.get(ProductRow, product_id)
    if product is None:
        raise not_found("product")
    if not product.uses_card_keys:
        raise InvalidInput("not_card_key_product", "catalogkeys.error.no_card_keys", "product_id")
    return product


def preview_import(
    uow: UnitOfWork,
    operator: Viewer,
    product_id: int,
    text: str,
    source: str,
    now: datetime,
    idempotency_key: str | None = None,
    keep: bool = True,
    field_name: str | None = None,
) -> ImportPreview:
    """Read and check ``text``; when no line is at fault, keep it as a previewed import (its keys
    encrypted) and answer its token, which :func:`commit_import` takes. ``keep=False`` only
    checks (the API's ``preview``): nothing is stored."""
    require_operator(operator)
    if source not in SOURCES:
        raise InvalidInput(ErrorCode.BAD_TEXT, "catalogkeys.error.source", "source")
    parsed = _parse(text, field_name or ("file" if source == "csv" else "codes"))
    with uow:
        _card_key_product(uow, product_id)
        ring = card_key_ring(uow.session)
        checked = with_stock_duplicates(parsed, _in_stock(uow, [ring.fingerprint(k.code) for k in parsed.keys]))
        if checked.problems or not keep:
            return ImportPreview(product_id, checked.lines, len(checked.keys), checked.problems)
        codes = [k.code for k in checked.keys]
        token = idempotency_key or secrets.token_urlsafe(24)
        row = CardKeyImportRow(
            product_id=product_id,
            created_by=operator.user_id,
            idempotency_key=token,
            content_hash=_content_hash(uow, product_id, codes),
            status=ImportStatus.PREVIEWED,
            source=source,
            line_count=checked.lines,
            key_count=len(codes),
            pending=ring.seal(json.dumps(codes)),
            created_at=now,
        )
        uow.session.add(row)
        uow.commit()
        return ImportPreview(product_id, checked.lines, len(codes), [], token, ImportStatus.PREVIEWED)


def _content_hash(uow: UnitOfWork, product_id: int, codes: Iterable[str]) -> str:
    return card_key_ring(uow.session).fingerprint(f"{product_id}\n" + "\n".join(codes))


def _import_row(uow: UnitOfWork, operator: Viewer, token: str, lock: bool = False) -> CardKeyImportRow | None:
    query = select(CardKeyImportRow).where(
        CardKeyImportRow.created_by == operator.user_id, CardKeyImportRow.idempotency_key == token
    )
    return uow.session.scalar(query.with_for_update() if lock else query)


def commit_import(uow: UnitOfWork, operator: Viewer, token: str, now: datetime) -> ImportResult:
    """Put every key of the previewed import ``token`` in stock, in one transaction, or none.

    The stock is checked again (another import may have brought the same key since the preview):
    a fault now refuses the import for good, naming its lines; preview the list again."""
    require_operator(operator)
    with uow:
        row = _import_row(uow, operator, token, lock=True)
        if row is None:
            raise not_found("card_key_import")
        if row.status is ImportStatus.COMMITTED:
            assert row.committed_at is not None
            return ImportResult(row.id, row.product_id, row.key_count, row.committed_at, replayed=True)
        if row.status is ImportStatus.REFUSED:
            raise Conflict(ErrorCode.INVALID_TRANSITION, "catalogkeys.error.import_refused", "token")
        ring = card_key_ring(uow.session)
        codes: list[str] = json.loads(ring.unseal(row.pending))
        fingerprints = [ring.fingerprint(code) for code in codes]
        taken = _in_stock(uow, fingerprints)
        if taken:
            parsed = parse_list("\n".join(codes))
            problems = with_stock_duplicates(parsed, taken).problems
            row.status = IMPORT.apply(row.status, "refuse")
            row.pending = ""
            uow.commit()
            raise ImportRefused(problems, "catalogkeys.error.refused_at_commit")
        # One multi-row INSERT (insertmanyvalues) rather than 20,000 ORM objects: the same
        # transaction, a fraction of the time (docs/catalog.md has the figures).
        uow.session.execute(
            insert(CardKeyRow),
            [
                {
                    "product_id": row.product_id,
                    "secret": ring.encrypt(code),
                    "fingerprint": fingerprint,
                    "ring_tag": ring.tag,
                    "status": CardKeyStatus.AVAILABLE,
                    "import_id": row.id,
                    "created_at": now,
                }
                for code, fingerprint in zip(codes, fingerprints, strict=True)
            ],
        )
        row.status = IMPORT.apply(row.status, "commit")
        row.pending = ""
        row.committed_at = now
        try:
            uow.commit()
        except IntegrityError:
            # Another import committed one of these keys between our check and our commit: the
            # unique fingerprint refused the whole transaction. Nothing was added.
            raise Conflict(ErrorCode.IDENTIFIER_TAKEN, "catalogkeys.error.raced", "token") from None
        return ImportResult(row.id, row.product_id, len(codes), now)


def import_card_keys(
    uow: UnitOfWork,
    operator: Viewer,
    product_id: int,
    text: str,
    idempotency_key: str,
    now: datetime,
    field_name: str = "codes",
) -> ImportResult:
    """The API's import in one call: preview and commit under the client's ``Idempotency-Key``.
    A retry with the same key and list answers the first import; the same key with another list
    is refused."""
    require_operator(operator)
    parsed = _parse(text, field_name)
    with uow:
        existing = _import_row(uow, operator, idempotency_key)
        same = existing is not None and existing.content_hash == _content_hash(
            uow, product_id, [k.code for k in parsed.keys]
        )
    if existing is not None:
        if not same or existing.product_id != product_id:
            raise Conflict(ErrorCode.IDEMPOTENCY_KEY_REUSED, "error.idempotency_key_reused", "Idempotency-Key")
        return commit_import(uow, operator, idempotency_key, now)
    preview = preview_import(uow, operator, product_id, text, "api", now, idempotency_key, field_name=field_name)
    if not preview.ok:
        raise ImportRefused(preview.problems, field_name=field_name)
    return commit_import(uow, operator, idempotency_key, now)


__all__ = [
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_KEYS",
    "ImportPreview",
    "ImportRefused",
    "ImportResult",
    "ServiceError",
    "commit_import",
    "import_card_keys",
    "preview_import",
    "problem_text",
    "read_upload",
]
