"""The SMS codes of the step-up check, on SQLite and PostgreSQL: six digits stored as a keyed hash,
valid 5 minutes, 5 attempts each, one a minute and 10 a rolling day per phone, compared in
constant time; every limit says what to do and how long to wait."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kameng.accounts.models import User
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.domain import subscriptions as rules
from kameng.domain.subscriptions import SubscriptionStatus
from kameng.domain.users import Role
from kameng.platform.access import Viewer
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound, TooManyRequests
from kameng.subscriptions.models import SmsCodeRow
from kameng.subscriptions.services import CancelAutoRenewal, cancel_auto_renewal
from kameng.subscriptions.stepup import CANCEL_AUTO_RENEWAL, send_code
from tests.support.database import PASSWORD
from tests.support.fakes import RecordingSender
from tests.support.subscriptions import Subscribed, membership, sub_row, subscribe

SECRET = "test"


@pytest.fixture
def subscribed(
    catalog: UnitOfWork, container: Container, channel: SimulatorChannel, make_user: Callable[..., User], now: datetime
) -> Subscribed:
    return subscribe(container.uow(), channel, make_user(), now)


def _send(container: Container, sender: RecordingSender, user_id: int, at: datetime) -> str:
    send_code(container.uow(), sender, user_id, CANCEL_AUTO_RENEWAL, at, SECRET)
    last = list(sender.sent.values())[-1]
    found = re.search(r"\b(\d{6})\b", last.text)
    assert found, last.text
    return found.group(1)


def _cancel(container: Container, s: Subscribed, at: datetime, **step_up: str) -> None:
    cancel_auto_renewal(container.uow(), s.viewer, CancelAutoRenewal(s.sub_no, **step_up), at, SECRET)


def test_a_code_is_six_digits_sent_by_sms_stored_only_as_a_keyed_hash(
    container: Container, subscribed: Subscribed, now: datetime
) -> None:
    sender = RecordingSender()
    code = _send(container, sender, subscribed.user.id, now)
    [message] = sender.sent.values()
    assert message.phone == subscribed.user.phone
    assert message.email is None
    with container.uow() as uow:
        [row] = uow.session.scalars(select(SmsCodeRow)).all()
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
    assert code not in row.code_hash
    assert row.code_hash == rules.hash_code(SECRET, row.phone, CANCEL_AUTO_RENEWAL, code)
    assert row.code_hash != rules.hash_code("another secret", row.phone, CANCEL_AUTO_RENEWAL, code)


def test_one_code_a_minute_with_the_seconds_to_wait(
    container: Container, subscribed: Subscribed, now: datetime
) -> None:
    sender = RecordingSender()
    _send(container, sender, subscribed.user.id, now)
    with pytest.raises(TooManyRequests) as refused:
        _send(container, sender, subscribed.user.id, now + timedelta(seconds=20))
    assert refused.value.code == ErrorCode.CODE_TOO_SOON
    assert refused.value.retry_after == 40
    assert "40 秒" in refused.value.message_zh
    assert "40 seconds" in refused.value.message_en
    _send(container, sender, subscribed.user.id, now + timedelta(seconds=60))
    assert len(sender.sent) == 2


def test_ten_codes_a_rolling_day_per_phone(container: Container, subscribed: Subscribed, now: datetime) -> None:
    sender = RecordingSender()
    for minute in range(10):
        _send(container, sender, subscribed.user.id, now + timedelta(minutes=minute))
    with pytest.raises(TooManyRequests) as refused:
        _send(container, sender, subscribed.user.id, now + timedelta(minutes=30))
    assert refused.value.code == ErrorCode.CODE_DAILY_LIMIT
    assert refused.value.retry_after == int((timedelta(days=1) - timedelta(minutes=30)).total_seconds())
    assert "24 小时" in refused.value.message_zh
    assert len(sender.sent) == 10
    _send(container, sender, subscribed.user.id, now + timedelta(days=1))  # the first has left the day
    assert len(sender.sent) == 11


def test_five_wrong_attempts_use_a_code_up_and_each_says_how_many_are_left(
    container: Container, subscribed: Subscribed, now: datetime
) -> None:
    code = _send(container, RecordingSender(), subscribed.user.id, now)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(InvalidInput) as refused:
            _cancel(container, subscribed, now + timedelta(seconds=10), code=wrong)
        assert refused.value.code == ErrorCode.CODE_WRONG
        assert f"{left} 次" in refused.value.message_zh
    with pytest.raises(InvalidInput) as refused:
        _cancel(container, subscribed, now + timedelta(seconds=10), code=wrong)
    assert refused.value.code == ErrorCode.CODE_ATTEMPTS_USED
    with pytest.raises(InvalidInput) as refused:  # even the right code, now
        _cancel(container, subscribed, now + timedelta(seconds=10), code=code)
    assert refused.value.code == ErrorCode.CODE_ATTEMPTS_USED
    assert sub_row(container.uow(), subscribed.sub_no).status is SubscriptionStatus.ACTIVE


def test_a_code_lasts_five_minutes_and_works_once(container: Container, subscribed: Subscribed, now: datetime) -> None:
    code = _send(container, RecordingSender(), subscribed.user.id, now)
    with pytest.raises(InvalidInput) as refused:
        _cancel(container, subscribed, now + timedelta(minutes=5, seconds=1), code=code)
    assert refused.value.code == ErrorCode.CODE_EXPIRED
    code = _send(container, RecordingSender(), subscribed.user.id, now + timedelta(minutes=6))
    _cancel(container, subscribed, now + timedelta(minutes=10), code=code)
    row = sub_row(container.uow(), subscribed.sub_no)
    assert row.status is SubscriptionStatus.CANCELLED
    assert row.cancel_step_up == "sms_code"
    with container.uow() as uow:
        assert uow.session.scalar(select(SmsCodeRow.used_at).order_by(SmsCodeRow.id.desc()).limit(1)) is not None


def test_codes_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []

    def compare(a: str, b: str) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(rules.hmac, "compare_digest", compare)
    stored = rules.hash_code("s", "13800000000", "p", "123456")
    assert rules.code_matches("s", "13800000000", "p", "123456", stored)
    assert not rules.code_matches("s", "13800000000", "p", "654321", stored)
    assert len(compared) == 2


def test_the_password_is_the_other_step_up_and_a_missing_one_is_asked_for(
    container: Container, subscribed: Subscribed, now: datetime
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _cancel(container, subscribed, now)
    assert refused.value.code == ErrorCode.STEP_UP_REQUIRED
    with pytest.raises(InvalidInput) as refused:
        _cancel(container, subscribed, now, password="not-the-password")
    assert refused.value.code == ErrorCode.STEP_UP_FAILED
    _cancel(container, subscribed, now, password=PASSWORD)
    assert sub_row(container.uow(), subscribed.sub_no).cancel_step_up == "password"
    ms = membership(container.uow(), subscribed.order_no)
    assert not ms.auto_renew
    assert ms.renews_at is None
    assert ms.status.value == "active"  # billing ends now; access runs to the end of the term


def test_someone_elses_subscription_is_not_found(
    container: Container, subscribed: Subscribed, make_user: Callable[..., User], now: datetime
) -> None:
    other = make_user()
    command = CancelAutoRenewal(subscribed.sub_no, password=PASSWORD)
    with pytest.raises(NotFound):
        cancel_auto_renewal(container.uow(), Viewer(other.id, Role.CONSUMER), command, now, SECRET)
    assert sub_row(container.uow(), subscribed.sub_no).status is SubscriptionStatus.ACTIVE


def test_five_wrong_passwords_in_fifteen_minutes_then_a_wait_with_the_time_to_wait(
    container: Container, subscribed: Subscribed, now: datetime
) -> None:
    for left in (4, 3, 2, 1):
        with pytest.raises(InvalidInput) as refused:
            _cancel(container, subscribed, now + timedelta(minutes=4 - left), password="guess")
        assert refused.value.code == ErrorCode.STEP_UP_FAILED
        assert f"还可再试 {left} 次" in refused.value.message_zh
        assert f"{left} tries left" in refused.value.message_en
    with pytest.raises(TooManyRequests) as locked:  # the fifth wrong one, at now + 4 min
        _cancel(container, subscribed, now + timedelta(minutes=4), password="guess")
    assert locked.value.code == ErrorCode.PASSWORD_ATTEMPTS_USED
    assert locked.value.retry_after == 11 * 60  # until the first guess is 15 minutes old
    later = now + timedelta(minutes=10)
    with pytest.raises(TooManyRequests) as locked:  # even the right password waits, unchecked
        _cancel(container, subscribed, later, password=PASSWORD)
    assert locked.value.retry_after == 5 * 60
    assert "5 分钟" in locked.value.message_zh
    assert "SMS code" in locked.value.message_en
    assert sub_row(container.uow(), subscribed.sub_no).status is SubscriptionStatus.ACTIVE
    _cancel(container, subscribed, now + timedelta(minutes=15), password=PASSWORD)  # the first guess aged out
    assert sub_row(container.uow(), subscribed.sub_no).status is SubscriptionStatus.CANCELLED


def test_the_password_limit_is_per_account_and_leaves_the_sms_code_open(
    container: Container,
    channel: SimulatorChannel,
    make_user: Callable[..., User],
    subscribed: Subscribed,
    now: datetime,
) -> None:
    for minute in range(5):
        with pytest.raises((InvalidInput, TooManyRequests)):
            _cancel(container, subscribed, now + timedelta(minutes=minute), password="guess")
    other = subscribe(container.uow(), channel, make_user(), now)
    _cancel(container, other, now + timedelta(minutes=5), password=PASSWORD)  # another account is not held up
    code = _send(container, RecordingSender(), subscribed.user.id, now + timedelta(minutes=5))
    _cancel(container, subscribed, now + timedelta(minutes=5), code=code)  # nor is the SMS code
    assert sub_row(container.uow(), subscribed.sub_no).cancel_step_up == "sms_code"


def test_password_waits_are_counted_over_a_rolling_window() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    failures = [start + timedelta(minutes=m) for m in (0, 1, 2, 3)]
    assert rules.password_wait(failures, start + timedelta(minutes=3)) is None
    failures.append(start + timedelta(minutes=3, seconds=30))
    assert rules.password_wait(failures, start + timedelta(minutes=4)) == 11 * 60
    assert rules.password_wait(failures, start + timedelta(minutes=14, seconds=59, microseconds=1)) == 1
    assert rules.password_wait(failures, start + timedelta(minutes=15)) is None
