"""Load benchmarks: the project's endpoints against bare baselines measured in the same run.

A benchmark is an async function registered under a name. It receives the :class:`~bench.project.Project`
(a fresh PostgreSQL database with the migrations applied and the ORM connected to it, so it can seed
through the project's own services) and returns the targets to measure: one or more endpoints of the
project server and the baselines they are compared with::

    @benchmark("me", "GET /api/v1/mp/me with a member token", goals={"me/asyncpg": 0.5})
    async def me(project: Project) -> list[Target]:
        seeded = await seed.member_with_token(project)
        return [project.target("me", Request("/api/v1/mp/me", headers=bearer(seeded.token))),
                baselines.json_target(), baselines.asyncpg_target(project.dsn, seeded.member_id)]

Every target runs in its own server process (one worker), one after another, under the same load.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.project import Project

# The server's default (backend.db); the asyncpg baseline's pool is the same size.
POOL_SIZE_DEFAULT = int(os.environ.get("DB_POOL_SIZE") or 20)
SEQ = "{seq}"  # in a header value or a body: replaced by a value distinct for every request


@dataclass(frozen=True)
class Request:
    """What the load generator sends, over and over, on keep-alive connections.

    ``{seq}`` anywhere in a header value or in ``body`` becomes a value unique to the request (distinct
    across load-generator threads and across the warm-up and the measurement): order numbers,
    ``Idempotency-Key`` headers.
    """

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    @property
    def distinct(self) -> bool:
        return SEQ in (self.body or "") or any(SEQ in value for value in self.headers.values())

    def render(self, seq: str) -> tuple[dict[str, str], bytes | None]:
        headers = {name: value.replace(SEQ, seq) for name, value in self.headers.items()}
        return headers, None if self.body is None else self.body.replace(SEQ, seq).encode()


@dataclass(frozen=True)
class Server:
    """A server process: ``{port}`` in ``argv`` is replaced by a free loopback port."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Target:
    """One measured line: a server and the request it is loaded with.

    ``baseline`` targets are the yardsticks; each project target's rate is divided by each baseline's.
    """

    name: str
    server: Server
    request: Request
    baseline: bool = False

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("baseline:")


Setup = Callable[["Project"], Awaitable[list[Target]]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    setup: Setup
    goals: dict[str, float] = field(default_factory=dict)  # "me/asyncpg" -> lowest acceptable ratio


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, description: str, *, goals: dict[str, float] | None = None) -> Callable[[Setup], Setup]:
    """Register ``setup`` as ``python -m bench NAME``; ``goals`` maps ``project/baseline`` to a minimum."""

    def register(setup: Setup) -> Setup:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = Benchmark(name, description, setup, dict(goals or {}))
        return setup

    return register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
