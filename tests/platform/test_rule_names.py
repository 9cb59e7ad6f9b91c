"""A rule id is never shown alone: every rule the engine can emit, and every rule a person may cite
to reject, has a plain name and a one-sentence summary in both catalogs, and the engine's own
sentences use the same names as the pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kameng.domain import refund
from kameng.domain.aftersales import CITABLE_RULES
from kameng.domain.model import Reason
from kameng.domain.rules import REASON_NAMES, RULE_IDS, RULE_NAMES, label_en, label_zh
from kameng.platform import i18n

# A rule id written in the engine's source: "S1" … "S5", "P1" … "P9", "R1", "R2", and any rule
# added later in the same style ("P10"), which must then be named before this test passes.
ENGINE_RULE = re.compile(r"""["']([SPR]\d{1,2})["']""")
ENGINE_SOURCE = Path(refund.__file__).read_text("utf-8")
RULES_MD = Path(__file__).resolve().parents[3] / "shared" / "design" / "RULES.md"


def rules_the_engine_can_emit() -> set[str]:
    found = set(ENGINE_RULE.findall(ENGINE_SOURCE))
    assert len(found) >= 16  # the pattern still finds what the engine says
    return found


def test_the_engine_emits_only_rules_of_the_table() -> None:
    assert rules_the_engine_can_emit() <= set(RULE_IDS)
    assert set(RULE_IDS) <= rules_the_engine_can_emit()


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_rule_the_engine_emits_or_a_person_cites_has_a_name_and_a_summary(lang: i18n.Lang) -> None:
    messages = i18n.catalog(lang)
    for rule in sorted(rules_the_engine_can_emit() | set(CITABLE_RULES)):
        assert messages.get(f"rule.{rule}.name"), (lang, rule)
        summary = messages.get(f"rule.{rule}.summary", "")
        assert summary.endswith(("。", ".")), (lang, rule, summary)  # one whole sentence
        assert summary != messages[f"rule.{rule}.name"]


def test_every_citable_rule_is_a_rule_of_rules_md() -> None:
    assert set(CITABLE_RULES) <= set(RULE_IDS)
    if RULES_MD.exists():  # the design documents sit beside the repository (make test)
        table = set(re.findall(r"^\| ([SPR]\d) ", RULES_MD.read_text("utf-8"), flags=re.MULTILINE))
        assert set(CITABLE_RULES) <= table
        assert set(RULE_IDS) == table
    assert "E1" not in CITABLE_RULES  # named nowhere in RULES.md


def test_the_engine_and_the_catalogs_give_a_rule_the_same_label() -> None:
    for rule in RULE_IDS:
        assert i18n.translate(f"rule.{rule}.name", "zh") == RULE_NAMES[rule][0]
        assert i18n.translate(f"rule.{rule}.name", "en") == RULE_NAMES[rule][1]
        assert i18n.rule_label(rule, "zh") == label_zh(rule)
        assert i18n.rule_label(rule, "en") == label_en(rule)


def test_the_engine_names_a_reason_as_the_refund_form_does() -> None:
    for reason in Reason:
        assert (i18n.label("reason", reason, "zh"), i18n.label("reason", reason, "en")) == REASON_NAMES[reason]


def test_a_label_is_the_id_with_its_plain_name() -> None:
    assert i18n.rule_label("P1", "zh") == "P1 未激活全额退"
    assert i18n.rule_label("P1", "en") == "P1 (not activated: full refund)"


def test_a_pair_of_rules_reads_as_the_deciding_one_after_a_comparison() -> None:
    assert i18n.rules_label("P1,S3", "zh") == "P1 未激活全额退(与「S3 平台违约全额退」比较后采用)"
    assert i18n.rules_label(["P1", "S3"], "en") == (
        "P1 (not activated: full refund), applied after comparing with S3 (platform fault: full refund)"
    )
    assert i18n.rules_label(("P9",), "en") == "P9 (prorated by use)"


def test_a_rule_no_longer_defined_is_shown_as_such_not_as_an_error() -> None:
    # An old ticket may still cite "E1": its page must render, and say the rule is gone.
    assert i18n.rule_label("E1", "zh") == "E1(现行规则中已无此条)"
    assert i18n.rule_label("E1", "en") == "E1 (no longer one of the rules)"
    assert i18n.rule_summary("E1", "en") == ""
