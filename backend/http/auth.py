"""One decorator per audience: ``member_required``, ``staff_required(*roles)``, ``app_signed``.

Each sets what the handler needs on ``request.ctx``: ``member_id``; ``staff`` (a ``StaffPrincipal``);
``app_key`` (the ``AppKey`` row). Failures are 401 ``UNAUTHENTICATED`` or 403 ``FORBIDDEN``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from sanic import Request

from backend import clock, db
from backend.errors import Forbidden, Unauthenticated
from backend.http.docs import secured
from backend.security import nonces, signatures, tokens
from backend.stores.models import AppKey
from backend.stores.service import verification_secrets

Handler = Callable[..., Awaitable[Any]]

MEMBER_AUDIENCE = "member"
VISITOR_AUDIENCE = "mp_visitor"
STAFF_AUDIENCE = "staff"


@dataclass(frozen=True)
class StaffPrincipal:
    id: int
    username: str
    role: str
    store_id: int | None


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(details={"reason": "missing_token"})
    return token.strip()


def member_required(handler: Handler) -> Handler:
    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        claims = tokens.verify(request.app.ctx.settings.secret_key, bearer(request), audience=MEMBER_AUDIENCE)
        request.ctx.member_id = int(claims["sub"])
        return await handler(request, *args, **kwargs)

    return secured("member_token")(wrapper)


def shopper_required(handler: Handler) -> Handler:
    """A member token or a visitor token (WeChat user without a member yet): for registration."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        token, secret = bearer(request), request.app.ctx.settings.secret_key
        try:
            claims = tokens.verify(secret, token, audience=VISITOR_AUDIENCE)
            request.ctx.member_id, request.ctx.wechat_account_id = None, int(claims["sub"])
        except Unauthenticated as visitor_error:
            if visitor_error.details.get("reason") == "expired":
                raise
            claims = tokens.verify(secret, token, audience=MEMBER_AUDIENCE)
            request.ctx.member_id, request.ctx.wechat_account_id = int(claims["sub"]), claims.get("wa")
        return await handler(request, *args, **kwargs)

    return secured("member_token")(wrapper)


def staff_required(*roles: str) -> Callable[[Handler], Handler]:
    """Staff of one of ``roles`` (all staff roles when none are named)."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            claims = tokens.verify(request.app.ctx.settings.secret_key, bearer(request), audience=STAFF_AUDIENCE)
            staff = await db.fetch_one(
                "SELECT id, username, role, store_id, active, token_version FROM staff_accounts WHERE id = $1",
                int(claims["sub"]))
            # A deactivated account or a bumped token version revokes tokens at once.
            if staff is None or not staff["active"] or staff["token_version"] != claims.get("ver"):
                raise Unauthenticated("账号已停用或登录已失效，请重新登录")
            if roles and staff["role"] not in roles:
                raise Forbidden(details={"required_roles": list(roles)})
            request.ctx.staff = StaffPrincipal(staff["id"], staff["username"], staff["role"], staff["store_id"])
            return await handler(request, *args, **kwargs)

        return secured("staff_token")(wrapper)

    return decorate


def app_signed(handler: Handler) -> Handler:
    """HMAC-SHA256 over method, path, timestamp, nonce and body hash; see ``security.signatures``."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        settings = request.app.ctx.settings
        key_id = request.headers.get("x-app-key", "")
        timestamp = request.headers.get("x-timestamp", "")
        nonce = request.headers.get("x-nonce", "")
        signature = request.headers.get("x-signature", "")
        if not (key_id and timestamp and nonce and signature):
            raise Unauthenticated("缺少签名请求头", details={"reason": "missing_signature_headers"})
        # ASCII digits only: "²" passes isdigit() and then breaks int().
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12 or not 8 <= len(nonce) <= 64:
            raise Unauthenticated(details={"reason": "malformed_signature_headers"})
        if abs(clock.now().timestamp() - int(timestamp)) > settings.signature_max_skew_s:
            raise Unauthenticated("请求时间戳已过期", details={"reason": "stale_timestamp"})
        app_key = await AppKey.get_or_none(key_id=key_id, active=True)
        # After a rotation the replaced secret still signs until its overlap ends.
        candidates = (verification_secrets(app_key, pii=request.app.ctx.pii, now=clock.now()) if app_key
                      else ["x" * 43])
        path = request.path + (f"?{request.query_string}" if request.query_string else "")
        valid = any(signatures.signature_matches(secret, signature, request.method, path, timestamp, nonce,
                                                 request.body or b"") for secret in candidates)
        if app_key is None or not valid:
            raise Unauthenticated("签名无效", details={"reason": "bad_signature"})
        # Used nonces live in the database (security.nonces): a Redis restart must not forget them.
        if not await nonces.claim(app_key=key_id, nonce=nonce, timestamp=int(timestamp), now=clock.now()):
            raise Unauthenticated("请求已被使用（重放）", details={"reason": "nonce_reused"})
        request.ctx.app_key = app_key
        return await handler(request, *args, **kwargs)

    return secured("app_signature")(wrapper)
