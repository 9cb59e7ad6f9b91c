"""The local WeChat Pay's books and the shapes it answers in: trades, refunds, the day's bill."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))


def wechat_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


@dataclass
class SimTrade:
    out_trade_no: str
    description: str
    total: int
    notify_url: str
    token: str
    state: str = "NOTPAY"  # NOTPAY, SUCCESS, CLOSED, REFUND
    transaction_id: str = ""
    success_time: datetime | None = None
    refunded: int = 0
    refund_count: int = 0
    last_refund_at: datetime | None = None


@dataclass
class SimRefund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    amount: int
    status: str
    script: list[str]
    created_at: datetime
    success_time: datetime | None = None
    abnormal_to: str | None = None
    bank_account: str | None = None
    notify_url: str = ""


BILL_HEADER = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
BILL_SUMMARY_HEADER = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
]


def trade_body(trade: SimTrade, appid: str, mchid: str) -> dict[str, object]:
    body: dict[str, object] = {
        "appid": appid,
        "mchid": mchid,
        "out_trade_no": trade.out_trade_no,
        "trade_type": "NATIVE",
        "trade_state": trade.state,
        "trade_state_desc": {"NOTPAY": "未支付", "CLOSED": "已关闭", "REFUND": "转入退款"}.get(trade.state, "支付成功"),
        "amount": {"total": trade.total, "currency": "CNY", "payer_total": trade.total, "payer_currency": "CNY"},
    }
    if trade.transaction_id:
        body["transaction_id"] = trade.transaction_id
        body["bank_type"] = "OTHERS"
        body["payer"] = {"openid": "o-sim-" + trade.token[:8]}
    if trade.success_time is not None:
        body["success_time"] = wechat_time(trade.success_time)
    return body


def refund_body(refund: SimRefund, trade: SimTrade) -> dict[str, object]:
    body: dict[str, object] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": wechat_time(refund.created_at),
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": trade.total,
            "refund": refund.amount,
            "payer_total": trade.total,
            "payer_refund": refund.amount,
            "settlement_refund": refund.amount,
            "settlement_total": trade.total,
            "discount_refund": 0,
            "currency": "CNY",
        },
    }
    if refund.success_time is not None:
        body["success_time"] = wechat_time(refund.success_time)
    return body


# ---------------------------------------------------------------------------------------
# The trade bill of a day (交易账单): CSV, every field prefixed with a backtick, then a summary


def bill_csv(
    bill_date: str,
    appid: str,
    mchid: str,
    trades: Iterable[SimTrade],
    refunds: Iterable[SimRefund],
    trade_of: dict[str, SimTrade],
) -> str:
    """The day's trade bill (Beijing day): a payment row per trade paid, a refund row per refund
    asked that day; every field prefixed with a backtick; then the summary's header and row."""

    def day_of(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(CHINA).date().isoformat()

    def yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}"

    def stamp(moment: datetime) -> str:
        return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")

    rows: list[list[str]] = []
    paid = refunded = 0
    for trade in trades:
        if trade.success_time is None or day_of(trade.success_time) != bill_date:
            continue
        paid += trade.total
        rows.append(
            [
                stamp(trade.success_time), appid, mchid, "", "", trade.transaction_id, trade.out_trade_no,
                "o-sim", "NATIVE", "SUCCESS", "OTHERS", "CNY", yuan(trade.total), "0.00",
                "0", "0", "0.00", "0.00", "", "", trade.description, "", "0.00", "0.60%",
                yuan(trade.total), "0.00", "",
            ]
        )  # fmt: skip
    for refund in refunds:
        if day_of(refund.created_at) != bill_date:
            continue
        trade = trade_of[refund.out_trade_no]
        refunded += refund.amount
        rows.append(
            [
                stamp(refund.created_at), appid, mchid, "", "", trade.transaction_id, trade.out_trade_no,
                "o-sim", "NATIVE", "REFUND", "OTHERS", "CNY", "0.00", "0.00",
                refund.refund_id, refund.out_refund_no, yuan(refund.amount), "0.00", "ORIGINAL",
                refund.status, trade.description, "", "0.00", "0.60%", "0.00", yuan(refund.amount), "",
            ]
        )  # fmt: skip
    lines = [",".join(BILL_HEADER)]
    lines += [",".join("`" + field for field in row) for row in rows]
    lines.append(",".join(BILL_SUMMARY_HEADER))
    summary = [str(len(rows)), yuan(paid), yuan(refunded), "0.00", "0.00", yuan(paid), yuan(refunded)]
    lines.append(",".join("`" + field for field in summary))
    return "\r\n".join(lines) + "\r\n"
