"""The local Alipay's trade bill of a day: a zip of two GBK CSV files, as Alipay serves it."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Protocol

from kameng.domain.money import format_yuan

CHINA = timezone(timedelta(hours=8))
DETAIL_HEADER = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
]


class BillTrade(Protocol):
    out_trade_no: str
    subject: str
    total: int
    trade_no: str
    paid_at: datetime | None


class BillRefund(Protocol):
    out_request_no: str
    out_trade_no: str
    amount: int
    at: datetime
    settled: bool


def bill_zip(app_id: str, bill_date: str, trades: Iterable[BillTrade], refunds: Iterable[BillRefund]) -> bytes:
    """``<app_id>_<date>_业务明细.csv`` (one row per payment and per finished refund, refunds
    negative) and ``…_业务明细(汇总).csv``, both GBK, between Alipay's ``#`` comment lines."""

    def day(moment: datetime) -> str:
        return moment.astimezone(CHINA).date().isoformat()

    def stamp(moment: datetime) -> str:
        return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")

    by_trade = {trade.out_trade_no: trade for trade in trades}
    rows: list[list[str]] = []
    for trade in by_trade.values():
        if trade.paid_at is not None and day(trade.paid_at) == bill_date:
            money = format_yuan(trade.total)
            rows.append(
                [trade.trade_no, trade.out_trade_no, "交易", trade.subject, stamp(trade.paid_at), stamp(trade.paid_at)]
                + ["", "", "", "", "csq***@sandbox.com", money, money] + ["0.00"] * 5 + ["", "0.00", "0.00"]
                + ["", "0.00", "0.00", ""]
            )  # fmt: skip
    for refund in refunds:
        if not refund.settled or day(refund.at) != bill_date:
            continue  # Alipay lists a refund once its money has moved
        trade = by_trade[refund.out_trade_no]
        money = format_yuan(-refund.amount)
        rows.append(
            [trade.trade_no, trade.out_trade_no, "退款", trade.subject, stamp(refund.at), stamp(refund.at)]
            + ["", "", "", "", "csq***@sandbox.com", money, money] + ["0.00"] * 5 + ["", "0.00", "0.00"]
            + [refund.out_request_no, "0.00", "0.00", ""]
        )  # fmt: skip
    detail = io.StringIO()
    detail.write(f"#支付宝业务明细查询\r\n#账号：[{app_id}]\r\n#起始日期：[{bill_date} 00:00:00]\r\n")
    detail.write("#-----------------------------------------业务明细列表----------------------------------------\r\n")
    writer = csv.writer(detail, lineterminator="\r\n")
    writer.writerow(DETAIL_HEADER)
    writer.writerows(rows)
    detail.write("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
    detail.write(f"#交易合计：{sum(1 for r in rows if r[2] == '交易')}笔\r\n")
    detail.write(f"#退款合计：{sum(1 for r in rows if r[2] == '退款')}笔\r\n")
    summary = io.StringIO()
    summary.write("#支付宝业务汇总查询\r\n")
    csv.writer(summary, lineterminator="\r\n").writerow(["门店编号", "门店名称", "交易订单总笔数", "退款订单总笔数"])
    out = io.BytesIO()
    compact = bill_date.replace("-", "")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{app_id}_{compact}_业务明细.csv", detail.getvalue().encode("gbk"))
        archive.writestr(f"{app_id}_{compact}_业务明细(汇总).csv", summary.getvalue().encode("gbk"))
    return out.getvalue()
