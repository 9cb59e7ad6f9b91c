"""TODO kameng.platform.access"""

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
