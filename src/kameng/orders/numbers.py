"""Order numbers people can read aloud, with a check digit, and the channel trade numbers derived
from them (our idempotency key at the channel)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from kameng.domain.calendar import SHANGHAI

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Order numbers


def payment_out_trade_no(order_no: str) -> str:
    """Our key for an order's payment at the channel (WeChat Pay/Alipay out_trade_no), derived
    from the order number, so refunds name the trade without looking the payment up."""
    return f"P{order_no}"


def _luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return str((10 - total % 10) % 10)


def new_order_no(now: datetime) -> str:
    """14 digits a person can read aloud: date (yymmdd), 7 random digits, a check digit that
    catches a mistyped digit on the phone to customer service."""
    body = now.astimezone(SHANGHAI).strftime("%y%m%d") + f"{secrets.randbelow(10**7):07d}"
    return body + _luhn_digit(body)


# A number is drawn from 10^7 a day, so among a few thousand orders (or tickets) of one day two
# draws meet sooner or later; the unique constraint refuses the second, and the use case draws
# again in a new transaction. Three draws in a row that all meet taken numbers are not chance.
NUMBER_DRAWS = 3


def draw_until_free(columns: str | tuple[str, ...], attempt: Callable[[], T]) -> T:
    """Run ``attempt``, one whole transaction that draws a number for ``columns`` (order_no,
    ticket_no…, and the columns holding numbers made from it), and run it again with a new draw
    when the unique constraint on one of them refused the number: another row of the day has it.
    SQLite names the column, PostgreSQL the constraint, which holds the column's name
    (uq_<table>_<column>). Rows written in one statement are checked in no set order, so a
    number taken may be found on a column made from it first (a payment's out_trade_no)."""
    names = (columns,) if isinstance(columns, str) else columns
    for draw in range(1, NUMBER_DRAWS + 1):
        try:
            return attempt()
        except IntegrityError as error:
            if draw == NUMBER_DRAWS or not any(name in str(error.orig) for name in names):
                raise
    raise AssertionError("unreachable")


def order_no_is_valid(order_no: str) -> bool:
    return len(order_no) == 14 and order_no.isdigit() and _luhn_digit(order_no[:-1]) == order_no[-1]
