"""Shopper sessions: WeChat login, member and visitor tokens, refresh-token rotation.

A WeChat user who has not bound a phone yet gets a *visitor* token (audience ``mp_visitor``) that
can only register; a member gets a member token (audience ``member``). Both come with a refresh
token: opaque, stored hashed, single use; presenting a used one revokes every token of its holder
(a stolen token was replayed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import clock
from backend.errors import Unauthenticated
from backend.members import events
from backend.members.models import Member, MemberIdentity, RefreshToken, WeChatAccount
from backend.security import tokens
from backend.security.pii import PiiCipher
from backend.settings import Settings

MEMBER_AUDIENCE = "member"
VISITOR_AUDIENCE = "mp_visitor"


@dataclass(frozen=True)
class SessionTokens:
    token: str
    refresh_token: str
    expires_in: int
    registered: bool
    member_id: int | None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"token": self.token, "refresh_token": self.refresh_token,
                                "expires_in": self.expires_in, "registered": self.registered}
        if self.member_id is not None:
            body["member_id"] = self.member_id
        return body


async def issue_tokens(*, settings: Settings, member_id: int | None, account_id: int | None) -> SessionTokens:
    """A member token when ``member_id`` is known, else a visitor token for the WeChat account."""
    now = clock.now()
    if member_id is not None:
        claims = {"wa": account_id} if account_id else {}
        access = tokens.issue(settings.secret_key, audience=MEMBER_AUDIENCE, subject=str(member_id),
                              ttl_s=settings.member_token_ttl_s, claims=claims)
        subject = f"member:{member_id}"
    else:
        access = tokens.issue(settings.secret_key, audience=VISITOR_AUDIENCE, subject=str(account_id),
                              ttl_s=settings.member_token_ttl_s)
        subject = f"wechat:{account_id}"
    refresh = tokens.new_opaque_token()
    await RefreshToken.create(token_hash=tokens.hash_opaque_token(refresh), subject=subject,
                              expires_at=now + timedelta(seconds=settings.member_refresh_ttl_s), created_at=now)
    return SessionTokens(access, refresh, settings.member_token_ttl_s, member_id is not None, member_id)


async def wechat_login(*, settings: Settings, pii: PiiCipher, app_id: str, openid: str, unionid: str | None,
                       session_key: str) -> SessionTokens:
    """Remember the WeChat account (session_key encrypted, server-side only) and open a session."""
    now = clock.now()
    account = await WeChatAccount.get_or_none(app_id=app_id, openid=openid)
    if account is None:
        try:
            account = await WeChatAccount.create(app_id=app_id, openid=openid, unionid=unionid,
                                                 session_key_enc=pii.encrypt(session_key), created_at=now,
                                                 updated_at=now)
        except IntegrityError:  # the same user logged in twice at once
            account = await WeChatAccount.get(app_id=app_id, openid=openid)
    await WeChatAccount.filter(id=account.id).update(
        session_key_enc=pii.encrypt(session_key), unionid=unionid or account.unionid, updated_at=now)
    member_id = account.member_id
    if member_id is not None and not await Member.exists(id=member_id, status="active"):
        member_id = None
    if member_id is None and unionid:
        # The same person is a member through another app of the merchant (same unionid): join it.
        identity = await MemberIdentity.get_or_none(kind="unionid", app_id="", value=unionid)
        if identity is not None:
            member_id = await _attach_openid(account=account, member_id=identity.member_id)
    return await issue_tokens(settings=settings, member_id=member_id, account_id=account.id)


async def _attach_openid(*, account: WeChatAccount, member_id: int) -> int | None:
    async with in_transaction() as conn:
        bound = await WeChatAccount.filter(id=account.id, member_id__isnull=True).using_db(conn).update(
            member_id=member_id, updated_at=clock.now())
        if not bound:
            return None
        await MemberIdentity.create(member_id=member_id, kind="openid", app_id=account.app_id, value=account.openid,
                                    created_at=clock.now(), using_db=conn)
        await events.append(member_id=member_id, type="wechat_bound", channel="miniprogram",
                            payload={"app_id": account.app_id, "via": "unionid"}, using_db=conn)
    return member_id


async def refresh(*, settings: Settings, refresh_token: str) -> SessionTokens:
    """Rotate: the presented refresh token is spent and a new pair issued."""
    now = clock.now()
    token_hash = tokens.hash_opaque_token(refresh_token)
    record = await RefreshToken.get_or_none(token_hash=token_hash)
    if record is None or record.expires_at <= now:
        raise Unauthenticated("登录已过期，请重新登录", details={"reason": "refresh_invalid"})
    spent = await RefreshToken.filter(id=record.id, used_at__isnull=True).update(used_at=now)
    if not spent:
        # Reuse of a spent refresh token: someone else holds a copy. End every session of this holder.
        await RefreshToken.filter(subject=record.subject).delete()
        raise Unauthenticated("登录凭证已失效，请重新登录", details={"reason": "refresh_reused"})
    kind, _, raw_id = record.subject.partition(":")
    if kind == "member":
        if not await Member.exists(id=int(raw_id), status="active"):
            raise Unauthenticated(details={"reason": "member_inactive"})
        return await issue_tokens(settings=settings, member_id=int(raw_id), account_id=None)
    account = await WeChatAccount.get_or_none(id=int(raw_id))
    if account is None:
        raise Unauthenticated(details={"reason": "refresh_invalid"})
    member_id = account.member_id if account.member_id and await Member.exists(
        id=account.member_id, status="active") else None
    return await issue_tokens(settings=settings, member_id=member_id, account_id=account.id)


async def revoke_member_sessions(*, member_id: int, conn: Any = None) -> None:
    await RefreshToken.filter(subject=f"member:{member_id}").using_db(conn).delete()
