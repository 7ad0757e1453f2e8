"""Rate limits over the shared key-value store (a 429 with ``Retry-After``): a fixed-window ``Limiter``,
and ``LoginThrottle`` for staff logins.

Login throttling must slow password guessing without letting anyone lock a real user out (a limit
keyed by username alone let ten wrong tries from anywhere shut out the admin). So it is keyed by
client address and by account *and* address:

- an address gets ``PER_ADDRESS.free`` failures, over every account, then waits that double with each
  further failure: the attacker's own address ends up answered 429;
- an account from one address gets ``PER_ACCOUNT.free`` failures, then waits that double; a correct
  password clears it. Failures from one address never delay the same account from another;
- an account's failures from everywhere are counted too (a success clears them); past ``ALARM`` in a
  window the account is under a spread-out attack and each address gets one try before waiting. The
  first try from a new address is always heard, so a correct password still gets in.

Counting is atomic: each attempt takes a ticket before it is checked, so a burst of parallel requests
gets the free tries and then one attempt per wait, not a try per request. An attempt that was never
decided (a 429, a database outage) gives its ticket back. Time is ``backend.clock``; counts live for a
window of ``WINDOW_S``. Behind a proxy, the client address must be the proxy's forwarded one (Sanic's
``PROXIES_COUNT``/``REAL_IP_HEADER``/``FORWARDED_SECRET``), or every client shares the proxy's limit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from backend import clock
from backend.errors import DependencyUnavailable, RateLimited
from backend.kv import KV


class Limiter:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    async def hit(self, name: str, *, limit: int, window_s: int) -> None:
        window = int(time.time() // window_s)
        count = await self.kv.incr(f"rl:{name}:{window}", window_s)
        if count > limit:
            retry = window_s - int(time.time() % window_s)
            raise RateLimited(details={"retry_after_s": max(retry, 1)})


@dataclass(frozen=True)
class Backoff:
    """``free`` failures answered at once, then a wait of ``base_s`` that doubles per failure, at most ``max_s``."""

    free: int
    base_s: float = 1.0
    max_s: float = 900.0

    def wait_s(self, failures: int) -> float:
        """How long after the last failure the next attempt must wait, once ``failures`` were counted."""
        if failures < self.free:
            return 0.0
        return min(self.max_s, self.base_s * 2 ** min(failures - self.free, 32))


PER_ADDRESS = Backoff(free=20)
PER_ACCOUNT = Backoff(free=5)
UNDER_ATTACK = Backoff(free=1)  # per account and address, while the account has ALARM failures or more
ALARM = 30  # six addresses spending their free tries on one account
WINDOW_S = 900
TURN_TTL_S = 30  # a decision in flight holds its turn at most this long (a process killed mid-login)


def address_key(address: str) -> str:
    """The address as throttled: IPv4 as it is, IPv6 by its /64 (one subscriber holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def account_key(username: str) -> str:
    # Hashed: any characters, a fixed length, and no usernames sitting in Redis.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:24]


@dataclass
class _Ticket:
    """One attempt's place under one key (an address, or an account from an address)."""

    key: str  # already carries the window
    turn: int | None = None  # the failure count whose turn this attempt holds, past the free tries


class LoginAttempt:
    def __init__(self, kv: KV, ttl: int, address: _Ticket, pair: _Ticket, account: str) -> None:
        self.kv, self.ttl, self.address, self.pair, self.account = kv, ttl, address, pair, account

    async def failed(self, backoff_pair: Backoff) -> None:
        """A wrong password: the failure counts for the address, the pair and the account."""
        await self.kv.incr(self.account, self.ttl)
        for ticket, backoff in ((self.address, PER_ADDRESS), (self.pair, backoff_pair)):
            failures = await self.kv.incr(f"{ticket.key}:failures", self.ttl)
            wait = backoff.wait_s(failures)
            if wait:
                await self.kv.set(f"{ticket.key}:next", repr(clock.now().timestamp() + wait), self.ttl)
            await self._release_turn(ticket)

    async def succeeded(self) -> None:
        """A correct password clears the account's counts (from this address and from everywhere); the
        address's own failures stand, its ticket is given back."""
        await _give_back(self.kv, self.address, self.ttl)
        for suffix in ("attempts", "returned", "failures", "next"):
            await self.kv.delete(f"{self.pair.key}:{suffix}")
        await self._release_turn(self.pair)
        await self.kv.delete(self.account)

    async def undecided(self) -> None:
        """Nothing was decided (a dependency failed): the attempt counts nowhere."""
        with suppress(DependencyUnavailable):
            await _give_back(self.kv, self.address, self.ttl)
            await _give_back(self.kv, self.pair, self.ttl)

    async def _release_turn(self, ticket: _Ticket) -> None:
        if ticket.turn is not None:
            await self.kv.delete(f"{ticket.key}:turn:{ticket.turn}")
            ticket.turn = None


async def _give_back(kv: KV, ticket: _Ticket, ttl: int) -> None:
    await kv.incr(f"{ticket.key}:returned", ttl)
    if ticket.turn is not None:
        await kv.delete(f"{ticket.key}:turn:{ticket.turn}")
        ticket.turn = None


class LoginThrottle:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    @asynccontextmanager
    async def attempt(self, *, username: str, address: str, failure: type[Exception]) -> AsyncIterator[None]:
        """Around one password check: 429 (RateLimited with ``retry_after_s``) when this address, or this
        account from this address, must wait; ``failure`` raised inside counts as a wrong password."""
        now = clock.now().timestamp()
        window = int(now // WINDOW_S)
        ttl = WINDOW_S + 60
        account = f"login:account:{account_key(username)}:{window}"
        where = address_key(address)
        address_ticket = await self._admit(f"login:address:{where}:{window}", PER_ADDRESS, now, ttl)
        try:
            under_attack = int(await self.kv.get(account) or 0) >= ALARM
            backoff = UNDER_ATTACK if under_attack else PER_ACCOUNT
            pair = await self._admit(f"login:pair:{account_key(username)}:{where}:{window}", backoff, now, ttl)
        except BaseException:
            with suppress(DependencyUnavailable):
                await _give_back(self.kv, address_ticket, ttl)
            raise
        attempt = LoginAttempt(self.kv, ttl, address_ticket, pair, account)
        try:
            yield
        except failure:
            await attempt.failed(backoff)
            raise
        except BaseException:
            await attempt.undecided()
            raise
        await attempt.succeeded()

    async def _admit(self, key: str, backoff: Backoff, now: float, ttl: int) -> _Ticket:
        ticket = _Ticket(key)
        # This attempt's number among those not given back: in-flight ones count, so a burst cannot all
        # pass as free tries.
        number = await self.kv.incr(f"{key}:attempts", ttl) - int(await self.kv.get(f"{key}:returned") or 0)
        if number <= backoff.free:
            return ticket
        failures = int(await self.kv.get(f"{key}:failures") or 0)
        next_at = float(await self.kv.get(f"{key}:next") or 0)
        # Past the free tries, one attempt per wait: the first to claim this failure count's turn is heard,
        # the rest wait; while free tries are still being decided, everyone past them waits for those.
        if failures < backoff.free or now < next_at \
                or not await self.kv.set_nx(f"{key}:turn:{failures}", "1", TURN_TTL_S):
            await _give_back(self.kv, ticket, ttl)
            raise RateLimited(details={"retry_after_s": max(1, math.ceil(next_at - now))})
        ticket.turn = failures
        return ticket
