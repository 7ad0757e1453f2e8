"""PIPL: the export of everything held about a member, and erasure — by the member in the
mini-program, or by an admin for any member (a counter-only shopper has no other way).

Erasure removes or masks personal data everywhere it was copied (``backend.members.erasure``) and
releases every identity (the phone can register again as a new member); ledgers and events stay
under the member id for accounting, without personal data. Both are audited.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from backend import audit, clock
from backend.errors import error
from backend.members import erasure, events
from backend.members.errors import MemberNotFound
from backend.members.models import (
    ConsentRecord,
    Member,
    MemberConsent,
    MemberEvent,
    MemberIdentity,
    MemberMerge,
    WeChatAccount,
)
from backend.members.service import consent_view, phone_of, profile
from backend.security.pii import PiiCipher
from backend.stores.models import AuditLog

ErasureNotConfirmed = error("ERASURE_NOT_CONFIRMED", 422, "确认内容与该会员的会员号不一致，未删除")
ErasureNotAllowed = error("ERASURE_NOT_ALLOWED", 422, "该会员已合并到其他会员，请删除合并后的会员")

# Asset owners add their sections (points ledger, wallet, coupons) to the export here.
EXPORT_SECTIONS: list[Any] = []


async def export_member(*, member_id: int, pii: PiiCipher, actor: audit.Actor | None = None,
                        reason: str | None = None) -> dict[str, Any]:
    """Everything held about the member, as JSON, the phone in full (it is their own); with an
    ``actor`` (staff exporting on a member's behalf), audited with the reason."""
    member = await Member.get_or_none(id=member_id, status="active")
    if member is None:
        raise MemberNotFound()
    if actor is not None:
        await audit.record(actor=actor, action="member.export", member_id=member_id, target_type="member",
                           target_id=member_id, after={"reason": reason})
    data: dict[str, Any] = {"exported_at": clock.now().isoformat(), "profile": profile(member)}
    data["profile"]["phone"] = phone_of(member, pii)
    data["identities"] = [
        {"kind": i.kind, "app_id": i.app_id or None, "value": None if i.kind == "phone" else i.value,
         "created_at": i.created_at.isoformat()}
        for i in await MemberIdentity.filter(member_id=member_id).order_by("id")]
    data["wechat_accounts"] = [
        {"app_id": a.app_id, "openid": a.openid, "unionid": a.unionid, "created_at": a.created_at.isoformat()}
        for a in await WeChatAccount.filter(member_id=member_id).order_by("id")]
    data["consents"] = await consent_view(member_id=member_id)
    data["consent_history"] = [
        {"channel": r.channel, "purpose": r.purpose, "granted": r.granted, "source": r.source,
         "text_version": r.text_version, "at": r.created_at.isoformat()}
        for r in await ConsentRecord.filter(member_id=member_id).order_by("id")]
    data["events"] = [
        {"type": e.type, "channel": e.channel, "store_id": e.store_id, "payload": e.payload,
         "at": e.created_at.isoformat()}
        for e in await MemberEvent.filter(member_id=member_id).order_by("id")]
    data["merges"] = [
        {"merged_id": m.merged_id, "at": m.created_at.isoformat()}
        for m in await MemberMerge.filter(survivor_id=member_id).order_by("id")]
    data["changes_by_staff"] = [
        {"action": a.action, "before": a.before, "after": a.after, "at": a.created_at.isoformat()}
        for a in await AuditLog.filter(member_id=member_id, actor_type="staff").order_by("id")]
    for section in EXPORT_SECTIONS:
        data.update(await section(member_id))
    return data


async def delete_member(*, member_id: int, actor: audit.Actor, pii: PiiCipher | None = None) -> dict[str, Any]:
    """The member's own account deletion (PIPL): ``erase_member`` on their behalf."""
    return await erase_member(member_id=member_id, actor=actor, pii=pii)


async def erase_member(*, member_id: int, actor: audit.Actor, pii: PiiCipher | None = None,
                       confirm: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """Anonymise: personal data erased everywhere, identities released, consents withdrawn, sessions
    ended, audited. ``confirm`` (staff) must name the member: its card number or id. Erasing an erased
    member again (staff) runs the scrub again, for data an earlier erasure could not reach."""
    now = clock.now()
    async with in_transaction() as conn:
        # FOR UPDATE on the member row first: the lock order of every asset writer (an order in flight
        # finishes first; one arriving later finds the member gone).
        member = await Member.filter(id=member_id).using_db(conn).select_for_update().first()
        if member is None or (member.status == "deleted" and actor.type != "staff"):
            raise MemberNotFound()
        if member.status == "merged":
            raise ErasureNotAllowed(details={"merged_into_id": member.merged_into_id})
        if confirm is not None and confirm not in (member.member_no, str(member.id)):
            raise ErasureNotConfirmed(details={"confirm": "应为会员号或会员 id"})
        first = member.status == "active"
        values = erasure.personal_values([member], [], [], pii)
        if first:
            await _withdraw_consents(conn, member_id, now)
            await Member.filter(id=member_id).using_db(conn).update(status="deleted", deleted_at=now)
        counts = await erasure.erase(conn, member_id=member_id, pii=pii, now=now)
        if first:
            await events.append(member_id=member_id, type="member_deleted", using_db=conn,
                                payload={"identities_released": counts["identities"]})
        action = "member.delete" if actor.type == "member" else "member.erase"
        await audit.record(actor=actor, action=action, member_id=member_id, target_type="member",
                           target_id=member_id, before={"status": member.status},
                           after={"status": "deleted", "reason": audit.mask_values(reason, values),
                                  "erased": counts}, using_db=conn)
    return {"member_id": member_id, "status": "deleted", "erased_at": (member.deleted_at or now).isoformat(),
            "erased": counts}


async def _withdraw_consents(conn: Any, member_id: int, now: Any) -> None:
    for consent in await MemberConsent.filter(member_id=member_id, granted=True).using_db(conn):
        await ConsentRecord.create(member_id=member_id, channel=consent.channel, purpose=consent.purpose,
                                   granted=False, source="account_deleted", created_at=now, using_db=conn)
    await MemberConsent.filter(member_id=member_id).using_db(conn).update(
        granted=False, source="account_deleted", updated_at=now)
