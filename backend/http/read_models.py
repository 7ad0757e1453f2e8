"""Response models of the shared read views: profile, consents, assets, ledgers, orders, coupons, the
clerk's member card.

One model per renderer in ``members.service``, ``members.scan``, ``loyalty.views`` and ``coupons.views``,
so every route answering one of them declares the same component. The renderers build plain dicts (the
mini-program's hot reads never build these models); the contract check validates the answers against
them in tests.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from backend.coupons.terms import Terms
from backend.http.docs import Out
from backend.http.pagination import Page

Gender = Literal["male", "female", "unknown"]
ConsentChannel = Literal["sms", "email", "wechat"]
ConsentPurpose = Literal["marketing", "service"]


class MemberProfile(Out):
    """The member as shown to the member and to clerks: the phone masked (in full only in the export)."""

    id: int
    member_no: str = Field(description="the membership card number")
    phone: str | None = Field(description="masked, e.g. 138****5678")
    nickname: str | None
    gender: Gender
    birthday: date | None
    email: str | None
    custom_fields: dict[str, Any] = Field(description="the merchant's custom fields, by key")
    referral_code: str
    registration_channel: str
    registration_store_id: int | None
    registered_at: datetime


class ConsentState(Out):
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: str = Field(description="where it was given or withdrawn; `default` when never recorded")
    text_version: str | None
    updated_at: datetime | None


class DynamicCode(Out):
    """A member or coupon code for the store scanner: rotates every 30 s, accepted once."""

    code: str = Field(description="digits only: render as a QR code or Code 128 barcode")
    expires_at: datetime
    refresh_after_s: int = Field(description="fetch a new code after this many seconds")


class ExpiringPoints(Out):
    points: int
    expires_at: datetime


class PointsSummary(Out):
    balance: int
    debt: int = Field(description="points owed after a refund of points already spent; paid by the next earn")
    held: int = Field(description="points an open checkout session holds until it completes, is cancelled or expires")
    available: int = Field(description="spendable now: balance − held")
    expiring: list[ExpiringPoints] = Field(description="lots expiring within 30 days, soonest first")


class NextTier(Out):
    code: str
    name: str
    threshold: int
    remaining: int = Field(description="measure still needed to reach it")


class TierStatus(Out):
    code: str
    name: str
    discount_pct: int = Field(description="member price rate for POS: 95 = 95折, 100 = none")
    points_multiplier_pct: int
    free_shipping: bool
    birthday_multiplier_pct: int
    measure: Literal["spend", "points", "orders"] = Field(description="what progress counts (spend in yuan)")
    progress: int
    next: NextTier | None


class ExpiringCoupon(Out):
    id: int
    name: str
    valid_until: datetime


class AssetCoupons(Out):
    available_count: int
    expiring_soon: list[ExpiringCoupon] = Field(description="available coupons ending within 7 days")


class MemberAssets(Out):
    """The mini-program's home screen."""

    points: PointsSummary
    balance_cents: int = Field(description="stored value: principal plus bonus")
    balance_held_cents: int = Field(description="stored value an open checkout session holds")
    balance_available_cents: int = Field(description="spendable now: balance_cents − balance_held_cents")
    principal_cents: int
    bonus_cents: int
    tier: TierStatus
    coupons: AssetCoupons


class PointsLedgerEntry(Out):
    id: int
    kind: str = Field(description="earn, spend, expire, bonus, adjust, debt_repay, refund_reversal, refund_restore, "
                                  "transfer_in, transfer_out")
    points: int = Field(description="signed change of the balance")
    debt_delta: int
    balance_after: int
    reason: str
    source: str
    channel: str | None
    store_id: int | None
    order_id: int | None
    created_at: datetime


class PointsLedgerPage(Page[PointsLedgerEntry]):
    pass


class WalletLedgerEntry(Out):
    id: int
    kind: str = Field(description="topup, spend, refund, transfer_in, transfer_out")
    amount_cents: int = Field(description="signed change: principal plus bonus")
    principal_cents: int
    bonus_cents: int
    balance_after_cents: int
    reason: str
    channel: str | None
    store_id: int | None
    order_id: int | None
    created_at: datetime


