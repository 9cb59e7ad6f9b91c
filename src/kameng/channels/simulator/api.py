"""The simulator's payer over the API (outside production), for tests and integrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from kameng.channels.simulator.payer import simulate_payer
from kameng.orders.schemas import PaymentResultOut
from kameng.platform.errors import not_found
from kameng.web.deps import ContainerDep
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import OutTradeNo

router = APIRouter(prefix="/api/v1")


@router.post(
    "/payments/simulator/{out_trade_no}/pay",
    tags=["payments"],
    summary="Act as the payer in the simulator (not in production)",
    responses={404: ERROR_RESPONSE},
)
def simulator_pay(
    out_trade_no: OutTradeNo,
    container: ContainerDep,
    outcome: Literal["success", "failure"] = "success",
) -> PaymentResultOut:
    """The payer pays (or fails) in the simulator; the channel then notifies us as it would."""
    if container.settings.production:
        raise not_found("payment")
    result = simulate_payer(container.uow(), out_trade_no, outcome == "success", container.payments, container.now())
    return PaymentResultOut.model_validate({"result": result})
