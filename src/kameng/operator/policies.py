"""The policy editor's services: a draft of a product's next refund policy, read from a form, a
JSON body or a YAML file, checked option by option, shown in the very words the product page will
show, and published as the product's next immutable version.

A draft names its product and any of the options of RULES.md section 2; an option it leaves out
keeps the value of the product's current version. Every option is checked on its own, so that a
draft with three mistakes gets three messages, each naming its option. The statutory rules
(RULES.md section 3, S1–S5, and §3a) are not options: a draft that tries to set one is refused,
and the editor shows them as fixed text.

Publishing never edits a version: it adds the next one (``catalog.services.add_policy_version``),
and every order keeps the version it was paid under.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from kameng.catalog.models import PolicyVersion, ProductRow
from kameng.catalog.services import add_policy_version, current_policy, policy_to_domain, product_to_domain
from kameng.domain.model import (
    FEE_PERCENT_PLACES,
    MAX_COOLING_OFF_DAYS,
    MAX_REVIEW_BUSINESS_DAYS,
    CoolingOff,
    DomainError,
    Policy,
    Product,
    Proration,
)
from kameng.domain.money import MAX_YUAN, NumberError, format_yuan, parse_decimal, parse_yuan
from kameng.domain.rules import STATUTORY_RULES
from kameng.domain.terms import Sentence, describe_refund_terms
from kameng.platform import inputs
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.documents import DocumentError, load_json, load_yaml
from kameng.platform.errors import ErrorCode, InvalidInput, not_found
from kameng.platform.i18n import Lang, translate

# The options of RULES.md section 2, in its order; ``fee_min``/``fee_max`` are yuan in a draft.
OPTIONS: tuple[str, ...] = (
    "cooling_off_days",
    "cooling_off",
    "proration",
    "fee_percent",
    "fee_min",
    "fee_max",
    "review_business_days",
    "trial_counts_as_activation",
)
# What a draft may not set: the statutory rules and the engine's fixed figures. Named so that the
# refusal says "fixed by law" rather than "unknown option".
STATUTORY_KEYS: frozenset[str] = frozenset(
    {
        "statutory",
        "jurisdiction",
        "reason_never_costs",
        "outage_hours",
        "renewal_notice_days",
        "statutory_review_business_days",
        *STATUTORY_RULES,
        *(rule.lower() for rule in STATUTORY_RULES),
    }
)
# The statutory rules as the editor shows them: fixed, each with its catalog name and summary.
FIXED_RULES: tuple[str, ...] = STATUTORY_RULES
MAX_DRAFT_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a draft: the option (``fee_max``), a catalog key, its parameters."""

    field: str
    key: str
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def message(self, lang: Lang) -> str:
        return translate(self.key, lang, option=self.field, **self.params)

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message("en"), "message_zh": self.message("zh")}


class DraftInvalid(InvalidInput):
    """A draft with one or more problems; ``problems`` names each option that is wrong. The
    error's own field and message are the first problem's (what a single-error reader shows)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(ErrorCode.BAD_POLICY, first.key, first.field, option=first.field, **first.params)

    def to_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {**super().to_dict(), "problems": [problem.to_dict() for problem in self.problems]}


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked draft: the product it is for and the complete policy it would publish."""

    product_id: int
    slug: str
    product: Product
    policy: Policy
    current: Policy
    current_version: int


# --------------------------------------------------------------------------------------------
# Reading a draft


