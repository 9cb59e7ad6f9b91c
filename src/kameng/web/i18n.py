"""Chinese first, English too: every string a page shows, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
SHANGHAI = ZoneInfo("Asia/Shanghai")

MESSAGES: dict[str, tuple[str, str]] = {
    "site_name": ("卡盟 kameng", "kameng"),
    "tagline": (
        "会员与虚拟商品平台:购买前看清退款规则,退款一键办理、精确到分、按期到账。",
        "Memberships and virtual goods: refund terms up front, refunds in one click,"
        " exact to the fen, on the promised day.",
    ),
    "catalog": ("商品目录", "Catalog"),
    "refund_terms": ("退款规则", "Refund terms"),
    "price": ("价格", "Price"),
    "term": ("期限", "Term"),
    "kind_membership": ("会员", "Membership"),
    "kind_virtual_goods": ("虚拟商品", "Virtual goods"),
    "kind_recharge": ("余额充值", "Balance top-up"),
    "promo": ("限时优惠", "Limited offer"),
    "yuan": ("元", "CNY"),
    "switch_lang": ("English", "中文"),
    "footer": (
        "退款规则由系统根据政策自动生成,与退款引擎的计算一致。",
        "Refund terms are generated from each policy and match what the refund engine computes.",
    ),
    "not_found": ("页面不存在", "Page not found"),
    # Accounts
    "signup": ("注册", "Sign up"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "identifier": ("手机号或邮箱", "Phone number or e-mail"),
    "password": ("密码", "Password"),
    "display_name": ("昵称(可不填)", "Display name (optional)"),
    "password_hint": ("至少 8 位", "At least 8 characters"),
    "bad_login": ("手机号/邮箱或密码不正确", "Wrong phone number, e-mail or password"),
    "have_account": ("已有账号?去登录", "Already registered? Sign in"),
    "no_account": ("还没有账号?注册", "No account yet? Sign up"),
    "my_orders": ("我的订单", "My orders"),
    "staff_lookup": ("订单查询(员工)", "Order lookup (staff)"),
    "role_agent": ("客服", "Agent"),
    "role_supervisor": ("主管", "Supervisor"),
    "role_operator": ("运营", "Operator"),
    "role_consumer": ("用户", "Consumer"),
    # Product and checkout
    "kind": ("类型", "Kind"),
    "buy_now": ("立即购买", "Buy now"),
    "login_to_buy": ("登录后购买", "Sign in to buy"),
    "benefits": ("权益", "Benefits"),
    "renewable_note": ("支持自动续费(默认不开启)", "Auto-renewal available (off unless you choose it)"),
    "checkout": ("确认订单", "Checkout"),
    "list_price": ("原价", "List price"),
    "coupon": ("优惠券", "Coupon"),
    "coupon_discount": ("优惠券抵扣", "Coupon discount"),
    "apply_coupon": ("使用", "Apply"),
    "to_pay": ("应付金额", "To pay"),
    "channel": ("支付方式", "Payment method"),
    "channel_wechat": ("微信支付", "WeChat Pay"),
    "channel_alipay": ("支付宝", "Alipay"),
    "channel_bank_card": ("银行卡", "Bank card"),
    "channel_balance": ("余额", "Balance"),
    "balance_available": ("可用余额", "Available balance"),
    "choose_channel": ("请选择支付方式", "Choose a payment method"),
    "nonrefundable_ack": (
        "我已知悉:虚拟商品发放后不支持无理由退款",
        "I understand: digital goods cannot be returned without reason once delivered",
    ),
    "auto_renew_opt_in": (
        "到期后自动续费(可随时取消,续费前 5 天提醒)",
        "Renew automatically at the end of the term (cancel any time; reminder 5 days before)",
    ),
    "place_order": ("提交订单", "Place order"),
    "duplicate_title": ("重复购买提醒", "You already bought this"),
    "duplicate_confirm": ("确认再买一次", "Yes, buy it again"),
    "duplicate_back": ("不买了,查看我的订单", "No, show my orders"),
    # Payment simulator
    "pay_sim_title": ("支付模拟器", "Payment simulator"),
    "pay_sim_note": (
        "这是本地支付模拟器,代替微信支付/支付宝等真实渠道;确认后由渠道异步通知结果。",
        "This is the local payment simulator standing in for a real channel; the channel notifies"
        " the result asynchronously.",
    ),
    "amount": ("金额", "Amount"),
    "confirm_pay": ("确认支付", "Pay"),
    "simulate_failure": ("模拟失败", "Simulate a failure"),
    # Orders
    "order_no": ("订单号", "Order number"),
    "product": ("商品", "Product"),
    "status": ("状态", "Status"),
    "created_at": ("下单时间", "Ordered"),
    "paid_at": ("支付时间", "Paid"),
    "no_orders": ("还没有订单。", "No orders yet."),
    "view": ("查看", "View"),
    "status_pending_payment": ("待支付", "Awaiting payment"),
    "status_paid": ("已支付", "Paid"),
    "status_expired": ("已过期", "Expired"),
    "status_cancelled": ("已取消", "Cancelled"),
    "status_refunded": ("已退款", "Refunded"),
    "go_pay": ("去支付", "Pay now"),
    "cancel_order": ("取消订单", "Cancel order"),
    "payments": ("支付记录", "Payments"),
    "transaction_no": ("交易号", "Transaction no."),
    "pay_pending": ("待支付", "Pending"),
    "pay_succeeded": ("成功", "Succeeded"),
    "pay_failed": ("失败", "Failed"),
    "pay_returned": ("已退回", "Returned"),
    "membership": ("会员状态", "Membership"),
    "ms_pending_activation": ("待激活", "Not activated yet"),
    "ms_active": ("生效中", "Active"),
    "ms_expired": ("已到期", "Expired"),
    "ms_closed": ("已关闭", "Closed"),
    "activated_at": ("激活时间", "Activated"),
    "expires_at": ("到期时间", "Expires"),
    "auto_renew": ("自动续费", "Auto-renewal"),
    "on": ("已开启", "On"),
    "off": ("未开启", "Off"),
    "activate": ("激活", "Activate"),
    "use_benefit": ("使用权益", "Use a benefit"),
    "claim_trial": ("领取试用", "Claim the trial"),
    "card_key": ("卡密", "Card key"),
    "reveal_key": ("查看卡密", "Show the card key"),
    "key_delivered": ("卡密已发放,点击查看(查看将被记录)", "Delivered; showing it is recorded"),
    "key_revealed_note": ("卡密已查看过", "The key has been shown before"),
    "key_reserved": ("支付后发放", "Delivered after payment"),
    "key_revoked": ("卡密已作废", "The key has been revoked"),
    "timeline": ("订单动态", "Timeline"),
    "quote_title": ("如果现在申请退款", "If you asked for a refund now"),
    "quote_none": ("订单支付后才能计算退款。", "A refund can be quoted once the order is paid."),
    "decision": ("处理方式", "Decision"),
    "decision_auto_approve": ("一键退款,无需审核", "Refunded in one click, no review"),
    "decision_review": ("人工审核", "Reviewed by a person"),
    "decision_reject": ("不予退款", "Not refundable"),
    "refund_amount": ("可退金额", "Refund"),
    "rules": ("适用规则", "Rules applied"),
    "review_due": ("审核截止", "Review due by"),
    "arrival": ("预计到账", "Expected arrival"),
    "line_paid": ("实付金额", "Paid"),
    "line_not_refundable": ("不可退部分", "Not refundable"),
    "line_used_share": ("已使用部分", "Used share"),
    "line_cash_spent": ("已消费余额", "Balance spent"),
    "line_fee": ("手续费", "Handling fee"),
    "line_coupon": ("优惠券", "Coupon"),
    "event_paid": ("支付成功", "Paid"),
    "event_delivered": ("已发放", "Delivered"),
    "event_activated": ("已激活", "Activated"),
    "event_benefit_used": ("使用权益", "Benefit used"),
    "event_trial_claimed": ("领取试用", "Trial claimed"),
    "event_outage": ("平台服务中断", "Platform outage"),
    "event_renewal_notice": ("续费提醒", "Renewal reminder"),
    "event_renewed": ("自动续费", "Renewed"),
    "event_merchant_gone": ("商家失联", "Merchant gone"),
    "event_spent": ("余额消费", "Balance spent"),
    "event_key_revealed": ("查看卡密", "Card key shown"),
    "event_order_expired": ("订单超时关闭", "Order expired"),
    "event_order_cancelled": ("订单已取消", "Order cancelled"),
    "event_late_payment_returned": ("超时到账,已原路退回", "Late payment returned"),
    "hours": ("小时", "hours"),
    # Staff
    "staff_search": ("按订单号、手机号或邮箱查询", "Search by order number, phone or e-mail"),
    "search": ("查询", "Search"),
    "buyer": ("买家", "Buyer"),
    "no_results": ("没有找到订单。", "No orders found."),
    "staff_actions": ("记录平台事件", "Record a platform event"),
    "record_outage": ("记录服务中断", "Record an outage"),
    "record_merchant_gone": ("记录商家失联", "Record merchant gone"),
    "note": ("备注", "Note"),
    "back_to_orders": ("返回订单列表", "Back to orders"),
}


def translate(key: str, lang: Lang) -> str:
    zh, en = MESSAGES[key]
    return zh if lang == "zh" else en


def pick_lang(value: str | None) -> Lang:
    return "en" if value == "en" else "zh"


def label(prefix: str, value: object, lang: Lang) -> str:
    """A status or type shown to people: ``label("status", "paid", lang)``; unknown values as is."""
    key = f"{prefix}_{getattr(value, 'value', value)}"
    return translate(key, lang) if key in MESSAGES else str(getattr(value, "value", value))


def localtime(moment: datetime | None) -> str:
    """A time as people here read it: Beijing time, to the minute."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
