"""``assets``: the mini-program's home screen, points (with what expires soon), stored value and tier,
for a member with a history: a few hundred ledger rows, a score of live points lots, orders over a year."""

from __future__ import annotations

from bench import Request, Target, baselines, bearer, benchmark, seed
from bench.project import Project
from bench.runner import out


@benchmark("assets", "GET /api/v1/mp/me/assets (member with 216 points entries, 20 live lots) vs bare Sanic "
           "(json) and one raw asyncpg query", goals={"assets/asyncpg": 0.8},
           p99_goals={"assets/asyncpg": 2.0})
async def assets(project: Project) -> list[Target]:
    member = await seed.member_with_token(project)
    history = await seed.member_with_history(project, member.member_id)
    out(f"# member {member.member_id}: {history.points_entries} points entries, {history.live_lots} live lots "
        f"({history.expiring_lots} expiring within 30 days), {history.orders} orders")
    return [
        project.target("assets", Request("/api/v1/mp/me/assets", headers=bearer(member.token))),
        baselines.json_target(),
        baselines.asyncpg_target(project.dsn, member.member_id),
    ]
