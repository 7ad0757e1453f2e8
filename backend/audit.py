"""The audit log: who (staff, member, app or system) did what, to which member, before and after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend import clock
from backend.logs import request_id_var
from backend.stores.models import AuditLog


@dataclass(frozen=True)
class Actor:
    type: str  # staff | member | app | system
    id: str | None = None

    @classmethod
    def staff(cls, staff_id: int) -> Actor:
        return cls("staff", str(staff_id))

    @classmethod
    def member(cls, member_id: int) -> Actor:
        return cls("member", str(member_id))

    @classmethod
    def app(cls, key_id: str) -> Actor:
        return cls("app", key_id)


SYSTEM = Actor("system", None)


async def record(*, actor: Actor, action: str, member_id: int | None = None, target_type: str | None = None,
                 target_id: Any = None, before: Any = None, after: Any = None,
                 using_db: BaseDBAsyncClient | None = None) -> AuditLog:
    """Append one audit row; pass the transaction's connection so it commits with the change."""
    return await AuditLog.create(
        actor_type=actor.type, actor_id=actor.id, action=action, member_id=member_id,
        target_type=target_type, target_id=None if target_id is None else str(target_id),
        before=before, after=after, request_id=request_id_var.get(), created_at=clock.now(),
        using_db=using_db,
    )
