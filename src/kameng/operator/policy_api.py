"""The policy editor's REST API under /api/v1/operator/policies: the products' current versions,
a draft checked and previewed, simulated over the refund history, and published. Operators only
(anyone else: 404). A draft's options are those of RULES.md section 2 (docs/policies.md); an
option left out keeps the current version's value. A draft with problems answers 422 with
``error.problems``: one entry per option, each naming it, in Chinese and English."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from kameng.accounts.models import User
from kameng.catalog.models import PolicyVersion
from kameng.catalog.services import policy_to_domain
from kameng.container import Container
from kameng.domain.calendar import SHANGHAI
from kameng.domain.money import format_yuan
from kameng.domain.users import Role
from kameng.operator.policies import (
    FIXED_RULES,
    draft_of,
    list_policies,
    policy_as_draft,
    preview,
    publish,
    versions_of,
)
from kameng.operator.simulation import SimulationResult, Tally, simulate
from kameng.platform.errors import not_found
from kameng.platform.i18n import rule_label, rule_summary
from kameng.platform.inputs import AMOUNT_TEXT, TextProblem, check_text
from kameng.web.auth import CurrentUser
from kameng.web.deps import ContainerDep
from kameng.web.errors import ERROR_RESPONSE
from kameng.web.params import Slug

router = APIRouter(prefix="/api/v1/operator/policies", tags=["operator: refund policies"])


def _option_value(value: object) -> object:
    """An option as sent: text (checked as any text field is: no NUL, at most 40 characters), a
    whole number, true/false, or null. What it means is the editor's to check, option by option,
    so that every problem names its option in the reader's language."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        try:
            return check_text(value, AMOUNT_TEXT)
        except TextProblem as problem:
            raise PydanticCustomError(f"text_{problem.problem}", str(problem), problem.params) from None
    raise PydanticCustomError("string_type", "must be text, a whole number, true or false")


