"""The scheduler's jobs: each run once however many schedulers, resumable after a crash, and the
lifecycle programs walked through birthdays, dormancy and expiry dates with a moved clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.coupons.models import Coupon
from backend.loyalty.models import LoyaltyAccount, PointsEntry
from jobs import lifecycle, runs, service
from jobs.models import JobRun
from notifications.models import Message
from tests.factories import bearer
from tests.jobs_helpers import add_order, coupon_template, run_program, set_birthday, set_lifecycle
from tests.notify_helpers import admin_token, messages, shopper

pytestmark = pytest.mark.usefixtures("every_message_ends_final")

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 merchant time


async def run_as(stack, owner: str, key: str):
    return await service.run_program(key, kv=stack.kv, owner=owner, tz=stack.settings.tz)


async def test_two_schedulers_run_a_program_once_and_a_second_run_the_same_day_does_nothing(stack):
    admin = await admin_token(stack)
    template_id = await coupon_template(stack, admin, "生日礼券")
    await set_lifecycle(stack, admin, "birthday", coupon_template_id=template_id)
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(3)]
    for member_id in members:
        await set_birthday(member_id, date(1990, 3, 2))
    other = (await shopper(stack))[0]
    await set_birthday(other, date(1990, 3, 3))

    first, second = await asyncio.gather(run_as(stack, "scheduler-a", "birthday"),
                                         run_as(stack, "scheduler-b", "birthday"))
    outcomes = sorted([first["outcome"], second["outcome"]])
    assert outcomes[0] == "done" and outcomes[1] in ("already_done", "running_elsewhere"), outcomes
    assert (await run_as(stack, "scheduler-c", "birthday"))["outcome"] == "already_done"
    assert await JobRun.filter(job="program:birthday").count() == 1

    for member_id in members:
        assert len(await messages(member_id, "birthday")) == 1
        assert await Coupon.filter(member_id=member_id, template_id=template_id).count() == 1
    assert await messages(other, "birthday") == []
    run = await JobRun.get(job="program:birthday")
    assert run.status == "done" and run.counts["members"] == 3 and run.counts["coupons"] == 3
    listed = await stack.http.get("/api/v1/admin/job-runs?job=program:birthday", headers=bearer(admin))
    [item] = listed.json()["items"]
    assert (item["status"], item["counts"]["members"], item["error"]) == ("done", 3, None)
    assert (await stack.http.get("/api/v1/admin/job-runs?job=program:winback", headers=bearer(admin))).json() == {
        "items": []}


async def test_a_run_killed_mid_way_resumes_from_its_cursor_without_sending_twice(stack, monkeypatch):
    admin = await admin_token(stack)
    template_id = await coupon_template(stack, admin)
    await set_lifecycle(stack, admin, "winback", coupon_template_id=template_id, days=60)
    members = [(await shopper(stack, sms_marketing=True))[0] for _ in range(7)]
    for member_id in members:
        await add_order(member_id, placed_at=START)
    stack.clock.set(START + timedelta(days=61))
    monkeypatch.setattr(lifecycle, "BATCH", 2)

    settings = (await lifecycle.load_all(fresh=True))["winback"]
    real = lifecycle.step_for("winback", settings, now=stack.clock.now(), tz=stack.settings.tz)
    calls = []

    async def dies_in_the_third_batch(cursor, conn):
        calls.append(cursor)
        result = await real(cursor, conn)
        if len(calls) == 3:
            raise asyncio.CancelledError  # the process is gone: this batch's transaction never commits
        return result

    period = lifecycle.period_of(stack.clock.now(), stack.settings.tz)
    with pytest.raises(asyncio.CancelledError):
        await runs.run("program:winback", period, dies_in_the_third_batch, kv=stack.kv, owner="dead")
    run = await JobRun.get(job="program:winback")
    assert run.status == "running" and run.cursor == members[3]  # two batches committed
    assert len(await Message.filter(template_key="winback")) == 4

    # Another scheduler waits while the dead one's heartbeat is fresh, then takes over.
    assert (await run_as(stack, "alive", "winback"))["outcome"] == "running_elsewhere"
    stack.clock.advance(seconds=121)
    resumed = await run_as(stack, "alive", "winback")
    assert resumed["outcome"] == "resumed" and resumed["counts"]["members"] == 7
    assert Counter(m.member_id for m in await Message.filter(template_key="winback")) == {m: 1 for m in members}
    assert await Coupon.filter(template_id=template_id).count() == 7
    run = await JobRun.get(job="program:winback")
    assert (run.status, run.attempts) == ("done", 2)


async def test_birthdays_come_on_the_day_and_29_february_on_the_28th_in_other_years(stack):
    admin = await admin_token(stack)
    await set_lifecycle(stack, admin, "birthday", days=0)
    march, leap = (await shopper(stack, sms_marketing=True))[0], (await shopper(stack, sms_marketing=True))[0]
    await set_birthday(march, date(1991, 3, 5))
    await set_birthday(leap, date(2000, 2, 29))

    async def on(day: date) -> set[int]:
        stack.clock.set(datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC))  # 09:00 local
        await run_program(stack, "birthday")
        return {m.member_id for m in await Message.filter(template_key="birthday")}

    assert await on(date(2026, 3, 4)) == set()
    assert await on(date(2026, 3, 5)) == {march}
    assert await on(date(2027, 2, 28)) == {march, leap}  # 2027 has no 29 February
    greetings = await messages(leap, "birthday")
    await on(date(2028, 2, 28))
    assert await messages(leap, "birthday") == greetings  # 2028 does: not on the 28th
    await on(date(2028, 2, 29))
    assert len(await messages(leap, "birthday")) == 2


async def test_winback_once_per_dormancy(stack):
    admin = await admin_token(stack)
    template_id = await coupon_template(stack, admin)
    await set_lifecycle(stack, admin, "winback", coupon_template_id=template_id, days=90)
    member_id = (await shopper(stack, sms_marketing=True))[0]
    never_ordered = (await shopper(stack, sms_marketing=True))[0]
    await add_order(member_id, placed_at=START)

    stack.clock.set(START + timedelta(days=89))
    await run_program(stack, "winback")
    assert await messages(member_id, "winback") == []
    for day in (91, 92, 120):
        stack.clock.set(START + timedelta(days=day))
        await run_program(stack, "winback")
    assert len(await messages(member_id, "winback")) == 1
    assert await Coupon.filter(member_id=member_id, template_id=template_id).count() == 1
    assert await messages(never_ordered, "winback") == []

    await add_order(member_id, placed_at=START + timedelta(days=121))  # back, then dormant again
    stack.clock.set(START + timedelta(days=215))
    await run_program(stack, "winback")
    assert len(await messages(member_id, "winback")) == 2
    assert await Coupon.filter(member_id=member_id, template_id=template_id).count() == 2


async def test_points_expiry_reminder_then_the_expiry_itself(stack, counter):
    from tests.loyalty_helpers import assets, order, set_program

    await set_program(stack, counter.admin, points_expiry={"policy": "rolling_months", "months": 1})
    await order(stack, counter, amount_cents=30000)
    points = (await assets(stack, counter))["points"]["balance"]
    assert points > 0
    await set_lifecycle(stack, counter.admin, "points_expiry_reminder", days=7)

    stack.clock.set(START + timedelta(days=20))
    await run_program(stack, "points_expiry_reminder")
    assert await messages(counter.member_id, "points_expiring") == []
    stack.clock.set(START + timedelta(days=25))
    await run_program(stack, "points_expiry_reminder")
    stack.clock.set(START + timedelta(days=26))
    await run_program(stack, "points_expiry_reminder")
    [reminder] = await messages(counter.member_id, "points_expiring")
    assert reminder.context == {"points": points, "expires_on": "2026-04-02"}  # a month after, merchant time
    assert reminder.purpose == "service" and reminder.expires_at is not None

    stack.clock.set(START + timedelta(days=32))
    result = await run_program(stack, "points_expiry")
    assert result["outcome"] == "done" and result["counts"]["points"] == points
    assert (await LoyaltyAccount.get(member_id=counter.member_id)).points_balance == 0
    assert await PointsEntry.filter(member_id=counter.member_id, kind="expire").count() == 1
    assert (await run_program(stack, "points_expiry"))["outcome"] == "already_done"


async def test_coupon_expiry_reminder_and_expiry(stack):
    admin = await admin_token(stack)
    template_id = await coupon_template(stack, admin)
    member_id = (await shopper(stack))[0]
    issued = await stack.http.post(f"/api/v1/admin/coupon-templates/{template_id}/issue",
                                   json={"member_ids": [member_id], "batch_id": "b1"}, headers=bearer(admin))
    assert issued.json()["issued"] == 1
    coupon = await Coupon.get(member_id=member_id)
    stack.clock.set(coupon.valid_until - timedelta(days=2))
    await run_program(stack, "coupon_expiry_reminder")
    [reminder] = await messages(member_id, "coupon_expiring")
    assert reminder.context["coupon_id"] == coupon.id
    stack.clock.set(coupon.valid_until + timedelta(hours=1))
    assert (await run_program(stack, "coupon_expiry"))["counts"] == {"coupons": 1}
    assert (await Coupon.get(id=coupon.id)).status == "expired"


async def test_program_settings_are_validated_and_switchable(stack):
    admin = await admin_token(stack)
    bad_cron = await stack.http.put("/api/v1/admin/lifecycle-programs/birthday", headers=bearer(admin),
                                    json={"enabled": True, "cron": "every day", "days": 0})
    assert bad_cron.status_code == 400
    bad_template = await stack.http.put("/api/v1/admin/lifecycle-programs/birthday", headers=bearer(admin),
                                        json={"enabled": True, "cron": "0 9 * * *", "template_key": "nope"})
    assert bad_template.status_code == 422 and bad_template.json()["error"]["code"] == "TOUCH_INVALID"
    unknown = await stack.http.put("/api/v1/admin/lifecycle-programs/nope", headers=bearer(admin),
                                   json={"enabled": True, "cron": "0 9 * * *"})
    assert unknown.status_code == 404
    await set_lifecycle(stack, admin, "birthday", enabled=False)
    by_http = await stack.http.post("/api/v1/admin/lifecycle-programs/birthday/run", headers=bearer(admin))
    assert by_http.status_code == 200 and by_http.json()["outcome"] == "disabled"
    runs_page = await stack.http.get("/api/v1/admin/job-runs", headers=bearer(admin))
    assert runs_page.status_code == 200


async def test_the_tag_recompute_program_runs_to_done_with_integer_counts(stack):
    admin = await admin_token(stack)
    await set_lifecycle(stack, admin, "tags_recompute", enabled=True)
    stack.clock.advance(days=1)  # a day of its own: once a day per program
    admin = await admin_token(stack)  # the first token expired with the day
    ran = await stack.http.post("/api/v1/admin/lifecycle-programs/tags_recompute/run", headers=bearer(admin))
    assert ran.status_code == 200, ran.text
    outcome = ran.json()
    assert outcome["outcome"] in ("done", "already_done"), outcome
    if outcome["outcome"] == "done":
        assert set(outcome["counts"]) == {"added", "removed", "tagged"}
        assert all(isinstance(v, int) and v >= 0 for v in outcome["counts"].values())
    row = await JobRun.filter(job="program:tags_recompute").order_by("-id").first()
    assert row is not None and row.status == "done" and row.error is None


@pytest.mark.parametrize("changes", [
    {"cron": "0 9 * * " + "1," * 60 + "1"},  # longer than any real crontab
    {"coupon_template_id": 0},
    {"coupon_template_id": -5},
])
async def test_a_program_naming_a_crontab_or_coupon_out_of_bounds_is_refused_and_keeps_its_settings(stack, changes):
    admin = await admin_token(stack)
    body = {"enabled": True, "cron": "0 9 * * *", "days": 0, "template_key": "birthday", **changes}

    refused = await stack.http.put("/api/v1/admin/lifecycle-programs/birthday", json=body, headers=bearer(admin))

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "VALIDATION_FAILED", refused.text
    assert (await lifecycle.load_all(fresh=True))["birthday"] == lifecycle.DEFAULTS["birthday"]


async def test_job_runs_are_listed_for_the_job_asked_for(stack):
    admin = await admin_token(stack)
    await run_program(stack, "tier_review")
    await run_program(stack, "points_expiry")

    only = await stack.http.get("/api/v1/admin/job-runs", params={"job": "program:tier_review"},
                                headers=bearer(admin))
    refused = await stack.http.get("/api/v1/admin/job-runs", params={"job": "x" * 61}, headers=bearer(admin))

    assert [(run["job"], run["status"]) for run in only.json()["items"]] == [("program:tier_review", "done")]
    assert await JobRun.filter(job="program:points_expiry").count() == 1
    assert refused.status_code == 400 and "job" in refused.json()["error"]["details"]["fields"]


async def test_a_tier_period_end_downgrades_through_the_nightly_review_and_the_upgrade_message_went_once(stack, counter):
    from backend.loyalty.models import TierChange
    from tests.loyalty_helpers import order

    await order(stack, counter, amount_cents=600000)  # 6000 yuan: gold
    [upgraded] = await messages(counter.member_id, "tier_upgraded")
    assert upgraded.context["tier_name"] == "金卡" and upgraded.purpose == "service"
    stack.clock.advance(days=200)
    assert (await run_program(stack, "tier_review"))["counts"]["downgraded"] == 0  # retention not over
    stack.clock.advance(days=200)
    result = await run_program(stack, "tier_review")
    assert result["counts"] == {"reviewed": 1, "downgraded": 1}
    assert (await LoyaltyAccount.get(member_id=counter.member_id)).tier_code == "normal"
    assert [c.reason for c in await TierChange.filter(member_id=counter.member_id).order_by("id")][-1] != "upgrade"
    assert len(await messages(counter.member_id, "tier_upgraded")) == 1  # a downgrade sends no upgrade message


async def test_churn_warning_tags_dormant_members_and_an_order_removes_it(stack):
    from jobs.audience_models import MemberTag, Tag

    member_id = (await shopper(stack))[0]
    await add_order(member_id, placed_at=START)
    stack.clock.set(START + timedelta(days=61))
    await run_program(stack, "churn_warning")
    tag = await Tag.get(code=lifecycle.CHURN_TAG)
    assert await MemberTag.filter(tag_id=tag.id, member_id=member_id).exists()
    await add_order(member_id, placed_at=stack.clock.now())
    stack.clock.advance(days=1)
    await run_program(stack, "churn_warning")
    assert not await MemberTag.filter(tag_id=tag.id, member_id=member_id).exists()


@pytest.mark.postgres_only
async def test_a_scheduler_process_killed_mid_run_is_resumed_without_sending_twice(stack):
    """A real `run-job` process SIGKILLed after its first batches committed; another scheduler takes over."""
    import os
    import signal
    import sys
    import time

    import asyncpg

    from bench.winback import generate

    real_now = datetime.now(UTC)
    database = stack.settings.database_url
    conn = await asyncpg.connect(database)
    try:
        await generate(conn, members=15_000, now=real_now)
        dormant = await conn.fetchval(
            "SELECT count(*) FROM members m WHERE m.status = 'active' AND EXISTS (SELECT 1 FROM orders o "
            "WHERE o.member_id = m.id) AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = m.id "
            "AND o.placed_at >= $1)", real_now - timedelta(days=90))
    finally:
        await conn.close()
    assert dormant > 2000  # several batches of 500

    # A short lease, so its Redis key lapses soon after the kill (Redis keeps real time, not the test clock).
    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR", "JOB_LEASE_S": "2"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "run-job", "program:winback", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            run = await JobRun.get_or_none(job="program:winback")
            if run is not None and run.cursor > 0:
                break
            if process.returncode is not None:
                raise AssertionError((await process.stderr.read()).decode()[-2000:])
            assert time.monotonic() < deadline, "no batch committed within a minute"
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    killed = await JobRun.get(job="program:winback")
    assert killed.status == "running" and 0 < killed.counts["members"] < dormant, killed.counts
    stack.clock.set(datetime.now(UTC))  # the process ran on the real clock
    assert (await run_as(stack, "alive", "winback"))["outcome"] == "running_elsewhere"  # its heartbeat is fresh
    # The dead process's lease in Redis and its heartbeat run out; the next scheduler picks the run up.
    await asyncio.sleep(2.5)
    stack.clock.set(datetime.now(UTC) + timedelta(seconds=125))
    result = await run_as(stack, "alive", "winback")
    same_day = lifecycle.period_of(stack.clock.now(), stack.settings.tz) == killed.period
    assert result["outcome"] == ("resumed" if same_day else "done")
    per_member = Counter(await Message.filter(template_key="winback").values_list("member_id", flat=True))
    assert len(per_member) == dormant and set(per_member.values()) == {1}  # everyone once, nobody twice
    if same_day:
        run = await JobRun.get(job="program:winback")
        assert (run.status, run.attempts, run.counts["members"]) == ("done", 2, dormant)
