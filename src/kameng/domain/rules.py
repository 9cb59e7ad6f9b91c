"""The rule ids of RULES.md and the plain names the engine's own sentences give them.

A rule id (S1, P6, …) is never shown to a person alone: it always comes with a short plain name,
"P1 未激活全额退" / "P1 (not activated: full refund)". Pages, messages and the evidence PDF read
those names from the gettext catalogs (``rule.<id>.name`` and a one-sentence
``rule.<id>.summary``, through ``kameng.platform.i18n.rule_label``). The engine is pure and reads
no catalog, yet its explanations and lines name rules and the reason the consumer chose, so it
keeps the same words here; ``tests/platform/test_rule_names.py`` fails as soon as the two differ.
"""

from __future__ import annotations

from kameng.domain.model import Reason

# RULES.md section 3, in its order: the statutory rules, then the policy rules.
STATUTORY_RULES: tuple[str, ...] = ("S1", "S2", "S3", "S4", "S5")
POLICY_RULES: tuple[str, ...] = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "R1", "R2")
RULE_IDS: tuple[str, ...] = STATUTORY_RULES + POLICY_RULES

# id → (Chinese, English): the same text as ``rule.<id>.name`` in the catalogs.
RULE_NAMES: dict[str, tuple[str, str]] = {
    "S1": ("未到账全额退", "not delivered: full refund"),
    "S2": ("续费未提醒全额退", "renewed without a reminder: full refund"),
    "S3": ("平台违约全额退", "platform fault: full refund"),
    "S4": ("与描述不符全额退", "not as described: full refund"),
    "S5": ("商家失联平台先赔", "merchant gone: the platform pays"),
    "P1": ("未激活全额退", "not activated: full refund"),
    "P2": ("未发放全额退", "not delivered yet: full refund"),
    "P3": ("已发放数字商品不退", "delivered digital goods: no refund"),
    "P4": ("特价已激活不退", "special offer activated: no refund"),
    "P5": ("期满不退", "term ended: no refund"),
    "P6": ("冷静期未使用全额退", "cooling-off, unused: full refund"),
    "P7": ("冷静期扣已用天数", "cooling-off: less the days used"),
    "P8": ("永久会员已激活不退", "permanent, activated: no refund"),
    "P9": ("按已用部分折算", "prorated by use"),
    "R1": ("充值未消费全额退", "unspent top-up: full refund"),
    "R2": ("余额提现", "balance withdrawal"),
}

# The reasons as the refund form offers them: the same text as ``reason_<value>`` in the catalogs.
REASON_NAMES: dict[Reason, tuple[str, str]] = {
    Reason.CHANGED_MIND: ("不想要了(无理由)", "Changed my mind"),
    Reason.MISTAKEN_PURCHASE: ("误购 / 买错了", "Bought by mistake"),
    Reason.DUPLICATE_PURCHASE: ("重复购买", "Bought twice"),
    Reason.NOT_AS_DESCRIBED: ("与描述不符", "Not as described"),
    Reason.PLATFORM_FAULT: ("平台故障", "Platform fault"),
    Reason.NOT_DELIVERED: ("未收到商品", "Not delivered"),
    Reason.MERCHANT_GONE: ("商家失联", "Merchant gone"),
    Reason.RENEWAL_WITHOUT_NOTICE: ("未提醒即自动续费", "Renewed without notice"),
}


def is_statutory(rule: str) -> bool:
    return rule in STATUTORY_RULES


def label_zh(rule: str) -> str:
    """ "P1 未激活全额退": the id with its plain name (the catalog's ``rule.label`` in zh)."""
    return f"{rule} {RULE_NAMES[rule][0]}"


def label_en(rule: str) -> str:
    """ "P1 (not activated: full refund)": the catalog's ``rule.label`` in en."""
    return f"{rule} ({RULE_NAMES[rule][1]})"


def labels(rule: str) -> dict[str, str]:
    """The label in every language, as a message parameter (rendered in the reader's language)."""
    return {"zh": label_zh(rule), "en": label_en(rule)}


__all__ = [
    "POLICY_RULES",
    "REASON_NAMES",
    "RULE_IDS",
    "RULE_NAMES",
    "STATUTORY_RULES",
    "is_statutory",
    "label_en",
    "label_zh",
    "labels",
]
