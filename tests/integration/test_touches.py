"""Marketer touches: a segment touch's dry-run matches its run, event touches reach each member once
after their delay, the hold-out group measures lift, and states move only as allowed."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import timedelta

import pytest

from backend import clock
from backend.coupons.models import Coupon
from backend.members.models import Member
from backend.stores.models import AuditLog
from jobs import service
from jobs.audience_models import Segment
from jobs.models import JobRun, Touch, TouchRecipient
from jobs.scheduler import Host
from notifications.models import Message
from tests.factories import bearer
from tests.jobs_helpers import add_order, coupon_template
from tests.notify_helpers import add_promo, admin_token, queue, shopper

pytestmark = pytest.mark.usefixtures("every_message_ends_final")


async def segment(stack, admin, rule, name="测试人群"):
    response = await stack.http.post("/api/v1/admin/segments", json={"name": name, "rule": rule},
                                     headers=bearer(admin))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def touch(stack, admin, expect=201, **fields):
    body = {"name": "春季促销", "channels": ["sms", "email"], "template_key": "promo",
            "schedule": {"at": stack.clock.now().isoformat()}, **fields}
    response = await stack.http.post("/api/v1/admin/touches", json=body, headers=bearer(admin))
    assert response.status_code == expect, response.text
    return response.json()


async def act(stack, admin, touch_id, action, expect=200):
    response = await stack.http.post(f"/api/v1/admin/touches/{touch_id}/{action}", headers=bearer(admin))
    assert response.status_code == expect, response.text
    return response.json()


async def run(stack, touch_id, owner="scheduler"):
    return await service.run_touch(touch_id, kv=stack.kv, owner=owner, tz=stack.settings.tz)


async def test_a_dry_run_predicts_exactly_what_the_run_then_does(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    template_id = await coupon_template(stack, admin, "春季券")
    opted_in = [(await shopper(stack, sms_marketing=True))[0] for _ in range(10)]
    silent = [(await shopper(stack))[0] for _ in range(4)]
    capped = opted_in[0]
    await queue(capped, dedupe="earlier-promo")  # today's one marketing SMS is already out
    await stack.dispatcher.drain()
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience}, coupon_template_id=template_id,
                          holdout_pct=25)
    await act(stack, admin, created["id"], "schedule")

    dry = await stack.http.post(f"/api/v1/admin/touches/{created['id']}/dry-run", headers=bearer(admin))
    assert dry.status_code == 200, dry.text
    predicted = dry.json()
    assert predicted["audience"] == len(opted_in) + len(silent)
    assert predicted["holdout"] + predicted["treatment"] == predicted["audience"] and predicted["holdout"] > 0
    assert await Message.filter(touch_id=created["id"]).count() == 0  # a dry run sends nothing

    result = await run(stack, created["id"])
    assert result["outcome"] == "done"
    await stack.dispatcher.drain()
    stats = (await stack.http.get(f"/api/v1/admin/touches/{created['id']}/stats", headers=bearer(admin))).json()
    would = predicted["would"]
    assert stats["messages"].get("sent", 0) == sum(would["sent"].values())
    assert stats["by_channel"].get("sms", {}).get("sent", 0) == would["sent"].get("sms", 0)
    assert stats["messages"].get("no_consent", 0) == would["no_consent"]
    assert stats["messages"].get("capped", 0) == would["capped"]
    assert sum(stats["messages"].values()) == predicted["treatment"]
    assert stats["coupons"]["issued"] == predicted["treatment"]

    holdout = {r.member_id for r in await TouchRecipient.filter(touch_id=created["id"], grp="holdout")}
    assert holdout and not await Message.filter(touch_id=created["id"], member_id__in=list(holdout)).exists()
    assert not await Coupon.filter(template_id=template_id, member_id__in=list(holdout)).exists()
    assert (await service.get_touch(created["id"])).status == "finished"  # a one-off touch ends after its run
    assert (await run(stack, created["id"]))["outcome"] == "skipped_finished"


async def test_a_segment_touch_runs_once_per_period_even_from_two_schedulers(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(5)]
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience},
                          schedule={"cron": "0 10 * * *", "until": (stack.clock.now() + timedelta(days=30)).isoformat()})
    await act(stack, admin, created["id"], "schedule")
    outcomes = await asyncio.gather(run(stack, created["id"], "a"), run(stack, created["id"], "b"))
    assert sorted(o["outcome"] for o in outcomes)[0] == "done"
    assert Counter(m.member_id for m in await Message.filter(touch_id=created["id"])) == {m: 1 for m in members}
    stack.clock.advance(days=1)  # the next day's period: everyone again
    assert (await run(stack, created["id"]))["outcome"] == "done"
    assert await Message.filter(touch_id=created["id"]).count() == 10
    assert (await service.get_touch(created["id"])).status == "running"
    stack.clock.advance(days=40)
    assert (await run(stack, created["id"]))["outcome"] == "finished"


async def test_an_event_touch_reaches_each_member_once_after_its_delay(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    before = (await shopper(stack, sms_marketing=True))[0]
    created = await touch(stack, admin, audience={"event": "registered", "delay_hours": 72}, schedule={})
    await act(stack, admin, created["id"], "schedule")
    stack.clock.advance(seconds=60)
    joined = [(await shopper(stack, sms_marketing=True))[0] for _ in range(3)]

    await run(stack, created["id"])
    stack.clock.advance(seconds=60)
    await run(stack, created["id"])  # the next minute: nothing new
    rows = await Message.filter(touch_id=created["id"])
    assert sorted(m.member_id for m in rows) == joined  # not the member who registered before it started
    registered = {m.id: m.registered_at for m in await Member.filter(id__in=joined)}
    for m in rows:
        assert m.due_at == registered[m.member_id] + timedelta(hours=72)
    await stack.dispatcher.drain()
    assert {m.status for m in await Message.filter(touch_id=created["id"])} == {"queued"}  # not due yet
    assert before not in {m.member_id for m in rows}
    stack.clock.advance(hours=72)
    await stack.dispatcher.drain()
    assert {m.status for m in await Message.filter(touch_id=created["id"])} == {"sent"}
    assert len(stack.sms.sent) == 3


async def test_conversions_are_measured_against_the_holdout_group(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(12)]
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience}, holdout_pct=50, attribution_days=7)
    await act(stack, admin, created["id"], "schedule")
    await run(stack, created["id"])
    groups = {r.member_id: r.grp for r in await TouchRecipient.filter(touch_id=created["id"])}
    treated = [m for m in members if groups[m] == "treatment"]
    held = [m for m in members if groups[m] == "holdout"]
    assert treated and held
    now = stack.clock.now()
    await add_order(treated[0], placed_at=now + timedelta(days=1), amount_cents=5000)
    await add_order(treated[0], placed_at=now + timedelta(days=2), amount_cents=3000)
    await add_order(held[0], placed_at=now + timedelta(days=3), amount_cents=4000)
    await add_order(treated[-1], placed_at=now + timedelta(days=8), amount_cents=9900)  # outside the window
    await add_order(held[-1], placed_at=now - timedelta(days=1), amount_cents=9900)  # before the touch

    stats = (await stack.http.get(f"/api/v1/admin/touches/{created['id']}/stats", headers=bearer(admin))).json()
    t, h = stats["conversions"]["treatment"], stats["conversions"]["holdout"]
    assert (t["members"], t["converted"], t["orders"], t["revenue_cents"]) == (len(treated), 1, 2, 8000)
    assert (h["members"], h["converted"], h["revenue_cents"]) == (len(held), 1, 4000)
    assert stats["conversions"]["lift"] == round(1 / len(treated) - 1 / len(held), 4)


async def test_touch_states_and_validation(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    missing = await touch(stack, admin, expect=422, audience={"segment_id": audience + 99})
    assert missing["error"]["code"] == "TOUCH_INVALID"
    both = await touch(stack, admin, expect=400, audience={"segment_id": audience, "event": "registered"})
    assert both["error"]["code"] == "VALIDATION_FAILED"
    no_time = await touch(stack, admin, expect=400, audience={"segment_id": audience}, schedule={})
    assert no_time["error"]["code"] == "VALIDATION_FAILED"
    bad_cron = await touch(stack, admin, expect=400, audience={"segment_id": audience}, schedule={"cron": "daily"})
    assert bad_cron["error"]["code"] == "VALIDATION_FAILED"

    created = await touch(stack, admin, audience={"segment_id": audience})
    body = {k: created[k] for k in ("audience", "channels", "template_key", "schedule", "cap_behaviour",
                                    "attribution_days", "holdout_pct")} | {"name": "改名"}
    edited = await stack.http.put(f"/api/v1/admin/touches/{created['id']}", json=body, headers=bearer(admin))
    assert edited.status_code == 200 and edited.json()["name"] == "改名"
    assert (await run(stack, created["id"]))["outcome"] == "skipped_draft"
    await act(stack, admin, created["id"], "schedule")
    locked = await stack.http.put(f"/api/v1/admin/touches/{created['id']}", json=body, headers=bearer(admin))
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "TOUCH_STATE"
    await act(stack, admin, created["id"], "pause")
    assert (await run(stack, created["id"]))["outcome"] == "skipped_paused"
    assert (await act(stack, admin, created["id"], "pause", expect=409))["error"]["code"] == "TOUCH_STATE"
    await act(stack, admin, created["id"], "resume")
    await act(stack, admin, created["id"], "finish")
    assert (await act(stack, admin, 99999, "pause", expect=404))["error"]["code"] == "TOUCH_NOT_FOUND"
    assert (await stack.http.post("/api/v1/admin/touches", json={})).status_code == 401


@pytest.mark.parametrize("fields", [
    {"schedule": {"at": "0001-01-01T00:00:00+08:00"}},  # before any calendar the scheduler can count to
    {"schedule": {"cron": "0 10 * * *", "until": "9999-12-31T23:59:59+00:00"}},
    {"schedule": {"at": "2026-03-02T10:00:00"}},  # no offset: whose ten o'clock?
    {"schedule": {"cron": "0 10 * * " + "1," * 60 + "1"}},  # a crontab longer than any real one
    {"audience": {"segment_id": 2**31}},  # segment ids are int4
    {"coupon_template_id": 0},
])
async def test_a_touch_naming_a_time_or_an_id_outside_its_range_is_refused(stack, fields):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})

    refused = await touch(stack, admin, expect=400, **{"audience": {"segment_id": audience}, **fields})

    assert refused["error"]["code"] == "VALIDATION_FAILED"
    assert await Touch.all().count() == 0
    assert not await AuditLog.filter(action="touch.create").exists()


async def test_a_dry_run_over_a_segment_saved_before_the_rule_bounds_names_the_rule_not_a_server_error(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    await shopper(stack, sms_marketing=True)
    # As a segment saved by an earlier version would be: nothing checked the tag id's width then.
    stale = await Segment.create(name="旧人群", rule={"field": "tag", "op": "has", "value": 2**40},
                                 created_at=clock.now(), updated_at=clock.now())
    created = await touch(stack, admin, audience={"segment_id": stale.id})

    dry = await stack.http.post(f"/api/v1/admin/touches/{created['id']}/dry-run", headers=bearer(admin))

    assert dry.status_code == 400 and dry.json()["error"]["code"] == "SEGMENT_RULE_INVALID"
    assert await Message.filter(touch_id=created["id"]).count() == 0


async def test_the_scheduler_host_schedules_programs_and_live_touches_from_the_database(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    draft = await touch(stack, admin, audience={"segment_id": audience})
    live = await touch(stack, admin, audience={"segment_id": audience}, schedule={"cron": "30 9 * * mon"})
    await act(stack, admin, live["id"], "schedule")
    host = Host(stack.settings, stack.kv, refresh_s=3600)
    desired = await host.desired()
    assert f"touch:{live['id']}" in desired and f"touch:{draft['id']}" not in desired
    assert {f"program:{key}" for key in ("birthday", "winback", "points_expiry", "tier_review")} <= set(desired)
    await host.start()
    try:
        job = host.scheduler.get_job(f"touch:{live['id']}")
        assert job is not None and job.next_run_time.weekday() == 0 and job.next_run_time.hour == 9
        await act(stack, admin, live["id"], "pause")
        await host.reconcile()
        assert host.scheduler.get_job(f"touch:{live['id']}") is None
    finally:
        host.stop()


@pytest.mark.postgres_only
async def test_two_scheduler_processes_run_a_job_once(stack):
    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR"}
    # Both processes run on the real clock: the period is today's real date.
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "run-job", "program:birthday", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _ in range(2)]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=60)
    assert all(p.returncode == 0 for p in processes), [o[1].decode()[-500:] for o in outputs]
    outcomes = sorted(o[0].decode() for o in outputs)
    assert sum('"outcome": "done"' in o for o in outcomes) == 1, outcomes
    assert await JobRun.filter(job="program:birthday").count() == 1


async def test_an_admin_issues_a_coupon_to_a_segment_at_once_and_again_gives_nobody_a_second(stack):
    admin = await admin_token(stack)
    template_id = await coupon_template(stack, admin, "人群券")
    members = [(await shopper(stack))[0] for _ in range(4)]
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    for _ in range(2):
        response = await stack.http.post(f"/api/v1/admin/coupon-templates/{template_id}/issue",
                                         json={"segment_id": audience, "batch_id": "spring"}, headers=bearer(admin))
        assert response.status_code == 200, response.text
    assert response.json()["issued"] == 0  # the second time
    assert Counter(c.member_id for c in await Coupon.filter(template_id=template_id)) == {m: 1 for m in members}
    both = await stack.http.post(f"/api/v1/admin/coupon-templates/{template_id}/issue", headers=bearer(admin),
                                 json={"segment_id": audience, "member_ids": members, "batch_id": "x"})
    assert both.status_code == 400
    missing = await stack.http.post(f"/api/v1/admin/coupon-templates/{template_id}/issue", headers=bearer(admin),
                                    json={"segment_id": audience + 50, "batch_id": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SEGMENT_NOT_FOUND"


async def test_a_segment_a_live_touch_uses_cannot_be_deleted(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    audience = await segment(stack, admin, {"field": "has_phone", "op": "eq", "value": True})
    created = await touch(stack, admin, audience={"segment_id": audience})
    refused = await stack.http.delete(f"/api/v1/admin/segments/{audience}", headers=bearer(admin))
    assert refused.status_code == 409 and refused.json()["error"]["details"]["touch_ids"] == [created["id"]]
    await act(stack, admin, created["id"], "finish")
    assert (await stack.http.delete(f"/api/v1/admin/segments/{audience}", headers=bearer(admin))).status_code in (
        200, 204)
