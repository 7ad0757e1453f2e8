"""``health``: the liveness probe, the cheapest route through the whole middleware stack."""

from __future__ import annotations

from bench import Request, Target, baselines, benchmark
from bench.project import Project


@benchmark("health", "GET /healthz vs bare Sanic (json): the cost of the app's middleware alone")
async def health(project: Project) -> list[Target]:
    return [project.target("healthz", Request("/healthz")), baselines.json_target()]
