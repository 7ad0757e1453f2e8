"""Response models of the mini-program's own answers: session, registration, consents, referral, export,
subscriptions and the coupon center (the shared views are in ``backend.http.read_models``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from backend.http.docs import Out
from backend.http.pagination import Page
from backend.http.read_models import (
    ConsentChannel,
    ConsentPurpose,
    ConsentState,
    Coupon,
    CouponRedemption,
    CouponTemplate,
    MemberProfile,
    OrderSummary,
    PointsLedgerEntry,
    TierHistoryEntry,
    WalletLedgerEntry,
)


class ShopperSession(Out):
    token: str
    refresh_token: str = Field(description="single use: POST /api/v1/mp/session/refresh")
    expires_in: int = Field(description="seconds until `token` expires")
    registered: bool = Field(description="false: a visitor; POST /api/v1/mp/register binds the phone")
    member_id: int | None = Field(None, description="present once registered")


class ShopperRegistration(ShopperSession):
    created: bool = Field(description="false: the phone's existing member was joined")
    member: MemberProfile


class ConsentList(Out):
    items: list[ConsentState]


class ConsentChange(Out):
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool


class ConsentsUpdated(Out):
    changed: list[ConsentChange] = Field(description="only what this call changed")
    items: list[ConsentState]


class Invitee(Out):
    nickname: str = Field(description="masked: the first character and ** (微信用户 when there is none)")
    registered_at: datetime
    status: str
    rewarded: bool = Field(description="the referrer's reward for this invitee has been granted")


class Referral(Out):
    referral_code: str
    invited_count: int
    reward_points: int = Field(description="points the referrals have earned this member")
    invitees: list[Invitee] = Field(description="the latest 100")


class ExportedIdentity(Out):
    kind: str
    app_id: str | None
    value: str | None = Field(description="null for the phone (stored only as a blind index)")
    created_at: datetime


class ExportedWeChatAccount(Out):
    app_id: str
    openid: str
    unionid: str | None
    created_at: datetime


class ExportedConsentRecord(Out):
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: str
    text_version: str | None
    at: datetime


class ExportedEvent(Out):
    type: str
    channel: str | None
    store_id: int | None
    payload: dict[str, Any] = Field(description="the event's own fields")
    at: datetime


class ExportedMerge(Out):
    merged_id: int
    at: datetime


class ExportedStaffChange(Out):
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


class ExportedCheckIn(Out):
    day: date
    streak: int
    points: int
    coupon_id: int | None
    at: datetime


class MemberExport(Out):
    """Everything held about the member (PIPL); the profile's phone in full."""

    exported_at: datetime
    profile: MemberProfile
    identities: list[ExportedIdentity]
    wechat_accounts: list[ExportedWeChatAccount]
    consents: list[ConsentState]
    consent_history: list[ExportedConsentRecord]
    events: list[ExportedEvent]
    merges: list[ExportedMerge]
    changes_by_staff: list[ExportedStaffChange]
    points_ledger: list[PointsLedgerEntry]
    wallet_ledger: list[WalletLedgerEntry]
    orders: list[OrderSummary]
    tier_history: list[TierHistoryEntry]
    check_ins: list[ExportedCheckIn]
    coupons: list[Coupon]
    coupon_redemptions: list[CouponRedemption]


class AccountDeleted(Out):
    deleted: bool


class SubscriptionCredit(Out):
    template_id: str
    credits: int = Field(description="one-time sends left")


class SubscriptionList(Out):
    items: list[SubscriptionCredit]


class ClaimableCoupon(CouponTemplate):
    held: int = Field(description="how many of it the member holds now")


class CouponCenter(Page[ClaimableCoupon]):
    pass


class PointsMallOffer(Out):
    id: int
    name: str
    points_price: int
    coupon: CouponTemplate


class PointsMall(Page[PointsMallOffer]):
    pass


class PointsExchange(Out):
    coupon: Coupon
    points_balance: int
