"""Path and query parameters, typed once for the API and the pages alike.

Each is a ``str`` or ``int`` under the rules of ``platform/inputs.py``: a NUL in an order number,
a 10,000-character search or a file id of 2**70 answers 422 naming the parameter (a page in the
reader's language, or the API's error body), and never reaches a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from kameng.platform import inputs
from kameng.platform.inputs import MAX_ID, text_validator

OrderNo = Annotated[
    str,
    Path(min_length=1, max_length=inputs.ORDER_NO.max_length, description="14 digits"),
    text_validator(inputs.ORDER_NO),
]
TicketNo = Annotated[
    str,
    Path(min_length=1, max_length=inputs.TICKET_NO.max_length, description="AS followed by 14 digits"),
    text_validator(inputs.TICKET_NO),
]
WithdrawalNo = Annotated[
    str,
    Path(min_length=1, max_length=inputs.WITHDRAWAL_NO.max_length, description="W followed by 14 digits"),
    text_validator(inputs.WITHDRAWAL_NO),
]
Slug = Annotated[
    str,
    Path(min_length=1, max_length=inputs.SLUG.max_length, description="The product's slug"),
    text_validator(inputs.SLUG),
]
SubNo = Annotated[
    str,
    Path(min_length=1, max_length=inputs.ORDER_NO.max_length, description="S followed by the order's 14 digits"),
    text_validator(inputs.ORDER_NO),
]
OutTradeNo = Annotated[
    str,
    Path(min_length=1, max_length=inputs.OUT_TRADE_NO.max_length, description="Our payment number at the channel"),
    text_validator(inputs.OUT_TRADE_NO),
]
Action = Annotated[str, Path(min_length=1, max_length=inputs.CHOICE.max_length), text_validator(inputs.CHOICE)]
FileId = Annotated[int, Path(ge=1, le=MAX_ID, description="The evidence file's id")]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The row's id (a session, an API key, an endpoint …)")]


CouponQuery = Annotated[str, Query(max_length=inputs.COUPON_CODE.max_length), text_validator(inputs.COUPON_CODE)]
SearchQuery = Annotated[str, Query(max_length=inputs.SEARCH.max_length), text_validator(inputs.SEARCH)]
LocalPathQuery = Annotated[str, Query(max_length=inputs.LOCAL_PATH.max_length), text_validator(inputs.LOCAL_PATH)]
ChoiceQuery = Annotated[str, Query(max_length=inputs.CHOICE.max_length), text_validator(inputs.CHOICE)]
