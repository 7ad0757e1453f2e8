"""Staff login throttling: keyed by client address and by account from that address, with waits that
double past the free tries. Wrong passwords from an attacker's address end in 429 for that address and
never lock the real user out from theirs; a correct password clears the account's count.

Other client addresses are real: each attacker is an HTTP client bound to its own loopback address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from backend.ratelimit import ALARM, PER_ACCOUNT, PER_ADDRESS, Backoff
from backend.stores.models import StaffAccount
from tests.factories import bearer, make_staff, unique

PASSWORD = "correct-horse-1"


@asynccontextmanager
async def client_at(stack, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, transport=transport) as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str = "wrong-password") -> httpx.Response:
    return await client.post("/api/v1/staff/session", json={"username": username, "password": password})


async def statuses(client: httpx.AsyncClient, username: str, times: int) -> list[int]:
    return [(await login(client, username)).status_code for _ in range(times)]


async def assert_logged_in(stack, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    listed = await stack.http.get("/api/v1/admin/message-templates", headers=bearer(response.json()["token"]))
    assert listed.status_code == 200


def assert_waits(response: httpx.Response, seconds: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == {"code": "RATE_LIMITED", "message": "请求过于频繁，请稍后再试",
                                        "details": {"retry_after_s": seconds}}
    assert response.headers["Retry-After"] == str(seconds)


async def test_an_address_hammering_wrong_passwords_never_stops_the_real_user_logging_in_from_another(stack):
    admin, _ = await make_staff(stack, role="admin")
    async with client_at(stack, "127.0.0.2") as attacker:
        hammered = await statuses(attacker, admin.username, 30)
        refused = await login(attacker, admin.username)

    assert hammered == [401] * PER_ACCOUNT.free + [429] * (30 - PER_ACCOUNT.free)
    assert_waits(refused, 1)
    mistyped = await login(stack.http, admin.username)  # the real user's own address: still the free tries
    assert mistyped.status_code == 401 and mistyped.json()["error"]["code"] == "INVALID_CREDENTIALS"
    await assert_logged_in(stack, await login(stack.http, admin.username, PASSWORD))
    account = await StaffAccount.get(id=admin.id)
    assert account.active and account.token_version == admin.token_version


async def test_an_address_spraying_wrong_passwords_over_many_accounts_is_answered_429(stack):
    admin, _ = await make_staff(stack, role="admin")
    async with client_at(stack, "127.0.0.3") as attacker:
        sprayed = [(await login(attacker, unique("guess"))).status_code for _ in range(PER_ADDRESS.free + 5)]
        real_password_from_there = await login(attacker, admin.username, PASSWORD)

    assert sprayed == [401] * PER_ADDRESS.free + [429] * 5
    assert_waits(real_password_from_there, 1)  # the address waits, whoever it names
    await assert_logged_in(stack, await login(stack.http, admin.username, PASSWORD))


async def test_the_wait_doubles_with_each_failure_past_the_free_tries(stack):
    admin, _ = await make_staff(stack, role="admin")
    waits = []
    async with client_at(stack, "127.0.0.4") as attacker:
        assert await statuses(attacker, admin.username, PER_ACCOUNT.free) == [401] * PER_ACCOUNT.free
        for _ in range(4):
            refused = await login(attacker, admin.username)
            waits.append(refused.json()["error"]["details"]["retry_after_s"])
            assert_waits(refused, waits[-1])
            assert_waits(await login(attacker, admin.username, PASSWORD), waits[-1])  # even the right password
            stack.clock.advance(waits[-1])
            assert (await login(attacker, admin.username)).status_code == 401

    assert waits == [1, 2, 4, 8]
    assert Backoff(free=5).wait_s(5 + 30) == Backoff(free=5).max_s == 900  # and it stops doubling at 15 minutes
    await assert_logged_in(stack, await login(stack.http, admin.username, PASSWORD))


async def test_a_correct_password_clears_the_accounts_count(stack):
    admin, _ = await make_staff(stack, role="admin")
    assert await statuses(stack.http, admin.username, PER_ACCOUNT.free - 1) == [401] * (PER_ACCOUNT.free - 1)
    await assert_logged_in(stack, await login(stack.http, admin.username, PASSWORD))

    again = await statuses(stack.http, admin.username, PER_ACCOUNT.free + 1)
    assert again == [401] * PER_ACCOUNT.free + [429]  # the free tries start over after the success
    stack.clock.advance(1)
    await assert_logged_in(stack, await login(stack.http, admin.username, PASSWORD))
    assert await statuses(stack.http, admin.username, PER_ACCOUNT.free) == [401] * PER_ACCOUNT.free


async def test_an_account_attacked_from_many_addresses_still_takes_the_right_password_from_a_new_one(stack):
    admin, _ = await make_staff(stack, role="admin")
    for n in range(ALARM // PER_ACCOUNT.free):  # each address spends its free tries: ALARM failures in all
        async with client_at(stack, f"127.0.1.{n + 1}") as attacker:
            assert await statuses(attacker, admin.username, PER_ACCOUNT.free + 1) == [401] * PER_ACCOUNT.free + [429]

    async with client_at(stack, "127.0.2.1") as newcomer:  # under attack: one try, then the wait
        assert await statuses(newcomer, admin.username, 2) == [401, 429]
    async with client_at(stack, "127.0.2.2") as real_user:  # the first try from a new address is always heard
        await assert_logged_in(stack, await login(real_user, admin.username, PASSWORD))
    async with client_at(stack, "127.0.2.3") as later:  # the success cleared the account's count
        assert await statuses(later, admin.username, PER_ACCOUNT.free) == [401] * PER_ACCOUNT.free


async def test_parallel_wrong_passwords_get_the_free_tries_and_then_one_per_wait(stack):
    import asyncio

    admin, _ = await make_staff(stack, role="admin")
    async with client_at(stack, "127.0.0.5") as attacker:
        burst = await asyncio.gather(*(login(attacker, admin.username) for _ in range(40)))
    answered = sorted(r.status_code for r in burst)
    assert answered == [401] * PER_ACCOUNT.free + [429] * (40 - PER_ACCOUNT.free)
