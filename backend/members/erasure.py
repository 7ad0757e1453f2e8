"""Erasure (PIPL): a member's personal data removed or irreversibly masked everywhere it was copied.

Where it lives, table by table (keep in step with the models: the erasure test walks every table):

- ``members``: phone (encrypted, prefix, last four), nickname, gender, birthday, email, custom fields:
  cleared. The row stays as a tombstone (id, card number, status) that the ledgers point at.
- ``member_identities`` (phone blind index, openid, unionid, card, email) and ``wechat_accounts``:
  deleted, so the person can register again as a new member; their sessions (``refresh_tokens``) too.
- ``member_events``: payloads keep ids, amounts and codes, every other string is erased.
- ``audit_log``: rows keep who and what, and the names of the fields changed, not the values.
- ``messages``: rendered text, context and recipient dropped; whatever was not sent yet is cancelled.
- ``wechat_subscribe_grants``, ``member_tags``: deleted.
- ``idempotency_records``: the member's stored responses deleted (a replay would hand them out).
- free-text reasons (ledgers, redemptions, refunds, message results): the member's values masked.

Ledgers, orders (with the member's order figures, ``member_order_stats``) and coupons stay under the member
id: they are financial records, without personal data once the above is done. Members merged into the erased one are the same person: erased too.
"""

from __future__ import annotations

import re
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from backend import audit, db
from backend.idempotency import IdempotencyRecord
from backend.members import events
from backend.members.models import Member, MemberIdentity, RefreshToken, WeChatAccount
from backend.security.pii import PiiCipher, mask_phone
from notifications.channels.log import mask_email
from notifications.models import FINAL, Message, SubscribeGrant

MASK = "***"
# Free-text columns a clerk or a provider may have filled with the member's details, and how their
# rows belong to the member.
_TEXTS = (
    ("points_entries", "reason", "member_id IN ({ids})"),
    ("wallet_entries", "reason", "member_id IN ({ids})"),
    ("coupon_redemptions", "reason", "member_id IN ({ids})"),
    ("order_refunds", "reason", "order_id IN (SELECT id FROM orders WHERE member_id IN ({ids}))"),
    ("messages", "reason", "member_id IN ({ids})"),
)


def _placeholders(count: int, start: int) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


async def same_person(conn: BaseDBAsyncClient, member_id: int) -> list[int]:
    """The member and every member merged into it, directly or through earlier merges."""
    ids, frontier = [member_id], [member_id]
    while frontier:
        found = await Member.filter(merged_into_id__in=frontier, status="merged").using_db(conn).values_list(
            "id", flat=True)
        frontier = [found_id for found_id in found if found_id not in ids]
        ids += frontier
    return ids


def personal_values(members: list[Member], identities: list[tuple[str, str]], accounts: list[WeChatAccount],
                    pii: PiiCipher | None) -> list[str]:
    """The strings that identify the person, to mask wherever free text may hold them (longest first)."""
    values: set[str] = set()
    for member in members:
        if member.phone_enc and pii is not None:
            try:
                phone = pii.decrypt(member.phone_enc)
                values |= {phone, mask_phone(phone)}
            except ValueError:  # written under another key: the masked form below still goes
                pass
        if member.phone_prefix3 and member.phone_last4:
            values.add(f"{member.phone_prefix3}****{member.phone_last4}")
        if member.email:
            values |= {member.email, mask_email(member.email)}
        if member.nickname:
            values.add(member.nickname)
        if member.birthday:
            values.add(member.birthday.isoformat())
        values |= {value for value in (member.custom_fields or {}).values() if isinstance(value, str)}
    values |= {value for kind, value in identities if kind in ("openid", "unionid", "email")}
    for account in accounts:
        values |= {value for value in (account.openid, account.unionid) if value}
    # One character would mask too much of a clerk's text; such a value identifies nobody on its own.
    return sorted((value for value in values if len(value) >= 2), key=lambda value: (-len(value), value))


