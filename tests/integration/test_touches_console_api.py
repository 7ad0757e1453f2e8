"""What the console's touch screens read besides the touch itself: when each touch runs next, and the
stats' funnel (queued → sent → delivered → converted)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import bearer, make_staff
from tests.integration.test_touches import act, run, segment, touch
from tests.notify_helpers import add_promo, admin_token, shopper

pytestmark = pytest.mark.usefixtures("every_message_ends_final")


async def test_next_run_at_follows_the_schedule_and_the_state(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    later = stack.clock.now() + timedelta(hours=5)
    once = await touch(stack, admin, audience={"segment_id": audience}, schedule={"at": later.isoformat()})
    assert once["next_run_at"] is None  # a draft does not run
    scheduled = await act(stack, admin, once["id"], "schedule")
    assert datetime.fromisoformat(scheduled["next_run_at"]) == later
    assert (await act(stack, admin, once["id"], "pause"))["next_run_at"] is None
    assert (await act(stack, admin, once["id"], "resume"))["next_run_at"] is not None

    until = stack.clock.now() + timedelta(days=10)
    weekly = await touch(stack, admin, audience={"segment_id": audience},
                         schedule={"cron": "0 10 * * mon,wed", "until": until.isoformat()})
    await act(stack, admin, weekly["id"], "schedule")
    listed = (await stack.http.get("/api/v1/admin/touches", headers=bearer(admin))).json()["items"]
    got = {t["id"]: t for t in listed}
    fire = datetime.fromisoformat(got[weekly["id"]]["next_run_at"]).astimezone(stack.settings.tz)
    assert fire >= stack.clock.now() and fire.weekday() in (0, 2) and (fire.hour, fire.minute) == (10, 0)
    stack.clock.advance(days=11)  # past its end: no next run
    admin = await admin_token(stack)  # the first token has expired by then
    one = (await stack.http.get(f"/api/v1/admin/touches/{weekly['id']}", headers=bearer(admin))).json()
    assert one["next_run_at"] is None

    event = await touch(stack, admin, audience={"event": "registered"}, schedule={})
    assert (await act(stack, admin, event["id"], "schedule"))["next_run_at"] is None


async def test_the_stats_funnel_counts_queued_sent_delivered_and_converted(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    for _ in range(6):
        await shopper(stack, sms_marketing=True)
    await shopper(stack)  # no consent: queued, never sent
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience}, channels=["sms"])
    await act(stack, admin, created["id"], "schedule")
    empty = (await stack.http.get(f"/api/v1/admin/touches/{created['id']}/stats", headers=bearer(admin))).json()
    assert empty["funnel"] == {"queued": 0, "sent": 0, "delivered": 0, "converted": 0}
    await run(stack, created["id"])
    await stack.dispatcher.drain()
    stats = (await stack.http.get(f"/api/v1/admin/touches/{created['id']}/stats", headers=bearer(admin))).json()
    funnel = stats["funnel"]
    assert funnel["queued"] == sum(stats["messages"].values()) == 7
    assert funnel["sent"] == stats["messages"].get("sent", 0) + stats["messages"].get("delivered", 0) == 6
    assert funnel["delivered"] == stats["messages"].get("delivered", 0)
    assert funnel["converted"] == stats["conversions"]["treatment"]["converted"]


async def test_the_touch_routes_refuse_a_clerk_and_an_unknown_touch(stack):
    _, clerk = await make_staff(stack, role="clerk")
    admin = await admin_token(stack)
    assert (await stack.http.get("/api/v1/admin/touches", headers=bearer(clerk))).status_code == 403
    missing = await stack.http.get("/api/v1/admin/touches/999999/stats", headers=bearer(admin))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "TOUCH_NOT_FOUND"
    assert (await stack.http.get("/api/v1/admin/touches")).status_code == 401
