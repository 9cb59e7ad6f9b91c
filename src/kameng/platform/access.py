"""Who is asking: the viewer every service receives, so it can decide what they may see and do."""

from __future__ import annotations

from dataclasses import dataclass

from kameng.domain.users import Role


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    role: Role

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff
