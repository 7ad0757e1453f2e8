"""The audit log: who (staff, member, app or system) did what, to which member, before and after.

An erased member's rows keep who and what, and the names of the fields changed, not the values
(``scrub_member``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

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


# What an erased value reads as. Erasure keeps each row's who and what (actor, action, target) and the
# names of the fields it touched; the values go.
ERASED = "[erased]"
# Rows about the erasure itself (and the exports before it) keep their values: the accountability
# record of who asked for the member's data and why, with the member's own values masked out.
PRIVACY_ACTIONS = ("member.export", "member.erase", "member.delete")


def names_only(value: Any) -> Any:
    """``{"email": "a@b.cn"}`` -> ``{"email": "[erased]"}``; any other value but None -> ``"[erased]"``."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(key): ERASED for key in value}
    return ERASED


def mask_values(value: Any, values: list[str], mask: str = "***") -> Any:
    """``value`` with every occurrence of each of ``values`` in its strings replaced by ``mask``."""
    if isinstance(value, str):
        for secret in values:
            value = value.replace(secret, mask)
        return value
    if isinstance(value, dict):
        return {key: mask_values(item, values, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_values(item, values, mask) for item in value]
    return value


async def scrub_member(*, member_ids: list[int], values: list[str], using_db: BaseDBAsyncClient) -> int:
    """Erase the values of every audit row about these members (by member or as the target member);
    privacy rows keep theirs with ``values`` masked. Returns the rows changed."""
    rows = await AuditLog.filter(Q(member_id__in=member_ids) | Q(
        target_type="member", target_id__in=[str(member_id) for member_id in member_ids])).using_db(using_db)
    changed = 0
    for row in rows:
        if row.action in PRIVACY_ACTIONS:
            before, after = mask_values(row.before, values), mask_values(row.after, values)
        else:
            before, after = names_only(row.before), names_only(row.after)
        if (before, after) != (row.before, row.after):
            await AuditLog.filter(id=row.id).using_db(using_db).update(before=before, after=after)
            changed += 1
    return changed
