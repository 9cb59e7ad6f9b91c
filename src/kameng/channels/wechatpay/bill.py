"""WeChat Pay's trade bill (交易账单) read into reconciliation lines.

The bill is CSV: a header row, one row per payment or refund with every field prefixed by a
backtick (so that spreadsheets keep the long numbers as text), then a summary header and row. The
summary is checked against the rows: a bill that does not add up is refused, not half-read."""

from __future__ import annotations

import csv
import io

from kameng.domain.money import MoneyError, parse_yuan
from kameng.domain.reconciliation import BillLine, LineKind

# WeChat's refund states in the reconciliation's words: ABNORMAL is not final (still on its way).
REFUND_STATUS = {"SUCCESS": "SUCCESS", "PROCESSING": "PROCESSING", "ABNORMAL": "PROCESSING", "CLOSED": "FAILED"}


class BillError(ValueError):
    """A bill that cannot be read or does not add up."""


def parse_trade_bill(text: str) -> list[BillLine]:
    rows = [[field.removeprefix("`") for field in row] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))]
    rows = [row for row in rows if row]
    if not rows:
        raise BillError("empty bill")
    header = rows[0]
    try:
        cut = next(i for i, row in enumerate(rows) if row and row[0] == "总交易单数")
        column = {
            name: header.index(name)
            for name in ("商户订单号", "交易状态", "应结订单金额", "商户退款单号", "退款金额", "退款状态")
        }
    except (StopIteration, ValueError):
        raise BillError("not a WeChat Pay trade bill") from None
    lines: list[BillLine] = []
    paid = refunded = 0
    try:
        for row in rows[1:cut]:
            state = row[column["交易状态"]]
            if state == "REFUND":
                amount = parse_yuan(row[column["退款金额"]])
                refunded += amount
                status = REFUND_STATUS.get(row[column["退款状态"]], "FAILED")
                lines.append(BillLine(LineKind.REFUND, row[column["商户退款单号"]], amount, status))
            else:
                amount = parse_yuan(row[column["应结订单金额"]])
                paid += amount
                lines.append(BillLine(LineKind.PAYMENT, row[column["商户订单号"]], amount, "SUCCESS"))
        summary = dict(zip(rows[cut], rows[cut + 1], strict=True))
        if (int(summary["总交易单数"]), parse_yuan(summary["应结订单总金额"]), parse_yuan(summary["退款总金额"])) != (
            len(lines),
            paid,
            refunded,
        ):
            raise BillError("the summary does not match the rows")
    except (IndexError, KeyError, MoneyError) as error:
        raise BillError(f"unreadable bill row ({type(error).__name__})") from None
    return lines
