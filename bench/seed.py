"""Data the benchmarks load, created through the project's own services (as a counter would)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from backend import audit
from backend.members import service, sessions
from backend.security.pii import PiiCipher
from backend.stores import service as stores
from backend.stores.models import Store
from bench.project import Project

STORE_CODE = "BENCH01"


@dataclass(frozen=True)
class SeededMember:
    member_id: int
    member_no: str
    token: str  # member access token (audience ``member``)


async def bench_store() -> Store:
    return await Store.get_or_none(code=STORE_CODE) or await stores.create_store(code=STORE_CODE, name="压测门店")


async def member_with_token(project: Project, *, phone: str | None = None, nickname: str = "压测会员") -> SeededMember:
    """A member registered at the counter of the bench store, and a member token for them."""
    store = await bench_store()
    result = await service.register(reg=service.Registration(
        phone=phone or f"139{secrets.randbelow(10**8):08d}", channel="pos", store_id=store.id, nickname=nickname,
        gender="female", consents={"sms_marketing": True}, consent_text_version="2026-01",
    ), pii=PiiCipher(project.settings.pii_key), actor=audit.SYSTEM)
    issued = await sessions.issue_tokens(settings=project.settings, member_id=result.member.id, account_id=None)
    return SeededMember(result.member.id, result.member.member_no, issued.token)
