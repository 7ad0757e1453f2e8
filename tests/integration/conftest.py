"""Fixtures shared by the integration tests."""

import pytest

from tests.factories import make_staff, member_token, scan_token


@pytest.fixture
async def counter(stack):
    """A clerk at a store, an admin, and a registered member scanned at that store."""
    clerk_staff, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    member_id, token = await member_token(stack)
    scanned = await scan_token(stack, clerk, token)

    class Counter:
        pass

    c = Counter()
    c.clerk, c.admin, c.member_id, c.token, c.scan = clerk, admin, member_id, token, scanned
    c.store_id = clerk_staff.store_id
    return c


@pytest.fixture
async def every_message_ends_final(stack):
    """After the test, let time pass (at noon merchant time, past quiet hours, caps and retries) with the
    providers answering again: every message the test queued must reach a final state."""
    from datetime import UTC, datetime, timedelta

    from notifications.models import FINAL, Message

    yield
    stack.sms.reset()
    stack.smtp.reset()
    for _ in range(8):
        later = stack.clock.now() + timedelta(days=2)
        stack.clock.set(datetime(later.year, later.month, later.day, 4, 0, tzinfo=UTC))  # 12:00 in Shanghai
        await stack.dispatcher.drain()
    stuck = await Message.filter(status__not_in=list(FINAL)).values_list("id", "template_key", "status", "reason")
    assert not stuck, f"{len(stuck)} messages left unfinished, e.g. {stuck[:5]}"
