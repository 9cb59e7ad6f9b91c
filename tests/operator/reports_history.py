"""A seeded history for the operator's search and reports: orders, tickets, refunds, appeals,
renewals and cancellations written straight into their tables, every figure chosen so that each
report's expected numbers can be worked out by hand (they are listed in :data:`EXPECTED`).

Only the reading is under test where this is used; how rows get there through the services is
tested in each feature's own tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.domain.model import Channel, Decision, Reason
from kameng.domain.states import OrderStatus, RefundStatus
from kameng.domain.subscriptions import RenewalChargeStatus, SubscriptionStatus
from kameng.domain.tickets import TicketStatus
from kameng.orders.models import OrderRow
from kameng.payouts.models import RefundRow
from kameng.platform.db.uow import UnitOfWork
from kameng.subscriptions.models import RenewalChargeRow, SubscriptionRow

S = TicketStatus
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Seeded:
    """Numbers a test looks for: the orders in the order they were written."""

    orders: list[str]
    tickets: list[str]
    phones: list[str]


def _product_ids(uow: UnitOfWork) -> dict[str, tuple[int, int]]:
    rows = uow.session.execute(
        select(ProductRow.slug, ProductRow.id, PolicyVersion.id).join(
            PolicyVersion, PolicyVersion.product_id == ProductRow.id
        )
    )
    return {slug: (product, policy) for slug, product, policy in rows}


def seed_history(uow: UnitOfWork, make_user: Callable[..., User], now: datetime) -> Seeded:
    """On the demo catalog (the ``catalog`` fixture), three buyers and:

    - 6 orders, all within the 10 days before ``now``: 4 annual-card (399.00 each, paid; two of
      them refunded 399.00 and 100.00), 1 monthly-pass (30.00, paid, not refunded), 1
      monthly-pass pending payment (no paid_at);
    - 5 tickets on the refunded and other orders (reasons, routes and outcomes below);
    - 2 refunds that arrived; 1 appeal upheld, 1 overturned; 2 renewals, 1 failed; 1 cancellation.
    """
    a = make_user("13900000001")
    b = make_user("13900000002")
    c = make_user("c.buyer@example.com")
    with uow:
        ids = _product_ids(uow)
        orders: list[OrderRow] = []

        def order(
            user: User, slug: str, amount: int, refunded: int, at: datetime, paid: bool = True, **extra: object
        ) -> OrderRow:
            product, policy = ids[slug]
            number = f"2603{next(_numbers):010d}"
            row = OrderRow(
                order_no=number,
                user_id=user.id,
                product_id=product,
                policy_version_id=policy,
                status=extra.pop("status", OrderStatus.PAID if paid else OrderStatus.PENDING_PAYMENT),
                channel=extra.pop("channel", Channel.WECHAT),
                list_price_fen=amount,
                coupon_fen=0,
                coupon_refundable=False,
                amount_fen=amount,
                refunded_fen=refunded,
                bonus_fen=0,
                paid_at=at + timedelta(minutes=1) if paid else None,
                expires_at=at + DAY * 365,
                auto_renew=False,
                created_at=at,
                updated_at=at,
            )
            uow.session.add(row)
            orders.append(row)
            return row

        o1 = order(a, "annual-card", 39900, 39900, now - DAY * 9, status=OrderStatus.REFUNDED)
        o2 = order(a, "annual-card", 39900, 10000, now - DAY * 8)
        o3 = order(b, "annual-card", 39900, 0, now - DAY * 7, channel=Channel.ALIPAY)
        o4 = order(c, "annual-card", 39900, 0, now - DAY * 6)
        o5 = order(b, "monthly-pass", 3000, 0, now - DAY * 5, channel=Channel.ALIPAY)
        order(c, "monthly-pass", 3000, 0, now - DAY * 4, paid=False)
        uow.session.flush()

        tickets: list[Ticket] = []

        def ticket(
            on: OrderRow,
            reason: Reason,
            status: TicketStatus,
            decision: Decision,
            at: datetime,
            decided_after: timedelta | None,
            approved: int | None,
            breached: bool = False,
        ) -> Ticket:
            row = Ticket(
                ticket_no=f"AS{next(_numbers) + 26030000000000:014d}",
                order_id=on.id,
                user_id=on.user_id,
                reason=reason,
                description="",
                status=status,
                decision=decision,
                rules="S4",
                quote={},
                quoted_fen=on.amount_fen,
                approved_fen=approved,
                approve_reason="",
                priority=1,
                breached=breached,
                decided_at=at + decided_after if decided_after is not None else None,
                reject_comment="",
                created_at=at,
                updated_at=at,
            )
            uow.session.add(row)
            tickets.append(row)
            return row

        # t1: automatic approval, decided at once, money 2 hours later.
        t1 = ticket(
            o1, Reason.CHANGED_MIND, S.REFUNDED, Decision.AUTO_APPROVE, now - DAY * 9 + HOUR, timedelta(0), 39900
        )
        # t2: reviewed for 10 hours, partly approved; money 30 hours after the request; breached.
        t2 = ticket(
            o2, Reason.NOT_AS_DESCRIBED, S.REFUNDED, Decision.REVIEW, now - DAY * 8 + HOUR, HOUR * 10, 10000, True
        )
        # t3: reviewed, rejected after 4 hours, appealed, upheld (rejected_final).
        t3 = ticket(o3, Reason.CHANGED_MIND, S.REJECTED_FINAL, Decision.REVIEW, now - DAY * 7 + HOUR, HOUR * 4, None)
        # t4: the engine's rejection, appealed and overturned: approved after 20 hours (money not yet).
        t4 = ticket(
            o4, Reason.PLATFORM_FAULT, S.REFUNDING, Decision.REJECT, now - DAY * 6 + HOUR, HOUR * 20, 5000, True
        )
        # t5: still in review.
        ticket(o5, Reason.NOT_DELIVERED, S.IN_REVIEW, Decision.REVIEW, now - DAY * 5 + HOUR, None, None)
        uow.session.flush()

        for t, after in ((t1, HOUR * 2), (t2, HOUR * 30)):
            uow.session.add(
                RefundRow(
                    purpose="ticket",
                    ticket_id=t.id,
                    order_id=t.order_id,
                    user_id=t.user_id,
                    out_refund_no=f"R{t.ticket_no}",
                    out_trade_no=f"P{t.ticket_no}",
                    channel=Channel.WECHAT,
                    amount_fen=t.approved_fen or 0,
                    status=RefundStatus.SUCCEEDED,
                    attempts=1,
                    created_at=t.created_at + HOUR,
                    accepted_at=t.created_at + HOUR,
                    settled_at=t.created_at + after,
                )
            )
        for seq, t in enumerate((t3, t4), start=1):
            uow.session.add(
                TicketTimeline(
                    ticket_id=t.id,
                    user_id=t.user_id,
                    seq=seq,
                    at=t.created_at + HOUR * 5,
                    actor_id=t.user_id,
                    actor_role="consumer",
                    action="appeal",
                    from_status="rejected",
                    to_status="appealed",
                    comment="",
                    prev_hash="",
                    hash=f"{t.id:064d}",
                )
            )

        # One subscription on o5: renewed once (day -3), failed once (day -2), cancelled (day -1).
        sub = SubscriptionRow(
            sub_no=f"SB{next(_numbers):012d}",
            user_id=o5.user_id,
            order_id=o5.id,
            status=SubscriptionStatus.CANCELLED,
            price_fen=3000,
            consent_at=o5.created_at,
            consent_terms={},
            renewals=1,
            cancelled_at=now - DAY,
            created_at=o5.created_at,
            updated_at=now - DAY,
        )
        uow.session.add(sub)
        uow.session.flush()
        for period, (status, days_ago) in enumerate(
            ((RenewalChargeStatus.SUCCEEDED, 3), (RenewalChargeStatus.FAILED, 2)), start=1
        ):
            uow.session.add(
                RenewalChargeRow(
                    subscription_id=sub.id,
                    user_id=sub.user_id,
                    order_id=o5.id,
                    period=period,
                    out_trade_no=f"RN{sub.id}-{period}",
                    amount_fen=3000,
                    status=status,
                    renews_at=now - DAY * days_ago,
                    noticed=True,
                    attempts=1,
                    created_at=now - DAY * days_ago,
                )
            )
        uow.commit()
        return Seeded([o.order_no for o in orders], [t.ticket_no for t in tickets], ["13900000001", "13900000002"])