class WalletLedgerPage(Page[WalletLedgerEntry]):
    pass


class OrderSummary(Out):
    id: int
    order_no: str
    channel: str
    store_id: int | None
    amount_cents: int
    refunded_cents: int
    points_earned: int
    points_spent: int
    status: Literal["placed", "partially_refunded", "refunded"]
    placed_at: datetime


class OrderPage(Page[OrderSummary]):
    pass


class TierHistoryEntry(Out):
    from_: str = Field(alias="from")
    to: str
    reason: str
    at: datetime


class Coupon(Out):
    """A coupon a member holds."""

    id: int
    template_id: int
    name: str
    status: Literal["available", "redeemed", "expired"] = Field(
        description="`expired` as soon as the window has ended, before the expiry job has run")
    terms: Terms
    valid_from: datetime
    valid_until: datetime
    source: str = Field(description="admin, claim, mall or reward")
    issued_at: datetime
    redeemed_at: datetime | None


class CouponPage(Page[Coupon]):
    pass


class CouponEvent(Out):
    """One event of a coupon's history; the event's own fields (discount_cents, order_id, …) follow."""

    model_config = ConfigDict(extra="allow")

    type: Literal["coupon_issued", "coupon_redeemed", "coupon_redemption_reversed", "coupon_returned",
                  "coupon_expired"]
    channel: str | None
    store_id: int | None
    at: datetime


class CouponDetail(Coupon):
    history: list[CouponEvent] = Field(description="issue, redemptions, reversals, return, expiry; oldest first")


class CouponTemplate(Out):
    id: int
    name: str
    description: str
    status: Literal["draft", "active", "paused", "ended"]
    terms: Terms
    total_stock: int | None = Field(description="null: unlimited")
    issued_count: int
    per_member_limit: int | None
    per_member_daily_limit: int | None
    claimable: bool = Field(description="shown in the coupon center")
    claim_tiers: list[str] = Field(description="tiers allowed to claim; empty: all")
    updated_at: datetime


class CouponRedemption(Out):
    id: int
    coupon_id: int
    store_id: int | None
    channel: str
    order_id: int | None
    discount_cents: int
    status: Literal["done", "reversed", "returned"]
    created_at: datetime


class CardMember(Out):
    id: int
    member_no: str
    phone: str | None = Field(description="masked")
    nickname: str | None
    gender: Gender
    birthday: date | None
    registered_at: datetime


class CardCoupon(Out):
    id: int
    name: str
    terms: Terms
    valid_until: datetime


class UnusableCoupon(CardCoupon):
    reason: str = Field(description="the error code redeeming it here would answer")
    message: str


class CardCoupons(Out):
    usable: list[CardCoupon] = Field(description="usable at this store now")
    unusable: list[UnusableCoupon]


class CardMembership(Out):
    """The member's paid membership (付费会员) as the POS applies it: the POS decides the order amount."""

    active: bool = Field(description="a paid period runs now")
    plan_code: str | None
    plan_name: str | None
    ends_at: datetime | None = Field(description="active until then")
    discount_pct: int = Field(description="the membership's member price rate: 95 = 95折, 100 = none")
    points_multiplier_pct: int = Field(description="applied by the server to orders, times the tier's")
    free_shipping: bool
    member_price_pct: int = Field(description="the rate to charge: the better (lower) of the tier's and the "
                                              "membership's; the two never multiply")


class MemberCard(Out):
    """The clerk's member card: balances, tier with the member discount for POS, paid membership, recent orders,
    coupons."""

    member: CardMember
    points: PointsSummary
    balance_cents: int
    tier: TierStatus
    membership: CardMembership
    recent_orders: list[OrderSummary] = Field(description="the last five")
    coupons: CardCoupons


class CounterField(Out):
    """A custom profile field as a registration form needs it."""

    key: str
    label: str
    type: Literal["text", "number", "date", "choice"]
    required: bool
    choices: list[str] | None
    max_length: int | None
