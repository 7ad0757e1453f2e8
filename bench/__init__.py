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

A benchmark that is not HTTP targets under load (``dispatch``: the notification workers draining the
outbox) registers with :func:`standalone_benchmark` instead: it gets the parsed command line, with its
own options, and runs itself.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.project import Project

# The server's default (backend.db); the asyncpg baseline's pool is the same size.
POOL_SIZE_DEFAULT = int(os.environ.get("DB_POOL_SIZE") or 10)  # the project's default (backend.db)
SEQ = "{seq}"  # in a header value or a body: replaced by a value distinct for every request
POOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PATH_SAFE = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$")  # a pool value used in a path


@dataclass(frozen=True)
class Request:
    """What the load generator sends, over and over, on keep-alive connections.

    ``{seq}`` anywhere in the path, a header value or ``body`` becomes a value unique to the request
    (distinct across load-generator threads and across the warm-up and the measurement): order numbers,
    ``Idempotency-Key`` headers.

    ``pools`` spread the requests over several values: ``{NAME}`` in the path, a header value or ``body``
    becomes one of ``pools[NAME]``, taken in turn (request ``k`` of the target gets item ``k mod size``;
    wrk's threads interleave, so the requests in flight at one moment use different items; each run goes
    on from the item after the last one the check or the previous run took). Every pool has the same
    size and the same item index is used for all of them in one request, so parallel pools stay aligned:
    a coupon's id in the path and its owner's scan token in the body. For loads that must not all touch
    one row.

    ``single_use``: each pool item is for one request only (a coupon is redeemed once): the check, the
    warm-up and the measurement take items no request took before, and a run that would need more items
    than the pools hold fails instead of reusing one.
    """

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)
    single_use: bool = False

    def __post_init__(self) -> None:
        sizes = {len(values) for values in self.pools.values()}
        if len(sizes) > 1 or 0 in sizes:
            raise ValueError(f"request pools must be non-empty and of one size, got {sorted(sizes)}")
        if self.single_use and not self.pools:
            raise ValueError("single_use needs pools")
        for name, values in self.pools.items():
            if not POOL_NAME.match(name) or name == "seq":
                raise ValueError(f"pool name {name!r}: letters, digits and _ (and not 'seq')")
            if any("\n" in value or "\t" in value for value in values):
                raise ValueError(f"pool {name!r}: values cannot hold tabs or newlines")
            if "{" + name + "}" in self.path and any(not PATH_SAFE.match(value) for value in values):
                raise ValueError(f"pool {name!r} is used in the path: its values must be URL-safe")

    @property
    def distinct(self) -> bool:
        return bool(self.pools) or any(SEQ in text for text in (self.path, self.body or "", *self.headers.values()))

    @property
    def pool_size(self) -> int:
        return len(next(iter(self.pools.values()))) if self.pools else 0

    def render(self, seq: str, pick: int = 0) -> tuple[str, dict[str, str], bytes | None]:
        """Path, headers and body of one request: ``{seq}`` becomes ``seq``, ``{NAME}`` item ``pick`` of its pool."""

        def fill(text: str) -> str:
            text = text.replace(SEQ, seq)
            for name, values in self.pools.items():
                text = text.replace("{" + name + "}", values[pick % len(values)])
            return text

        headers = {name: fill(value) for name, value in self.headers.items()}
        return fill(self.path), headers, None if self.body is None else fill(self.body).encode()


@dataclass(frozen=True)
class Phases:
    """A target's requests when they differ by phase of its run (``Target.build`` may return this).

    For a target whose measured request must reach the server fresh: 64 connections racing for one
    coupon race only if nothing redeemed it before, so the check redeems another coupon and the warm-up
    races for a coupon of its own.
    """

    check: Request
    warmup: Request
    measurement: Request

    @classmethod
    def same(cls, request: Request) -> Phases:
        return cls(request, request, request)


