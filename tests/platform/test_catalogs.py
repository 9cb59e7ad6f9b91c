"""The gettext catalogs are complete: every key the code and the templates name is in every
language, and each translation fills the same placeholders as the default language's text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kameng.platform import i18n
from kameng.platform.errors import ErrorCode, ServiceError

SRC = Path(i18n.__file__).resolve().parent.parent
# A literal key handed to the translator: t('key') in a template, Msg("key") or an error's key.
TEMPLATE_KEY = re.compile(r"""\b[tL]\(\s*['"]([a-z][a-z0-9_.]*)['"]\s*[,)]""")
PYTHON_KEY = re.compile(r"""(?:Msg\(|translate\(|ErrorCode\.[A-Z_]+,\s*)\s*['"]([a-z][a-z0-9_.]*)['"]""")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def keys_named_in(pattern: re.Pattern[str], suffix: str) -> set[str]:
    return {key for path in SRC.rglob(f"*{suffix}") for key in pattern.findall(path.read_text("utf-8"))}


def test_the_catalogs_know_the_same_keys() -> None:
    default = set(i18n.catalog(i18n.DEFAULT_LANG))
    for lang in i18n.LANGS:
        assert set(i18n.catalog(lang)) == default, lang


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_key_the_templates_name_is_translated(lang: i18n.Lang) -> None:
    keys = keys_named_in(TEMPLATE_KEY, ".html")
    assert len(keys) > 100  # the pattern still finds what the templates say
    assert sorted(keys - set(i18n.catalog(lang))) == []


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_key_the_code_names_is_translated(lang: i18n.Lang) -> None:
    keys = keys_named_in(PYTHON_KEY, ".py")
    assert len(keys) > 40
    assert sorted(keys - set(i18n.catalog(lang))) == []


def test_translations_fill_the_same_placeholders() -> None:
    default = i18n.catalog(i18n.DEFAULT_LANG)
    for lang in i18n.LANGS:
        for key, text in i18n.catalog(lang).items():
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(default[key])), (lang, key)


def test_an_error_speaks_both_languages_and_keeps_its_code() -> None:
    error = ServiceError(ErrorCode.NOT_PAID, "error.not_paid")
    assert error.code == "not_paid"
    assert error.message("zh") != error.message("en")
    assert error.to_dict()["code"] == "not_paid"


def test_a_missing_key_is_an_error_never_shown() -> None:
    with pytest.raises(i18n.MissingMessage):
        i18n.translate("no.such.key", "en")
