"""A scanned member code is replaced at once: the next code is for the step after the used one."""

from datetime import UTC, datetime

import pytest

from backend import clock
from backend.errors import DomainError
from backend.kv import MemoryKV
from backend.security.codes import CodeSigner

START = datetime.fromtimestamp(3000 * 30 + 5, UTC)  # 5 s into a step


@pytest.fixture
def manual():
    moving = clock.ManualClock(START)
    clock.install(moving)
    yield moving
    clock.reset()


async def test_after_a_scan_the_next_code_is_new_and_accepted(manual):
    signer, kv = CodeSigner("k" * 40), MemoryKV()
    first = await signer.issue_fresh(kv, "member", 42)
    assert (await signer.issue_fresh(kv, "member", 42)).code == first.code  # unused: the same code
    await signer.consume(kv, signer.parse(first.code))
    fresh = await signer.issue_fresh(kv, "member", 42)
    assert fresh.code != first.code
    assert fresh.expires_at > first.expires_at and fresh.refresh_after_s == first.refresh_after_s + 30
    await signer.consume(kv, signer.parse(fresh.code))  # accepted: one step ahead of the clock
    with pytest.raises(DomainError, match="CODE_ALREADY_USED"):
        await signer.consume(kv, signer.parse(first.code))


async def test_two_scans_in_one_step_wait_for_the_next_step(manual):
    signer, kv = CodeSigner("k" * 40), MemoryKV()
    await signer.consume(kv, signer.parse((await signer.issue_fresh(kv, "member", 7)).code))
    ahead = await signer.issue_fresh(kv, "member", 7)
    await signer.consume(kv, signer.parse(ahead.code))
    again = await signer.issue_fresh(kv, "member", 7)
    assert again.code == ahead.code  # no second step ahead: this one is used
    manual.advance(30)
    later = await signer.issue_fresh(kv, "member", 7)
    assert later.code != ahead.code
    await signer.consume(kv, signer.parse(later.code))


def test_a_code_two_steps_ahead_is_refused(manual):
    signer = CodeSigner("k" * 40)
    ahead = signer.issue("member", 5, step=signer.current_step() + 1).code
    manual.advance(-60)  # seen from two steps earlier it is not a code of this window
    with pytest.raises(DomainError, match="CODE_INVALID"):
        signer.parse(ahead)
    with pytest.raises(ValueError):
        signer.issue("member", 5, step=signer.current_step() + 2)
