"""The paid membership's lifecycle programs: a renewal reminder before the end and an expiry notice after it, each
once per end, through the outbox (consent, caps and quiet hours as for every message)."""

from __future__ import annotations

from backend.membership import service as membership
from tests.factories import member_token
from tests.integration.test_membership_benefits import paid_member
from tests.integration.test_membership_purchase import local_midnight
from tests.jobs_helpers import run_program
from tests.notify_helpers import messages


def shanghai_at(year, month, day, hour):
    from datetime import timedelta

    return local_midnight(year, month, day) + timedelta(hours=hour)


async def test_a_renewal_reminder_goes_once_before_the_end_and_again_for_the_next_end(stack):
    member_id, _ = await member_token(stack, consents={"sms_marketing": True})
    await paid_member(stack, member_id)  # ends 3 April, midnight: the last day is 2 April
    stack.clock.set(shanghai_at(2026, 3, 29, 10))  # more than three days before
    assert (await run_program(stack, "membership_renewal_reminder"))["counts"]["messages"] == 0
    stack.clock.set(shanghai_at(2026, 3, 31, 10))
    assert (await run_program(stack, "membership_renewal_reminder"))["counts"]["messages"] == 1
    stack.clock.set(shanghai_at(2026, 4, 1, 10))
    assert (await run_program(stack, "membership_renewal_reminder"))["counts"]["messages"] == 0  # once per end
    [reminder] = await messages(member_id, "membership_renewal")
    assert reminder.purpose == "marketing"
    assert reminder.context["plan_name"] == "月卡会员" and reminder.context["ends_on"] == "2026-04-02"
    # Renewed: the new end gets its own reminder when its time comes
    await paid_member(stack, member_id, payment_ref="wxpay:T2")
    stack.clock.set(shanghai_at(2026, 4, 30, 10))
    assert (await run_program(stack, "membership_renewal_reminder"))["counts"]["messages"] == 1
    assert [m.context["ends_on"] for m in await messages(member_id, "membership_renewal")] == [
        "2026-04-02", "2026-05-02"]


async def test_an_expiry_notice_goes_once_after_the_end_and_not_for_a_running_membership(stack):
    member_id, _ = await member_token(stack)
    other_id, _ = await member_token(stack)
    await paid_member(stack, member_id)
    await paid_member(stack, other_id, payment_ref="wxpay:O1")
    await paid_member(stack, other_id, payment_ref="wxpay:O2")  # renewed: runs on
    stack.clock.set(shanghai_at(2026, 4, 2, 9))
    assert (await run_program(stack, "membership_expiry_notice"))["counts"]["messages"] == 0  # not ended yet
    stack.clock.set(shanghai_at(2026, 4, 3, 9))
    assert not (await membership.status(member_id))["active"]
    assert (await run_program(stack, "membership_expiry_notice"))["counts"]["messages"] == 1
    stack.clock.set(shanghai_at(2026, 4, 4, 9))
    assert (await run_program(stack, "membership_expiry_notice"))["counts"]["messages"] == 0
    [notice] = await messages(member_id, "membership_expired")
    assert notice.purpose == "service" and notice.context["ends_on"] == "2026-04-02"
    assert await messages(other_id, "membership_expired") == []