# One type per option (not a union, whose every branch would be reported as a problem of its own).
OptionValue = Annotated[
    object,
    BeforeValidator(_option_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": AMOUNT_TEXT.max_length},
                {"type": "integer"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
API_CHANGES = 200
RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not an operator, or no such product"},
    422: ERROR_RESPONSE,
}


def _operator(user: User, container: Container, slug: str | None = None) -> None:
    """Operators only; and the product in the address must exist (404, like an unknown address)."""
    if user.role is not Role.OPERATOR:
        raise not_found("product")
    if slug is not None:
        versions_of(container.uow(), slug)


class DraftIn(BaseModel):
    """A draft: any of the options; amounts in yuan and the fee percent as text ("5", "20.00")."""

    model_config = ConfigDict(extra="allow")  # a statutory key is refused by name, not ignored

    cooling_off_days: OptionValue = None
    cooling_off: OptionValue = None
    proration: OptionValue = None
    fee_percent: OptionValue = None
    fee_min: OptionValue = None
    fee_max: OptionValue = Field(default=None, description="null: no upper clamp")
    review_business_days: OptionValue = None
    trial_counts_as_activation: OptionValue = None

    def values(self, slug: str) -> dict[str, object]:
        given = self.model_dump(exclude_unset=True)
        extra = {str(key)[:40]: value for key, value in (self.model_extra or {}).items()}
        given.update(extra)
        given["product"] = slug
        return given


class SimulateIn(DraftIn):
    since: date = Field(description="Replay the requests made on or after this day (Beijing time)")
    until: date | None = Field(default=None, description="…and before this day")


class PublishIn(DraftIn):
    based_on: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The version edited: refused if another was published since"
    )


class TermsOut(BaseModel):
    zh: list[str]
    en: list[str]


class PolicyOut(BaseModel):
    product: str
    version: int
    options: dict[str, Any]


class FixedRuleOut(BaseModel):
    rule: str
    label: str
    summary: str


class PolicyDetailOut(PolicyOut):
    terms: TermsOut
    versions: list[PolicyOut]
    statutory: list[FixedRuleOut]


class CheckOut(BaseModel):
    product: str
    next_version: int
    options: dict[str, Any]
    terms: TermsOut


class TallyOut(BaseModel):
    requests: int
    auto_approved: int
    reviewed: int
    rejected: int
    refunded: str
    auto_refunded: str
    review_person_days: str


class ChangeOut(BaseModel):
    ticket_no: str
    order_no: str
    reason: str
    requested_at: datetime
    current: dict[str, Any]
    draft: dict[str, Any]
    difference: str


class SimulationOut(BaseModel):
    product: str
    current_version: int
    requests: int
    current: TallyOut
    draft: TallyOut
    changed: int
    changes: list[ChangeOut]
    review_minutes: int
    workday_minutes: int


class PublishedOut(BaseModel):
    product: str
    version: int
    created: bool


def _version_out(slug: str, row: PolicyVersion) -> PolicyOut:
    options = policy_as_draft(slug, policy_to_domain(row))
    options.pop("product")
    return PolicyOut(product=slug, version=row.version, options=options)


@router.get("", summary="Every product's current refund policy", responses=RESPONSES)
def get_policies(user: CurrentUser, container: ContainerDep) -> list[PolicyOut]:
    _operator(user, container)
    out = []
    for row in list_policies(container.uow()):
        options = policy_as_draft(row.slug, row.policy)
        options.pop("product")
        out.append(PolicyOut(product=row.slug, version=row.version, options=options))
    return out


@router.get(
    "/{slug}", summary="A product's policy: current terms, versions, the fixed statutory rules", responses=RESPONSES
)
def get_policy(slug: Slug, user: CurrentUser, container: ContainerDep) -> PolicyDetailOut:
    _operator(user, container)
    versions = versions_of(container.uow(), slug)
    draft = draft_of(container.uow(), {"product": slug})
    terms = preview(draft)
    head = _version_out(slug, versions[0])
    return PolicyDetailOut(
        product=slug,
        version=head.version,
        options=head.options,
        terms=TermsOut(zh=[zh for zh, _ in terms], en=[en for _, en in terms]),
        versions=[_version_out(slug, row) for row in versions],
        statutory=[FixedRuleOut(rule=r, label=rule_label(r, "en"), summary=rule_summary(r, "en")) for r in FIXED_RULES],
    )


@router.post("/{slug}/check", summary="Check a draft and show its terms as the product page will", responses=RESPONSES)
def check_policy(slug: Slug, body: DraftIn, user: CurrentUser, container: ContainerDep) -> CheckOut:
    _operator(user, container, slug)
    draft = draft_of(container.uow(), body.values(slug))
    terms = preview(draft)
    options = policy_as_draft(slug, draft.policy)
    options.pop("product")
    return CheckOut(
        product=slug,
        next_version=draft.current_version + 1,
        options=options,
        terms=TermsOut(zh=[zh for zh, _ in terms], en=[en for _, en in terms]),
    )


def _tally(result: SimulationResult, tally: Tally) -> TallyOut:
    return TallyOut(
        requests=tally.requests,
        auto_approved=tally.auto_approved,
        reviewed=tally.reviewed,
        rejected=tally.rejected,
        refunded=format_yuan(tally.refunded_fen),
        auto_refunded=format_yuan(tally.auto_refunded_fen),
        review_person_days=str(result.person_days(tally)),
    )


def _day(value: date | None) -> datetime | None:
    return datetime.combine(value, time(0), SHANGHAI) if value is not None else None


@router.post(
    "/{slug}/simulate",
    summary="Replay the product's refund requests since a day under the draft and the current policy",
    responses=RESPONSES,
)
def simulate_policy(slug: Slug, body: SimulateIn, user: CurrentUser, container: ContainerDep) -> SimulationOut:
    _operator(user, container, slug)
    values = body.values(slug)
    for key in ("since", "until"):
        values.pop(key, None)
    draft = draft_of(container.uow(), values)
    settings = container.settings
    result = simulate(
        container.uow(),
        draft,
        _day(body.since),
        _day(body.until),
        review_minutes=settings.policy_review_minutes,
        workday_minutes=settings.policy_workday_minutes,
        keep_changes=API_CHANGES,
    )

    def outcome(decision: str, refund: int, rules: tuple[str, ...]) -> dict[str, Any]:
        return {"decision": decision, "refund": format_yuan(refund), "rules": list(rules)}

    return SimulationOut(
        product=slug,
        current_version=draft.current_version,
        requests=result.requests,
        current=_tally(result, result.current),
        draft=_tally(result, result.draft),
        changed=result.changed,
        changes=[
            ChangeOut(
                ticket_no=c.ticket_no,
                order_no=c.order_no,
                reason=c.reason.value,
                requested_at=c.at,
                current=outcome(c.current.decision.value, c.current.refund_fen, c.current.rules),
                draft=outcome(c.draft.decision.value, c.draft.refund_fen, c.draft.rules),
                difference=format_yuan(c.delta_fen),
            )
            for c in result.changes
        ],
        review_minutes=result.review_minutes,
        workday_minutes=result.workday_minutes,
    )


@router.post(
    "/{slug}/publish",
    summary="Publish a draft as the product's next version (paid orders keep theirs)",
    responses=RESPONSES,
)
def publish_policy(slug: Slug, body: PublishIn, user: CurrentUser, container: ContainerDep) -> PublishedOut:
    _operator(user, container, slug)
    values = body.values(slug)
    values.pop("based_on", None)
    done = publish(container.uow(), values, body.based_on, container.now(), user.id)
    return PublishedOut(product=done.slug, version=done.version, created=done.created)
