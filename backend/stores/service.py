"""Stores, staff accounts and integration app keys."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import audit
from backend.errors import Unauthenticated, error, field_errors
from backend.security.passwords import hash_password, verify_password
from backend.security.pii import PiiCipher
from backend.stores.models import ROLES, AppKey, StaffAccount, Store

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


@dataclass(frozen=True)
class NewAppKey:
    key: AppKey
    secret: str  # shown once, at creation


async def create_app_key(*, name: str, pii: PiiCipher, actor: audit.Actor = audit.SYSTEM) -> NewAppKey:
    """A new integration key and secret; the secret is stored encrypted and shown only now."""
    if not (name or "").strip():
        raise field_errors({"name": "必填"})
    secret = secrets.token_urlsafe(32)
    async with in_transaction() as conn:
        key = await AppKey.create(name=name.strip(), key_id="ak_" + secrets.token_hex(12),
                                  secret_enc=pii.encrypt(secret), using_db=conn)
        await audit.record(actor=actor, action="app_key.create", target_type="app_key", target_id=key.key_id,
                           after={"name": key.name}, using_db=conn)
    return NewAppKey(key, secret)
