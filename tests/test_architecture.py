"""The import contracts in pyproject.toml hold, and each one fails when it is broken.

Each case copies the package to a temporary folder, adds one forbidden import, and runs
``lint-imports`` on the copy: the contract named must be reported BROKEN (and the untouched copy
passes), so a contract that silently checks nothing cannot stay green."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
}

# contract id -> (file under src/kameng, the import that breaks it)
BREAKS = {
    "domain-pure": ("domain/money.py", "import sqlalchemy"),
    "platform-shared": ("platform/errors.py", "from kameng.orders import models"),
    "simulator-composed": ("orders/checkout.py", "from kameng.channels.simulator import payments"),
    "protocol-simulators-composed": (
        "channels/wechatpay/adapter.py",
        "from kameng.channels.protocol_sims import wechat",
    ),
    "entry-points-private": ("aftersales/queries.py", "from kameng.orders import pages"),
    "entry-points-independent": ("aftersales/api.py", "from kameng.orders import api"),
    "services-know-no-http": ("orders/checkout.py", "import fastapi"),
}


def _lint(copy: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(copy / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(copy / "pyproject.toml"), "--no-cache"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "kameng", tmp_path / "src" / "kameng", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_contract_has_a_case_that_breaks_it() -> None:
    assert set(BREAKS) == set(CONTRACTS)


def test_the_untouched_code_keeps_every_contract(copy: Path) -> None:
    done = _lint(copy)
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout


@pytest.mark.parametrize("contract", sorted(BREAKS))
def test_a_contract_fails_when_broken(contract: str, copy: Path) -> None:
    path, line = BREAKS[contract]
    target = copy / "src" / "kameng" / path
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    done = _lint(copy)
    assert done.returncode != 0
    # lint-imports wraps long names: compare without line breaks.
    report = " ".join(done.stdout.split())
    assert f"{CONTRACTS[contract]} BROKEN" in report, report[-3000:]


# The refund engine is one decision table read top to bottom (RULES.md section 3 in code order);
# split, it would be harder to check against the rules. Migrations are history, never edited.
LONG_ON_PURPOSE = {"domain/refund.py"}
MOST_LINES = 400


def test_no_module_outgrows_a_reading() -> None:
    package = ROOT / "src" / "kameng"
    too_long = {
        str(path.relative_to(package)): lines
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
        and str(path.relative_to(package)) not in LONG_ON_PURPOSE
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES
    }
    assert too_long == {}
