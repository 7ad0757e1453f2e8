"""Admin changes to stores and staff accounts: rename or deactivate a store; change a staff member's role,
store or active flag; reset a password. Every change is audited in its own transaction.

A password reset or a deactivation bumps ``token_version``, which revokes the account's tokens at once
(``backend.http.auth.staff_required``). An admin cannot deactivate or demote themselves, and the last
active admin cannot be deactivated or demoted by anyone.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend import audit
from backend.errors import error, field_errors
from backend.security.passwords import hash_password
from backend.stores.models import ROLES, StaffAccount, Store
from backend.stores.service import MIN_PASSWORD, StoreNotFound

StaffNotFound = error("STAFF_NOT_FOUND", 404, "员工账号不存在")
StaffSelfChange = error("STAFF_SELF_CHANGE", 409, "不能停用自己的账号或更改自己的角色")
LastAdmin = error("LAST_ADMIN", 409, "这是最后一个启用的管理员账号，不能停用或更改角色")

UNSET: Any = object()


def store_view(store: Store) -> dict[str, Any]:
    return {"id": store.id, "code": store.code, "name": store.name, "active": store.active}


def staff_view(staff: StaffAccount) -> dict[str, Any]:
    return {"id": staff.id, "username": staff.username, "role": staff.role, "store_id": staff.store_id,
            "active": staff.active}


async def update_store(*, store_id: int, actor: audit.Actor, name: str | None = None,
                       active: bool | None = None) -> Store:
    """Rename a store or change its active flag (a deactivated store's clerks can no longer log in)."""
    if name is not None and not name.strip():
        raise field_errors({"name": "必填"})
    async with in_transaction() as conn:
        store = await Store.filter(id=store_id).using_db(conn).select_for_update().first()
        if store is None:
            raise StoreNotFound(details={"store_id": store_id})
        before = {"name": store.name, "active": store.active}
        changes: dict[str, Any] = {}
        if name is not None and name.strip() != store.name:
            changes["name"] = name.strip()
        if active is not None and active != store.active:
            changes["active"] = active
        if not changes:
            return store
        await Store.filter(id=store.id).using_db(conn).update(**changes)
        await audit.record(actor=actor, action="store.update", target_type="store", target_id=store.id,
                           before={key: before[key] for key in changes}, after=changes, using_db=conn)
        store = await Store.get(id=store.id).using_db(conn)
    return store


async def _locked_staff(conn: BaseDBAsyncClient, staff_id: int) -> StaffAccount:
    staff = await StaffAccount.filter(id=staff_id).using_db(conn).select_for_update().first()
    if staff is None:
        raise StaffNotFound(details={"staff_id": staff_id})
    return staff


async def _lock_admins(conn: BaseDBAsyncClient) -> list[int]:
    """Lock every admin row in id order, so two admins demoting each other at once cannot both succeed
    (PostgreSQL; SQLite has one writer at a time) and never wait on each other in a circle."""
    return list(await (StaffAccount.filter(role="admin").using_db(conn).order_by("id")
                       .select_for_update().values_list("id", flat=True)))


async def update_staff(*, staff_id: int, by_staff_id: int, actor: audit.Actor, role: str | None = None,
                       store_id: int | None = UNSET, active: bool | None = None) -> StaffAccount:
    """Change a staff account's role, store (``None`` unbinds) or active flag; only what is given changes.

    A clerk must keep a store; deactivating bumps the token version (its tokens stop working at once)."""
    if role is not None and role not in ROLES:
        raise field_errors({"role": f"角色应为 {' / '.join(ROLES)}"})
    async with in_transaction() as conn:
        seen = await StaffAccount.filter(id=staff_id).using_db(conn).first()
        if seen is not None and seen.role == "admin":
            await _lock_admins(conn)  # before the row itself: the admin rows are always taken in id order
        staff = await _locked_staff(conn, staff_id)
        new_role = staff.role if role is None else role
        new_store_id = staff.store_id if store_id is UNSET else store_id
        new_active = staff.active if active is None else active
        if new_role == "clerk" and new_store_id is None:
            raise field_errors({"store_id": "店员必须绑定门店"})
        if new_store_id is not None and new_store_id != staff.store_id:
            if not await Store.filter(id=new_store_id).using_db(conn).exists():
                raise StoreNotFound(details={"store_id": new_store_id})
        loses_admin = staff.role == "admin" and staff.active and (new_role != "admin" or not new_active)
        if loses_admin and not await StaffAccount.filter(role="admin", active=True).exclude(
                id=staff.id).using_db(conn).exists():
            raise LastAdmin(details={"staff_id": staff.id})
        if staff.id == by_staff_id and (new_role != staff.role or not new_active):
            raise StaffSelfChange(details={"staff_id": staff.id})
        before = {"role": staff.role, "store_id": staff.store_id, "active": staff.active}
        after = {"role": new_role, "store_id": new_store_id, "active": new_active}
        changes = {key: value for key, value in after.items() if before[key] != value}
        if not changes:
            return staff
        update: dict[str, Any] = dict(changes)
        if not new_active and staff.active:
            update["token_version"] = staff.token_version + 1
        await StaffAccount.filter(id=staff.id).using_db(conn).update(**update)
        await audit.record(actor=actor, action="staff.update", target_type="staff", target_id=staff.id,
                           before={key: before[key] for key in changes},
                           after={**changes, **({"tokens_revoked": True} if "token_version" in update else {})},
                           using_db=conn)
        staff = await StaffAccount.get(id=staff.id).using_db(conn)
    return staff


async def reset_password(*, staff_id: int, password: str, actor: audit.Actor) -> StaffAccount:
    """Set a new password and revoke every token the account holds (the password itself is not audited)."""
    if len(password or "") < MIN_PASSWORD:
        raise field_errors({"password": f"密码至少 {MIN_PASSWORD} 位"})
    password_hash = await hash_password(password)
    async with in_transaction() as conn:
        staff = await _locked_staff(conn, staff_id)
        await StaffAccount.filter(id=staff.id).using_db(conn).update(
            password_hash=password_hash, token_version=staff.token_version + 1)
        await audit.record(actor=actor, action="staff.password_reset", target_type="staff", target_id=staff.id,
                           after={"tokens_revoked": True}, using_db=conn)
        staff = await StaffAccount.get(id=staff.id).using_db(conn)
    return staff
