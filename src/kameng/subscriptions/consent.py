"""The consent to auto-renewal: opt-in only, recorded at checkout with its time and the terms
exactly as they were shown (the price of each renewal, the period, how to cancel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kameng.catalog.services import PricedTerm
from kameng.domain.model import Term
from kameng.domain.money import format_yuan
from kameng.domain.refund import RENEWAL_NOTICE_DAYS
from kameng.domain.subscriptions import SubscriptionStatus
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.i18n import in_every_language
from kameng.subscriptions.models import SubscriptionRow


def consent_terms(product: PricedTerm) -> dict[str, Any]:
    """The terms a consumer agrees to, in every language: shown beside the (never pre-selected)
    box at checkout, and stored with the consent. ``product`` is its stored row (the checkout
    page's preview) or the columns placing an order read of it (orders/checkout_reads.py)."""
    period_zh, period_en = Term(days=product.term_days, months=product.term_months).describe()
    price = format_yuan(product.price_fen)
    text = in_every_language(
        "sub.consent_terms",
        {"price": price, "period": {"zh": period_zh, "en": period_en}, "days": RENEWAL_NOTICE_DAYS},
    )
    return {"price_fen": product.price_fen, "period": {"zh": period_zh, "en": period_en}, "text": text}


def subscription_no(order_no: str) -> str:
    return f"S{order_no}"


def record_consent(
    uow: UnitOfWork, order_id: int, order_no: str, user_id: int, product: PricedTerm, now: datetime
) -> SubscriptionRow:
    """In the checkout's transaction: the subscription of an order placed with auto-renewal."""
    row = SubscriptionRow(
        sub_no=subscription_no(order_no),
        user_id=user_id,
        order_id=order_id,
        status=SubscriptionStatus.ACTIVE,
        price_fen=product.price_fen,
        consent_at=now,
        consent_terms=consent_terms(product),
        renewals=0,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    return row