def load_document(text: str, source: str = "draft") -> dict[str, object]:
    """A YAML (or JSON, which is YAML) draft as a mapping, or :class:`DraftInvalid`."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DRAFT_BYTES:
        raise DraftInvalid([Problem("draft", "policy.error.too_long", {"most": MAX_DRAFT_BYTES})])
    try:
        data = load_json(text, source) if text.lstrip().startswith("{") else load_yaml(text, source)
    except DocumentError as error:
        raise DraftInvalid([Problem("draft", "policy.error.document", {"problem": str(error)})]) from None
    if not isinstance(data, dict):
        raise DraftInvalid([Problem("draft", "policy.error.not_mapping")])
    return {str(key): value for key, value in data.items()}


def _whole(value: object, name: str, least: int, most: int, problems: list[Problem]) -> int | None:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 12:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(Problem(name, "policy.error.whole", {"least": least, "most": most}))
        return None
    if not least <= value <= most:
        problems.append(Problem(name, "policy.error.range", {"least": least, "most": most, "got": value}))
        return None
    return value


def _choice(value: object, name: str, choices: list[str], problems: list[Problem]) -> str | None:
    text = value.strip() if isinstance(value, str) else None
    if text not in choices:
        problems.append(Problem(name, "policy.error.choice", {"choices": ", ".join(choices)}))
        return None
    return text


def _percent(value: object, name: str, problems: list[Problem]) -> Decimal | None:
    try:
        return parse_decimal(value, places=FEE_PERCENT_PLACES, minimum=Decimal(0), maximum=Decimal(100))
    except NumberError as error:
        key = "policy.error.percent_places" if error.problem == "places" else "policy.error.percent"
        problems.append(Problem(name, key, {"places": FEE_PERCENT_PLACES}))
        return None


def _yuan(value: object, name: str, problems: list[Problem]) -> int | None:
    try:
        return parse_yuan(value)
    except NumberError:
        problems.append(Problem(name, "policy.error.yuan", {"most": str(MAX_YUAN)}))
        return None


def _flag(value: object, name: str, problems: list[Problem]) -> bool | None:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in {"true", "yes", "on", "1"}:
        return True
    if text in {"false", "no", "off", "0"}:
        return False
    problems.append(Problem(name, "policy.error.flag"))
    return None


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _product_row(uow: UnitOfWork, slug: object) -> ProductRow:
    if not isinstance(slug, str) or not slug.strip():
        raise DraftInvalid([Problem("product", "policy.error.product_required")])
    if not inputs.could_be(slug.strip(), inputs.SLUG):
        raise DraftInvalid([Problem("product", "policy.error.product_unknown")])
    row = uow.session.scalar(select(ProductRow).where(ProductRow.slug == slug.strip()))
    if row is None:
        raise DraftInvalid([Problem("product", "policy.error.product_unknown")])
    return row


def check_draft(uow: UnitOfWork, values: Mapping[str, object]) -> Draft:
    """The draft ``values`` (``product`` and any options) checked against its product and the
    statutory floor: a :class:`Draft`, or :class:`DraftInvalid` with a problem per option.

    Runs inside the caller's unit of work (it reads the product and its current version)."""
    problems: list[Problem] = []
    for key in values:
        if key in STATUTORY_KEYS:
            problems.append(Problem(key, "policy.error.statutory"))
        elif key not in OPTIONS and key != "product":
            problems.append(Problem(key, "policy.error.unknown_option", {"options": ", ".join(OPTIONS)}))
    row = _product_row(uow, values.get("product"))
    current_row = current_policy(uow, row.id)
    current = policy_to_domain(current_row)
    product = product_to_domain(row)
    given = {key: value for key, value in values.items() if key in OPTIONS and not _absent(value)}
    if "fee_max" in values and _absent(values["fee_max"]):
        given["fee_max"] = None  # empty: no upper clamp
    days = _whole(
        given.get("cooling_off_days", current.cooling_off_days), "cooling_off_days", 0, MAX_COOLING_OFF_DAYS, problems
    )
    cooling = _choice(
        given.get("cooling_off", current.cooling_off.value), "cooling_off", [c.value for c in CoolingOff], problems
    )
    proration = _choice(
        given.get("proration", current.proration.value), "proration", [p.value for p in Proration], problems
    )
    percent = _percent(given.get("fee_percent", current.fee_percent), "fee_percent", problems)
    fee_min = _yuan(given["fee_min"], "fee_min", problems) if "fee_min" in given else current.fee_min
    if "fee_max" in given:
        fee_max = None if given["fee_max"] is None else _yuan(given["fee_max"], "fee_max", problems)
        fee_max_ok = given["fee_max"] is None or fee_max is not None
    else:
        fee_max, fee_max_ok = current.fee_max, True
    review = _whole(
        given.get("review_business_days", current.review_business_days),
        "review_business_days",
        1,
        MAX_REVIEW_BUSINESS_DAYS,
        problems,
    )
    trial = _flag(
        given.get("trial_counts_as_activation", current.trial_counts_as_activation),
        "trial_counts_as_activation",
        problems,
    )
    if fee_min is not None and fee_max is not None and fee_min > fee_max:
        problems.append(Problem("fee_min", "policy.error.fee_min_above_max"))
    if proration == Proration.BY_MONTH.value and product.term is not None and product.term.days is not None:
        problems.append(Problem("proration", "policy.error.by_month_days"))
    if proration == Proration.BY_BENEFIT.value and not product.benefits:
        problems.append(Problem("proration", "policy.error.by_benefit"))
    if problems:
        raise DraftInvalid(problems)
    assert days is not None
    assert cooling
    assert proration
    assert percent is not None
    assert fee_min is not None
    assert review is not None
    assert trial is not None
    assert fee_max_ok
    try:
        policy = Policy(
            cooling_off_days=days,
            cooling_off=CoolingOff(cooling),
            proration=Proration(proration),
            fee_percent=percent,
            fee_min=fee_min,
            fee_max=fee_max,
            review_business_days=review,
            trial_counts_as_activation=trial,
        )
        policy.check_against(product)
    except DomainError as error:  # the checks above mirror the domain's; this is the last guard
        where = error.where.removeprefix("policy.") or "draft"
        raise DraftInvalid([Problem(where, "policy.error.domain", {"problem": error.problem})]) from None
    return Draft(row.id, row.slug, product, policy, current, current_row.version)


