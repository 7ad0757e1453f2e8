"""What comes back: subscribe grants from the mini-program, SMS reports and replies, unsubscribe links.

Every handler is idempotent: providers push the same report again, members click a link twice.
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise.transactions import in_transaction

from backend import clock, db
from backend.members.models import MemberIdentity
from backend.security.pii import PiiCipher, normalize_phone
from notifications import policy

log = logging.getLogger("notifications.inbound")

_GRANT = ("INSERT INTO wechat_subscribe_grants (member_id, template_id, credits, updated_at) VALUES ($1, $2, 1, $3) "
          "ON CONFLICT (member_id, template_id) DO UPDATE SET credits = wechat_subscribe_grants.credits + 1, "
          "updated_at = $3")
_BAN = "UPDATE wechat_subscribe_grants SET credits = 0, updated_at = $3 WHERE member_id = $1 AND template_id = $2"
_REPORT = ("UPDATE messages SET status = $3, reason = $4, finished_at = $5, updated_at = $5 "
           "WHERE provider = $1 AND provider_message_id = $2 AND status IN ('sent', 'unknown') RETURNING id")


async def record_subscriptions(*, member_id: int, accepted: list[str], banned: list[str]) -> list[dict[str, Any]]:
    """Each accepted one-time template grants one send; a template the member banned loses its credits."""
    now = clock.now()
    async with in_transaction() as conn:
        for template_id in accepted:
            await db.fetch(_GRANT, member_id, template_id, now, conn=conn)
        for template_id in banned:
            await db.fetch(_BAN, member_id, template_id, now, conn=conn)
    return await subscriptions(member_id=member_id)


async def subscriptions(*, member_id: int) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT template_id, credits FROM wechat_subscribe_grants WHERE member_id = $1 "
                          "ORDER BY template_id", member_id)
    return [{"template_id": r["template_id"], "credits": int(r["credits"])} for r in rows]


async def sms_status_reports(reports: list[dict[str, Any]], *, provider: str = "tencent") -> dict[str, int]:
    """Move sent messages to delivered or failed; a report seen before changes nothing."""
    counts = {"delivered": 0, "failed": 0, "unmatched": 0}
    now = clock.now()
    for report in reports:
        sid = str(report.get("sid") or "")
        success = str(report.get("report_status", "")).upper() == "SUCCESS"
        status = "delivered" if success else "failed"
        reason = None if success else f"carrier: {report.get('errmsg', '')} {report.get('description', '')}".strip()
        rows = await db.fetch(_REPORT, provider, sid, status, reason, now) if sid else []
        counts[status if rows else "unmatched"] += 1
    return counts


async def sms_reply(*, mobile: str, text: str, pii: PiiCipher) -> bool:
    """An opt-out reply (T, TD, 退订 …, the whole message) withdraws SMS marketing consent at once."""
    rules = await policy.load()
    if not rules.is_opt_out(text):
        return False
    try:
        phone = normalize_phone(mobile)
    except Exception:
        log.warning("SMS reply from a number that is not a mainland mobile")
        return False
    identity = await MemberIdentity.get_or_none(kind="phone", app_id="", value=pii.blind_index("phone", phone))
    if identity is None:
        return False
    await withdraw(member_id=identity.member_id, channel="sms", source="sms_reply")
    return True


async def withdraw(*, member_id: int, channel: str, source: str) -> bool:
    """Withdraw marketing consent on ``channel``; False when it was not granted (nothing recorded)."""
    from backend.members.service import set_consents

    async with in_transaction() as conn:
        changed = await set_consents(member_id=member_id, changes={(channel, "marketing"): False}, source=source,
                                     text_version=None, conn=conn)
    return bool(changed)


async def wechat_subscribe_events(*, app_id: str, openid: str, event: dict[str, Any]) -> int:
    """WeChat's ``subscribe_msg_popup_event`` / ``subscribe_msg_change_event`` push: every template the user
    rejected (or switched off in settings) loses its remaining sends. Accepts are not counted here: the
    mini-program reports them (``POST /mp/me/subscriptions``), and counting both would grant twice.
    The number of templates cleared."""
    items = event.get("List") or []
    if isinstance(items, dict):
        items = [items]
    rejected = [str(i.get("TemplateId")) for i in items if isinstance(i, dict) and i.get("TemplateId")
                and str(i.get("SubscribeStatusString", "")).lower() == "reject"]
    if not rejected:
        return 0
    account = await db.fetch_one("SELECT member_id FROM wechat_accounts WHERE app_id = $1 AND openid = $2",
                                 app_id, openid)
    if account is None or account["member_id"] is None:
        return 0
    now = clock.now()
    for template_id in rejected:
        await db.fetch(_BAN, int(account["member_id"]), template_id, now)
    return len(rejected)
