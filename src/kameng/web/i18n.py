"""Chinese first, English too: every string a page shows, in both languages."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

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
}


def translate(key: str, lang: Lang) -> str:
    zh, en = MESSAGES[key]
    return zh if lang == "zh" else en


def pick_lang(value: str | None) -> Lang:
    return "en" if value == "en" else "zh"
