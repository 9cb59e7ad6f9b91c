"""The wallet REST API, ``/api/v1/wallet``: the balance with its live quote, every movement, and
withdrawals (asked for with an ``Idempotency-Key``: a retry gets the first withdrawal). Staff
review withdrawals under ``/api/v1/staff/withdrawals``. Another consumer's withdrawal is the
same 404 as one that does not exist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from kameng.platform import inputs
from kameng.platform.errors import not_found
from kameng.wallet.queries import live_plan, movements, review_view, wallet_view, withdrawal_of, withdrawals_in_review
from kameng.wallet.schemas import (
    DecisionIn,
    MovementOut,
    PlanOut,
    ReviewOut,
    WalletOut,
    WithdrawalIn,
    WithdrawalOut,
    live_plan_out,
    movement_out,
    wallet_out,
    withdrawal_out,
)
from kameng.wallet.services import approve_withdrawal, cancel_withdrawal, reject_withdrawal, request_withdrawal
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep, IdempotencyKey, viewer_of
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import WithdrawalNo

router = APIRouter(prefix="/api/v1")
NOT_YOURS: dict[int | str, dict[str, Any]] = {404: {"description": "No such withdrawal, or another consumer's"}}


@router.get("/wallet", tags=["wallet"], summary="My balance: cash and bonus apart, and the live withdrawal quote")
def get_wallet(user: CurrentUser, container: ContainerDep) -> WalletOut:
    return wallet_out(wallet_view(container.uow(), viewer_of(user), container.now(), container.calendar, limit=0))


@router.get("/wallet/movements", tags=["wallet"], summary="Every movement of my balance, newest first")
def get_movements(
    user: CurrentUser, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> list[MovementOut]:
    uow = container.uow()
    with uow:
        return [movement_out(movement) for movement in movements(uow, user.id, limit)]


@router.get(
    "/wallet/quote",
    tags=["wallet"],
    summary="What withdrawing an amount would pay, to which payments, at what fee",
    responses={422: ERROR_RESPONSE},
)
def get_quote(
    user: CurrentUser,
    container: ContainerDep,
    amount: Annotated[
        str | None, Query(max_length=inputs.AMOUNT_TEXT.max_length), inputs.text_validator(inputs.AMOUNT_TEXT)
    ] = None,
) -> PlanOut:
    """Without ``amount``: everything withdrawable now."""
    asked = inputs.yuan_input(amount, "amount") if amount else None
    view = wallet_view(container.uow(), viewer_of(user), container.now(), container.calendar, limit=0)
    if asked is None:
        return live_plan_out(view.quote, view.quote_orders)
    uow = container.uow()
    with uow:
        _available, plan, orders = live_plan(uow, user.id, asked, container.now(), container.calendar, view.cash_fen)
    return live_plan_out(plan, orders)


@router.post(
    "/wallet/withdrawals",
    tags=["wallet"],
    summary="Withdraw cash to the original payments (the amount is held at once)",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "A retry with an Idempotency-Key already used: the same withdrawal",
            "model": WithdrawalOut,
        },
        409: {"description": "`idempotency_key_reused` for another amount"},
        422: ERROR_RESPONSE,
    },
)
async def create_withdrawal(
    body: WithdrawalIn,
    response: Response,
    user: CurrentUser,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> WithdrawalOut:
    amount = inputs.yuan_input(body.amount, "amount")
    row, replayed = await run_in_threadpool(
        request_withdrawal,
        container.uow(),
        viewer_of(user),
        amount,
        idempotency_key,
        container.now(),
        container.calendar,
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
    detail = withdrawal_of(container.uow(), viewer_of(user), row.withdrawal_no)
    return withdrawal_out(detail.withdrawal, detail.legs, replayed)


@router.get("/wallet/withdrawals", tags=["wallet"], summary="My withdrawals, newest first")
def get_withdrawals(user: CurrentUser, container: ContainerDep) -> list[WithdrawalOut]:
    view = wallet_view(container.uow(), viewer_of(user), container.now(), container.calendar, limit=0)
    return [withdrawal_out(row, []) for row in view.withdrawals]


@router.get("/wallet/withdrawals/{withdrawal_no}", tags=["wallet"], summary="One withdrawal", responses=NOT_YOURS)
def get_withdrawal(withdrawal_no: WithdrawalNo, user: CurrentUser, container: ContainerDep) -> WithdrawalOut:
    detail = withdrawal_of(container.uow(), viewer_of(user), withdrawal_no)
    return withdrawal_out(detail.withdrawal, detail.legs)


@router.post(
    "/wallet/withdrawals/{withdrawal_no}/cancel",
    tags=["wallet"],
    summary="Take back a withdrawal still in review (the hold is released)",
    responses={**NOT_YOURS, 409: {"description": "No longer in review"}},
)
def post_cancel(withdrawal_no: WithdrawalNo, user: CurrentUser, container: ContainerDep) -> WithdrawalOut:
    cancel_withdrawal(container.uow(), viewer_of(user), withdrawal_no, container.now())
    detail = withdrawal_of(container.uow(), viewer_of(user), withdrawal_no)
    return withdrawal_out(detail.withdrawal, detail.legs)


# --------------------------------------------------------------------------------------------
# Staff


def _staff_only(user: CurrentUser) -> None:
    if not viewer_of(user).is_staff:
        raise not_found("withdrawal")


@router.get("/staff/withdrawals", tags=["wallet staff"], summary="Withdrawals waiting for review, oldest first")
def get_review_list(user: CurrentUser, container: ContainerDep) -> list[WithdrawalOut]:
    _staff_only(user)
    return [withdrawal_out(row, []) for row in withdrawals_in_review(container.uow())]


@router.get(
    "/staff/withdrawals/{withdrawal_no}",
    tags=["wallet staff"],
    summary="One withdrawal with the live quote",
    responses={404: {"description": "No such withdrawal, or not staff"}},
)
def get_review(withdrawal_no: WithdrawalNo, user: CurrentUser, container: ContainerDep) -> ReviewOut:
    _staff_only(user)
    view = review_view(container.uow(), withdrawal_no, container.now(), container.calendar)
    return ReviewOut(
        withdrawal=withdrawal_out(view.detail.withdrawal, view.detail.legs),
        live_quote=live_plan_out(view.live, view.live_orders),
        cash_fen=view.cash_fen,
    )


@router.post(
    "/staff/withdrawals/{withdrawal_no}/approve",
    tags=["wallet staff"],
    summary="Approve: the live quote is paid out, the fee booked",
    responses={404: {"description": "No such withdrawal, or not staff"}, 409: {"description": "Not in review"}},
)
def post_approve(
    withdrawal_no: WithdrawalNo, body: DecisionIn, user: CurrentUser, container: ContainerDep
) -> WithdrawalOut:
    approve_withdrawal(container.uow(), viewer_of(user), withdrawal_no, body.note, container.now(), container.calendar)
    detail = withdrawal_of(container.uow(), None, withdrawal_no)
    return withdrawal_out(detail.withdrawal, detail.legs)


@router.post(
    "/staff/withdrawals/{withdrawal_no}/reject",
    tags=["wallet staff"],
    summary="Reject: the hold goes back to the balance",
    responses={404: {"description": "No such withdrawal, or not staff"}, 409: {"description": "Not in review"}},
)
def post_reject(
    withdrawal_no: WithdrawalNo, body: DecisionIn, user: CurrentUser, container: ContainerDep
) -> WithdrawalOut:
    reject_withdrawal(container.uow(), viewer_of(user), withdrawal_no, body.note, container.now())
    detail = withdrawal_of(container.uow(), None, withdrawal_no)
    return withdrawal_out(detail.withdrawal, detail.legs)