@dataclass(frozen=True)
class Server:
    """A server process: ``{port}`` in ``argv`` is replaced by a free loopback port."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Served:
    """What the load generator saw of one target, its check, warm-up and measurement together."""

    ok: int  # answers below 400
    unsure: int  # requests the client cannot account for: in flight when a run stopped, socket errors, timeouts
    # Answers by status of each phase ("check", "warm-up", "measurement"), for a target with
    # ``expected_statuses`` (the check's alone otherwise): wrk counts them only when asked.
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """One measured line: a server and the request it is loaded with.

    ``baseline`` targets are the yardsticks; each project target's rate is divided by each baseline's of
    the same ``group`` (a target without a group is compared with every other).

    ``build``, when set, makes the request right before the target's server starts, for credentials that
    expire (``lifetime_s``: the harness refuses a warm-up plus measurement that would outlive them); it may
    return :class:`Phases` when the check, the warm-up and the measurement need different requests.
    ``expected_statuses``: answers >= 400 that are what the load is about (409 for the requests that lose
    a race for one coupon): they do not count as failures, and the answers are counted by status.
    ``reconcile``, when set, runs once the server has stopped, with what the load generator saw: it can
    check the database against the answers (raising ``BenchFailure`` when they disagree) and returns a line
    for the report.
    ``refill``, for a ``single_use`` request: ``await refill(request, size)`` returns the same request with
    pools of at least ``size`` items, those of ``request`` first and in the same order (it seeds more), so
    that a run whose measured rate needs more items than were seeded gets them between its phases.
    ``open_model``: whether ``--open`` also loads it at a constant arrival rate (``baseline:json``, at tens of
    thousands of requests a second, is beyond what the Python generator schedules on these cores).
    """

    name: str
    server: Server
    request: Request
    baseline: bool = False
    group: str | None = None
    build: Callable[[], Request | Phases] | None = field(default=None, repr=False)
    lifetime_s: int | None = None
    expected_statuses: frozenset[int] = frozenset()
    reconcile: Callable[[Served], Awaitable[str]] | None = field(default=None, repr=False)
    refill: Callable[[Request, int], Awaitable[Request]] | None = field(default=None, repr=False)
    open_model: bool = True

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("baseline:")


Setup = Callable[["Project"], Awaitable[list[Target]]]
Run = Callable[[argparse.Namespace], Awaitable[int]]
Arguments = Callable[[argparse._ArgumentGroup], None]


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    setup: Setup | None  # HTTP targets: what the runner measures (None for a standalone benchmark)
    goals: dict[str, float] = field(default_factory=dict)  # "me/asyncpg" -> lowest acceptable ratio
    p99_goals: dict[str, float] = field(default_factory=dict)  # "me/asyncpg" -> highest acceptable p99 ratio
    run: Run | None = None  # a standalone benchmark: runs itself, returns the exit status
    arguments: Arguments | None = None  # its own command-line options


BENCHMARKS: dict[str, Benchmark] = {}


def _register(entry: Benchmark) -> None:
    if entry.name in BENCHMARKS:
        raise ValueError(f"benchmark {entry.name!r} is registered twice")
    BENCHMARKS[entry.name] = entry


def benchmark(name: str, description: str, *, goals: dict[str, float] | None = None,
              p99_goals: dict[str, float] | None = None) -> Callable[[Setup], Setup]:
    """Register ``setup`` as ``python -m bench NAME``; ``goals`` maps ``project/baseline`` to a minimum of
    the rate ratio, ``p99_goals`` to a maximum of the p99 ratio (project's p99 over the baseline's)."""

    def register(setup: Setup) -> Setup:
        _register(Benchmark(name, description, setup, dict(goals or {}), dict(p99_goals or {})))
        return setup

    return register


def standalone_benchmark(name: str, description: str, *, goals: dict[str, float] | None = None,
                         arguments: Arguments | None = None) -> Callable[[Run], Run]:
    """Register ``run`` as ``python -m bench NAME``: a benchmark with its own run path, not HTTP targets.

    ``arguments`` adds its options to a group of the command line (shown by ``--help``); ``run`` gets
    every parsed option and returns the exit status (1 below a goal under ``--strict``).
    """

    def register(run: Run) -> Run:
        _register(Benchmark(name, description, None, dict(goals or {}), run=run, arguments=arguments))
        return run

    return register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
