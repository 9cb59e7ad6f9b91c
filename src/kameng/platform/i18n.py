"""Chinese first, English too: every string a person reads comes from a gettext catalog.

The catalogs are ``kameng/locale/<locale>/LC_MESSAGES/messages.po`` (``zh_CN`` first, ``en``),
read once at start-up with Babel, so a fresh clone needs no compile step. The msgids are stable
symbolic keys (``refund_request``, ``status_paid``, ``error.not_paid``): a sentence can be
reworded in every language without touching code or templates. Adding a language is adding a
catalog and its line in :data:`LOCALES`; ``tests/platform/test_catalogs.py`` fails while a key
the code or a template names is missing from any catalog, or a translation's placeholders differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

from babel.messages.pofile import read_po

from kameng.domain.calendar import SHANGHAI

Lang = Literal["zh", "en"]
# The site's languages (as in ``?lang=``), first the default, each with its catalog's locale.
LOCALES: dict[Lang, str] = {"zh": "zh_CN", "en": "en"}
LANGS: tuple[Lang, ...] = tuple(LOCALES)
DEFAULT_LANG: Lang = "zh"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class MissingMessage(KeyError):
    """A msgid no catalog has: a bug to fix, never a raw key shown to a person."""


@cache
def catalog(lang: Lang) -> dict[str, str]:
    """One language's messages, msgid → text (read once per process).

    A language's catalog may be split into several files (``messages.po`` and one per feature
    that has many sentences of its own, e.g. ``rules.po``); a key is defined in one file only."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as source:
            entries = read_po(source, locale=LOCALES[lang])
        for entry in entries:
            if not (entry.id and entry.string):
                continue
            key = str(entry.id)
            if key in merged:
                raise ValueError(f"{path.name}: {key!r} is already defined in another catalog file")
            merged[key] = str(entry.string)
    return merged


def has_message(key: str) -> bool:
    return key in catalog(DEFAULT_LANG)


def translate(key: str, lang: Lang, **params: object) -> str:
    """The text of ``key`` in ``lang`` (the default language's when that catalog lacks it), with
    ``%(name)s`` placeholders filled from ``params``. A parameter may itself be a :class:`Msg`
    (translated in ``lang``) or a mapping from language to text (the engine's explanations)."""
    text = catalog(lang).get(key) or catalog(DEFAULT_LANG).get(key)
    if text is None:
        raise MissingMessage(key)
    if not params:
        return text
    return text % {name: _in_lang(value, lang) for name, value in params.items()}


def _in_lang(value: object, lang: Lang) -> object:
    if isinstance(value, Msg):
        return value.text(lang)
    if isinstance(value, Mapping):
        return value.get(lang, value.get(DEFAULT_LANG, ""))
    return value


def say(note: Mapping[str, object], lang: Lang) -> str:
    """A stored ``{"key": ..., "params": {...}}`` (a timeline row's note) in ``lang``."""
    params = note.get("params")
    return translate(str(note["key"]), lang, **(dict(params) if isinstance(params, Mapping) else {}))


def in_every_language(key: str, params: Mapping[str, object]) -> dict[str, str]:
    """The text of ``key`` in each language, as stored with a message when it is sent."""
    return {lang: translate(key, lang, **params) for lang in LANGS}


@dataclass(frozen=True, slots=True)
class Msg:
    """A catalog message not yet rendered: rendered in the reader's language when shown."""

    key: str

    def text(self, lang: Lang) -> str:
        return translate(self.key, lang)


def pick_lang(value: str | None) -> Lang:
    for lang in LANGS:
        if value == lang:
            return lang
    return DEFAULT_LANG


def label(prefix: str, value: object, lang: Lang) -> str:
    """A status or type shown to people: ``label("status", "paid", lang)``. A value with no
    catalog entry is a missing translation, and the test of every page fails on it."""
    raw = str(getattr(value, "value", value))
    key = f"{prefix}_{raw}"
    return translate(key, lang) if has_message(key) else raw


def rule_label(rule: str, lang: Lang) -> str:
    """A rule id of RULES.md as a person reads it, never the id alone: "P1 未激活全额退",
    "P1 (not activated: full refund)". An id no catalog names (a rule since withdrawn, kept on an
    old ticket) is shown as such rather than failing the page."""
    name = f"rule.{rule}.name"
    if not has_message(name):
        return translate("rule.unknown", lang, id=rule)
    return translate("rule.label", lang, id=rule, name=translate(name, lang))


def rule_summary(rule: str, lang: Lang) -> str:
    """The rule in one sentence (for a title or a hint beside its label); empty if unknown."""
    key = f"rule.{rule}.summary"
    return translate(key, lang) if has_message(key) else ""


def rules_label(rules: str | Sequence[str], lang: Lang) -> str:
    """The rules of a quote or a ticket (a list, or the ticket's comma-separated column). Two
    rules are RULES.md §3a's pair: the one that decided, after comparing it with the other."""
    ids = [rule for rule in (rules.split(",") if isinstance(rules, str) else rules) if rule]
    if len(ids) == 2:
        return translate("rule.compared", lang, chosen=rule_label(ids[0], lang), other=rule_label(ids[1], lang))
    return translate("rule.list_separator", lang).join(rule_label(rule, lang) for rule in ids)


def localtime(moment: datetime | None) -> str:
    """A time as people here read it: Beijing time, to the minute."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
