"""PIPL: a member's export of everything held about them, and account deletion by anonymisation.

Deletion erases personal data and releases every identity (the phone can register again as a new
member); ledgers and events stay under the member id for accounting, without personal data.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from backend import audit, clock
from backend.members import events
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
from backend.members.sessions import revoke_member_sessions
from backend.security.pii import PiiCipher
from backend.stores.models import AuditLog

# Asset owners add their sections (points ledger, wallet, coupons) to the export here.
EXPORT_SECTIONS: list[Any] = []


async def export_member(*, member_id: int, pii: PiiCipher) -> dict[str, Any]:
    """Everything held about the member, as JSON, the phone in full (it is their own)."""
    member = await Member.get_or_none(id=member_id, status="active")
    if member is None:
        raise MemberNotFound()
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


async def delete_member(*, member_id: int, actor: audit.Actor) -> None:
    """Anonymise: personal data erased, identities released, consents withdrawn, sessions ended."""
    now = clock.now()
    async with in_transaction() as conn:
        member = await Member.filter(id=member_id, status="active").using_db(conn).select_for_update().first()
        if member is None:
            raise MemberNotFound()
        released = await MemberIdentity.filter(member_id=member_id).using_db(conn).delete()
        await WeChatAccount.filter(member_id=member_id).using_db(conn).delete()
        for consent in await MemberConsent.filter(member_id=member_id, granted=True).using_db(conn):
            await ConsentRecord.create(member_id=member_id, channel=consent.channel, purpose=consent.purpose,
                                       granted=False, source="account_deleted", created_at=now, using_db=conn)
        await MemberConsent.filter(member_id=member_id).using_db(conn).update(
            granted=False, source="account_deleted", updated_at=now)
        await Member.filter(id=member_id).using_db(conn).update(
            status="deleted", deleted_at=now, updated_at=now, phone_enc=None, phone_prefix3=None, phone_last4=None,
            nickname=None, gender="unknown", birthday=None, email=None, custom_fields={})
        await revoke_member_sessions(member_id=member_id, conn=conn)
        await events.append(member_id=member_id, type="member_deleted", payload={"identities_released": released},
                            using_db=conn)
        await audit.record(actor=actor, action="member.delete", member_id=member_id, target_type="member",
                           target_id=member_id, before={"status": "active"}, after={"status": "deleted"},
                           using_db=conn)
