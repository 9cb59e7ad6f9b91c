"""Form drafts and one-time notices for pages, carried across a redirect (and a new sign-in).

When a form cannot be sent (the session expired, the page's CSRF token went stale, a choice on
the form was refused and the page must be reloaded), what the person typed is kept server-side
(:mod:`kameng.platform.drafts`) and the session holds only the token, keyed by the form's action,
so the form's page fills the text back in when it is next shown. A notice (a catalog key) is shown
once, at the top of the next page rendered.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from kameng.accounts.sessions import SessionKind, owner_of
from kameng.container import Container
from kameng.platform.drafts import keep_draft, take_draft
from kameng.platform.errors import ServiceError
from kameng.platform.i18n import has_message
from kameng.web.deps import SESSION_SECRET
from kameng.web.forms import flash

DRAFTS = "drafts"  # session key: {form action: token}
NOTICE = "notice"  # session key: a catalog key shown once on the next page
MAX_DRAFTS = 5  # per session; the oldest token is forgotten first (its row expires on its own)


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def session_user_id(request: Request) -> int | None:
    """Whose session this cookie named, even if it has ended since (signed out elsewhere): the
    draft is theirs to take back when they sign in again."""
    secret = request.session.get(SESSION_SECRET)
    if not isinstance(secret, str):
        return None
    return owner_of(_container(request).uow(), SessionKind.PAGE, secret)


def keep(request: Request, form: str, fields: dict[str, str]) -> bool:
    """Keep ``fields`` typed in the form whose action is ``form``; False when nothing was typed."""
    if not any(value.strip() for value in fields.values()):
        return False
    container = _container(request)
    token = keep_draft(container.uow(), form, fields, session_user_id(request), container.now())
    drafts = request.session.get(DRAFTS)
    kept = {k: v for k, v in drafts.items() if k != form} if isinstance(drafts, dict) else {}
    kept[form] = token
    request.session[DRAFTS] = dict(list(kept.items())[-MAX_DRAFTS:])
    return True


def restore(request: Request, form: str, user_id: int, notice: str | None = "notice.draft_restored") -> dict[str, str]:
    """The fields kept for ``form`` (empty when none), taken once; ``notice`` says so on the page."""
    drafts = request.session.get(DRAFTS)
    if not isinstance(drafts, dict) or form not in drafts:
        return {}
    token = drafts.pop(form)
    request.session[DRAFTS] = drafts
    if not isinstance(token, str):
        return {}
    container = _container(request)
    fields = take_draft(container.uow(), token, form, user_id, container.now()) or {}
    if fields and notice:
        note(request, notice)
    return fields


def note(request: Request, key: str) -> None:
    """Show the catalog message ``key`` once, on the next page rendered for this session."""
    request.session[NOTICE] = key


def pending_notice(request: Request, user: Any) -> dict[str, Any]:
    """A page-frame provider (see ``web/templating.py``): the notice waiting for this page, if any."""
    key = request.session.pop(NOTICE, None) if "session" in request.scope else None
    return {"notice": key if isinstance(key, str) and has_message(key) else None}


def typed_back(
    request: Request, user: Any, page: str, actions: tuple[str, ...], flashed: dict[str, Any] | None
) -> dict[str, str]:
    """What was typed in one of a page's forms and not sent (refused by a service, or its session
    expired): ``{"action": ..., <field>: ...}``, taken back from its draft; empty when none."""
    typed = flashed.get("typed") if flashed else None
    refused = {str(k): str(v) for k, v in typed.items()} if isinstance(typed, dict) else {}
    # The refused form's draft first: its error is shown beside that form's fields.
    for action in sorted(actions, key=lambda name: name != refused.get("action")):
        # A refusal already says why on the page; only a draft found on its own needs the notice.
        kept = restore(request, f"{page}/{action}", user.id, notice=None if flashed else "notice.draft_restored")
        if kept:
            return {**kept, "action": action}
    return refused


def flash_keeping(request: Request, error: ServiceError, form: str, action: str, fields: dict[str, str]) -> None:
    """A refusal shown on the next page; the text typed goes to a server-side draft rather than the
    session cookie, which a long Chinese comment would overflow (the browser would then drop it)."""
    flash(request, error, {"action": action})
    keep(request, form, fields)
