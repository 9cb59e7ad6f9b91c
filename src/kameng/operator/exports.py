"""Exports of the operator's searches and reports: CSV (streamed) and Excel (.xlsx).

CSV starts with a UTF-8 byte-order mark, or Excel on a Chinese Windows reads the file as GBK and
shows mojibake. Every text cell that a spreadsheet would read as a formula (one starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with an apostrophe: a buyer's
e-mail address or a product name must never run as ``=HYPERLINK(...)`` on an operator's machine.
Amounts are yuan with two decimals (from integer fen, exactly); phones are masked as in the lists.

The workbook is written by openpyxl's write-only mode (rows go to a temporary file as they come,
never held in memory) and streamed from there.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from kameng.domain.calendar import SHANGHAI
from kameng.domain.users import mask_email, mask_phone
from kameng.operator.search import OrderLine
from kameng.operator.ticket_search import TicketLine
from kameng.platform.i18n import Lang, label, translate

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | int | Decimal | bool | None


def safe_text(value: str) -> str:
    """A text cell no spreadsheet runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def yuan(fen: int | None) -> Decimal | None:
    """Fen as yuan, exactly (``12345`` → ``Decimal("123.45")``)."""
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


def local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(value)
    return safe_text(value)


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Cell]], batch: int = 200) -> Iterator[bytes]:
    """The CSV's bytes, the BOM first, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([_csv_cell(name) for name in header])
    pending = 0
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        pending += 1
        if pending >= batch:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(value: Cell) -> object:
    if isinstance(value, str):
        # openpyxl stores a text starting with "=" as a formula: the apostrophe keeps it text.
        return safe_text(value)
    return value


def xlsx_stream(sheet: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """The workbook's bytes: written row by row to a temporary file, then streamed from it."""
    from openpyxl import Workbook  # only the export needs it

    with tempfile.TemporaryFile() as spool:
        book = Workbook(write_only=True)
        ws = book.create_sheet(sheet[:31])
        ws.append([_xlsx_cell(name) for name in header])
        for row in rows:
            ws.append([_xlsx_cell(value) for value in row])
        book.save(spool)
        spool.seek(0)
        while chunk := spool.read(64 * 1024):
            yield chunk


def _person(phone: str | None, email: str | None) -> str:
    return mask_phone(phone) if phone else mask_email(email)


ORDER_COLUMNS = (
    "order_no",
    "created_at",
    "paid_at",
    "product",
    "status",
    "channel",
    "amount",
    "refunded",
    "buyer",
)
TICKET_COLUMNS = (
    "ticket_no",
    "order_no",
    "created_at",
    "decided_at",
    "product",
    "reason",
    "status",
    "decision",
    "quoted",
    "approved",
    "breached",
    "buyer",
)


def order_header(lang: Lang) -> list[str]:
    return [translate(f"op.col.{name}", lang) for name in ORDER_COLUMNS]


def order_rows(lines: Iterable[OrderLine], lang: Lang) -> Iterator[list[Cell]]:
    for line in lines:
        yield [
            line.order_no,
            local(line.created_at),
            local(line.paid_at),
            line.product_zh if lang == "zh" else line.product_en,
            label("status", line.status, lang),
            label("channel", line.channel, lang),
            yuan(line.amount_fen),
            yuan(line.refunded_fen),
            _person(line.phone, line.email),
        ]


def ticket_header(lang: Lang) -> list[str]:
    return [translate(f"op.col.{name}", lang) for name in TICKET_COLUMNS]


def ticket_rows(lines: Iterable[TicketLine], lang: Lang) -> Iterator[list[Cell]]:
    for line in lines:
        yield [
            line.ticket_no,
            line.order_no,
            local(line.created_at),
            local(line.decided_at),
            line.product_zh if lang == "zh" else line.product_en,
            label("reason", line.reason, lang),
            label("ts", line.status, lang),
            label("decision", line.decision, lang),
            yuan(line.quoted_fen),
            yuan(line.approved_fen),
            line.breached,
            _person(line.phone, line.email),
        ]


def export_name(kind: str, now: datetime, extension: str) -> str:
    return f"{kind}-{now.astimezone(SHANGHAI).strftime('%Y%m%d-%H%M')}.{extension}"
