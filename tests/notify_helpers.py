"""Helpers for notification tests: members with consents, a marketing template, queueing, reading rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

import notifications
from notifications.models import Message
from tests.factories import bearer, make_staff, member_token, unique_phone

PROMO = {
    "key": "promo", "name": "周末促销", "purpose": "marketing", "channels": ["sms", "email"],
    "content": {
        "sms": {"template_id": "300001", "params": ["{{ member.name }}"],
                "text": "{{ member.name }}，周末全场 8 折，拒收请回复R"},
        "email": {"subject": "周末促销", "text": "{{ member.name }}，周末全场 8 折。",
                  "html": "<p>{{ member.name }}，周末全场 8 折。</p>"},
    },
}


async def admin_token(stack: Any) -> str:
    return (await make_staff(stack, role="admin"))[1]


async def add_promo(stack: Any, admin: str, **changes: Any) -> dict[str, Any]:
    response = await stack.http.post("/api/v1/admin/message-templates", json={**PROMO, **changes},
                                     headers=bearer(admin))
    assert response.status_code == 201, response.text
    return response.json()


async def set_template_ids(stack: Any, admin: str, key: str, *, sms: str | None = None,
                           wechat: str | None = None) -> None:
    current = (await stack.http.get(f"/api/v1/admin/message-templates/{key}", headers=bearer(admin))).json()
    content = current["content"]
    if sms is not None:
        content["sms"]["template_id"] = sms
    if wechat is not None:
        content["wechat"]["template_id"] = wechat
    body = {k: current[k] for k in ("name", "purpose", "enabled", "channels")} | {"content": content}
    response = await stack.http.put(f"/api/v1/admin/message-templates/{key}", json=body, headers=bearer(admin))
    assert response.status_code == 200, response.text


async def put_policy(stack: Any, admin: str, **changes: Any) -> None:
    current = (await stack.http.get("/api/v1/admin/caps", headers=bearer(admin))).json()
    response = await stack.http.put("/api/v1/admin/caps", json={**current, **changes}, headers=bearer(admin))
    assert response.status_code == 200, response.text


async def shopper(stack: Any, *, phone: str | None = None, **consents: bool) -> tuple[int, str, str]:
    """A registered member with these consents: (member id, token, phone)."""
    phone = phone or unique_phone()
    member_id, token = await member_token(stack, phone, consents=consents)
    return member_id, token, phone


async def queue(member_id: int, key: str = "promo", dedupe: str | None = None, **options: Any) -> int | None:
    async with in_transaction() as conn:
        return await notifications.enqueue(member_id=member_id, template_key=key,
                                           dedupe_key=dedupe or f"{key}:{member_id}:{datetime.now().timestamp()}",
                                           conn=conn, **options)


async def messages(member_id: int | None = None, key: str | None = None) -> list[Message]:
    query = Message.all().order_by("id")
    if member_id is not None:
        query = query.filter(member_id=member_id)
    if key is not None:
        query = query.filter(template_key=key)
    return await query


async def one(member_id: int, key: str) -> Message:
    rows = await messages(member_id, key)
    assert len(rows) == 1, [(m.template_key, m.status) for m in rows]
    return rows[0]
