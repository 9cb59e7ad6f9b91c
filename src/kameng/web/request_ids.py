"""Every request gets an id: the one a proxy sent (``X-Request-ID``, if it looks like one) or a new
one. It is echoed in the answer's header, named by every log line of the request (a context
variable, :mod:`kameng.platform.logs`), stored on the outbox rows the request queued, and shown
on the 500 page, so a person's reference, the proxy's log and ours all meet.
"""

from __future__ import annotations

from starlette.requests import Request

from kameng.platform.logs import REQUEST_ID_HEADER, new_request_id, sane_request_id

# Where :class:`kameng.web.envelope.Envelope` keeps the id in the scope's state.
REQUEST_ID_SCOPE_KEY = "request_id"


def request_id_of(request: Request) -> str:
    """The id :class:`kameng.web.envelope.Envelope` gave this request (a sane incoming one, else a new one, when the
    middleware did not run)."""
    given = request.scope.get("state", {}).get(REQUEST_ID_SCOPE_KEY)
    if isinstance(given, str):
        return given
    return sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
