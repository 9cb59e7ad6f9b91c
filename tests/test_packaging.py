"""Packaging: a build backend that understands the SPDX licence, optional parts that degrade
cleanly when absent (the PDF stack, PostgreSQL's driver), and a lock file that pins them all."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kameng import compose
from kameng.aftersales.evidence import render_evidence_pdf
from kameng.platform.errors import ErrorCode, Unavailable
from kameng.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements.lock"


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(text).name.lower() for text in requirements}


def _locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_the_build_backend_understands_an_spdx_licence() -> None:
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_the_pdf_stack_and_the_postgresql_driver_are_extras_that_dev_includes() -> None:
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]

    assert not {"weasyprint", "psycopg"} & _names(project["dependencies"])
    assert _names(extras["pdf"]) == {"weasyprint"}
    assert _names(extras["postgres"]) == {"psycopg"}
    assert "kameng[pdf,postgres]" in extras["dev"]


def test_the_lock_pins_every_dependency_and_extra_to_one_version() -> None:
    pins = _locked()
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = _names(PYPROJECT["project"]["dependencies"]) | _names(extras["pdf"]) | _names(extras["postgres"])
    wanted |= _names([text for text in extras["dev"] if not text.startswith("kameng")])

    assert sorted(name for name in wanted if name not in pins) == []
    assert all(version for version in pins.values())
    assert "kameng" not in pins


def test_without_the_pdf_stack_the_evidence_pdf_is_unavailable_in_both_languages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if not installed

    with pytest.raises(Unavailable) as refused:
        render_evidence_pdf({}, "en")

    assert refused.value.status == 503
    assert refused.value.code == ErrorCode.PDF_UNAVAILABLE
    assert "JSON" in refused.value.message("en")
    assert "JSON" in refused.value.message("zh")


def test_a_postgresql_url_without_its_driver_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name == "psycopg" or name.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    settings = Settings(database_url="postgresql+psycopg://kameng@127.0.0.1:5432/kameng", environment="test")

    with pytest.raises(SettingsError, match=r"^KAMENG_DATABASE_URL: .*kameng\[postgres\]"):
        compose.build(settings)
