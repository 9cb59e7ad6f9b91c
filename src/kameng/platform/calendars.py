"""Loading the working-day calendar with the operator's overrides, if any."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kameng.domain.calendar import CalendarError, WorkCalendar
from kameng.platform.documents import DocumentError, load_document


def load_calendar(path: Path | None) -> WorkCalendar:
    """The official calendar, with the overrides file at ``path`` applied when given.

    Raises :class:`CalendarError` naming the file and the entry when the file is unusable: a
    calendar that silently ignored a bad override would promise consumers the wrong dates.
    """
    if path is None:
        return WorkCalendar()
    try:
        data = load_document(path.read_text(encoding="utf-8"), str(path))
    except OSError as error:
        raise CalendarError(f"{path}: cannot read: {error.strerror}") from None
    except DocumentError as error:
        raise CalendarError(str(error)) from None
    if not isinstance(data, Mapping):
        raise CalendarError(f"{path}: must be a mapping with years, holidays and workdays")
    try:
        return WorkCalendar.from_override_data(data)
    except CalendarError as error:
        raise CalendarError(f"{path}: {error}") from None
