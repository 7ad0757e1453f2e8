"""Scan tokens: what a clerk's scan of a member code yields, valid 10 minutes at that store only."""

from __future__ import annotations

from typing import Any

from backend.errors import Forbidden, Unauthenticated, error
from backend.security import tokens

ScanTokenExpired = error("SCAN_TOKEN_EXPIRED", 422, "扫码已失效，请让顾客重新出示会员码")

SCAN_AUDIENCE = "scan"
SCAN_TTL_S = 600


def issue_scan_token(secret: str, *, member_id: int, store_id: int, staff_id: int) -> str:
    return tokens.issue(secret, audience=SCAN_AUDIENCE, subject=str(member_id), ttl_s=SCAN_TTL_S,
                        claims={"store": store_id, "staff": staff_id})


def member_from_scan_token(secret: str, token: str, *, store_id: int | None) -> int:
    """The scanned member, if the token was issued at ``store_id``; 403 for another store's token."""
    try:
        claims: dict[str, Any] = tokens.verify(secret, token, audience=SCAN_AUDIENCE)
    except Unauthenticated:
        # Not the clerk's login: the scan is stale. A distinct code lets the counter ask for a new scan.
        raise ScanTokenExpired() from None
    if store_id is None or claims.get("store") != store_id:
        raise Forbidden("该扫码凭证属于其他门店", details={"reason": "scan_token_other_store"})
    return int(claims["sub"])


# Asset owners (loyalty, coupons) add sections to the clerk's member summary here: async (member, store_id) -> dict.
SUMMARY_SECTIONS: list[Any] = []


async def member_summary(member: Any, *, store_id: int | None) -> dict[str, Any]:
    from backend.members.service import masked_phone

    summary: dict[str, Any] = {
        "member": {"id": member.id, "member_no": member.member_no, "phone": masked_phone(member),
                   "nickname": member.nickname, "gender": member.gender,
                   "birthday": member.birthday.isoformat() if member.birthday else None,
                   "registered_at": member.registered_at.isoformat()},
    }
    for section in SUMMARY_SECTIONS:
        summary.update(await section(member, store_id))
    return summary
