"""Small async factories: unique values per call, real services underneath."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from backend import clock
from backend.security import signatures
from backend.stores import service as stores

_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}{secrets.token_hex(2)}"


def unique_phone() -> str:
    return f"137{next(_seq):08d}"


async def make_store(code: str | None = None, name: str = "测试门店") -> Any:
    return await stores.create_store(code=code or unique("S"), name=name)


async def make_staff(stack: Any, *, role: str = "clerk", store: Any = None, password: str = "correct-horse-1",
                     username: str | None = None) -> tuple[Any, str]:
    """A staff account and a bearer token for it, obtained through the real login endpoint."""
    if role == "clerk" and store is None:
        store = await make_store()
    username = username or unique(role)
    staff = await stores.create_staff(username=username, password=password, role=role,
                                      store_code=store.code if store else None)
    response = await stack.http.post("/api/v1/staff/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return staff, response.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_app_key(stack: Any) -> tuple[str, str]:
    created = await stores.create_app_key(name=unique("mall"), pii=stack.pii)
    return created.key.key_id, created.secret


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes, *,
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(clock.now().timestamp()))
    nonce = nonce or secrets.token_hex(12)
    return {"X-App-Key": key_id, "X-Timestamp": ts, "X-Nonce": nonce, "Content-Type": "application/json",
            "X-Signature": signatures.sign(secret, method, path, ts, nonce, body)}


async def wechat_login(stack: Any, *, openid: str | None = None, unionid: str | None = None) -> dict[str, Any]:
    """A WeChat user logs in through the real gateway and the fake WeChat API; returns the session body."""
    code = unique("code-")
    stack.wechat.add_code(code, openid=openid or unique("openid-"), unionid=unionid)
    response = await stack.http.post("/api/v1/mp/session", json={"code": code})
    assert response.status_code == 200, response.text
    return response.json()


async def register_mp(stack: Any, phone: str, *, token: str | None = None, unionid: str | None = None,
                      expect: int | None = None, **fields: Any) -> Any:
    """Log in (unless a token is given) and register ``phone`` through the phone-number API."""
    if token is None:
        token = (await wechat_login(stack, unionid=unionid))["token"]
    phone_code = unique("pc-")
    stack.wechat.add_phone_code(phone_code, phone)
    response = await stack.http.post("/api/v1/mp/register", json={"phone_code": phone_code, **fields},
                                     headers=bearer(token))
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


async def counter_register(stack: Any, clerk_token: str, phone: str, **fields: Any) -> Any:
    return await stack.http.post("/api/v1/store/members", json={"phone": phone, **fields},
                                 headers=bearer(clerk_token))


async def member_token(stack: Any, phone: str | None = None, **fields: Any) -> tuple[int, str]:
    """A member registered in the mini-program: (member id, member token)."""
    body = (await register_mp(stack, phone or unique_phone(), expect=201, **fields)).json()
    return body["member_id"], body["token"]


async def scan_token(stack: Any, clerk_token: str, token: str) -> str:
    """The clerk scans the member's dynamic code: the scan_token for this store."""
    code = (await stack.http.get("/api/v1/mp/me/code", headers=bearer(token))).json()["code"]
    response = await stack.http.post("/api/v1/store/scan", json={"code": code}, headers=bearer(clerk_token))
    assert response.status_code == 200, response.text
    return response.json()["scan_token"]


async def assert_order_figures_hold(member_id: int) -> None:
    """The member's order figures are what its orders say, computed here from the order rows one by one:
    orders refunded in full do not count, amounts are net of refunds; a row once the member had an order."""
    from backend.loyalty.models import MemberOrderStats, Order

    rows = await Order.filter(member_id=member_id).values_list("status", "amount_cents", "refunded_cents",
                                                                "placed_at")
    counted = [row for row in rows if row[0] != "refunded"]
    expected = (len(counted), sum(amount - refunded for _, amount, refunded, _ in counted),
                min((row[3] for row in counted), default=None), max((row[3] for row in counted), default=None))
    kept = await MemberOrderStats.get_or_none(member_id=member_id)
    if kept is None:
        assert not counted, (member_id, expected)
        return
    assert (kept.order_count, kept.amount_cents, kept.first_order_at, kept.last_order_at) == expected, (
        member_id, expected)


async def assert_ledgers_hold(member_id: int) -> None:
    """The invariants: balances equal their ledgers and the live lots; nothing negative; the member's order
    figures equal its orders."""
    from backend.loyalty.models import LoyaltyAccount, PointsEntry, PointsLot, WalletEntry

    await assert_order_figures_hold(member_id)
    account = await LoyaltyAccount.get_or_none(member_id=member_id)
    if account is None:
        assert not await PointsEntry.exists(member_id=member_id)
        return
    entries = await PointsEntry.filter(member_id=member_id).values_list("points", "debt_delta")
    lots = await PointsLot.filter(member_id=member_id).values_list("remaining", flat=True)
    wallet = await WalletEntry.filter(member_id=member_id).values_list("principal_cents", "bonus_cents")
    assert account.points_balance == sum(p for p, _ in entries) == sum(lots), (account.points_balance, entries, lots)
    assert account.points_debt == sum(d for _, d in entries)
    assert account.principal_cents == sum(p for p, _ in wallet)
    assert account.bonus_cents == sum(b for _, b in wallet)
    assert min(account.points_balance, account.points_debt, account.principal_cents, account.bonus_cents) >= 0
    assert all(remaining >= 0 for remaining in lots)


async def burst(stack: Any, requests: list[tuple[str, str, dict[str, Any]]], per_client: int = 100) -> list[Any]:
    """Send all ``(method, path, kwargs)`` at once, spread over several HTTP clients: one client's
    pool bookkeeping grows quadratically with hundreds of queued requests and would be the bottleneck."""
    import asyncio

    import httpx

    clients = [httpx.AsyncClient(base_url=stack.base_url, timeout=120,
                                 limits=httpx.Limits(max_connections=per_client))
               for _ in range(0, len(requests), per_client)]
    try:
        return list(await asyncio.gather(*[
            clients[i // per_client].request(method, path, **kwargs) for i, (method, path, kwargs) in
            enumerate(requests)]))
    finally:
        for client in clients:
            await client.aclose()
