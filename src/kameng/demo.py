"""Demo data for ``make run``: a catalog of every kind, consumers with orders in every state,
and one staff user per role. Idempotent: seeding a database that has products does nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from kameng.accounts import services as accounts
from kameng.accounts.models import User
from kameng.aftersales.requests import RefundRequestCommand, submit_request
from kameng.catalog.models import CouponRow, Merchant, ProductRow
from kameng.catalog.services import add_policy_version
from kameng.container import Container
from kameng.domain.calendar import WorkCalendar
from kameng.domain.model import Channel, CoolingOff, EventType, Policy, ProductKind, Proration, Reason
from kameng.domain.states import CardKeyStatus
from kameng.domain.users import Role
from kameng.orders.checkout import CheckoutRequest, place_order
from kameng.orders.models import CardKeyRow
from kameng.orders.payments import cancel_unpaid_order, expire_unpaid_orders
from kameng.orders.usage import record_usage
from kameng.payouts.services import poll_refunds
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.secrets_ring import card_key_ring
from kameng.worker import drain_outbox

DEMO_PASSWORD = "kameng-demo-2026"


@dataclass(frozen=True)
class DemoProduct:
    slug: str
    name_zh: str
    name_en: str
    kind: ProductKind
    price_fen: int
    policy: Policy
    term_days: int | None = None
    term_months: int | None = None
    promo: bool = False
    benefits: dict[str, Any] = field(default_factory=dict)
    bonus_fen: int = 0
    renewable: bool = False
    card_keys: int = 0


DEMO_PRODUCTS = [
    DemoProduct(
        "annual-card",
        "视频会员年卡",
        "Video membership, annual card",
        ProductKind.MEMBERSHIP,
        19900,
        Policy(proration=Proration.BY_MONTH, fee_percent=Decimal(5), fee_max=2000),
        term_months=12,
        renewable=True,
    ),
    DemoProduct(
        "monthly-pass-promo",
        "限时特价月卡",
        "Monthly pass, limited-time offer",
        ProductKind.MEMBERSHIP,
        990,
        Policy(),
        term_days=30,
        promo=True,
    ),
    DemoProduct(
        "monthly-pass",
        "视频会员月卡",
        "Video membership, monthly pass",
        ProductKind.MEMBERSHIP,
        3000,
        Policy(),
        term_days=30,
        renewable=True,
        benefits={"video": 30},
    ),
    DemoProduct(
        "quarterly-pass",
        "季度会员",
        "Quarterly membership",
        ProductKind.MEMBERSHIP,
        6000,
        Policy(cooling_off=CoolingOff.MINUS_USED_DAYS),
        term_months=3,
        renewable=True,
    ),
    DemoProduct(
        "course-pack",
        "课程权益卡(10 次)",
        "Course pass, 10 sessions",
        ProductKind.MEMBERSHIP,
        30000,
        Policy(proration=Proration.BY_BENEFIT, review_business_days=3),
        term_months=6,
        benefits={"course": 10},
    ),
    DemoProduct("lifetime", "永久会员", "Lifetime membership", ProductKind.MEMBERSHIP, 39900, Policy()),
    DemoProduct(
        "game-points-50",
        "游戏点卡 50 元",
        "Game point card, 50 yuan",
        ProductKind.VIRTUAL_GOODS,
        5000,
        Policy(cooling_off_days=0),
        card_keys=30,
    ),
    DemoProduct(
        "top-up-100",
        "余额充值 100 元(送 20 元)",
        "Balance top-up 100 (20 bonus)",
        ProductKind.RECHARGE,
        10000,
        Policy(fee_percent=Decimal(1), fee_min=100),
        bonus_fen=2000,
    ),
]

DEMO_STAFF = [
    ("agent@kameng.test", Role.AGENT, "客服小林"),
    ("supervisor@kameng.test", Role.SUPERVISOR, "主管王敏"),
    ("operator@kameng.test", Role.OPERATOR, "运营陈立"),
]
DEMO_CONSUMERS = [("13800000001", "张三"), ("13800000002", "李四")]


def card_key_code(slug: str, index: int) -> str:
    return f"{slug.upper()[:4]}-{index:04d}-{(index * 7919) % 10000:04d}-DEMO"


def seed_catalog(uow: UnitOfWork, now: datetime) -> bool:
    """Create the demo merchant and products; False when the catalog already exists."""
    with uow:
        session = uow.session
        if (session.scalar(select(func.count(ProductRow.id))) or 0) > 0:
            return False
        merchant = Merchant(name_zh="星河数字", name_en="Xinghe Digital", created_at=now)
        session.add(merchant)
        session.flush()
        for order, demo in enumerate(DEMO_PRODUCTS):
            row = ProductRow(
                slug=demo.slug,
                merchant_id=merchant.id,
                kind=demo.kind,
                name_zh=demo.name_zh,
                name_en=demo.name_en,
                price_fen=demo.price_fen,
                term_days=demo.term_days,
                term_months=demo.term_months,
                promo=demo.promo,
                benefits=demo.benefits,
                bonus_fen=demo.bonus_fen,
                renewable=demo.renewable,
                uses_card_keys=demo.card_keys > 0,
                sort_order=order,
                created_at=now,
            )
            session.add(row)
            session.flush()
            add_policy_version(uow, row.id, demo.policy, now)
            ring = card_key_ring(session)
            for index in range(demo.card_keys):
                code = card_key_code(demo.slug, index + 1)
                session.add(
                    CardKeyRow(
                        product_id=row.id,
                        secret=ring.encrypt(code),
                        fingerprint=ring.fingerprint(code),
                        ring_tag=ring.tag,
                        status=CardKeyStatus.AVAILABLE,
                        created_at=now,
                    )
                )
        session.add(CouponRow(code="WELCOME20", value_fen=2000, min_spend_fen=10000, refundable=False, created_at=now))
        session.add(CouponRow(code="SORRY10", value_fen=1000, min_spend_fen=0, refundable=True, created_at=now))
        uow.commit()
        return True


# The payer's side of a payment: in the demo, someone pays at the channel simulator, which then
# notifies us. The composition root provides it (only it may reach the simulator).
Payer = Callable[[UnitOfWork, str, datetime], None]


def seed_demo(container: Container, pay: Payer, now: datetime) -> bool:
    """The whole demo: catalog, staff, consumers, and orders in every state."""
    uow = container.uow()
    # The catalog and its policies predate every demo order, as they would in a real shop.
    if not seed_catalog(uow, now - timedelta(days=90)):
        return False
    for email, role, name in DEMO_STAFF:
        accounts.sign_up(uow, email, DEMO_PASSWORD, now, display_name=name, role=role)
    users = [accounts.sign_up(uow, phone, DEMO_PASSWORD, now, display_name=name) for phone, name in DEMO_CONSUMERS]
    zhang = Viewer(users[0].id, Role.CONSUMER)
    earlier = now - timedelta(days=20)

    def buy(slug: str, at: datetime, channel_name: Channel = Channel.ALIPAY, paid: bool = True, **extra: Any) -> str:
        placed = place_order(
            uow,
            CheckoutRequest(buyer=zhang.user_id, product_slug=slug, channel=channel_name, duplicate_ack=True, **extra),
            at,
            container.payments,
        )
        if paid and placed.out_trade_no and placed.pay_url:
            pay(uow, placed.out_trade_no, at + timedelta(seconds=30))
        return placed.order_no

    annual = buy("annual-card", earlier, Channel.WECHAT, auto_renew=True)
    record_usage(uow, zhang, annual, "activate", earlier + timedelta(minutes=5))
    monthly = buy("monthly-pass", now - timedelta(days=3))
    record_usage(uow, zhang, monthly, "use_benefit", now - timedelta(days=2), benefit="video")
    buy("quarterly-pass", now - timedelta(days=1), Channel.BANK_CARD)  # paid, not activated
    buy("game-points-50", now - timedelta(hours=5), nonrefundable_ack=True)
    buy("top-up-100", now - timedelta(days=10))
    buy("lifetime", now - timedelta(minutes=2), paid=False)  # waiting for payment
    buy("monthly-pass-promo", now - timedelta(days=2), paid=False)
    expire_unpaid_orders(uow, now)  # → expired

    return True


def seed_aftersales_demo(container: Container, pay: Payer, now: datetime) -> None:
    """李四's orders: a cancelled one, one refunded in one click (paid back through the channel)
    and one waiting in the review queue, so the staff pages have something to show. Kept apart
    from :func:`seed_demo`, whose exact contents tests build on."""
    uow = container.uow()
    li = Viewer(_user_id(uow, DEMO_CONSUMERS[1][0]), Role.CONSUMER)

    def buy(slug: str, at: datetime, channel_name: Channel = Channel.ALIPAY, paid: bool = True) -> str:
        placed = place_order(
            uow,
            CheckoutRequest(buyer=li.user_id, product_slug=slug, channel=channel_name, duplicate_ack=True),
            at,
            container.payments,
        )
        if paid and placed.out_trade_no and placed.pay_url:
            pay(uow, placed.out_trade_no, at + timedelta(seconds=30))
        return placed.order_no

    cancelled = buy("quarterly-pass", now - timedelta(days=6), paid=False)
    cancel_unpaid_order(uow, li, cancelled, now - timedelta(days=6) + timedelta(minutes=5))
    refunded = buy("quarterly-pass", now - timedelta(days=5), Channel.WECHAT)
    calendar = WorkCalendar()
    asked = now - timedelta(days=4)
    submit_request(uow, li, RefundRequestCommand(refunded, Reason.CHANGED_MIND), asked, calendar)
    drain_outbox(container, asked)
    poll_refunds(container.uow, asked + timedelta(minutes=2), container.refunds, calendar)
    reviewed = buy("monthly-pass", now - timedelta(days=2))
    record_usage(uow, li, reviewed, "use_benefit", now - timedelta(days=2) + timedelta(hours=1), benefit="video")
    submit_request(
        uow,
        li,
        RefundRequestCommand(reviewed, Reason.NOT_AS_DESCRIBED, "视频经常卡顿,部分内容无法播放。"),
        now - timedelta(hours=3),
        calendar,
    )


def _user_id(uow: UnitOfWork, phone: str) -> int:
    with uow:
        user_id = uow.session.scalar(select(User.id).where(User.phone == phone))
    if user_id is None:
        raise LookupError(f"demo consumer {phone} is missing: run seed_demo first")
    return user_id


__all__ = ["DEMO_PASSWORD", "EventType", "seed_aftersales_demo", "seed_demo"]
