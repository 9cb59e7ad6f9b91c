"""Errors a service raises for a person to read: what is wrong, and where (a field name).

Each error has a stable :class:`ErrorCode` for programs and a sentence for people, kept in the
gettext catalogs under a key (``error.not_paid``) with named ``%(param)s`` placeholders; a
parameter may itself be a :class:`~kameng.platform.i18n.Msg` translated in the reader's language
(``not_found("order")`` says 订单不存在 / Order not found).
"""

from __future__ import annotations

from enum import StrEnum

from kameng.platform.i18n import DEFAULT_LANG, Lang, Msg, translate


class ErrorCode(StrEnum):
    """Every error code the services use, one spelling, stable for API clients."""

    ALREADY_ACTIVE = "already_active"
    AMOUNT_MISMATCH = "amount_mismatch"
    AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
    APPEAL_WINDOW_CLOSED = "appeal_window_closed"
    BAD_AMOUNT = "bad_amount"
    BAD_COUPON = "bad_coupon"
    BAD_CREDENTIALS = "bad_credentials"
    BAD_CURSOR = "bad_cursor"
    BAD_EVENT = "bad_event"
    BAD_FILTER = "bad_filter"
    BAD_HOURS = "bad_hours"
    BAD_IDEMPOTENCY_KEY = "bad_idempotency_key"
    BAD_IDENTIFIER = "bad_identifier"
    BAD_NUMBER = "bad_number"
    BAD_POLICY = "bad_policy"
    BAD_SCOPE = "bad_scope"
    BAD_SEARCH = "bad_search"
    BAD_SIGNATURE = "bad_signature"
    CHANNEL_UNAVAILABLE = "channel_unavailable"  # a real channel could not start the payment now
    CHANNEL_MISMATCH = "channel_mismatch"  # a real channel's notification about another channel's trade
    BAD_TEXT = "bad_text"
    BAD_URL = "bad_url"
    BAD_WEBHOOK_EVENT = "bad_webhook_event"
    BALANCE_CHANGED = "balance_changed"
    BALANCE_FOR_TOP_UP = "balance_for_top_up"
    COMMENT_REQUIRED = "comment_required"
    CONSENT_REQUIRED = "consent_required"
    CSRF_REJECTED = "csrf_rejected"
    COUPON_EXPIRED = "coupon_expired"
    COUPON_MIN_SPEND = "coupon_min_spend"
    COUPON_USED = "coupon_used"
    DUPLICATE_PURCHASE = "duplicate_purchase"
    EMPTY_FILE = "empty_file"
    EMPTY_REPLY = "empty_reply"
    EXCEEDS_CAPTURED = "exceeds_captured"
    FILE_TOO_LARGE = "file_too_large"
    FILE_TYPE = "file_type"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDENTIFIER_TAKEN = "identifier_taken"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    INTERNAL_ERROR = "internal_error"
    INVALID_REQUEST = "invalid_request"
    INVALID_TRANSITION = "invalid_transition"
    KEY_MISSING = "key_missing"
    MISSING_SCOPE = "missing_scope"
    NO_FAILED_REFUND = "no_failed_refund"
    NO_KEY = "no_key"
    NONREFUNDABLE_ACK_REQUIRED = "nonrefundable_ack_required"
    NOT_ACTIVE = "not_active"
    NOT_CANCELLABLE = "not_cancellable"
    NOT_FOUND = "not_found"
    NOT_MEMBERSHIP = "not_membership"
    NOT_PAID = "not_paid"
    NOT_REFUNDABLE_STATE = "not_refundable_state"
    NOT_RENEWABLE = "not_renewable"
    OUT_OF_RANGE = "out_of_range"
    PDF_UNAVAILABLE = "pdf_unavailable"
    QUOTE_CHANGED = "quote_changed"
    RATE_LIMITED = "rate_limited"
    REASON_REQUIRED = "reason_required"
    REFUND_IN_PROGRESS = "refund_in_progress"
    REQUIRED = "required"
    RULE_REQUIRED = "rule_required"
    SAME_PERSON = "same_person"
    SOLD_OUT = "sold_out"
    SUPERVISOR_ONLY = "supervisor_only"
    TICKET_OPEN = "ticket_open"
    TOO_LONG = "too_long"
    TOO_MANY_FILES = "too_many_files"
    TOO_SHORT = "too_short"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_ACTION = "unknown_action"
    UNKNOWN_BENEFIT = "unknown_benefit"
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_REASON = "unknown_reason"
    WEAK_PASSWORD = "weak_password"
    # --- subscriptions (issue 9, part A): the step-up check and auto-renewal ---
    CODE_ATTEMPTS_USED = "code_attempts_used"
    CODE_DAILY_LIMIT = "code_daily_limit"
    CODE_EXPIRED = "code_expired"
    CODE_TOO_SOON = "code_too_soon"
    CODE_WRONG = "code_wrong"
    NO_PHONE = "no_phone"
    NOT_AUTO_RENEWING = "not_auto_renewing"
    STEP_UP_FAILED = "step_up_failed"
    PASSWORD_ATTEMPTS_USED = "password_attempts_used"
    STEP_UP_REQUIRED = "step_up_required"


class ServiceError(Exception):
    """Base: ``code`` is stable for programs; :meth:`message` is for people, in their language."""

    status = 400

    def __init__(self, code: ErrorCode | str, key: str, field: str | None = None, **params: object) -> None:
        self.code = str(code)
        self.key = key
        self.field = field
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: Lang) -> str:
        return translate(self.key, lang, **self.params)

    @property
    def message_zh(self) -> str:
        return self.message(DEFAULT_LANG)

    @property
    def message_en(self) -> str:
        return self.message("en")

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message_en, "message_zh": self.message_zh}


class InvalidInput(ServiceError):
    status = 422


class Unauthorized(ServiceError):
    """No one, or no one live, signs this request in (the answer carries ``WWW-Authenticate``)."""

    status = 401


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Unavailable(ServiceError):
    """Something this installation does not offer (an optional part not installed)."""

    status = 503


class TooManyRequests(ServiceError):
    """A limit was reached; ``retry_after`` seconds until the same request may succeed (in the
    message too, and as the ``Retry-After`` header). A rate limit by default; a limit of its own
    (an SMS code asked for too soon) names its code and message."""

    status = 429

    def __init__(
        self,
        retry_after: int,
        code: ErrorCode | str = ErrorCode.RATE_LIMITED,
        key: str = "ops.rate_limited",
        field: str | None = None,
        **params: object,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(code, key, field, seconds=retry_after, **params)


def not_found(thing: str) -> NotFound:
    """``thing`` names what was looked for (``order``, ``ticket`` …): the same answer whether it does
    not exist or belongs to someone else, so numbers cannot be probed."""
    return NotFound(ErrorCode.NOT_FOUND, "error.not_found", what=Msg(f"thing.{thing}"))


def unauthorized(key: str = "error.unauthorized.invalid") -> Unauthorized:
    """401 on the Authorization header: ``key`` says why (none sent; or it signs no one live in)."""
    return Unauthorized(ErrorCode.UNAUTHORIZED, key, "Authorization")
