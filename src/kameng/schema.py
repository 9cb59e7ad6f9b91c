"""Every table of kameng's own schema, gathered in one metadata for Alembic and the tests.

Each feature defines its tables in its own ``models.py`` on the shared declarative base; this
module imports them all so that ``Base.metadata`` is complete (migrations compare against it).
The channel simulator's tables are not here: they belong to the simulator, not to kameng.
"""

from __future__ import annotations

from enum import StrEnum

from kameng.accounts.models import AuthSession, User
from kameng.aftersales.models import EvidenceFile, Ticket, TicketTimeline
from kameng.catalog.models import CardKeyImportRow, CouponRow, Merchant, PolicyVersion, ProductRow
from kameng.integrations.models import ApiKey
from kameng.messages.models import MessageRow
from kameng.operator.calendar_models import CalendarYearRow
from kameng.operator.mass_models import MassRefundClaim, MassRefundItem, MassRefundRun, OutageRow
from kameng.orders.models import CardKeyRow, MembershipRow, OrderEventRow, OrderRow, PaymentRow
from kameng.payouts.models import AbnormalRefundAction, ChannelNoticeRow, OrphanPaymentRow, RefundRow
from kameng.platform.db.base import Base
from kameng.platform.drafts import FormDraft
from kameng.platform.heartbeat import WorkerHeartbeat
from kameng.platform.idempotency import ApiIdempotency
from kameng.platform.ledger_models import BalanceRow, JournalEntry, JournalLine
from kameng.platform.outbox import OutboxRow
from kameng.subscriptions.models import RenewalChargeRow, SmsCodeRow, StepUpFailureRow, SubscriptionRow
from kameng.wallet.models import WithdrawalLegRow, WithdrawalRow
from kameng.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "PLACEMENT",
    "AbnormalRefundAction",
    "ApiIdempotency",
    "ApiKey",
    "AuthSession",
    "BalanceRow",
    "Base",
    "CalendarYearRow",
    "CardKeyImportRow",
    "CardKeyRow",
    "ChannelNoticeRow",
    "CouponRow",
    "EvidenceFile",
    "FormDraft",
    "JournalEntry",
    "JournalLine",
    "MassRefundClaim",
    "MassRefundItem",
    "MassRefundRun",
    "MembershipRow",
    "Merchant",
    "MessageRow",
    "OrderEventRow",
    "OrderRow",
    "OrphanPaymentRow",
    "OutageRow",
    "OutboxRow",
    "PaymentRow",
    "Placement",
    "PolicyVersion",
    "ProductRow",
    "RefundRow",
    "RenewalChargeRow",
    "SmsCodeRow",
    "StepUpFailureRow",
    "SubscriptionRow",
    "Ticket",
    "TicketTimeline",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WithdrawalLegRow",
    "WithdrawalRow",
    "WorkerHeartbeat",
]


class Placement(StrEnum):
    """Where a table's rows live once consumer data is spread over several PostgreSQL nodes
    (Citus; docs/scaling.md). Nothing here runs differently on one database: it is the plan,
    checked by tests/test_scaling.py so that a new table cannot forget to belong somewhere."""

    # A consumer's own rows, spread by ``user_id`` (NOT NULL): all of one consumer's orders,
    # tickets, refunds… sit together on one node, and a request about them touches only it.
    BY_USER = "by_user"
    # The users table itself, spread by its id (= every other table's user_id).
    USER = "user"
    # Small, read everywhere, changed by operators: copied to every node.
    REFERENCE = "reference"
    # Shared bookkeeping and queues, on the coordinator: the ledger (an entry pairs a consumer's
    # account with the platform's), card-key stock, the outbox, drafts of signed-out forms.
    COORDINATOR = "coordinator"


PLACEMENT: dict[str, Placement] = {
    "users": Placement.USER,
    "orders": Placement.BY_USER,
    "order_events": Placement.BY_USER,
    "payments": Placement.BY_USER,
    "memberships": Placement.BY_USER,
    "tickets": Placement.BY_USER,
    "ticket_timeline": Placement.BY_USER,
    "evidence_files": Placement.BY_USER,
    "messages": Placement.BY_USER,
    "refunds": Placement.BY_USER,
    "balances": Placement.BY_USER,
    "api_idempotency": Placement.BY_USER,
    "withdrawals": Placement.BY_USER,
    "withdrawal_legs": Placement.BY_USER,
    "subscriptions": Placement.BY_USER,
    "renewal_charges": Placement.BY_USER,
    "sms_codes": Placement.BY_USER,
    "step_up_failures": Placement.BY_USER,
    "merchants": Placement.REFERENCE,
    "products": Placement.REFERENCE,
    "policy_versions": Placement.REFERENCE,
    "coupons": Placement.COORDINATOR,
    "card_keys": Placement.COORDINATOR,
    # An operator's imports of card keys: beside the stock they fill.
    "card_key_imports": Placement.COORDINATOR,
    "journal_entries": Placement.COORDINATOR,
    "journal_lines": Placement.COORDINATOR,
    "outbox": Placement.COORDINATOR,
    "form_drafts": Placement.COORDINATOR,
    "worker_heartbeats": Placement.COORDINATOR,
    # Found by the secret a request presents, before anyone knows whose it is.
    "auth_sessions": Placement.COORDINATOR,
    # The operator's integrations: few rows, not a consumer's.
    "api_keys": Placement.COORDINATOR,
    "webhook_endpoints": Placement.COORDINATOR,
    "webhook_deliveries": Placement.COORDINATOR,
    "webhook_attempts": Placement.COORDINATOR,
    # Money that reached us for a trade we never opened: nobody's yet, until it is sent back.
    "orphan_payments": Placement.COORDINATOR,
    # The official holiday schedules the operator loaded: a few rows, read by every node.
    "calendar_years": Placement.REFERENCE,
    # A channel's notification ids, found by the id before anyone knows whose it is.
    "channel_notices": Placement.COORDINATOR,
    # A staff member's decision on a consumer's ABNORMAL refund: beside the refund.
    "abnormal_refund_actions": Placement.BY_USER,
    # Platform events and mass refunds (docs/mass-refunds.md): an outage and a run are the
    # operator's records, not a consumer's; each order's outcome in a run sits with its consumer.
    "platform_outages": Placement.COORDINATOR,
    "mass_refund_runs": Placement.COORDINATOR,
    "mass_refund_items": Placement.BY_USER,
    # The ranges a run's batches took: the run's bookkeeping, beside it.
    "mass_refund_claims": Placement.COORDINATOR,
}
