"""Structured logs: one JSON object per line naming the request, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator

import pytest

from kameng.platform.logs import MASK, SecretMasker, log_handler, request_context

SECRET_KEY = "a3f9c1e07b5d42e8a6f0b9c3d7e1f5a2"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger("kameng.test-logs")
    handler = log_handler("json", [SECRET_KEY], stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_time_level_logger_message_and_request_id(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with request_context("req-0123456789"):
        logger.info("refund %s sent", "R1", extra={"amount_fen": 1990})
    logger.warning("outside any request")

    first, second = _lines(stream)
    assert first["level"] == "INFO"
    assert first["logger"] == "kameng.test-logs"
    assert first["message"] == "refund R1 sent"
    assert first["request_id"] == "req-0123456789"
    assert first["amount_fen"] == 1990
    assert str(first["time"]).endswith("+00:00")
    assert second["request_id"] is None
    assert second["level"] == "WARNING"


def test_an_exception_is_logged_with_its_traceback_in_the_same_object(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("it failed")

    (entry,) = _lines(stream)
    assert "RuntimeError: boom" in str(entry["exception"])


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (f"signing with {SECRET_KEY}", SECRET_KEY),
        ("sign-in password=hunter2-long for 13800000000", "hunter2-long"),
        ('{"new_password": "s3cret-pass"}', "s3cret-pass"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("csrf_token=8f7a6b5c4d3e2f1a", "8f7a6b5c4d3e2f1a"),
        ("card_key: VIP-7Q2M-8XKD-55ZA", "VIP-7Q2M-8XKD-55ZA"),
        ("卡密：VIP-7Q2M-8XKD-55ZA", "VIP-7Q2M-8XKD-55ZA"),
        ("connecting to postgresql+psycopg://kameng:db-pass-9@db:5432/kameng", "db-pass-9"),
    ],
)
def test_secrets_passwords_tokens_and_card_keys_are_masked(
    captured: tuple[logging.Logger, io.StringIO], message: str, secret: str
) -> None:
    logger, stream = captured
    logger.info(message)

    written = stream.getvalue()
    assert secret not in written
    assert MASK in written


def test_secrets_in_arguments_extras_and_tracebacks_are_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("key is %s", SECRET_KEY, extra={"password": "hunter2-long", "card_key": "VIP-1", "note": SECRET_KEY})
    try:
        raise ValueError(f"bad secret {SECRET_KEY}")
    except ValueError:
        logger.exception("failed")

    written = stream.getvalue()
    assert SECRET_KEY not in written
    assert "hunter2-long" not in written
    assert "VIP-1" not in written
    first = _lines(stream)[0]
    assert first["password"] == MASK
    assert first["card_key"] == MASK


def test_ordinary_words_and_idempotency_keys_are_left_alone() -> None:
    masker = SecretMasker([SECRET_KEY])

    line = "outbox 12 (send_refund) key=send_refund:5 done"
    assert masker.mask(line) == line
    assert masker.mask("退款 R123 已发出 1990 分") == "退款 R123 已发出 1990 分"


@pytest.mark.parametrize("run", ["a", "9", "a_", "ab://", "x:y@"])
def test_a_long_line_is_masked_in_steps_proportional_to_its_length(run: str) -> None:
    """A hostile address is logged whole (the access log, the test client's request line): a
    pattern tried from every position must not cost the square of the line's length. 40,000
    characters take milliseconds when the steps grow with the length, and minutes when they
    grow with its square; the bound is wide so that only the second fails."""
    masker = SecretMasker([SECRET_KEY])
    line = "GET http://testserver/products/" + run * (40_000 // len(run)) + " new_password=hunter2-long"

    started = time.process_time()
    masked = masker.mask(line)

    assert time.process_time() - started < 5.0
    assert "hunter2-long" not in masked


def test_text_lines_name_the_request_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("kameng.test-logs-text")
    handler = log_handler("text", [], stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with request_context("req-text-000001"):
            logger.warning("hello")
    finally:
        logger.removeHandler(handler)

    assert "[req-text-000001]: hello" in stream.getvalue()
