"""A dormant win-back touch over 10,000 generated members: ``python -m bench fanout``'s data set and touch at
CI size. Each treated member gets one message and one coupon, a tenth of the audience is held out, the outbox
rows are those a hand-written ``INSERT … SELECT`` produces, and a second run does nothing."""

from __future__ import annotations

import asyncpg
import pytest

from bench import winback
from jobs.models import Touch

pytestmark = pytest.mark.postgres_only

MEMBERS = 10_000


async def test_a_winback_touch_over_ten_thousand_members_reaches_each_dormant_member_once(stack):
    now = stack.clock.now()
    conn = await asyncpg.connect(stack.settings.database_url)
    try:
        data = await winback.generate(conn, members=MEMBERS, now=now)
        touch = await winback.prepare_touch(now=now)

        _, result = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now)

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

        again = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now)
        # a scheduler that read the touch before it finished
        await Touch.filter(id=touch.touch_id).update(status="running")
        late = await winback.run_touch(touch, kv=stack.kv, tz=stack.settings.tz, now=now)

        assert again[1]["outcome"] == "skipped_finished"
        assert late[1]["outcome"] == "already_done"
        assert await winback.outcome(conn, touch) == got
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {winback.BASELINE_TABLE}")
        await conn.close()
