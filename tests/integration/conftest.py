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
