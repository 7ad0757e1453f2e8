"""A coupon's terms and the discount arithmetic: pure functions, unit-tested over a matrix.

Discounts, with several coupons on one order: fixed amounts off first, then percentages off what
remains, each limited to the amount of the items in its categories and to its cap; never more
than the order. A coupon that does not stack may only be used alone; one that does not combine
with the tier discount cannot be used on an order where the POS applied the member price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from backend.coupons.errors import (
    CouponMinSpendNotMet,
    CouponNotCombinable,
    CouponWrongCategory,
    CouponWrongChannel,
    CouponWrongStore,
)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("时间应在 2000-01-01 与 2100-01-01 之间")
    return value


# A window bound: with an offset (a time without one is refused rather than guessed), 2000..2100.
WindowTime = Annotated[AwareDatetime, AfterValidator(_in_range)]
StoreId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Category = Annotated[str, Field(min_length=1, max_length=40)]


class Terms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["amount_off", "percent_off", "gift", "free_shipping"]
    min_spend_cents: int = Field(0, ge=0, le=10_000_000_000)
    amount_off_cents: int = Field(0, ge=0, le=10_000_000_000, description="amount_off: cents taken off")
    percent_pays: int = Field(100, ge=1, le=100, description="percent_off: 80 = 8折 (pay 80%)")
    max_discount_cents: int | None = Field(None, gt=0, le=10_000_000_000, description="percent_off: cap")
    gift_sku: str | None = Field(None, max_length=64, description="gift: the item handed over")
    valid_from: WindowTime | None = Field(None, description="start of a fixed window: ISO 8601 with an offset "
                                          "(e.g. 2026-01-01T00:00:00+08:00); a time without one is refused")
    valid_until: WindowTime | None = Field(None, description="end of a fixed window, with an offset like valid_from")
    valid_days: int | None = Field(None, ge=1, le=3650, description="instead of a window: N days from issue")
    store_ids: list[StoreId] = Field(default_factory=list, max_length=1000, description="empty: every store")
    channels: list[Literal["online", "pos", "miniprogram", "third_party"]] = Field(default_factory=list,
                                                                                   max_length=4)
    categories: list[Category] = Field(default_factory=list, max_length=200, description="empty: every item")
    stackable: bool = False
    with_tier_discount: bool = True
    reversal_window_minutes: int = Field(30, ge=0, le=10_080)

    @model_validator(mode="after")
    def coherent(self) -> Terms:
        if self.kind == "amount_off" and self.amount_off_cents <= 0:
            raise ValueError("满减券需要 amount_off_cents")
        if self.kind == "percent_off" and self.percent_pays >= 100:
            raise ValueError("折扣券需要 percent_pays 小于 100")
        if self.kind == "free_shipping" and self.channels not in ([], ["online"]):
            raise ValueError("包邮券仅限线上渠道")
        if self.valid_days is None and (self.valid_from is None or self.valid_until is None):
            raise ValueError("请设置有效期：valid_from 与 valid_until，或 valid_days")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until 应晚于 valid_from")
        return self

    def window(self, issued_at: datetime) -> tuple[datetime, datetime]:
        if self.valid_days is not None:
            return issued_at, issued_at + timedelta(days=self.valid_days)
        assert self.valid_from is not None and self.valid_until is not None
        return self.valid_from, self.valid_until

    def window_ended(self, now: datetime) -> bool:
        """A fixed window that is over: nothing issued now could ever be used."""
        return self.valid_days is None and self.valid_until is not None and self.valid_until <= now

    def effective_channels(self) -> list[str]:
        return ["online"] if self.kind == "free_shipping" and not self.channels else list(self.channels)


@dataclass(frozen=True)
class Line:
    amount_cents: int
    category: str | None = None


def check_scope(terms: Terms, *, store_id: int | None, channel: str) -> None:
    if terms.store_ids and store_id not in terms.store_ids:
        raise CouponWrongStore(details={"store_ids": terms.store_ids})
    channels = terms.effective_channels()
    if channels and channel not in channels:
        raise CouponWrongChannel(details={"channels": channels})


def eligible_amount(terms: Terms, amount_cents: int, lines: list[Line]) -> int:
    """What the coupon applies to: the order, or the items in its categories."""
    if not terms.categories or not lines:
        return amount_cents
    total = sum(line.amount_cents for line in lines)
    in_scope = sum(line.amount_cents for line in lines if line.category in terms.categories)
    if in_scope == 0:
        raise CouponWrongCategory(details={"categories": terms.categories})
    return amount_cents * in_scope // total if total else amount_cents


def discounts(amount_cents: int, coupons: list[Terms], *, lines: list[Line] | None = None,
              tier_discount_applied: bool = False) -> list[int]:
    """The discount of each coupon, in the order given."""
    lines = lines or []
    if len(coupons) > 1 and not all(terms.stackable for terms in coupons):
        raise CouponNotCombinable(details={"reason": "not_stackable"})
    if tier_discount_applied and not all(terms.with_tier_discount for terms in coupons):
        raise CouponNotCombinable(details={"reason": "tier_discount"})
    for terms in coupons:
        if amount_cents < terms.min_spend_cents:
            raise CouponMinSpendNotMet(details={"min_spend_cents": terms.min_spend_cents,
                                                "order_amount_cents": amount_cents})
    result = [0] * len(coupons)
    remaining = amount_cents
    order = sorted(range(len(coupons)), key=lambda i: coupons[i].kind != "amount_off")
    for i in order:
        terms = coupons[i]
        base = min(eligible_amount(terms, amount_cents, lines), remaining)
        if terms.kind == "amount_off":
            off = min(terms.amount_off_cents, base)
        elif terms.kind == "percent_off":
            off = base * (100 - terms.percent_pays) // 100
            if terms.max_discount_cents is not None:
                off = min(off, terms.max_discount_cents)
        else:
            off = 0
        result[i] = off
        remaining -= off
    return result