async def erase(conn: BaseDBAsyncClient, *, member_id: int, pii: PiiCipher | None, now: datetime) -> dict[str, int]:
    """Remove or mask the personal data of ``member_id`` and of the members merged into it, on the
    caller's transaction (the caller holds the member's row lock). Returns what went, by kind."""
    ids = await same_person(conn, member_id)
    members = list(await Member.filter(id__in=ids).using_db(conn))
    identities = list(await MemberIdentity.filter(member_id__in=ids).using_db(conn).values_list("kind", "value"))
    accounts = list(await WeChatAccount.filter(member_id__in=ids).using_db(conn))
    values = personal_values(members, identities, accounts, pii)
    counts = {"members": len(ids)}
    counts["identities"] = await MemberIdentity.filter(member_id__in=ids).using_db(conn).delete()
    counts["wechat_accounts"] = await WeChatAccount.filter(member_id__in=ids).using_db(conn).delete()
    subjects = [f"member:{i}" for i in ids] + [f"wechat:{account.id}" for account in accounts]
    counts["sessions"] = await RefreshToken.filter(subject__in=subjects).using_db(conn).delete()
    await Member.filter(id__in=ids).using_db(conn).update(
        phone_enc=None, phone_prefix3=None, phone_last4=None, nickname=None, gender="unknown", birthday=None,
        email=None, custom_fields={}, updated_at=now)
    counts["events"] = await events.scrub(member_ids=ids, using_db=conn)
    counts["audit_rows"] = await audit.scrub_member(member_ids=ids, values=values, using_db=conn)
    counts["messages_cancelled"] = await Message.filter(member_id__in=ids, status__not_in=list(FINAL)).using_db(
        conn).update(status="cancelled", reason="member_erased", finished_at=now, claimed_by=None, lease_until=None,
                     updated_at=now)
    counts["messages"] = await Message.filter(member_id__in=ids).using_db(conn).update(
        rendered=None, context={}, recipient=None, updated_at=now)
    counts["subscribe_grants"] = await SubscribeGrant.filter(member_id__in=ids).using_db(conn).delete()
    counts["tags"] = len(await db.fetch(
        f"DELETE FROM member_tags WHERE member_id IN ({_placeholders(len(ids), 1)}) RETURNING member_id",
        *ids, conn=conn))
    counts["stored_responses"] = await _stored_responses(conn, ids, accounts, values,
                                                         [member.member_no for member in members])
    phones = [(m.phone_prefix3, m.phone_last4) for m in members if m.phone_prefix3 and m.phone_last4]
    counts["texts_masked"] = await _mask_texts(conn, ids, values, phones)
    return counts


async def _stored_responses(conn: BaseDBAsyncClient, ids: list[int], accounts: list[WeChatAccount],
                            values: list[str], member_nos: list[str]) -> int:
    """Idempotency records of the member's own calls, or whose stored answer names the member."""
    clauses = []
    for member_id in ids:
        clauses += [Q(scope__startswith=f"member:{member_id}:"),
                    Q(response_body__contains=f'"member_id":{member_id},'),
                    Q(response_body__contains=f'"member_id":{member_id}}}')]
    clauses += [Q(scope__startswith=f"wechat:{account.id}:") for account in accounts]
    clauses += [Q(response_body__contains=value) for value in [*values, *member_nos]]
    match = Q(*clauses, join_type="OR")
    return await IdempotencyRecord.filter(match).using_db(conn).delete()


async def _mask_texts(conn: BaseDBAsyncClient, ids: list[int], values: list[str],
                      phones: list[tuple[str, str]]) -> int:
    """Mask the values in the free-text columns of the members' rows; a phone number also by its known
    first three and last four digits (the full number needs the PII key, which a caller may not pass)."""
    masked = 0
    for table, column, belongs in _TEXTS:
        where = belongs.format(ids=_placeholders(len(ids), 4))
        for value in values:
            rows = await db.fetch(
                f"UPDATE {table} SET {column} = REPLACE({column}, $1, $2) WHERE {column} LIKE $3 AND {where} "
                "RETURNING id", value, MASK, f"%{value}%", *ids, conn=conn)
            masked += len(rows)
        for prefix, last4 in phones:
            number = re.compile(rf"{prefix}\d{{4}}{last4}")
            rows = await db.fetch(f"SELECT id, {column} AS text FROM {table} WHERE {column} LIKE $1 AND "
                                  f"{belongs.format(ids=_placeholders(len(ids), 2))}",
                                  f"%{prefix}____{last4}%", *ids, conn=conn)
            for row in rows:
                text = number.sub(MASK, row["text"])
                if text != row["text"]:
                    await db.fetch(f"UPDATE {table} SET {column} = $1 WHERE id = $2", text, row["id"], conn=conn)
                    masked += 1
    return masked

