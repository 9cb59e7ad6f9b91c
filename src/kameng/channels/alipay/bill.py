"""Alipay's trade bill (业务明细) read into reconciliation lines: a zip of GBK CSV files, the
detail between ``#`` comment lines; a refund row carries its ``out_request_no`` and a negative amount."""

from __future__ import annotations

import csv
import io
import zipfile

from kameng.domain.money import MoneyError, parse_yuan
from kameng.domain.reconciliation import BillLine, LineKind


class BillError(ValueError):
    """A bill that cannot be read."""


def parse_bill_zip(content: bytes) -> list[BillLine]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            name = next(n for n in archive.namelist() if n.endswith("业务明细.csv"))
            text = archive.read(name).decode("gbk")
    except (zipfile.BadZipFile, StopIteration, UnicodeDecodeError, KeyError):
        raise BillError("not an Alipay bill") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if row and not row[0].startswith("#")]
    if not rows:
        raise BillError("empty bill")
    header = rows[0]
    try:
        kind_at, trade_at, amount_at, request_at = (
            header.index(name) for name in ("业务类型", "商户订单号", "订单金额（元）", "退款批次号/请求号")
        )
        lines: list[BillLine] = []
        for row in rows[1:]:
            if row[kind_at] == "退款":
                amount = parse_yuan(row[amount_at].removeprefix("-"))
                lines.append(BillLine(LineKind.REFUND, row[request_at], amount, "SUCCESS"))
            else:
                lines.append(BillLine(LineKind.PAYMENT, row[trade_at], parse_yuan(row[amount_at]), "SUCCESS"))
    except (ValueError, IndexError, MoneyError) as error:
        raise BillError(f"unreadable bill row ({type(error).__name__})") from None
    return lines
