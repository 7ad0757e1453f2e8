"""``me``: the member's own profile, the mini-program's most frequent authenticated read."""

from __future__ import annotations

from bench import Request, Target, baselines, bearer, benchmark, seed
from bench.project import Project


@benchmark("me", "GET /api/v1/mp/me with a member token vs bare Sanic (json) and one raw asyncpg query",
           goals={"me/asyncpg": 0.5}, p99_goals={"me/asyncpg": 2.0})
async def me(project: Project) -> list[Target]:
    member = await seed.member_with_token(project)
    return [
        project.target("me", Request("/api/v1/mp/me", headers=bearer(member.token))),
        baselines.json_target(),
        baselines.asyncpg_target(project.dsn, member.member_id),
    ]
