"""Auto-renewal over the REST API: my subscriptions, a step-up code, cancelling auto-renewal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kameng.platform import inputs
from kameng.subscriptions.services import (
    CancelAutoRenewal,
    SubscriptionView,
    cancel_auto_renewal,
    my_subscriptions,
    subscription,
)
from kameng.subscriptions.stepup import CANCEL_AUTO_RENEWAL, send_code
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep, IdempotencyKey, viewer_of
from kameng.web.params import SubNo

router = APIRouter(prefix="/api/v1")

ERROR = {"description": "`{error: {code, field, message, message_zh}}`"}
StepUpCode = Annotated[str, inputs.text_validator(inputs.CHOICE), Field(max_length=inputs.CHOICE.max_length)]
StepUpPassword = Annotated[str, inputs.text_validator(inputs.PASSWORD), Field(max_length=inputs.PASSWORD.max_length)]


class ChargeOut(BaseModel):
    period: int
    amount_fen: int
    status: str
    attempts: int
    renews_at: datetime
    noticed: bool = Field(description="A reminder qualifying under RULES.md S2 came first; if not, refundable in full")
    settled_at: datetime | None


class CancellationOut(BaseModel):
    cancellation_no: str
    cancelled_at: datetime
    step_up: str
    reason: str | None


class SubscriptionOut(BaseModel):
    sub_no: str
    order_no: str
    product: str
    status: str
    price_fen: int = Field(description="Each renewal's charge, in fen")
    consent_at: datetime
    consent_terms: dict[str, Any]
    renewals: int
    renews_at: datetime | None = Field(description="The next renewal; null when auto-renewal is off")
    expires_at: datetime | None
    reminded_at: datetime | None
    cancellation: CancellationOut | None
    charges: list[ChargeOut]
    replayed: bool = False


def _out(view: SubscriptionView, replayed: bool = False) -> SubscriptionOut:
    row = view.row
    cancellation = None
    if row.cancellation_no and row.cancelled_at:
        cancellation = CancellationOut(
            cancellation_no=row.cancellation_no,
            cancelled_at=row.cancelled_at,
            step_up=row.cancel_step_up or "",
            reason=row.cancel_reason,
        )
    return SubscriptionOut(
        sub_no=row.sub_no,
        order_no=view.order_no,
        product=view.product.slug,
        status=view.status.value,
        price_fen=row.price_fen,
        consent_at=row.consent_at,
        consent_terms=row.consent_terms,
        renewals=row.renewals,
        renews_at=view.renews_at,
        expires_at=view.expires_at,
        reminded_at=row.reminded_at,
        cancellation=cancellation,
        charges=[
            ChargeOut(
                period=c.period,
                amount_fen=c.amount_fen,
                status=c.status.value,
                attempts=c.attempts,
                renews_at=c.renews_at,
                noticed=c.noticed,
                settled_at=c.settled_at,
            )
            for c in view.charges
        ],
        replayed=replayed,
    )


@router.get("/subscriptions", tags=["subscriptions"], summary="My auto-renewals (我的会员), newest first")
def get_subscriptions(user: CurrentUser, container: ContainerDep) -> list[SubscriptionOut]:
    return [_out(view) for view in my_subscriptions(container.uow(), viewer_of(user))]


@router.get("/subscriptions/{sub_no}", tags=["subscriptions"], summary="One auto-renewal", responses={404: ERROR})
def get_subscription(sub_no: SubNo, user: CurrentUser, container: ContainerDep) -> SubscriptionOut:
    return _out(subscription(container.uow(), viewer_of(user), sub_no))


class CodeSentOut(BaseModel):
    phone: str = Field(description="Masked")
    expires_at: datetime
    resend_after_seconds: int


@router.post(
    "/subscriptions/{sub_no}/step-up-code",
    tags=["subscriptions"],
    summary="Send a 6-digit code by SMS for the step-up check (valid 5 minutes)",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: ERROR, 422: ERROR, 429: {"description": "`code_too_soon`, `code_daily_limit`; see Retry-After"}},
)
async def post_step_up_code(sub_no: SubNo, user: CurrentUser, container: ContainerDep) -> CodeSentOut:
    await run_in_threadpool(subscription, container.uow(), viewer_of(user), sub_no)  # 404 if not theirs
    sent = await run_in_threadpool(
        send_code,
        container.uow(),
        container.sender,
        user.id,
        CANCEL_AUTO_RENEWAL,
        container.now(),
        container.settings.secret_key.get_secret_value(),
    )
    return CodeSentOut(phone=sent.phone, expires_at=sent.expires_at, resend_after_seconds=sent.resend_after_seconds)


class CancelIn(BaseModel):
    code: StepUpCode = Field(default="", description="The 6-digit SMS code, or give the password")
    password: StepUpPassword = Field(default="", description="The account's password, instead of a code")
    reason: inputs.Note = Field(default="", description="Optional; never a condition")


@router.post(
    "/subscriptions/{sub_no}/cancel-auto-renewal",
    tags=["subscriptions"],
    summary="Cancel auto-renewal, effective at once (after the step-up check)",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already cancelled (a retry): the same receipt", "model": SubscriptionOut},
        404: ERROR,
        409: {"description": "`not_auto_renewing`, `idempotency_key_reused`"},
        422: ERROR,
    },
)
async def post_cancel_auto_renewal(
    sub_no: SubNo,
    body: CancelIn,
    response: Response,
    user: CurrentUser,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> SubscriptionOut:
    command = CancelAutoRenewal(sub_no, body.code, body.password, body.reason, idempotency_key)
    done = await run_in_threadpool(
        cancel_auto_renewal,
        container.uow(),
        viewer_of(user),
        command,
        container.now(),
        container.settings.secret_key.get_secret_value(),
    )
    if done.replayed:
        response.status_code = status.HTTP_200_OK
    return _out(done.view, replayed=done.replayed)
