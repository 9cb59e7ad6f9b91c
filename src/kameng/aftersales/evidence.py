"""The evidence file for a complaint (PRODUCT.md item 12): one JSON and one PDF with everything a
12315 complaint needs — the order, the refund policy frozen on it, payments, usage, the ticket with
its hash-chained timeline, refunds, messages and the metadata of uploaded files.

Only the ticket's consumer or staff may build it: the reads go through
:func:`kameng.aftersales.queries.ticket_view`, which answers NotFound to anyone else.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kameng.accounts.models import User
from kameng.aftersales.audit import GENESIS, row_digest
from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.aftersales.queries import ticket_view
from kameng.catalog.services import policy_to_domain, product_to_domain
from kameng.domain.calendar import SHANGHAI
from kameng.domain.money import format_yuan
from kameng.domain.terms import describe_refund_terms
from kameng.domain.users import mask_email, mask_phone
from kameng.messages.models import MessageRow
from kameng.orders.models import PaymentRow
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, Unavailable
from kameng.platform.i18n import label, pick_lang, rule_label, rules_label, say, translate
from kameng.subscriptions.evidence import auto_renewal_evidence

log = logging.getLogger("kameng.evidence")
PLATFORM = {"name_zh": "卡盟", "name_en": "Kameng", "jurisdiction": "CN"}
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
FORMAT_VERSION = 1


def _time(moment: datetime | None) -> str | None:
    """ISO 8601 in China time, with the offset (``2026-03-02T10:00:00+08:00``)."""
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


def _money(key: str, fen: int | None) -> dict[str, Any]:
    """``{"paid": "91.67", "paid_fen": 9167}``: yuan text for people, integer fen for machines."""
    return {key: format_yuan(fen) if fen is not None else None, f"{key}_fen": fen}


def _role_of(uow: UnitOfWork, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    role = uow.session.scalar(select(User.role).where(User.id == user_id))
    return role.value if role is not None else None


def _timeline(rows: list[TicketTimeline]) -> tuple[list[dict[str, Any]], bool]:
    """The timeline with each row's hashes and whether it still matches them, and whether the
    whole chain holds (no edited, deleted or reordered row)."""
    out: list[dict[str, Any]] = []
    chain_ok, expected_prev, expected_seq = True, GENESIS, 1
    for row in rows:
        digest_ok = row_digest(row) == row.hash
        link_ok = row.prev_hash == expected_prev and row.seq == expected_seq
        chain_ok = chain_ok and digest_ok and link_ok
        expected_prev, expected_seq = row.hash, row.seq + 1
        out.append(
            {
                "seq": row.seq,
                "at": _time(row.at),
                "actor_role": row.actor_role,
                "action": row.action,
                "from_status": row.from_status,
                "to_status": row.to_status,
                "comment": row.comment,
                "note": row.note,
                **_money("amount", row.amount_fen),
                "quote": row.quote,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
                "hash_ok": digest_ok and link_ok,
            }
        )
    return out, chain_ok and bool(rows)


def build_evidence(uow: UnitOfWork, viewer: Viewer, ticket_no: str, now: datetime) -> dict[str, Any]:
    """Everything about one ticket that a complaint needs, JSON-ready.

    Raises NotFound (through ``ticket_view``) unless the viewer is the ticket's consumer or staff."""
    view = ticket_view(uow, viewer, ticket_no)
    ticket = view.ticket
    with uow:
        session = uow.session
        # Re-read inside this transaction: ticket_view's session has closed.
        ticket_row = session.scalar(select(Ticket).where(Ticket.id == ticket.id))
        assert ticket_row is not None
        order = ticket_row.order
        product, policy_row = order.product, order.policy
        consumer = session.get(User, ticket_row.user_id)
        payments = list(
            session.scalars(select(PaymentRow).where(PaymentRow.order_id == order.id).order_by(PaymentRow.id))
        )
        messages = list(
            session.scalars(
                select(MessageRow)
                .where(MessageRow.ticket_id == ticket_row.id, MessageRow.user_id == ticket_row.user_id)
                .order_by(MessageRow.created_at, MessageRow.id)
            )
        )
        terms = describe_refund_terms(product_to_domain(product), policy_to_domain(policy_row))
        timeline, chain_verified = _timeline(view.timeline)
        # A deleted last row leaves a valid chain behind; the ticket's status then disagrees with it.
        chain_verified = chain_verified and timeline[-1]["to_status"] == ticket_row.status.value
        term = (
            {"days": product.term_days}
            if product.term_days
            else {"months": product.term_months}
            if product.term_months
            else None
        )
        quote = ticket_row.quote or {}
        data: dict[str, Any] = {
            "format": "kameng-evidence",
            "format_version": FORMAT_VERSION,
            "platform": PLATFORM,
            "generated_at": _time(now),
            "generated_for_role": viewer.role.value,
            "consumer": {
                "phone": mask_phone(consumer.phone if consumer else None),
                "email": mask_email(consumer.email if consumer else None),
            },
            "order": {
                "order_no": order.order_no,
                "status": order.status.value,
                "product": {
                    "name_zh": product.name_zh,
                    "name_en": product.name_en,
                    "kind": product.kind.value,
                    "term": term,
                    "promo": product.promo,
                    "merchant_zh": product.merchant.name_zh,
                    "merchant_en": product.merchant.name_en,
                },
                **_money("list_price", order.list_price_fen),
                **_money("coupon", order.coupon_fen),
                "coupon_refundable": order.coupon_refundable,
                **_money("paid", order.amount_fen),
                **_money("refunded", order.refunded_fen),
                "channel": order.channel.value,
                "channel_txn_no": order.channel_txn_no,
                "created_at": _time(order.created_at),
                "paid_at": _time(order.paid_at),
                "auto_renew": order.auto_renew,
                "auto_renew_consent_at": _time(order.auto_renew_consent_at),
                "nonrefundable_ack_at": _time(order.nonrefundable_ack_at),
                "auto_renewal": auto_renewal_evidence(uow, order.id),
            },
            "policy": {
                "version": policy_row.version,
                "cooling_off_days": policy_row.cooling_off_days,
                "cooling_off": policy_row.cooling_off.value,
                "proration": policy_row.proration.value,
                "fee_percent": policy_row.fee_percent,
                **_money("fee_min", policy_row.fee_min_fen),
                **_money("fee_max", policy_row.fee_max_fen),
                "review_business_days": policy_row.review_business_days,
                "trial_counts_as_activation": policy_row.trial_counts_as_activation,
                "created_at": _time(policy_row.created_at),
                "terms": {"zh": [zh for zh, _ in terms], "en": [en for _, en in terms]},
            },
            "payments": [
                {
                    "out_trade_no": payment.out_trade_no,
                    "channel": payment.channel.value,
                    **_money("amount", payment.amount_fen),
                    "status": payment.status.value,
                    "channel_txn_no": payment.channel_txn_no,
                    "created_at": _time(payment.created_at),
                    "settled_at": _time(payment.settled_at),
                }
                for payment in payments
            ],
            "usage": [
                {
                    "type": event.type,
                    "at": _time(event.at),
                    "actor_role": event.actor_role,
                    "benefit": event.benefit,
                    "count": event.count,
                    "hours": event.hours,
                    **_money("amount", event.amount_fen),
                    "note": event.note,
                }
                for event in view.events
            ],
            "ticket": {
                "ticket_no": ticket_row.ticket_no,
                "reason": ticket_row.reason.value,
                "description": ticket_row.description,
                "status": ticket_row.status.value,
                "decision": ticket_row.decision.value,
                "rules": [rule for rule in ticket_row.rules.split(",") if rule],
                "quote": {
                    **_money("refund", ticket_row.quoted_fen),
                    "decision": quote.get("decision"),
                    "rules": quote.get("rules", []),
                    "lines": quote.get("lines", []),
                    "explanation": quote.get("explanation", {}),
                    "review_due": quote.get("review_due"),
                    "arrival": quote.get("arrival"),
                },
                **_money("approved", ticket_row.approved_fen),
                "approve_reason": ticket_row.approve_reason,
                "created_at": _time(ticket_row.created_at),
                "due_at": _time(ticket_row.due_at),
                "escalated_at": _time(ticket_row.escalated_at),
                "breached": ticket_row.breached,
                "decided_at": _time(ticket_row.decided_at),
                "decided_by_role": _role_of(uow, ticket_row.decided_by),
                "rejected_by_role": _role_of(uow, ticket_row.rejected_by),
                "reject_rule": ticket_row.reject_rule,
                "reject_comment": ticket_row.reject_comment,
                "appeal_until": _time(ticket_row.appeal_until),
            },
            "timeline": timeline,
            "chain_verified": chain_verified,
            "refunds": [
                {
                    "out_refund_no": refund.out_refund_no,
                    "out_trade_no": refund.out_trade_no,
                    "channel": refund.channel.value,
                    "channel_refund_no": refund.channel_refund_no,
                    **_money("amount", refund.amount_fen),
                    "status": refund.status.value,
                    "failure": refund.failure,
                    "created_at": _time(refund.created_at),
                    "accepted_at": _time(refund.accepted_at),
                    "settled_at": _time(refund.settled_at),
                }
                for refund in view.refunds
            ],
            "messages": [
                {
                    "kind": message.kind,
                    "text_zh": message.text("zh"),
                    "text_en": message.text("en"),
                    "created_at": _time(message.created_at),
                }
                for message in messages
            ],
            "evidence_files": [
                {
                    "filename": item.filename,
                    "content_type": item.content_type,
                    "size": item.size,
                    "sha256": item.sha256,
                    "uploaded_by_role": "consumer" if item.uploaded_by == ticket_row.user_id else "staff",
                    "created_at": _time(item.created_at),
                }
                for item in view.evidence
            ],
        }
    return data


