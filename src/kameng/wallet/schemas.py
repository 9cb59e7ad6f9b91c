"""The wallet API's models and their mapping from rows and plans. Amounts travel as strings of
yuan beside integer fen, never as floats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from kameng.domain.money import format_yuan
from kameng.domain.wallet import WithdrawalPlan
from kameng.platform.inputs import Note, YuanText
from kameng.wallet.balance import plan_json
from kameng.wallet.models import WithdrawalRow
from kameng.wallet.queries import Movement, WalletView


class WithdrawalIn(BaseModel):
    amount: YuanText = Field(description='The cash to withdraw, in yuan ("89.00"); held at once')


class DecisionIn(BaseModel):
    note: Note = Field(default="", description="What the agent says about the decision (optional)")


class LegOut(BaseModel):
    order_no: str
    channel: str
    kind: str = Field(
        description="`top_up` (a top-up, priced by R1 or R2) or `refund_in` (a refund paid into the balance)"
    )
    rule: str
    gross: str
    gross_fen: int
    fee: str
    fee_fen: int
    net: str
    net_fen: int
    bonus_taken_fen: int
    status: str | None = Field(
        default=None, description="Once approved: `sent`, `paid` or `returned` (back to the balance)"
    )
    out_refund_no: str | None = None


class PlanOut(BaseModel):
    amount: str
    amount_fen: int
    payout: str
    payout_fen: int
    fee: str
    fee_fen: int
    released: str = Field(description="Part of the amount no source covers; released back to the balance on approval")
    released_fen: int
    bonus_taken_fen: int
    decision: str = Field(description="`auto_approve` (paid at once), `review` (a person checks first) or `reject`")
    legs: list[LegOut]


class WalletOut(BaseModel):
    cash: str
    cash_fen: int = Field(description="Withdrawable cash")
    bonus: str
    bonus_fen: int = Field(description="Bonus credit: spent first, never withdrawn")
    held: str
    held_fen: int = Field(description="Cash held for withdrawals in review")
    withdrawable: str
    withdrawable_fen: int
    quote: PlanOut = Field(description="The live quote of withdrawing everything withdrawable now")


class MovementOut(BaseModel):
    type: str = Field(
        description="top_up, bonus, spend, refund_in, hold, release, withdrawal, fee, returned, bonus_withdrawn"
    )
    at: datetime
    cash_fen: int
    bonus_fen: int
    held_fen: int
    order_no: str | None
    withdrawal_no: str | None


class WithdrawalOut(BaseModel):
    withdrawal_no: str
    status: str = Field(description="in_review, paying, done, rejected, cancelled")
    amount: str
    amount_fen: int
    payout_fen: int
    fee_fen: int
    released_fen: int
    returned_fen: int
    created_at: datetime
    decided_at: datetime | None
    settled_at: datetime | None
    quote: PlanOut = Field(description="The plan shown when it was asked for")
    legs: list[LegOut] = Field(description="Once approved: one refund per original payment, newest first")
    replayed: bool = False


class ReviewOut(BaseModel):
    withdrawal: WithdrawalOut
    live_quote: PlanOut = Field(description="The plan as approving now would make it")
    cash_fen: int = Field(description="The consumer's spendable cash now, beside the held amount")


def _leg_out(leg: dict[str, Any]) -> LegOut:
    return LegOut(
        order_no=leg["order_no"],
        channel=leg["channel"],
        kind=leg["kind"],
        rule=leg["rule"],
        gross=format_yuan(leg["gross_fen"]),
        gross_fen=leg["gross_fen"],
        fee=format_yuan(leg["fee_fen"]),
        fee_fen=leg["fee_fen"],
        net=format_yuan(leg["net_fen"]),
        net_fen=leg["net_fen"],
        bonus_taken_fen=leg["bonus_taken_fen"],
        status=leg.get("status"),
        out_refund_no=leg.get("out_refund_no"),
    )


def plan_out(stored: dict[str, Any]) -> PlanOut:
    return PlanOut(
        amount=format_yuan(stored["asked_fen"]),
        amount_fen=stored["asked_fen"],
        payout=format_yuan(stored["payout_fen"]),
        payout_fen=stored["payout_fen"],
        fee=format_yuan(stored["fee_fen"]),
        fee_fen=stored["fee_fen"],
        released=format_yuan(stored["shortfall_fen"]),
        released_fen=stored["shortfall_fen"],
        bonus_taken_fen=stored["bonus_taken_fen"],
        decision=stored["decision"],
        legs=[_leg_out(leg) for leg in stored["legs"]],
    )


def live_plan_out(plan: WithdrawalPlan, orders: dict[int, str]) -> PlanOut:
    return plan_out(plan_json(plan, orders))


def wallet_out(view: WalletView) -> WalletOut:
    return WalletOut(
        cash=format_yuan(view.cash_fen),
        cash_fen=view.cash_fen,
        bonus=format_yuan(view.bonus_fen),
        bonus_fen=view.bonus_fen,
        held=format_yuan(view.held_fen),
        held_fen=view.held_fen,
        withdrawable=format_yuan(view.withdrawable_fen),
        withdrawable_fen=view.withdrawable_fen,
        quote=live_plan_out(view.quote, view.quote_orders),
    )


def movement_out(movement: Movement) -> MovementOut:
    return MovementOut(
        type=movement.type,
        at=movement.at,
        cash_fen=movement.cash_fen,
        bonus_fen=movement.bonus_fen,
        held_fen=movement.held_fen,
        order_no=movement.order_no,
        withdrawal_no=movement.withdrawal_no,
    )


def withdrawal_out(row: WithdrawalRow, legs: list[dict[str, Any]], replayed: bool = False) -> WithdrawalOut:
    return WithdrawalOut(
        withdrawal_no=row.withdrawal_no,
        status=row.status.value,
        amount=format_yuan(row.asked_fen),
        amount_fen=row.asked_fen,
        payout_fen=row.payout_fen,
        fee_fen=row.fee_fen,
        released_fen=row.released_fen,
        returned_fen=row.returned_fen,
        created_at=row.created_at,
        decided_at=row.decided_at,
        settled_at=row.settled_at,
        quote=plan_out(row.quote),
        legs=[_leg_out(leg) for leg in legs],
        replayed=replayed,
    )
