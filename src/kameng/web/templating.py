"""Pages in the request's language: the Jinja2 environment and :func:`render`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kameng.domain.money import format_yuan
from kameng.domain.users import mask_email, mask_phone
from kameng.platform.i18n import label, localtime, rule_label, rule_summary, rules_label, say, translate
from kameng.platform.inputs import FORM_LIMITS
from kameng.web.deps import csrf_token, request_lang

TEMPLATES = Path(__file__).parent / "templates"

# What every page's frame shows beside its own content (the unread-messages badge, say): read
# before rendering, so a template never queries anything. The app registers the providers.
PageContext = Callable[[Request, Any], dict[str, Any]]


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(
        t=translate,
        label=label,
        say=say,
        rule_label=rule_label,
        rules_label=rules_label,
        rule_summary=rule_summary,
        localtime=localtime,
        yuan=format_yuan,
        mask_phone=mask_phone,
        mask_email=mask_email,
        csrf_token=csrf_token,
        limits=FORM_LIMITS,
    )
    return templates


def render(request: Request, name: str, context: dict[str, Any], status: int = 200, user: Any = None) -> HTMLResponse:
    """Render a page in the request's language; a ``?lang=`` choice is remembered in a cookie."""
    lang = request_lang(request)
    templates: Jinja2Templates = request.app.state.templates
    frame: dict[str, Any] = {}
    for provide in request.app.state.page_context:
        frame.update(provide(request, user))
    response = templates.TemplateResponse(
        request, name, {"lang": lang, "user": user, **frame, **context}, status_code=status
    )
    if request.query_params.get("lang") in {"zh", "en"}:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
