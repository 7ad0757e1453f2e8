"""A dormant win-back touch over 10,000 generated members: ``python -m bench fanout``'s data set and touch at
CI size. Each treated member gets one message and one coupon, a tenth of the audience is held out, the outbox
rows are those a hand-written ``INSERT … SELECT`` produces, and a second run does nothing: written one range
after another and several ranges at once (``TOUCH_PARALLEL``), and after a run stopped in the middle of
ranges written at once."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import pytest

from bench import winback
from jobs import runs, service, touches
from jobs.models import JobRun, Touch
from notifications import templates

pytestmark = pytest.mark.postgres_only

MEMBERS = 10_000


RANGE = 1_000  # member ids per step here: ten steps over the generated members


@pytest.mark.parametrize("parallel", [1, 3])
async def test_a_winback_touch_over_ten_thousand_members_reaches_each_dormant_member_once(stack, monkeypatch,
                                                                                          parallel):
    monkeypatch.setattr(touches, "RANGE", RANGE)
    now = stack.clock.now()
    conn = await asyncpg.connect(stack.settings.database_url)
    try:
        data = await winback.generate(conn, members=MEMBERS, now=now)
        touch = await winback.prepare_touch(now=now)

        _, result = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now, parallel=parallel)

        assert result["outcome"] == "done"
        got = await winback.outcome(conn, touch)
        assert data.members == MEMBERS
        assert 0.17 * MEMBERS <= got.recipients <= 0.25 * MEMBERS  # ~20 % dormant, 1 % of them deleted
        assert 0.07 <= got.holdout / got.recipients <= 0.13
        assert got.treatment == got.recipients - got.holdout == got.messages == got.coupons
        assert result["counts"] == {"audience": got.recipients, "holdout": got.holdout,
                                    "treatment": got.treatment, "coupons": got.coupons, "messages": got.messages}
        await winback.create_baseline_table(conn)
        _, rows = await winback.insert_select(conn, touch, now=now)
        assert rows == got.messages
        assert await winback.problems(conn, touch, now=now, baseline=True) == []

        again = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now, parallel=parallel)
        # a scheduler that read the touch before it finished
        await Touch.filter(id=touch.touch_id).update(status="running")
        late = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now, parallel=parallel)

        assert again[1]["outcome"] == "skipped_finished"
        assert late[1]["outcome"] == "already_done"
        assert await winback.outcome(conn, touch) == got
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {winback.BASELINE_TABLE}")
        await conn.close()


async def test_a_touch_stopped_while_writing_ranges_at_once_is_resumed_and_counts_each_member_once(stack,
                                                                                                 monkeypatch):
    """Three ranges in flight; the range from 4 000 dies before it commits, and the ranges beside it commit
    while the cursor stays before the gap. The scheduler that takes over writes from the cursor again: the
    committed ranges add and count nothing, the lost one is written, and the counts are the touch's rows."""
    monkeypatch.setattr(touches, "RANGE", RANGE)
    now = stack.clock.now()
    conn = await asyncpg.connect(stack.settings.database_url)
    try:
        await winback.generate(conn, members=MEMBERS, now=now)
        touch = await winback.prepare_touch(now=now)
        row = await service.get_touch(touch.touch_id)
        data = service.touch_dict(row)
        template = await templates.get(row.template_key, fresh=True)
        period = touches.period_for(data, now, stack.settings.tz)
        real = touches.segment_step(data, template, period, now=now, tz=stack.settings.tz, parallel=3)

        async def dies_in_the_fifth_range(cursor, conn):
            result = await real(cursor, conn)
            if cursor == 4 * RANGE:
                raise asyncio.CancelledError  # gone before this range's transaction commits
            return result

        dies_in_the_fifth_range.parallel = 3
        dies_in_the_fifth_range.span = real.span
        with pytest.raises(asyncio.CancelledError):
            await runs.run(f"touch:{touch.touch_id}", period, dies_in_the_fifth_range, kv=stack.kv, owner="dead")
        run = await JobRun.get(job=f"touch:{touch.touch_id}")
        assert run.status == "running" and run.cursor == 4 * RANGE  # the four ranges before the gap
        written = await conn.fetchval("SELECT count(*) FROM touch_recipients WHERE touch_id = $1", touch.touch_id)
        past = await conn.fetchval("SELECT count(*) FROM touch_recipients WHERE touch_id = $1 AND member_id > $2",
                                   touch.touch_id, 5 * RANGE)
        between = await conn.fetchval("SELECT count(*) FROM touch_recipients WHERE touch_id = $1 AND member_id > $2 "
                                      "AND member_id <= $3", touch.touch_id, 4 * RANGE, 5 * RANGE)
        # Every committed range is counted, the lost one wrote nothing, and the one beside it committed.
        assert written == run.counts["audience"] and between == 0 and past > 0

        # Its heartbeat ages past the lease; the next scheduler takes the run over from the cursor.
        stack.clock.advance(seconds=121)
        _, result = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now, owner="alive",
                                            parallel=3)

        assert result["outcome"] == "resumed"
        got = await winback.outcome(conn, touch)
        assert result["counts"] == {"audience": got.recipients, "holdout": got.holdout,
                                    "treatment": got.treatment, "coupons": got.coupons, "messages": got.messages}
        assert got.treatment == got.messages == got.coupons
        rows = await conn.fetch("SELECT member_id FROM messages WHERE touch_id = $1", touch.touch_id)
        per_member = Counter(r["member_id"] for r in rows)
        assert set(per_member.values()) == {1}
        await winback.create_baseline_table(conn)
        _, rows = await winback.insert_select(conn, touch, now=now)
        assert rows == got.messages
        assert await winback.problems(conn, touch, now=now, baseline=True) == []
        assert (await JobRun.get(job=f"touch:{touch.touch_id}")).attempts == 2
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {winback.BASELINE_TABLE}")
        await conn.close()


async def test_a_touch_whose_coupon_has_limited_stock_gives_it_to_the_oldest_member_ids_first(stack, monkeypatch):
    """Several ranges at once would race for the template's lock, and a later range could take the stock
    before an earlier one: such a touch writes its ranges one after another."""
    monkeypatch.setattr(touches, "RANGE", RANGE)
    now = stack.clock.now()
    conn = await asyncpg.connect(stack.settings.database_url)
    try:
        await winback.generate(conn, members=MEMBERS, now=now)
        touch = await winback.prepare_touch(now=now)
        await conn.execute("UPDATE coupon_templates SET total_stock = 300 WHERE id = $1", touch.coupon_template_id)

        _, result = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now, parallel=3)

        assert result["outcome"] == "done"
        got = await winback.outcome(conn, touch)
        assert got.treatment > 300 + RANGE // 5 and got.messages == got.treatment
        treated = [r["member_id"] for r in await conn.fetch(
            "SELECT member_id FROM touch_recipients WHERE touch_id = $1 AND grp = 'treatment' ORDER BY member_id",
            touch.touch_id)]
        holders = [r["member_id"] for r in await conn.fetch(
            "SELECT member_id FROM coupons WHERE template_id = $1 ORDER BY member_id", touch.coupon_template_id)]
        assert holders == treated[:300]
        assert result["counts"]["coupons"] == 300
    finally:
        await conn.close()
