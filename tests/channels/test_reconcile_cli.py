"""`kameng reconcile` and `kameng channels abnormal-refund` as an operator runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kameng import compose
from kameng.cli.main import app
from kameng.payouts.models import OrphanPaymentRow
from kameng.settings import Settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    variables = {"KAMENG_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "KAMENG_CHANNELS": "simulators"}
    compose.prepare_database(Settings.from_env(variables), with_demo=False)
    return variables


def test_a_clean_day_exits_0_and_says_so(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["reconcile", "--channel", "wechat", "--date", "2026-11-20"], env=env)
    assert result.exit_code == 0, result.output
    assert "0 difference(s)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "bank", "--date", "2026-11-20"], "--channel must be wechat or alipay"),
        (["--channel", "alipay", "--date", "20-11-2026"], "--date must be YYYY-MM-DD"),
    ],
)
def test_bad_arguments_exit_2_naming_them(env: dict[str, str], args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["reconcile", *args], env=env)
    assert result.exit_code == 2
    assert message in result.output


def test_without_real_channels_reconcile_and_abnormal_refund_say_so(env: dict[str, str]) -> None:
    off = {**env, "KAMENG_CHANNELS": "off"}
    result = CliRunner().invoke(app, ["reconcile", "--channel", "wechat", "--date", "2026-11-20"], env=off)
    assert result.exit_code == 2
    assert "wechat is not configured" in result.output
    refund = CliRunner().invoke(app, ["channels", "abnormal-refund", "R1", "--to-merchant"], env=off)
    assert refund.exit_code == 1
    assert "WeChat Pay is not configured" in refund.output


def test_a_difference_exits_1_and_is_printed(env: dict[str, str]) -> None:
    container = compose.build(Settings.from_env({**env, "KAMENG_CHANNELS": "off"}))
    try:
        with container.uow() as uow:
            uow.session.add(
                OrphanPaymentRow(
                    channel="wechat",
                    out_trade_no="PONLYOURS1",
                    transaction_id="4200x",
                    amount_fen=990,
                    out_refund_no="OPONLYOURS1",
                    status="pending",
                    received_at=datetime(2026, 11, 20, 4, 0, tzinfo=UTC),  # noon in Beijing
                )
            )
            uow.commit()
    finally:
        container.dispose()
    result = CliRunner().invoke(app, ["reconcile", "--channel", "wechat", "--date", "2026-11-20"], env=env)
    assert result.exit_code == 1, result.output
    assert "missing_there\tpayment\tPONLYOURS1\tours=9.90 SUCCESS\ttheirs=-" in result.output
    assert "1 difference(s)" in result.output
