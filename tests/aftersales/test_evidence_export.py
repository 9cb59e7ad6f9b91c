"""The evidence file for a complaint (PRODUCT.md item 12): one ticket walked through review,
needs-info, reply, approval and payout on a demo database (tests/support/worlds.py), on both
backends, then exported as JSON and PDF.

The PDF is checked the way a person would: poppler's ``pdftotext`` must find the Chinese product
name as text (CJK rendered with a real font, not tofu boxes), and ``pdftoppm`` must draw a page
that is not blank.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kameng.aftersales.evidence import build_evidence, render_evidence_pdf
from kameng.platform.errors import NotFound
from kameng.platform.i18n import Lang, label, rule_label
from tests.support.worlds import AGENT, CONSUMER, NOTE, NOW, OTHER_CONSUMER, World, refunded_ticket


@pytest.fixture
def world(db_url: str) -> World:
    return refunded_ticket(db_url)


@pytest.fixture
def evidence(world: World) -> dict[str, Any]:
    return build_evidence(world.uow(), CONSUMER, world.ticket_no, NOW + timedelta(hours=5))


@pytest.fixture
def pdf(evidence: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "evidence.pdf"
    path.write_bytes(render_evidence_pdf(evidence))
    return path


def test_every_section_is_there_and_json_ready(evidence: dict[str, Any], world: World) -> None:
    for section in (
        "platform",
        "generated_at",
        "consumer",
        "order",
        "policy",
        "payments",
        "usage",
        "ticket",
        "timeline",
        "chain_verified",
        "refunds",
        "messages",
        "evidence_files",
    ):
        assert section in evidence, section
    assert json.loads(json.dumps(evidence, ensure_ascii=False)) == evidence
    assert evidence["generated_at"] == "2026-03-02T15:00:00+08:00"
    assert evidence["consumer"]["phone"] == "138****0001"

    order = evidence["order"]
    assert order["order_no"] == world.order_no
    assert order["product"]["name_zh"] == "视频会员年卡"
    assert (order["paid"], order["paid_fen"]) == ("199.00", 19900)
    assert order["channel"] == "wechat"
    assert order["channel_txn_no"]
    assert order["paid_at"].endswith("+08:00")
    assert order["auto_renew_consent_at"] is not None

    policy = evidence["policy"]
    assert policy["version"] == 1
    assert len(policy["terms"]["zh"]) == len(policy["terms"]["en"]) >= 3
    assert evidence["payments"][0]["status"] == "succeeded"
    assert [event["type"] for event in evidence["usage"]][:2] == ["paid", "activated"]


def test_ticket_timeline_refunds_messages_and_files(evidence: dict[str, Any]) -> None:
    ticket = evidence["ticket"]
    assert ticket["status"] == "refunded"
    assert ticket["rules"] == ["P9"]
    assert ticket["quote"]["refund_fen"] == ticket["approved_fen"] > 0
    assert ticket["quote"]["lines"]
    assert ticket["quote"]["explanation"]["zh"]
    assert ticket["due_at"] is not None
    assert ticket["decided_by_role"] == "agent"

    timeline = evidence["timeline"]
    assert [row["action"] for row in timeline] == [
        "submit",
        "open_review",
        "ask_info",
        "reply",
        "approve",
        "start_refund",
        "refund_succeeded",
    ]
    assert evidence["chain_verified"] is True
    assert all(row["hash_ok"] and len(row["hash"]) == 64 for row in timeline)
    assert all(row["prev_hash"] == before["hash"] for before, row in itertools.pairwise(timeline))

    (refund,) = evidence["refunds"]
    assert refund["status"] == "succeeded"
    assert refund["out_refund_no"]
    assert refund["channel_refund_no"]
    assert refund["amount_fen"] == ticket["approved_fen"]
    assert refund["settled_at"] is not None

    kinds = [message["kind"] for message in evidence["messages"]]
    assert kinds[0] == "submitted"
    assert "needs_info" in kinds

    (upload,) = evidence["evidence_files"]
    assert upload["filename"] == "说明.txt"
    assert upload["size"] == len(NOTE)
    assert len(upload["sha256"]) == 64
    assert "data" not in upload


def test_staff_may_build_it_and_another_consumer_may_not(world: World) -> None:
    staff_copy = build_evidence(world.uow(), AGENT, world.ticket_no, NOW)
    assert staff_copy["ticket"]["ticket_no"] == world.ticket_no
    with pytest.raises(NotFound):
        build_evidence(world.uow(), OTHER_CONSUMER, world.ticket_no, NOW)
    with pytest.raises(NotFound):
        build_evidence(world.uow(), CONSUMER, "AS00000000000000", NOW)


def test_an_edited_row_shows_as_an_unverified_chain(world: World) -> None:
    world.execute("UPDATE ticket_timeline SET comment = '无' WHERE seq = 3")
    data = build_evidence(world.uow(), CONSUMER, world.ticket_no, NOW)
    assert data["chain_verified"] is False
    assert [row["seq"] for row in data["timeline"] if not row["hash_ok"]] == [3]


def test_a_deleted_last_row_shows_as_an_unverified_chain(world: World) -> None:
    world.execute("DELETE FROM ticket_timeline WHERE seq = 7")
    data = build_evidence(world.uow(), CONSUMER, world.ticket_no, NOW)
    assert all(row["hash_ok"] for row in data["timeline"])  # what is left still chains
    assert data["chain_verified"] is False  # but it ends before the ticket's status


def test_pdf_has_chinese_text_not_tofu(pdf: Path) -> None:
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.fail("poppler-utils (pdftotext) is missing: .ci/run installs it")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    assert "视频会员年卡" in text
    assert "售后证据材料" in text
    assert "哈希链校验通过" in text


def test_pdf_page_is_not_blank(pdf: Path, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("poppler-utils (pdftoppm) is missing: .ci/run installs it")
    subprocess.run(
        ["pdftoppm", "-r", "40", "-gray", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True
    )
    (page,) = tmp_path.glob("page*.pgm")
    raw = page.read_bytes()
    # Binary PGM: "P5\n<width> <height>\n<max>\n" then one byte per pixel.
    magic, size, _maxval, pixels = raw.split(b"\n", 3)
    width, height = (int(part) for part in size.split())
    assert magic == b"P5"
    assert len(pixels) == width * height
    dark = sum(1 for value in pixels if value < 128)
    assert dark > 0.005 * width * height  # text and table rules, not an empty sheet


def test_english_pdf(evidence: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "en.pdf"
    path.write_bytes(render_evidence_pdf(evidence, lang="en"))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout
    assert "After-sales evidence file" in text
    assert "hash chain verified" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_pdf_names_rules_and_quote_lines_in_words(evidence: dict[str, Any], tmp_path: Path, lang: Lang) -> None:
    path = tmp_path / f"{lang}.pdf"
    path.write_bytes(render_evidence_pdf(evidence, lang=lang))
    raw = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout
    text = " ".join(raw.split())  # a table cell may wrap
    [rule] = evidence["ticket"]["rules"]
    assert rule_label(rule, lang) in text
    # Codes are shown as words: the quote's lines, the payment's channel and status.
    assert label("line", "paid", lang) in text
    payment = evidence["payments"][0]
    assert label("channel", payment["channel"], lang) in text
    assert label("pay", payment["status"], lang) in text
