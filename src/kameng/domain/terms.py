"""Refund terms in plain words, generated from the policy so they can never drift from it.

Each function returns ``(zh, en)`` sentence pairs; pages pick the language. The sentences follow
the decision table's order, so a consumer reads them in the order the engine applies them.
"""

from __future__ import annotations

from kameng.domain.model import CoolingOff, Policy, Product, ProductKind, Proration
from kameng.domain.money import format_yuan

Sentence = tuple[str, str]


def _fee(policy: Policy) -> Sentence:
    if not policy.fee_percent and not policy.fee_min:
        return "不收手续费。", "No handling fee."
    pct = f"{policy.fee_percent.normalize():f}"
    zh = f"按剩余金额收取 {pct}% 手续费"
    en = f"A handling fee of {pct}% of what is left"
    if policy.fee_min:
        zh += f",最低 {format_yuan(policy.fee_min)} 元"
        en += f", at least {format_yuan(policy.fee_min)}"
    if policy.fee_max is not None:
        zh += f",最高 {format_yuan(policy.fee_max)} 元"
        en += f", at most {format_yuan(policy.fee_max)}"
    return zh + "。", en + "."


def describe_refund_terms(product: Product, policy: Policy) -> list[Sentence]:
    """The refund policy of one product, as a consumer should read it before paying."""
    days = policy.cooling_off_days
    review = policy.review_business_days
    lines: list[Sentence] = []
    if product.kind is ProductKind.VIRTUAL_GOODS:
        lines.append(("未发放前可一键全额退款,无需审核。", "Before delivery: one-click full refund, no review."))
        lines.append(
            (
                "卡密/点卡一经发放即不支持无理由退款(数字商品),下单时需您勾选确认。",
                "Once the key or points are delivered there is no no-reason refund (digital goods);"
                " you confirm this at checkout.",
            )
        )
    elif product.kind is ProductKind.RECHARGE:
        if days:
            lines.append(
                (
                    f"充值后 {days} 天内未消费:一键全额退回现金,无需审核。",
                    f"Within {days} days and nothing spent: one-click refund of all the cash, no review.",
                )
            )
        lines.append(
            (
                "之后可申请提现:消费时先使用赠送余额,赠送部分不可提现,剩余现金可退。",
                "After that you may withdraw: spending uses bonus credit first; bonus credit is never"
                " paid out, the remaining cash is.",
            )
        )
        lines.append(_fee(policy))
    else:
        term = product.term
        lines.append(("未激活前:一键全额退款,无需审核。", "Before activation: one-click full refund, no review."))
        if product.promo:
            lines.append(
                (
                    "限时优惠/特价商品:激活后不支持退款(无理由期同样适用此限制)。",
                    "Special offer: no refund once activated, cooling-off window included.",
                )
            )
        elif days and policy.cooling_off is CoolingOff.FULL_IF_UNUSED:
            lines.append(
                (
                    f"付款后 {days} 天内、未使用任何权益:全额退款,不收手续费。",
                    f"Within {days} days of payment with no benefit used: full refund, no fee.",
                )
            )
        elif days and policy.cooling_off is CoolingOff.MINUS_USED_DAYS:
            lines.append(
                (
                    f"付款后 {days} 天内:扣除已使用天数的费用后退款,不收手续费。",
                    f"Within {days} days of payment: refund less the days used, no fee.",
                )
            )
        if product.promo:
            pass
        elif term is not None and term.permanent:
            lines.append(("永久会员激活后不按期折算退款。", "A permanent membership is not prorated once activated."))
        else:
            basis = {
                Proration.BY_DAY: ("按已使用天数折算", "prorated by the days used"),
                Proration.BY_MONTH: ("按已使用月数折算(不足一月按一月计)", "prorated by the months begun"),
                Proration.BY_BENEFIT: ("按已使用权益次数折算", "prorated by the benefits used"),
            }[policy.proration]
            lines.append(
                (
                    f"激活后:{basis[0]}退还剩余部分,需人工审核。",
                    f"After activation: the rest is refunded, {basis[1]}, after review.",
                )
            )
            lines.append(_fee(policy))
    lines.append(
        (
            f"需审核的申请在 {review} 个工作日内处理,逾期自动升级;平台故障、服务不符、商家失联、未到账、"
            "自动续费未提醒可全额退款,不受以上限制。",
            f"Requests that need review are decided within {review} working days, or escalated"
            " automatically; platform faults, services not as described, a vanished merchant, goods not"
            " delivered and renewals without a reminder are refunded in full whatever the above says.",
        )
    )
    # RULES.md §3a, promised before paying: no reason code is a trap.
    lines.append(
        (
            "无论选择哪种退款原因,您得到的都不会少于、也不会慢于按无理由退款的结果:哪种更有利,就按哪种办理。",
            "Whichever reason you choose, you never get less, or later, than a no-reason refund would"
            " give: whichever is better for you applies.",
        )
    )
    return lines
