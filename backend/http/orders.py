"""Request bodies and responses shared by store and integration orders, refunds and top-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sanic.response import HTTPResponse, json

from backend.coupons import errors as _coupon_errors  # noqa: F401  (registers the coupon codes)
from backend.http.validation import Body
from backend.loyalty import orders

ORDER_ERRORS = ["MEMBER_NOT_FOUND", "ORDER_CONFLICT", "ORDER_OVERPAID", "INSUFFICIENT_POINTS", "INSUFFICIENT_BALANCE",
                "POINTS_NOT_REDEEMABLE", "COUPON_NOT_FOUND", "COUPON_ALREADY_REDEEMED", "COUPON_EXPIRED",
                "COUPON_NOT_YET_VALID", "COUPON_WRONG_STORE", "COUPON_WRONG_CHANNEL", "COUPON_WRONG_CATEGORY",
                "COUPON_MIN_SPEND_NOT_MET", "COUPON_TEMPLATE_PAUSED", "COUPON_NOT_COMBINABLE", "COUPON_NOT_APPLICABLE"]
REFUND_ERRORS = ["ORDER_NOT_FOUND", "REFUND_EXCEEDS_PAID", "REFUND_CONFLICT", "IDEMPOTENCY_IN_FLIGHT",
                 "IDEMPOTENCY_KEY_REUSED"]
MAX_CENTS = 10_000_000_000  # 1 亿元: anything above is a typo, not an order


class OrderItem(Body):
    sku: str = Field(min_length=1, max_length=64)
    category: str | None = Field(None, max_length=40)
    amount_cents: int = Field(ge=0, le=MAX_CENTS, description="the line's amount after its own discounts")
    quantity: int = Field(1, ge=1, le=100_000)


class OrderBody(Body):
    order_no: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,64}$")
    amount_cents: int = Field(gt=0, le=MAX_CENTS, description="amount due for the order, before coupons")
    items: list[OrderItem] = Field(default_factory=list, max_length=500)
    coupon_ids: list[int] = Field(default_factory=list, max_length=20)
    points_to_spend: int = Field(0, ge=0, le=1_000_000_000)
    balance_to_spend_cents: int = Field(0, ge=0, le=MAX_CENTS)
    member_price_applied: bool = Field(False, description="the POS charged the tier's member price "
                                                          "(coupons that exclude it are refused)")
    placed_at: datetime | None = Field(None, description="when the sale happened (default: now)")

    def to_input(self, *, channel: str, member_id: int | None, store_id: int | None) -> orders.OrderInput:
        return orders.OrderInput(
            channel=channel, order_no=self.order_no, amount_cents=self.amount_cents, member_id=member_id,
            store_id=store_id, items=[orders.Item(sku=i.sku, amount_cents=i.amount_cents, category=i.category,
                                                  quantity=i.quantity) for i in self.items],
            coupon_ids=self.coupon_ids, points_to_spend=self.points_to_spend,
            balance_to_spend_cents=self.balance_to_spend_cents, member_price_applied=self.member_price_applied,
            placed_at=self.placed_at)


class RefundBody(Body):
    amount_cents: int = Field(gt=0, le=MAX_CENTS)
    reason: str = Field(min_length=1, max_length=200)
    refund_no: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-.]{1,64}$",
                                  description="the caller's refund number: a retry with it refunds once")


class OrderReceipt(Body):
    order_id: int
    order_no: str
    amount_cents: int
    discount_cents: int
    points_spent: int
    points_value_cents: int
    balance_spent_cents: int
    payable_cents: int
    points_earned: int
    points_balance: int | None = None
    points_debt: int | None = None
    balance_cents: int | None = None
    tier: str | None = None
    tier_change: dict[str, Any] | None = None


def outcome_response(outcome: orders.Outcome) -> HTTPResponse:
    """201 with the receipt when this call did it; 200 with the same receipt for a repeat."""
    headers = {} if outcome.created else {"Idempotent-Replayed": "true"}
    return json(outcome.receipt, status=201 if outcome.created else 200, headers=headers, ensure_ascii=False)
