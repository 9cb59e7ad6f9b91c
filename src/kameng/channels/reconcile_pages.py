"""The operator's reconciliation page: ``/staff/reconcile?channel=wechat&date=2026-11-20`` shows
every difference between the channel's bill of that day and our records (as ``kameng reconcile``)."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from kameng.accounts.models import User
from kameng.channels.ports import ChannelRefused, ChannelUnavailable
from kameng.domain.model import Channel
from kameng.payouts.reconcile import reconcile_day
from kameng.platform import inputs
from kameng.platform.inputs import text_validator
from kameng.web.deps import ContainerDep
from kameng.web.forms import StaffUser
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)
CHINA = timezone(timedelta(hours=8))
BILL_CHANNELS = ("wechat", "alipay")


@router.get("/staff/reconcile", response_class=HTMLResponse)
def reconcile_page(
    request: Request,
    container: ContainerDep,
    staff: User = StaffUser,
    channel: Annotated[str, Query(max_length=16), text_validator(inputs.CHOICE)] = "",
    day: Annotated[str, Query(alias="date", max_length=10), text_validator(inputs.CHOICE)] = "",
) -> HTMLResponse:
    configured = [name for name in BILL_CHANNELS if name in container.bills]
    yesterday = (container.now().astimezone(CHINA) - timedelta(days=1)).date()
    context: dict[str, object] = {
        "channels": configured,
        "channel": channel if channel in configured else (configured[0] if configured else ""),
        "day": day or yesterday.isoformat(),
        "findings": None,
        "problem": None,
    }
    if channel and day:
        try:
            bill_day = date.fromisoformat(day)
        except ValueError:
            bill_day = None
        billing = container.bills.get(channel)
        if billing is None or bill_day is None:
            context["problem"] = "channels.reconcile.bad_query"
        else:
            try:
                context["findings"] = reconcile_day(
                    container.uow(), Channel(channel), bill_day, billing.trade_bill(bill_day)
                )
            except (ChannelUnavailable, ChannelRefused):
                context["problem"] = "channels.refusal.bill"
    return render(request, "channels/reconcile.html", context, user=staff)
