"""The discount computation over a matrix of templates × order amounts × tier discount × stacking."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from backend.coupons.errors import (
    CouponMinSpendNotMet,
    CouponNotCombinable,
    CouponWrongCategory,
    CouponWrongChannel,
    CouponWrongStore,
)
from backend.coupons.terms import Line, Terms, check_scope, discounts

WINDOW = {"valid_days": 30}


def terms(**fields) -> Terms:
    return Terms(**{**WINDOW, **fields})


MAN_JIAN = terms(kind="amount_off", min_spend_cents=10000, amount_off_cents=2000)  # 满100减20
BA_ZHE = terms(kind="percent_off", percent_pays=80, max_discount_cents=5000)  # 8折, 最多减50
GIFT = terms(kind="gift", gift_sku="TOTE")


@pytest.mark.parametrize("coupon, amount, expected", [
    (MAN_JIAN, 10000, 2000),
    (MAN_JIAN, 12345, 2000),
    (terms(kind="amount_off", amount_off_cents=5000), 3000, 3000),  # never more than the order
    (BA_ZHE, 10000, 2000),
    (BA_ZHE, 12345, 2469),  # 12345 × 20% = 2469 (floor)
    (BA_ZHE, 100000, 5000),  # capped
    (terms(kind="percent_off", percent_pays=95), 1999, 99),
    (GIFT, 5000, 0),
    (terms(kind="free_shipping"), 5000, 0),
])
def test_one_coupon(coupon, amount, expected):
    assert discounts(amount, [coupon]) == [expected]


def test_below_the_minimum_spend_is_refused():
    with pytest.raises(CouponMinSpendNotMet) as caught:
        discounts(9999, [MAN_JIAN])
    assert caught.value.details == {"min_spend_cents": 10000, "order_amount_cents": 9999}


@pytest.mark.parametrize("stack_a, stack_b, combinable", [(True, True, True), (True, False, False),
                                                          (False, False, False)])
def test_two_coupons_combine_only_when_both_stack(stack_a, stack_b, combinable):
    a = MAN_JIAN.model_copy(update={"stackable": stack_a})
    b = BA_ZHE.model_copy(update={"stackable": stack_b})
    if combinable:
        # Amounts off first (20 off 200), then 20% of the remaining 180 = 36.
        assert discounts(20000, [b, a]) == [3600, 2000]
    else:
        with pytest.raises(CouponNotCombinable):
            discounts(20000, [b, a])


@pytest.mark.parametrize("with_tier, applied, allowed", [(True, True, True), (False, True, False),
                                                         (False, False, True)])
def test_the_tier_discount_rule(with_tier, applied, allowed):
    coupon = MAN_JIAN.model_copy(update={"with_tier_discount": with_tier})
    if allowed:
        assert discounts(10000, [coupon], tier_discount_applied=applied) == [2000]
    else:
        with pytest.raises(CouponNotCombinable):
            discounts(10000, [coupon], tier_discount_applied=applied)


def test_category_coupons_apply_to_their_items_only():
    coupon = terms(kind="percent_off", percent_pays=50, categories=["美妆"])
    lines = [Line(6000, "美妆"), Line(4000, "食品")]
    assert discounts(10000, [coupon], lines=lines) == [3000]
    with pytest.raises(CouponWrongCategory):
        discounts(10000, [coupon], lines=[Line(10000, "食品")])


def test_stacked_discounts_never_exceed_the_order():
    a = terms(kind="amount_off", amount_off_cents=8000, stackable=True)
    b = terms(kind="amount_off", amount_off_cents=8000, stackable=True)
    assert discounts(10000, [a, b]) == [8000, 2000]


def test_scope_by_store_and_channel():
    coupon = terms(kind="gift", store_ids=[1, 2], channels=["pos"])
    check_scope(coupon, store_id=1, channel="pos")
    with pytest.raises(CouponWrongStore):
        check_scope(coupon, store_id=3, channel="pos")
    with pytest.raises(CouponWrongChannel):
        check_scope(coupon, store_id=1, channel="online")
    with pytest.raises(CouponWrongChannel):
        check_scope(terms(kind="free_shipping"), store_id=None, channel="pos")


@pytest.mark.parametrize("fields", [
    {"kind": "amount_off"},
    {"kind": "percent_off", "percent_pays": 100},
    {"kind": "free_shipping", "channels": ["pos"]},
    {"kind": "gift", "valid_days": None},
    {"kind": "gift", "valid_days": None, "valid_from": "2026-01-02T00:00:00+08:00",
     "valid_until": "2026-01-01T00:00:00+08:00"},
])
def test_incoherent_terms_are_refused(fields):
    with pytest.raises(ValidationError):
        Terms(**{**WINDOW, **fields})


def test_validity_from_issue_or_a_fixed_window():
    issued = datetime(2026, 11, 26, tzinfo=UTC)
    assert terms(kind="gift", valid_days=7).window(issued) == (issued, issued + timedelta(days=7))
    fixed = Terms(kind="gift", valid_from=issued, valid_until=issued + timedelta(days=1))
    assert fixed.window(issued + timedelta(hours=5)) == (issued, issued + timedelta(days=1))


@pytest.mark.parametrize("bounds", [
    {"valid_from": "2026-01-01T00:00:00+08:00", "valid_until": "2027-01-01T00:00:00"},
    {"valid_from": "2026-01-01T00:00:00", "valid_until": "2027-01-01T00:00:00"},
    {"valid_from": "1999-12-31T00:00:00+00:00", "valid_until": "2027-01-01T00:00:00+00:00"},
    {"valid_from": "2026-01-01T00:00:00+00:00", "valid_until": "2100-01-02T00:00:00+00:00"},
])
def test_a_fixed_window_needs_offsets_within_2000_to_2100(bounds):
    with pytest.raises(ValidationError):
        Terms(kind="gift", **bounds)


def test_a_fixed_window_ends_at_its_end_and_a_relative_one_never():
    end = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    fixed = Terms(kind="gift", valid_from=end - timedelta(days=30), valid_until=end)
    assert not fixed.window_ended(end - timedelta(seconds=1))
    assert fixed.window_ended(end)
    assert not terms(kind="gift", valid_days=3).window_ended(end + timedelta(days=3650))