def draft_of(uow: UnitOfWork, values: Mapping[str, object]) -> Draft:
    """:func:`check_draft` in its own unit of work."""
    with uow:
        return check_draft(uow, values)


def policy_as_draft(slug: str, policy: Policy) -> dict[str, object]:
    """A policy as the values of a draft (a form's fields, a YAML file's keys)."""
    return {
        "product": slug,
        "cooling_off_days": policy.cooling_off_days,
        "cooling_off": policy.cooling_off.value,
        "proration": policy.proration.value,
        "fee_percent": f"{policy.fee_percent.normalize():f}",
        "fee_min": format_yuan(policy.fee_min),
        "fee_max": format_yuan(policy.fee_max) if policy.fee_max is not None else "",
        "review_business_days": policy.review_business_days,
        "trial_counts_as_activation": policy.trial_counts_as_activation,
    }


# --------------------------------------------------------------------------------------------
# What the editor shows


def preview(draft: Draft) -> list[Sentence]:
    """The draft's terms in plain words: the product page's own function, so exactly its words."""
    return describe_refund_terms(draft.product, draft.policy)


@dataclass(frozen=True, slots=True)
class PolicyListing:
    slug: str
    name_zh: str
    name_en: str
    kind: str
    version: int
    policy: Policy


def list_policies(uow: UnitOfWork) -> list[PolicyListing]:
    """Every product with its current version, in the catalog's order."""
    with uow:
        rows = uow.session.scalars(select(ProductRow).order_by(ProductRow.sort_order, ProductRow.id)).all()
        out = []
        for row in rows:
            version = current_policy(uow, row.id)
            out.append(
                PolicyListing(
                    row.slug, row.name_zh, row.name_en, row.kind.value, version.version, policy_to_domain(version)
                )
            )
        return out


def versions_of(uow: UnitOfWork, slug: str) -> list[PolicyVersion]:
    """A product's versions, newest first (the editor's history)."""
    if not inputs.could_be(slug, inputs.SLUG):
        raise not_found("product")
    with uow:
        product_id = uow.session.scalar(select(ProductRow.id).where(ProductRow.slug == slug))
        if product_id is None:
            raise not_found("product")
        return list(
            uow.session.scalars(
                select(PolicyVersion)
                .where(PolicyVersion.product_id == product_id)
                .order_by(PolicyVersion.version.desc())
            )
        )


# --------------------------------------------------------------------------------------------
# Publishing


@dataclass(frozen=True, slots=True)
class Published:
    slug: str
    version: int
    created: bool  # False: the draft equals the current version, nothing was added


def publish(
    uow: UnitOfWork, values: Mapping[str, object], based_on: int | None, now: datetime, actor_id: int | None
) -> Published:
    """Publish the draft as the product's next version, in one transaction.

    ``based_on`` is the version the operator edited: if another version was published since, the
    draft is refused rather than silently overriding it. Publishing a draft equal to the current
    version adds nothing, so a retried publish (a double click) never makes two versions."""
    with uow:
        draft = check_draft(uow, values)
        # Two operators publishing at once: the second waits here, then finds the first's version.
        uow.session.execute(select(ProductRow.id).where(ProductRow.id == draft.product_id).with_for_update())
        latest = current_policy(uow, draft.product_id)
        if draft.policy == policy_to_domain(latest):
            return Published(draft.slug, latest.version, created=False)
        if based_on is not None and based_on != latest.version:
            raise DraftInvalid([Problem("based_on", "policy.error.stale", {"version": latest.version})])
        version = add_policy_version(uow, draft.product_id, draft.policy, now, actor_id)
        uow.commit()
        return Published(draft.slug, version.version, created=True)


__all__ = [
    "FIXED_RULES",
    "OPTIONS",
    "Draft",
    "DraftInvalid",
    "Problem",
    "check_draft",
    "draft_of",
    "list_policies",
    "load_document",
    "policy_as_draft",
    "preview",
    "publish",
    "versions_of",
]
