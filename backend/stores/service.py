"""Stores, staff accounts and integration app keys."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import audit, clock
from backend.errors import Forbidden, Unauthenticated, error, field_errors
from backend.security.passwords import hash_password, verify_password
from backend.security.pii import PiiCipher
from backend.stores.models import APP_ACTIONS, APP_CHANNELS, ROLES, AppKey, StaffAccount, Store, full_scope

StoreCodeTaken = error("STORE_CODE_TAKEN", 409, "门店编码已存在")
UsernameTaken = error("USERNAME_TAKEN", 409, "用户名已存在")
StoreNotFound = error("STORE_NOT_FOUND", 404, "门店不存在")
InvalidCredentials = error("INVALID_CREDENTIALS", 401, "用户名或密码错误")

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
MIN_PASSWORD = 8


async def create_store(*, code: str, name: str, actor: audit.Actor = audit.SYSTEM) -> Store:
    """Create a store; its code is what staff and integrations name it by."""
    if not _CODE.match(code or ""):
        raise field_errors({"code": "门店编码只能包含字母、数字、- 和 _，最长 32 位"})
    if not (name or "").strip():
        raise field_errors({"name": "必填"})
    try:
        async with in_transaction() as conn:
            store = await Store.create(code=code, name=name.strip(), using_db=conn)
            await audit.record(actor=actor, action="store.create", target_type="store", target_id=store.id,
                               after={"code": code, "name": store.name}, using_db=conn)
    except IntegrityError:
        raise StoreCodeTaken(details={"code": code}) from None
    return store


async def get_store_by_code(*, code: str) -> Store:
    store = await Store.get_or_none(code=code)
    if store is None:
        raise StoreNotFound(details={"code": code})
    return store


async def create_staff(*, username: str, password: str, role: str, store_code: str | None = None,
                       actor: audit.Actor = audit.SYSTEM) -> StaffAccount:
    """Create a staff account; clerks must be bound to a store."""
    problems: dict[str, str] = {}
    if not _USERNAME.match(username or ""):
        problems["username"] = "用户名为 3-64 位字母、数字或 _.@-"
    if len(password or "") < MIN_PASSWORD:
        problems["password"] = f"密码至少 {MIN_PASSWORD} 位"
    if role not in ROLES:
        problems["role"] = f"角色应为 {' / '.join(ROLES)}"
    if role == "clerk" and not store_code:
        problems["store"] = "店员必须绑定门店"
    if problems:
        raise field_errors(problems)
    store = await get_store_by_code(code=store_code) if store_code else None
    password_hash = await hash_password(password)
    try:
        async with in_transaction() as conn:
            staff = await StaffAccount.create(username=username, password_hash=password_hash, role=role,
                                              store=store, using_db=conn)
            await audit.record(actor=actor, action="staff.create", target_type="staff", target_id=staff.id,
                               after={"username": username, "role": role, "store": store_code}, using_db=conn)
    except IntegrityError:
        raise UsernameTaken(details={"username": username}) from None
    return staff


async def authenticate_staff(*, username: str, password: str) -> StaffAccount:
    """The active account for these credentials; one generic 401 for every failure."""
    staff = await StaffAccount.get_or_none(username=username)
    ok = await verify_password(staff.password_hash if staff else None, password)
    if staff is None or not ok or not staff.active:
        raise InvalidCredentials()
    if staff.store_id is not None:
        store = await Store.get(id=staff.store_id)
        if not store.active:
            raise Unauthenticated("门店已停用")
    return staff


# -- app keys ------------------------------------------------------------------------------------------

AppKeyNotFound = error("APP_KEY_NOT_FOUND", 404, "应用密钥不存在")
AppKeyRevoked = error("APP_KEY_REVOKED", 409, "应用密钥已吊销，不能再修改或轮换")

DEFAULT_OVERLAP_S = 24 * 3600
MAX_OVERLAP_S = 30 * 24 * 3600
_SECRET_BYTES = 32


@dataclass(frozen=True)
class NewAppKey:
    key: AppKey
    secret: str  # shown once, at creation or rotation


@dataclass(frozen=True)
class Scope:
    """What one key may do: actions, for which channels, at which stores (``None``: every store)."""

    channels: frozenset[str]
    store_ids: frozenset[int] | None
    actions: frozenset[str]

    @classmethod
    def of(cls, key: AppKey) -> Scope:
        data = key.scopes or full_scope()
        store_ids = data.get("store_ids")
        return cls(frozenset(data.get("channels") or ()), None if store_ids is None else frozenset(store_ids),
                   frozenset(data.get("actions") or ()))

    def require(self, action: str, *, channel: str | None = None) -> None:
        """403 unless the key may do ``action`` (for ``channel``): refused before anything is looked up."""
        if action not in self.actions:
            raise Forbidden("该应用密钥无权执行此操作", details={"reason": "action_not_in_scope", "action": action})
        if channel is not None and channel not in self.channels:
            raise Forbidden("该应用密钥无权操作此渠道", details={"reason": "channel_not_in_scope", "channel": channel})

    def require_store(self, store_id: int | None) -> None:
        """403 unless the key may write for ``store_id``; a store-bound key must name one of its stores."""
        if self.store_ids is not None and store_id not in self.store_ids:
            raise Forbidden("该应用密钥无权操作此门店",
                            details={"reason": "store_not_in_scope", "store_id": store_id})


async def check_scopes(scopes: dict[str, Any]) -> dict[str, Any]:
    """The scopes as stored (in the catalogue's order, without repeats), or a 400 naming the bad part."""
    channels = list(scopes.get("channels") or [])
    actions = list(scopes.get("actions") or [])
    store_ids = scopes.get("store_ids")
    problems: dict[str, str] = {}
    if not channels or any(channel not in APP_CHANNELS for channel in channels):
        problems["scopes.channels"] = f"渠道应为 {' / '.join(APP_CHANNELS)} 中的一个或多个"
    if not actions or any(action not in APP_ACTIONS for action in actions):
        problems["scopes.actions"] = f"操作应为 {' / '.join(APP_ACTIONS)} 中的一个或多个"
    if store_ids is not None:
        store_ids = sorted(set(store_ids))
        if not store_ids:
            problems["scopes.store_ids"] = "不限门店请传 null；限定门店时至少一个"
        else:
            found = set(await Store.filter(id__in=store_ids).values_list("id", flat=True))
            missing = [store_id for store_id in store_ids if store_id not in found]
            if missing:
                problems["scopes.store_ids"] = f"门店不存在：{', '.join(map(str, missing))}"
    if problems:
        raise field_errors(problems)
    return {"channels": [c for c in APP_CHANNELS if c in channels], "store_ids": store_ids,
            "actions": [a for a in APP_ACTIONS if a in actions]}


def verification_secrets(key: AppKey, *, pii: PiiCipher, now: datetime) -> list[str]:
    """The secrets a signature may use now: the current one, and the replaced one until its overlap ends."""
    found = [pii.decrypt(key.secret_enc)]
    if key.previous_secret_enc and key.previous_secret_until and now < key.previous_secret_until:
        found.append(pii.decrypt(key.previous_secret_enc))
    return found


def app_key_status(key: AppKey) -> str:
    return "active" if key.active else "revoked"


async def get_app_key(*, app_key_id: int) -> AppKey:
    key = await AppKey.get_or_none(id=app_key_id)
    if key is None:
        raise AppKeyNotFound(details={"app_key_id": app_key_id})
    return key


async def create_app_key(*, name: str, pii: PiiCipher, scopes: dict[str, Any] | None = None,
                         actor: audit.Actor = audit.SYSTEM) -> NewAppKey:
    """A new integration key and secret (every scope unless ``scopes``); the secret is stored encrypted
    and shown only now."""
    if not (name or "").strip():
        raise field_errors({"name": "必填"})
    stored = await check_scopes(scopes) if scopes is not None else full_scope()
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    async with in_transaction() as conn:
        key = await AppKey.create(name=name.strip(), key_id="ak_" + secrets.token_hex(12),
                                  secret_enc=pii.encrypt(secret), scopes=stored, using_db=conn)
        await audit.record(actor=actor, action="app_key.create", target_type="app_key", target_id=key.key_id,
                           after={"name": key.name, "scopes": stored}, using_db=conn)
    return NewAppKey(key, secret)


async def update_app_key(*, app_key_id: int, actor: audit.Actor, name: str | None = None,
                         scopes: dict[str, Any] | None = None) -> AppKey:
    """Rename a key or change its scopes; the next request it signs is judged by the new scopes."""
    if name is not None and not name.strip():
        raise field_errors({"name": "必填"})
    stored = await check_scopes(scopes) if scopes is not None else None
    async with in_transaction() as conn:
        key = await _locked(conn, app_key_id)
        before = {"name": key.name, "scopes": key.scopes}
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name.strip()
        if stored is not None:
            changes["scopes"] = stored
        if not changes:
            return key
        await AppKey.filter(id=key.id).using_db(conn).update(**changes)
        await audit.record(actor=actor, action="app_key.update", target_type="app_key", target_id=key.key_id,
                           before=before, after={**before, **changes}, using_db=conn)
    return await get_app_key(app_key_id=app_key_id)


async def rotate_app_key(*, app_key_id: int, pii: PiiCipher, actor: audit.Actor,
                         overlap_s: int = DEFAULT_OVERLAP_S) -> NewAppKey:
    """A new secret that works at once; the replaced one keeps working for ``overlap_s`` seconds (0: stops
    now). A second rotation within the overlap retires the oldest secret at once: one previous at a time."""
    if not 0 <= overlap_s <= MAX_OVERLAP_S:
        raise field_errors({"overlap_s": f"应在 0 到 {MAX_OVERLAP_S} 秒之间"})
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    now = clock.now()
    until = now + timedelta(seconds=overlap_s)
    async with in_transaction() as conn:
        # The row lock orders concurrent rotations: each keeps the secret the one before it issued.
        key = await _locked(conn, app_key_id)
        await AppKey.filter(id=key.id).using_db(conn).update(
            secret_enc=pii.encrypt(secret), previous_secret_enc=key.secret_enc if overlap_s else None,
            previous_secret_until=until if overlap_s else None, rotated_at=now)
        await audit.record(actor=actor, action="app_key.rotate", target_type="app_key", target_id=key.key_id,
                           after={"previous_secret_until": until.isoformat() if overlap_s else None},
                           using_db=conn)
    return NewAppKey(await get_app_key(app_key_id=app_key_id), secret)


async def revoke_app_key(*, app_key_id: int, actor: audit.Actor, reason: str | None = None) -> AppKey:
    """Stop a key at once: its next request, whichever secret signs it, is refused. Revoking again changes
    nothing."""
    key = await get_app_key(app_key_id=app_key_id)
    async with in_transaction() as conn:
        revoked = await AppKey.filter(id=key.id, active=True).using_db(conn).update(
            active=False, revoked_at=clock.now(), previous_secret_enc=None, previous_secret_until=None)
        if revoked:
            await audit.record(actor=actor, action="app_key.revoke", target_type="app_key",
                               target_id=key.key_id, after={"reason": reason}, using_db=conn)
    return await get_app_key(app_key_id=app_key_id)


async def _locked(conn: Any, app_key_id: int) -> AppKey:
    key = await AppKey.filter(id=app_key_id).using_db(conn).select_for_update().first()
    if key is None:
        raise AppKeyNotFound(details={"app_key_id": app_key_id})
    if not key.active:
        raise AppKeyRevoked(details={"app_key_id": app_key_id})
    return key
