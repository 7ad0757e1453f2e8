"""Admin merge of two members: identities, WeChat accounts, consents, history and assets move to
the survivor in one transaction, audited. A merge is never edited or undone in place: correcting
one is a new merge record.

Asset owners (points, stored value, coupons) register a hook in ``MERGE_HOOKS``; each moves its
rows on the same connection and returns what it moved, which the merge record keeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend import audit, clock, db
from backend.members import events
from backend.members.errors import MemberNotFound, MergeNotAllowed
from backend.members.models import (
    ConsentRecord,
    Member,
    MemberConsent,
    MemberEvent,
    MemberIdentity,
    MemberMerge,
    WeChatAccount,
)

MergeHook = Callable[[BaseDBAsyncClient, int, int], Awaitable[dict[str, Any]]]
MERGE_HOOKS: list[MergeHook] = []


@db.retry_conflicts
async def merge_members(*, survivor_id: int, merged_id: int, actor: audit.Actor) -> MemberMerge:
    """Fold ``merged_id`` into ``survivor_id``."""
    if survivor_id == merged_id:
        raise MergeNotAllowed("不能把会员与自己合并", details={"reason": "same_member"})
    async with in_transaction() as conn:
        # Both rows first, in primary-key order, before any account or coupon (the lock order every
        # asset writer follows, see backend.loyalty.orders): two opposite merges, or a merge and an
        # order of either member, cannot deadlock. Only active rows are locked: a merged row stays
        # free for the orders that follow it to its survivor.
        rows = {m.id: m for m in await Member.filter(id__in=sorted((survivor_id, merged_id)), status="active")
                .using_db(conn).select_for_update().order_by("id")}
        survivor, merged = rows.get(survivor_id), rows.get(merged_id)
        if survivor is None or merged is None:
            if await Member.filter(id__in=(survivor_id, merged_id)).using_db(conn).count() == 2:
                raise MergeNotAllowed(details={"reason": "not_active"})
            raise MemberNotFound()
        moved: dict[str, Any] = {}
        moved["identities"] = [i.id for i in await MemberIdentity.filter(member_id=merged.id).using_db(conn)]
        await MemberIdentity.filter(member_id=merged.id).using_db(conn).update(member_id=survivor.id)
        moved["wechat_accounts"] = [a.id for a in await WeChatAccount.filter(member_id=merged.id).using_db(conn)]
        await WeChatAccount.filter(member_id=merged.id).using_db(conn).update(member_id=survivor.id)
        moved["consents"] = await _merge_consents(conn, survivor.id, merged.id)
        moved["events"] = await MemberEvent.filter(member_id=merged.id).using_db(conn).update(member_id=survivor.id)
        moved["profile"] = await _fill_profile(conn, survivor, merged)
        # Referrals: no chains through a merge — nobody ends up referring themselves.
        await Member.filter(referrer_id=merged.id).using_db(conn).update(referrer_id=survivor.id)
        await Member.filter(id=survivor.id, referrer_id=survivor.id).using_db(conn).update(referrer_id=None)
        for hook in MERGE_HOOKS:
            moved.update(await hook(conn, survivor.id, merged.id))
        await Member.filter(id=merged.id).using_db(conn).update(
            status="merged", merged_into_id=survivor.id, phone_enc=None, updated_at=clock.now())
        record = await MemberMerge.create(survivor_id=survivor.id, merged_id=merged.id, actor_id=actor.id,
                                          moved=moved, created_at=clock.now(), using_db=conn)
        await events.append(member_id=survivor.id, type="member_merged",
                            payload={"merged_id": merged.id, "merge_id": record.id}, using_db=conn)
        await audit.record(actor=actor, action="member.merge", member_id=survivor.id, target_type="member",
                           target_id=merged.id, before={"merged_status": "active"},
                           after={"merged_into": survivor.id, "moved": moved}, using_db=conn)
    return record


async def _merge_consents(conn: BaseDBAsyncClient, survivor_id: int, merged_id: int) -> int:
    """History moves; for each channel × purpose the more recent decision is the one that holds."""
    mine = {(c.channel, c.purpose): c for c in await MemberConsent.filter(member_id=survivor_id).using_db(conn)}
    moved = 0
    for theirs in await MemberConsent.filter(member_id=merged_id).using_db(conn):
        current = mine.get((theirs.channel, theirs.purpose))
        if current is None:
            await MemberConsent.filter(id=theirs.id).using_db(conn).update(member_id=survivor_id)
            moved += 1
            continue
        if theirs.updated_at > current.updated_at:
            await MemberConsent.filter(id=current.id).using_db(conn).update(
                granted=theirs.granted, source=theirs.source, text_version=theirs.text_version,
                updated_at=theirs.updated_at)
            moved += 1
        await MemberConsent.filter(id=theirs.id).using_db(conn).delete()
    await ConsentRecord.filter(member_id=merged_id).using_db(conn).update(member_id=survivor_id)
    return moved


async def _fill_profile(conn: BaseDBAsyncClient, survivor: Member, merged: Member) -> list[str]:
    updates: dict[str, Any] = {}
    for name in ("nickname", "birthday", "email"):
        if getattr(survivor, name) is None and getattr(merged, name) is not None:
            updates[name] = getattr(merged, name)
    if survivor.gender == "unknown" and merged.gender != "unknown":
        updates["gender"] = merged.gender
    if survivor.phone_enc is None and merged.phone_enc is not None:
        updates.update(phone_enc=merged.phone_enc, phone_prefix3=merged.phone_prefix3,
                       phone_last4=merged.phone_last4)
    extra = {k: v for k, v in (merged.custom_fields or {}).items() if k not in (survivor.custom_fields or {})}
    if extra:
        updates["custom_fields"] = {**(survivor.custom_fields or {}), **extra}
    if survivor.referrer_id is None and merged.referrer_id not in (None, survivor.id):
        updates["referrer_id"] = merged.referrer_id
    if merged.registration_rewarded_at and (survivor.registration_rewarded_at is None
                                            or merged.registration_rewarded_at < survivor.registration_rewarded_at):
        updates["registration_rewarded_at"] = merged.registration_rewarded_at
    if updates:
        await Member.filter(id=survivor.id).using_db(conn).update(**updates, updated_at=clock.now())
    return sorted(updates)
