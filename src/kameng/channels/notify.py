"""The real channels' notification endpoint: ``POST /api/v1/payments/notify/{wechat|alipay}``.

The channel's notifier (its adapter) verifies the notification and reads it into kameng's words;
a payment goes to ``orders.payments.apply_payment_notification``, a refund to
``payouts.services.apply_refund_notice``. Whatever is refused (unsigned, badly signed, stale,
tampered, replayed, for another merchant, an amount or a trade that does not match ours) changes
nothing and is logged with its reason; the answer is the channel's own word, so that it stops
sending: "received" for anything verified (applied or not), "failed" for what cannot be believed
(which the channel retries a bounded number of times, then gives up).
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from kameng.channels.ports import Acknowledgement, BadSignature, NothingToApply, RefundNotice
from kameng.orders.payments import apply_payment_notification
from kameng.payouts.services import apply_refund_notice
from kameng.platform.errors import ServiceError, not_found
from kameng.web.deps import ContainerDep
from kameng.web.errors import ERROR_RESPONSE

log = logging.getLogger("kameng.channels.notify")
router = APIRouter(prefix="/api/v1")


def _answer(ack: Acknowledgement) -> Response:
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.media_type)


@router.post(
    "/payments/notify/{channel}",
    tags=["payments"],
    summary="A real channel's notification (WeChat Pay, Alipay), as the channel sends it",
    responses={404: ERROR_RESPONSE},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "description": "WeChat Pay, signed in headers"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "description": "Alipay"}},
            },
        }
    },
)
async def channel_notify(channel: Literal["wechat", "alipay"], request: Request, container: ContainerDep) -> Response:
    notifier = container.notifiers.get(channel)
    if notifier is None:
        raise not_found("payment")
    body = await request.body()
    now = container.now()
    try:
        read = notifier.read_notification(dict(request.headers), body, now)
    except NothingToApply as nothing:
        log.info("%s notification received, nothing to apply: %s", channel, nothing)
        return _answer(notifier.acknowledge(True))
    except BadSignature as refused:
        reason = str(refused)
        log.warning("%s notification refused, nothing changed: %s", channel, reason)
        # A replay was received the first time: saying so stops the channel; anything else is
        # answered as failed, which the channel retries a bounded number of times.
        return _answer(notifier.acknowledge(reason == "replayed notification", reason))
    try:
        if isinstance(read, RefundNotice):
            result = await run_in_threadpool(apply_refund_notice, container.uow, read, now, container.calendar)
        else:
            result = await run_in_threadpool(apply_payment_notification, container.uow(), read, now, channel)
    except ServiceError as error:
        # Verified, but it does not match our records (amount, trade, channel): nothing changed,
        # staff must look; retrying would not change the answer.
        log.error("%s notification for %s changed nothing: %s", channel, read.out_trade_no, error.code)
        notifier.remember(read.notice_id, now)
        return _answer(notifier.acknowledge(True))
    # Remembered only now: a notification whose application failed is taken again on the retry.
    notifier.remember(read.notice_id, now)
    log.info("%s notification for %s: %s", channel, read.out_trade_no, result)
    return _answer(notifier.acknowledge(True))
