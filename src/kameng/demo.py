"""The demo catalog that ``make run`` shows: one product of every kind the platform sells."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kameng.domain.model import CoolingOff, Policy, Product, ProductKind, Proration, Term


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    slug: str
    name_zh: str
    name_en: str
    product: Product
    policy: Policy


def demo_catalog() -> list[CatalogEntry]:
    return [
        CatalogEntry(
            "annual-card", "视频会员年卡", "Video membership, annual card",
            Product(ProductKind.MEMBERSHIP, 19900, Term(months=12)),
            Policy(proration=Proration.BY_MONTH, fee_percent=Decimal(5), fee_max=2000),
        ),
        CatalogEntry(
            "monthly-pass-promo", "限时特价月卡", "Monthly pass, limited-time offer",
            Product(ProductKind.MEMBERSHIP, 990, Term(days=30), promo=True),
            Policy(),
        ),
        CatalogEntry(
            "quarterly-pass", "季度会员", "Quarterly membership",
            Product(ProductKind.MEMBERSHIP, 6000, Term(months=3)),
            Policy(cooling_off=CoolingOff.MINUS_USED_DAYS),
        ),
        CatalogEntry(
            "course-pack", "课程权益卡(10 次)", "Course pass, 10 sessions",
            Product(ProductKind.MEMBERSHIP, 30000, Term(months=6), benefits={"course": 10}),
            Policy(proration=Proration.BY_BENEFIT, review_business_days=3),
        ),
        CatalogEntry(
            "lifetime", "永久会员", "Lifetime membership",
            Product(ProductKind.MEMBERSHIP, 39900, Term()),
            Policy(),
        ),
        CatalogEntry(
            "game-points-50", "游戏点卡 50 元", "Game point card, 50 yuan",
            Product(ProductKind.VIRTUAL_GOODS, 5000),
            Policy(cooling_off_days=0),
        ),
        CatalogEntry(
            "top-up-100", "余额充值 100 元(送 20 元)", "Balance top-up 100 (20 bonus)",
            Product(ProductKind.RECHARGE, 10000),
            Policy(fee_percent=Decimal(1), fee_min=100),
        ),
    ]
