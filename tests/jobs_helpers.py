"""Helpers for scheduler tests: members with birthdays and orders, a coupon template, program settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from backend import clock
from backend.loyalty import order_stats
from backend.loyalty.models import Order
from backend.members.models import Member
from tests.factories import bearer, unique


async def coupon_template(stack: Any, admin: str, name: str = "回归礼券") -> int:
    body = {"name": name, "terms": {"kind": "amount_off", "min_spend_cents": 10000, "amount_off_cents": 2000,
                                    "valid_days": 30}}
    response = await stack.http.post("/api/v1/admin/coupon-templates", json=body, headers=bearer(admin))
    assert response.status_code == 201, response.text
    template_id = response.json()["id"]
    response = await stack.http.post(f"/api/v1/admin/coupon-templates/{template_id}/status",
                                     json={"status": "active"}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    return template_id


async def set_lifecycle(stack: Any, admin: str, key: str, **changes: Any) -> dict[str, Any]:
    items = (await stack.http.get("/api/v1/admin/lifecycle-programs", headers=bearer(admin))).json()["items"]
    current = next(item for item in items if item["key"] == key)
    body = {k: v for k, v in current.items() if k not in ("key", "name")} | changes
    response = await stack.http.put(f"/api/v1/admin/lifecycle-programs/{key}", json=body, headers=bearer(admin))
    assert response.status_code == 200, response.text
    return response.json()


async def run_program(stack: Any, key: str, owner: str = "scheduler") -> dict[str, Any]:
    """What a scheduler does when the program's time comes (tests move the clock past staff tokens)."""
    from jobs import service

    return await service.run_program(key, kv=stack.kv, owner=owner, tz=stack.settings.tz)


async def set_birthday(member_id: int, birthday: date) -> None:
    await Member.filter(id=member_id).update(birthday=birthday)


async def add_order(member_id: int, *, placed_at: datetime | None = None, amount_cents: int = 10000,
                    channel: str = "pos", store_id: int | None = None) -> Order:
    """An order row written directly (no points, no receipt), and the member's order figures as placing it
    would leave them."""
    now = placed_at or clock.now()
    async with in_transaction() as conn:
        order = await Order.create(channel=channel, order_no=unique("O"), member_id=member_id, store_id=store_id,
                                   request_hash="x", amount_cents=amount_cents, placed_at=now, created_at=now,
                                   using_db=conn)
        await order_stats.order_placed(conn, member_id=member_id, amount_cents=amount_cents, placed_at=now)
    return order
