"""The official holiday schedules an operator loaded, one row per year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base


class CalendarYearRow(Base):
    """A year's published schedule (国务院办公厅 notice): the dates off on weekdays and the
    weekend dates worked (调休). Loading a year again replaces its row: the last load wins."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)  # ISO dates, sorted
    workdays: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(200), default="")  # a file name, or "pasted"
    loaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    loaded_at: Mapped[datetime]
