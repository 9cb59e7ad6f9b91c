"""What the console's pages share: the operator-only dependency, the query's fields read under
one length limit, a refusal shown beside the form, and a download streamed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from kameng.accounts.models import User
from kameng.platform.errors import ErrorCode, InvalidInput, NotFound
from kameng.platform.i18n import Lang
from kameng.web.deps import OptionalUser, require_operator

MAX_FIELD = 100  # no filter value is longer; a longer one is refused before it is read


def operator_page(user: OptionalUser) -> User:
    """``require_operator`` for pages: the site's own 404 page, not a JSON answer."""
    try:
        return require_operator(user)
    except HTTPException:
        raise NotFound(ErrorCode.NOT_FOUND, "error.not_found.2") from None


OperatorUser = Depends(operator_page)


def query_values(request: Request, names: Sequence[str]) -> dict[str, str]:
    values = {}
    for name in names:
        value = request.query_params.get(name, "")
        if len(value) > MAX_FIELD:
            raise InvalidInput(ErrorCode.BAD_FILTER, "op.search.error.too_long", name)
        values[name] = value.strip()
    return values


def refusal(refused: InvalidInput, lang: Lang) -> dict[str, str]:
    return {"field": refused.field or "form", "message": refused.message(lang)}


def download(body: Iterator[bytes], name: str, media_type: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
