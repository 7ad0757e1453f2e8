from datetime import UTC, datetime

import pytest

from backend import clock
from backend.errors import DomainError
from backend.security.codes import CodeSigner


@pytest.fixture
def manual():
    moving = clock.ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.install(moving)
    yield moving
    clock.reset()


@pytest.mark.parametrize("subject", [1, 42, 123456789])
def test_codes_round_trip_for_any_id_length(manual, subject):
    signer = CodeSigner("k" * 40)
    issued = signer.issue("coupon", subject)
    scanned = signer.parse(issued.code)
    assert (scanned.kind, scanned.subject_id) == ("coupon", subject)
    assert len(issued.code) == 2 + len(str(subject)) + 2 + 8


def test_a_code_from_another_secret_is_invalid(manual):
    code = CodeSigner("a" * 40).issue("member", 7).code
    with pytest.raises(DomainError, match="CODE_INVALID"):
        CodeSigner("b" * 40).parse(code)


def test_age_is_resolved_across_the_step_counter_wrapping_at_100(manual):
    signer = CodeSigner("k" * 40)
    manual.set(datetime.fromtimestamp(99 * 30 + 3000 * 30, UTC))  # a step ending in 99
    code = signer.issue("member", 5).code
    manual.advance(30)  # the next step ends in 00
    assert signer.parse(code).subject_id == 5
    manual.advance(30)
    with pytest.raises(DomainError, match="CODE_EXPIRED"):
        signer.parse(code)


def test_ids_out_of_range_are_refused(manual):
    with pytest.raises(ValueError):
        CodeSigner("k" * 40).issue("member", 10**9)
