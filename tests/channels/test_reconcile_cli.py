"""`kameng reconcile` and `kameng channels abnormal-refund` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kameng import compose
from kameng.cli.main import app
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
