"""Auto-renewal and the step-up check that guards its cancelling: the rules, without storage.

A subscription renews a membership at the end of each term by charging the consumer's channel.
PRODUCT.md item 10 and RULES.md S2: a reminder at least :data:`RENEWAL_NOTICE_DAYS` days before
each renewal; a renewal charged without one is refundable in full at once. Cancelling takes a
step-up check (a 6-digit SMS code or the password) and is effective at once.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kameng.domain.refund import RENEWAL_NOTICE_DAYS
from kameng.domain.states import StateMachine

ONE_DAY = timedelta(days=1)


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"  # renews at the end of each term
    CANCELLED = "cancelled"  # the consumer cancelled auto-renewal: access to the period's end, no charge
    LAPSED = "lapsed"  # the renewal charge failed every time: no renewal, the consumer was told
    ENDED = "ended"  # the membership itself ended (refunded, closed): nothing left to renew


SUBSCRIPTION = StateMachine[SubscriptionStatus](
    "subscription",
    {
        (SubscriptionStatus.ACTIVE, "cancel"): SubscriptionStatus.CANCELLED,
        (SubscriptionStatus.ACTIVE, "lapse"): SubscriptionStatus.LAPSED,
        (SubscriptionStatus.ACTIVE, "end"): SubscriptionStatus.ENDED,
        (SubscriptionStatus.CANCELLED, "end"): SubscriptionStatus.ENDED,
        (SubscriptionStatus.LAPSED, "end"): SubscriptionStatus.ENDED,
    },
)


class RenewalChargeStatus(StrEnum):
    PENDING = "pending"  # asked of the channel (again after a failure, until the attempts run out)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt failed: the subscription lapsed
    CANCELLED = "cancelled"  # the subscription stopped between two attempts: never charged


RENEWAL_CHARGE = StateMachine[RenewalChargeStatus](
    "renewal_charge",
    {
        (RenewalChargeStatus.PENDING, "succeed"): RenewalChargeStatus.SUCCEEDED,
        (RenewalChargeStatus.PENDING, "give_up"): RenewalChargeStatus.FAILED,
        (RenewalChargeStatus.PENDING, "cancel"): RenewalChargeStatus.CANCELLED,
    },
)


def reminder_due_at(renews_at: datetime, lead_days: int) -> datetime:
    """When the reminder of the renewal at ``renews_at`` goes out: ``lead_days`` before it (never
    fewer than the S2 minimum: a later one would not qualify)."""
    return renews_at - max(lead_days, RENEWAL_NOTICE_DAYS) * ONE_DAY


def notice_qualifies(notice_at: datetime | None, period_start: datetime, renews_at: datetime) -> bool:
    """RULES.md S2: a reminder counts if it was sent after the current period began and at least
    :data:`RENEWAL_NOTICE_DAYS` days before the renewal."""
    return notice_at is not None and period_start < notice_at <= renews_at - RENEWAL_NOTICE_DAYS * ONE_DAY


def next_attempt_at(failed_at: datetime, attempts_made: int, max_attempts: int, retry_hours: int) -> datetime | None:
    """After a failed charge: when to try again, or None when the attempts are used up (lapse)."""
    if attempts_made >= max_attempts:
        return None
    return failed_at + timedelta(hours=retry_hours)


# --------------------------------------------------------------------------------------------
# SMS codes for the step-up check

CODE_DIGITS = 6
CODE_VALID_FOR = timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_AFTER = timedelta(minutes=1)
CODES_PER_DAY = 10
CODE_DAY = timedelta(days=1)  # a rolling day: the limit cannot be doubled around midnight


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(secret: str, phone: str, purpose: str, code: str) -> str:
    """Codes are stored as a keyed hash only: a copy of the table does not give them away, and
    six digits are too few for an unkeyed hash (a million guesses undo it)."""
    message = f"{phone}\x1f{purpose}\x1f{code}".encode()
    return hmac.new(("kameng-sms-code:" + secret).encode(), message, hashlib.sha256).hexdigest()


def code_matches(secret: str, phone: str, purpose: str, code: str, stored_hash: str) -> bool:
    """Constant-time: the time taken says nothing about how many characters were right."""
    return hmac.compare_digest(hash_code(secret, phone, purpose, code), stored_hash)


def is_code_shaped(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


@dataclass(frozen=True, slots=True)
class CodeWait:
    """A new code may not be sent yet: which limit, and how long until it may."""

    limit: str  # "per_minute" or "per_day"
    wait: timedelta

    @property
    def seconds(self) -> int:
        return max(1, -(-int(self.wait.total_seconds() * 1000) // 1000))


def wait_for_new_code(sent_at: Sequence[datetime], now: datetime) -> CodeWait | None:
    """Whether a new code may be sent to a phone that was sent codes at ``sent_at``: at most one
    a minute and :data:`CODES_PER_DAY` a rolling day. None when it may."""
    recent = sorted(at for at in sent_at if now - at < CODE_DAY)
    if recent and now - recent[-1] < CODE_RESEND_AFTER:
        return CodeWait("per_minute", recent[-1] + CODE_RESEND_AFTER - now)
    if len(recent) >= CODES_PER_DAY:
        return CodeWait("per_day", recent[-CODES_PER_DAY] + CODE_DAY - now)
    return None


# The password step-up: at most 5 wrong passwords in a rolling 15 minutes per account, then a wait
# until the oldest of them is 15 minutes old (argon2 makes each guess slow; this bounds them).
PASSWORD_MAX_FAILURES = 5
PASSWORD_WINDOW = timedelta(minutes=15)


def password_wait(failed_at: Sequence[datetime], now: datetime) -> int | None:
    """Seconds to wait before the password may be tried again, or None when it may be now."""
    recent = sorted(at for at in failed_at if now - at < PASSWORD_WINDOW)
    if len(recent) < PASSWORD_MAX_FAILURES:
        return None
    return max(1, math.ceil((recent[-PASSWORD_MAX_FAILURES] + PASSWORD_WINDOW - now).total_seconds()))
