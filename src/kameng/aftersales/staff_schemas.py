"""The staff queue's API models: a page of tickets with its cursors, the counts per deadline state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from kameng.aftersales.queue import QueueCounts, QueueItem, QueuePage
from kameng.aftersales.queue_filters import QUEUE_STATUSES, rule_plain_name
from kameng.domain.model import Reason
from kameng.domain.money import format_yuan
from kameng.domain.tickets import SlaState
from kameng.web.errors import Text

QueueStatusParam = Literal[
    "open",
    "all",
    "submitted",
    "auto_approved",
    "in_review",
    "needs_info",
    "approved",
    "rejected",
    "appealed",
    "rejected_final",
    "refunding",
    "refunded",
    "refund_failed",
    "withdrawn",
]
assert set(get_args(QueueStatusParam)) == set(QUEUE_STATUSES), "the API lists every status the queue reads"


class QueueTicketOut(BaseModel):
    ticket_no: str
    order_no: str
    product: str = Field(description="The product's slug")
    product_name: Text
    customer: str = Field(description="The consumer's phone or e-mail, masked")
    quoted: str = Field(description="The amount quoted at submission, in yuan")
    quoted_fen: int
    reason: Reason
    rule: str = Field(description="The deciding rule's id (RULES.md)")
    rule_name: Text | None = Field(description="Its plain name, where the catalogs have one")
    status: str
    priority: Literal["high", "normal"] = Field(
        description="high: the priority lane (merchant gone, platform fault) or an appeal"
    )
    sla: SlaState | None = Field(description="Against the review deadline; null once nobody is waiting on staff")
    escalated: bool = Field(description="Past its deadline and handed to the supervisors")
    due_at: datetime | None
    created_at: datetime
    age_seconds: int = Field(description="How long the ticket has existed")


class QueuePageOut(BaseModel):
    items: list[QueueTicketOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    prev_cursor: str | None = Field(description="Pass as `cursor` for the previous page; null on the first")


class QueueCountsOut(BaseModel):
    on_time: int
    due_today: int
    overdue: int
    paused: int = Field(description="Waiting on the consumer (needs_info): the clock is stopped")
    total: int = Field(description="Every ticket waiting on the viewer")
    escalated: int = Field(description="Open tickets past their deadline, in the supervisors' lane")
    appeals: int


def queue_ticket_out(item: QueueItem) -> QueueTicketOut:
    ticket = item.ticket
    product = ticket.order.product
    zh, en = rule_plain_name(item.rule, "zh"), rule_plain_name(item.rule, "en")
    return QueueTicketOut(
        ticket_no=ticket.ticket_no,
        order_no=ticket.order.order_no,
        product=product.slug,
        product_name=Text(zh=product.name_zh, en=product.name_en),
        customer=item.customer,
        quoted=format_yuan(ticket.quoted_fen),
        quoted_fen=ticket.quoted_fen,
        reason=ticket.reason,
        rule=item.rule,
        rule_name=Text(zh=zh, en=en) if zh is not None and en is not None else None,
        status=ticket.status.value,
        priority="high" if item.high_priority else "normal",
        sla=item.sla,
        escalated=ticket.escalated_at is not None,
        due_at=ticket.due_at,
        created_at=ticket.created_at,
        age_seconds=item.age_seconds,
    )


def queue_page_out(page: QueuePage) -> QueuePageOut:
    return QueuePageOut(
        items=[queue_ticket_out(item) for item in page.items],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


def queue_counts_out(counts: QueueCounts) -> QueueCountsOut:
    return QueueCountsOut(
        on_time=counts.on_time,
        due_today=counts.due_today,
        overdue=counts.overdue,
        paused=counts.paused,
        total=counts.total,
        escalated=counts.escalated,
        appeals=counts.appeals,
    )
