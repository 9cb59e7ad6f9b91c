"""The operator's policy editor pages: /operator/policies (every product's current version) and
/operator/policies/{slug} (edit a draft of the next version: check it, see its terms as the
product page will show them, simulate it over the refund history, publish it).

One form, three buttons (``action``: preview, simulate, publish), no script needed: the page is
rendered again with the draft as typed, its problems beside their options, its terms, and the
simulation's figures; publishing redirects to the editor of the new version.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from kameng.accounts.models import User
from kameng.container import Container
from kameng.domain.calendar import SHANGHAI
from kameng.operator.policies import (
    FIXED_RULES,
    OPTIONS,
    Draft,
    DraftInvalid,
    Problem,
    draft_of,
    list_policies,
    policy_as_draft,
    preview,
    publish,
    versions_of,
)
from kameng.operator.simulation import SimulationResult, simulate
from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, NotFound
from kameng.web.deps import ContainerDep, CsrfChecked, OptionalUser, request_lang, require_operator
from kameng.web.forms import form_typed, redirect
from kameng.web.params import Slug
from kameng.web.templating import render

router = APIRouter(include_in_schema=False)

ACTIONS = ("preview", "simulate", "publish")
CHOICES = {
    "cooling_off": ("full_if_unused", "minus_used_days", "none"),
    "proration": ("by_day", "by_month", "by_benefit"),
}
# The page lists this many changed orders; the CLI's --changes-csv writes them all.
PAGE_CHANGES = 50
DEFAULT_SINCE_DAYS = 90


def _operator_page(user: OptionalUser) -> User:
    """``require_operator`` for pages: anyone else gets the site's own 404 page."""
    try:
        return require_operator(user)
    except HTTPException:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2") from None


OperatorUser = Depends(_operator_page)


@router.get("/operator/policies", response_class=HTMLResponse)
def policies_page(request: Request, container: ContainerDep, operator: User = OperatorUser) -> HTMLResponse:
    rows = list_policies(container.uow())
    return render(request, "operator/policies/list.html", {"rows": rows}, user=operator)


def _since_default(container: Container) -> str:
    return (container.now().astimezone(SHANGHAI).date() - timedelta(days=DEFAULT_SINCE_DAYS)).isoformat()


def _editor(
    request: Request,
    container: Container,
    operator: User,
    slug: str,
    values: dict[str, Any],
    *,
    draft: Draft | None = None,
    problems: list[Problem] | None = None,
    result: SimulationResult | None = None,
    since: str = "",
    status: int = 200,
) -> HTMLResponse:
    versions = versions_of(container.uow(), slug)
    if draft is None and not problems:
        draft = draft_of(container.uow(), {"product": slug})
    lang = request_lang(request)
    context = {
        "slug": slug,
        "values": values,
        "options": OPTIONS,
        "choices": CHOICES,
        "draft": draft,
        "terms": preview(draft) if draft is not None else None,
        "problems": {problem.field: problem.message(lang) for problem in problems or []},
        "problem_list": [(problem.field, problem.message(lang)) for problem in problems or []],
        "fixed_rules": FIXED_RULES,
        "versions": versions,
        "current": versions[0],
        "result": result,
        "since": since or _since_default(container),
        "published": request.query_params.get("published", ""),
        "unchanged": request.query_params.get("unchanged", ""),
        "review_minutes": container.settings.policy_review_minutes,
        "workday_minutes": container.settings.policy_workday_minutes,
        "product_name": _product_name(container, slug, lang),
    }
    return render(request, "operator/policies/editor.html", context, status=status, user=operator)


def _product_name(container: Container, slug: str, lang: str) -> str:
    for row in list_policies(container.uow()):
        if row.slug == slug:
            return row.name_zh if lang == "zh" else row.name_en
    return slug


@router.get("/operator/policies/{slug}", response_class=HTMLResponse)
def editor_page(slug: Slug, request: Request, container: ContainerDep, user: OptionalUser) -> HTMLResponse:
    # The check in the body, after the address's own: a malformed slug is told as such to anyone.
    operator = _operator_page(user)
    draft = draft_of(container.uow(), {"product": slug}) if _exists(container, slug) else None
    if draft is None:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    return _editor(request, container, operator, slug, policy_as_draft(slug, draft.current), draft=draft)


def _exists(container: Container, slug: str) -> bool:
    try:
        versions_of(container.uow(), slug)
    except NotFound:
        return False
    return True


def _day(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(0), SHANGHAI)
    except ValueError:
        return None


@router.post("/operator/policies/{slug}", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def editor_post(slug: Slug, request: Request, container: ContainerDep, user: OptionalUser) -> Response:
    operator = _operator_page(user)
    if not _exists(container, slug):
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2")
    form = await request.form()
    action = form_typed(form, "action")
    values: dict[str, Any] = {name: form_typed(form, name)[: inputs.AMOUNT_TEXT.max_length] for name in OPTIONS}
    # An unticked checkbox sends nothing: the option is then false, not "as before".
    values["trial_counts_as_activation"] = "true" if form.get("trial_counts_as_activation") else "false"
    since = form_typed(form, "since")[:40]
    based_on_text = form_typed(form, "based_on")
    based_on = (
        int(based_on_text) if based_on_text.isascii() and based_on_text.isdigit() and len(based_on_text) < 9 else None
    )
    try:
        if action not in ACTIONS:
            raise DraftInvalid([Problem("action", "policy.error.choice", {"choices": ", ".join(ACTIONS)})])
        if action == "publish":
            done = publish(container.uow(), {"product": slug, **values}, based_on, container.now(), operator.id)
            flag = "published" if done.created else "unchanged"
            return redirect(f"/operator/policies/{slug}?{flag}={done.version}")
        draft = draft_of(container.uow(), {"product": slug, **values})
        result = None
        if action == "simulate":
            start = _day(since)
            if start is None:
                raise DraftInvalid([Problem("since", "policy.error.since")])
            settings = container.settings
            result = simulate(
                container.uow(),
                draft,
                start,
                review_minutes=settings.policy_review_minutes,
                workday_minutes=settings.policy_workday_minutes,
                keep_changes=PAGE_CHANGES,
            )
    except DraftInvalid as invalid:
        return _editor(request, container, operator, slug, values, problems=invalid.problems, since=since, status=422)
    return _editor(request, container, operator, slug, values, draft=draft, result=result, since=since)