def render_evidence_pdf(data: dict[str, Any], lang: str = "zh") -> bytes:
    """An A4 PDF of :func:`build_evidence`'s data, in Chinese (default) or English. Raises
    :class:`Unavailable` where the PDF stack (the ``pdf`` extra: WeasyPrint and Pango) is not
    installed; the JSON evidence does not need it."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    try:
        from weasyprint import HTML  # type: ignore[import-untyped]  # imported here: loading Pango takes a moment
    except (ImportError, OSError):  # OSError: WeasyPrint is there, Pango is not
        log.warning("evidence PDF asked for, but WeasyPrint or Pango is not installed", exc_info=True)
        raise Unavailable(ErrorCode.PDF_UNAVAILABLE, "ops.pdf_unavailable") from None

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["localtime"] = _display_time
    reader = pick_lang(lang)

    def lab(prefix: str, value: object) -> str:
        return label(prefix, value, reader)

    env.globals.update(tr=translate, lab=lab, say=say, rule_label=rule_label, rules_label=rules_label)
    html = env.get_template("aftersales/evidence_pdf.html").render(d=data, zh=reader == "zh", lang=reader)
    pdf = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def _display_time(value: str | None) -> str:
    """``2026-03-02T10:00:00+08:00`` → ``2026-03-02 10:00:00 (UTC+08:00)``."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})"


__all__ = ["build_evidence", "render_evidence_pdf"]
