"""Request bodies and responses shared by store and integration orders, refunds and top-ups.

A receipt answers 201 when the call did it and 200 (``Idempotent-Replayed``) for a repeat: routes declare
``responses=RECEIPTS`` (or ``REFUND_RECEIPTS``, ``TOPUP_RECEIPTS``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sanic.response import HTTPResponse, json

from backend.coupons import errors as _coupon_errors  # noqa: F401  (registers the coupon codes)
from backend.http.docs import Out
from backend.http.validation import Body, Id, PastTime
from backend.loyalty import orders

ORDER_ERRORS = ["MEMBER_NOT_FOUND", "ORDER_CONFLICT", "ORDER_OVERPAID", "INSUFFICIENT_POINTS", "INSUFFICIENT_BALANCE",
                "POINTS_NOT_REDEEMABLE", "COUPON_NOT_FOUND", "COUPON_ALREADY_REDEEMED", "COUPON_EXPIRED",
                "COUPON_NOT_YET_VALID", "COUPON_WRONG_STORE", "COUPON_WRONG_CHANNEL", "COUPON_WRONG_CATEGORY",
                "COUPON_MIN_SPEND_NOT_MET", "COUPON_TEMPLATE_PAUSED", "COUPON_NOT_COMBINABLE", "COUPON_NOT_APPLICABLE",
                "COUPON_HELD"]
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
    coupon_ids: list[Id] = Field(default_factory=list, max_length=20)
    points_to_spend: int = Field(0, ge=0, le=1_000_000_000)
    balance_to_spend_cents: int = Field(0, ge=0, le=MAX_CENTS)
    member_price_applied: bool = Field(False, description="the POS charged the tier's member price "
                                                          "(coupons that exclude it are refused)")
    placed_at: PastTime | None = Field(None, description="when the sale happened (default: now); with an offset, "
                                                         "not before 2000, not in the future")

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


class TierGiftPack(Out):
    points: int | None = Field(None, description="gift points granted")
    coupons: list[int] | None = Field(None, description="ids of the gift coupons issued")


class TierUpgrade(Out):
    """A tier upgrade the order caused, with its gift pack (empty when this year's was already given)."""

    from_: str = Field(alias="from")
    to: str
    reason: Literal["upgrade"]
    gift: TierGiftPack


class CampaignBonus(Out):
    id: int = Field(description="the campaign")
    name: str
    points: int


class _Balances(Out):
    """The member's balances after the call (absent for a sale without a member)."""

    points_balance: int | None = None
    points_debt: int | None = None
    balance_cents: int | None = Field(None, description="stored value: principal plus bonus")
    principal_cents: int | None = None
    bonus_cents: int | None = Field(None, description="the bonus part of the stored value")
    tier: str | None = Field(None, description="the member's tier code")


class _Priced(_Balances):
    order_no: str
    channel: Literal["pos", "online", "miniprogram", "third_party"]
    store_id: int | None
    member_id: int | None
    amount_cents: int
    discount_cents: int = Field(description="coupon discounts")
    points_spent: int
    points_value_cents: int
    balance_spent_cents: int
    payable_cents: int = Field(description="left to pay by other means")
    points_earned: int = Field(description="all the points the order earned: the earn rule's and the campaigns'")
    points_base: int | None = Field(None, description="the earn rule's part of points_earned (absent without a member)")
    campaigns: list[CampaignBonus] = Field(default_factory=list,
                                           description="each bonus-point campaign's part of points_earned")
    tier_change: TierUpgrade | None = None


class OrderReceipt(_Priced):
    order_id: int


class OrderQuote(_Priced):
    """What placing the order would do; nothing was written."""

    quote: Literal[True]


class RefundReceipt(_Balances):
    refund_id: int
    order_no: str
    channel: Literal["pos", "online", "miniprogram", "third_party"]
    amount_cents: int
    refunded_total_cents: int
    refundable_cents: int
    points_reversed: int
    points_clawed_back: int
    points_debt_added: int = Field(description="earned points already spent: owed, paid by the next earn")
    points_restored: int
    balance_restored_cents: int
    coupons_returned: list[int] = Field(description="coupons given back (full refund only)")


class TopupReceipt(_Balances):
    topup_id: int
    payment_ref: str
    member_id: int
    amount_cents: int
    bonus_cents: int | None = Field(None, description="the bonus this top-up added")
    bonus_balance_cents: int | None = Field(None, description="the bonus part of the stored value after it")


RECEIPTS: dict[int, Any] = {201: OrderReceipt, 200: OrderReceipt}
REFUND_RECEIPTS: dict[int, Any] = {201: RefundReceipt, 200: RefundReceipt}
TOPUP_RECEIPTS: dict[int, Any] = {201: TopupReceipt, 200: TopupReceipt}


def outcome_response(outcome: orders.Outcome) -> HTTPResponse:
    """201 with the receipt when this call did it; 200 with the same receipt for a repeat."""
    headers = {} if outcome.created else {"Idempotent-Replayed": "true"}
    return json(outcome.receipt, status=201 if outcome.created else 200, headers=headers, ensure_ascii=False)
