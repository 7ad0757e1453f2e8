"""The merchant's loyalty rules: tiers, earn rules per channel, points expiry, bonuses, top-up bonuses.

Kept as one validated document in one row (read with one primary-key query on every order). A
fresh install has none: the defaults below apply (1 point per yuan on every channel, 普通 / 银卡 /
金卡 / 钻石 on spend over a rolling year, points that never expire) until an admin saves a change.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from tortoise.backends.base.client import BaseDBAsyncClient

from backend.documents import RowDocument
from backend.loyalty.models import LoyaltyProgram

EARN_CHANNELS = ("online", "pos", "miniprogram", "third_party")
PROGRAM_ID = 1
MAX_TIERS = 20
MAX_CENTS = 10_000_000_000
TemplateId = Annotated[int, Field(ge=1, le=2**63 - 1)]
StoreKey = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}$")]  # a store id, as a JSON object's key
Category = Annotated[str, Field(min_length=1, max_length=40)]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tier(Rule):
    code: str = Field(pattern=r"^[a-z0-9_]{1,20}$")
    name: str = Field(min_length=1, max_length=20)
    threshold: int = Field(ge=0, le=1_000_000_000,
                           description="qualifying measure needed within the window (yuan, points or orders)")
    points_multiplier_pct: int = Field(100, ge=100, le=1000, description="150 = points ×1.5")
    discount_pct: int = Field(100, ge=1, le=100, description="member price rate for POS: 95 = 95折, 100 = none")
    free_shipping: bool = False
    birthday_multiplier_pct: int = Field(100, ge=100, le=1000, description="points on the birthday, 200 = ×2")
    gift_points: int = Field(0, ge=0, le=10_000_000, description="granted once per tier per calendar year")
    gift_coupon_template_ids: list[TemplateId] = Field(default_factory=list, max_length=10,
                                                description="coupons in the upgrade gift pack")


class EarnRule(Rule):
    channel: Literal["online", "pos", "miniprogram", "third_party"]
    points: int = Field(1, ge=0, le=1000, description="points earned per `per_yuan` yuan paid")
    per_yuan: int = Field(1, ge=1, le=10_000)
    rounding: Literal["floor", "round", "ceil"] = "floor"
    bonus_pct: int = Field(100, ge=100, le=1000, description="channel bonus: 150 = ×1.5")
    store_bonus_pct: dict[StoreKey, int] = Field(default_factory=dict, max_length=1000,
                                                 description="per store id, e.g. an experience store {\"3\": 150}")
    excluded_categories: list[Category] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def store_bonuses_in_range(self) -> EarnRule:
        for store, pct in self.store_bonus_pct.items():
            if not (store.isascii() and store.isdigit()) or not 100 <= pct <= 1000:
                raise ValueError("store_bonus_pct 的键应为门店 id，值在 100 到 1000 之间")
        return self


class PointsExpiry(Rule):
    policy: Literal["never", "rolling_months", "year_end"] = "never"
    months: int = Field(12, ge=1, le=120, description="for rolling_months: lots expire N months after earning")


TopupChannel = Literal["store", "online"]


class TopupBonus(Rule):
    """A top-up plan: from ``min_amount_cents`` on, ``bonus_cents`` more (充100送20), at the counter
    (``store``), in the mini-program (``online``) or both, within an optional time window."""

    min_amount_cents: int = Field(gt=0, le=MAX_CENTS)
    bonus_cents: int = Field(ge=0, le=MAX_CENTS)
    name: str | None = Field(None, min_length=1, max_length=40, description="shown to the shopper, e.g. 双十一充值礼")
    channels: list[TopupChannel] = Field(default_factory=lambda: ["store", "online"], min_length=1, max_length=2,
                                         description="where it applies: store (the counter), online (the mini-program)")
    starts_at: datetime | None = Field(None, description="applies from then on (absent: already)")
    ends_at: datetime | None = Field(None, description="applies until then (absent: no end)")
    code: str | None = Field(None, pattern=r"^[a-z0-9_]{1,20}$",
                             description="the plan's stable code: what its per-member limit counts by")
    per_member_limit: int | None = Field(None, ge=1, le=1000,
                                         description="how many paid top-ups of one member may get this bonus; "
                                                     "beyond it the next-best plan applies (absent: no limit)")

    @model_validator(mode="after")
    def window_in_order(self) -> TopupBonus:
        if self.per_member_limit is not None and self.code is None:
            raise ValueError("设置每人限享次数的充值方案需要填写代码（code）")
        for instant in (self.starts_at, self.ends_at):
            if instant is not None and instant.tzinfo is None:
                raise ValueError("starts_at 和 ends_at 需带时区，例如 2026-11-11T00:00:00+08:00")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at 应晚于 starts_at")
        return self

    def applies(self, channel: TopupChannel, now: datetime | None) -> bool:
        if channel not in self.channels:
            return False
        if now is None:
            return True
        return (self.starts_at is None or self.starts_at <= now) and (self.ends_at is None or now < self.ends_at)


class CheckinReward(Rule):
    day: int = Field(ge=1, le=31, description="the day of the streak cycle it is given on (1 = the first day)")
    points: int = Field(0, ge=0, le=1_000_000)
    coupon_template_id: TemplateId | None = Field(None, description="a coupon given with the points")


class CheckinRule(Rule):
    """Daily check-in (签到): once per member per merchant day; the streak grows by one each day in a row,
    and starts over at 1 after a missed day. The reward of streak day ``n`` is the reward listed for
    day ``(n - 1) % cycle_days + 1``, or ``daily_points`` for a day without one."""

    enabled: bool = False
    cycle_days: int = Field(7, ge=1, le=31, description="after this many days in a row the rewards start over")
    daily_points: int = Field(5, ge=0, le=1_000_000, description="points of a day without a reward of its own")
    rewards: list[CheckinReward] = Field(default_factory=list, max_length=31)

    @model_validator(mode="after")
    def days_in_cycle(self) -> CheckinRule:
        days = [reward.day for reward in self.rewards]
        if len(set(days)) != len(days):
            raise ValueError("每个签到日只能设置一个奖励")
        if any(day > self.cycle_days for day in days):
            raise ValueError("奖励的签到日不能超过签到周期")
        return self

    def reward_for(self, streak: int) -> CheckinReward:
        day = (streak - 1) % self.cycle_days + 1
        listed = next((reward for reward in self.rewards if reward.day == day), None)
        return listed or CheckinReward(day=day, points=self.daily_points)


class ReferralRule(Rule):
    """Coupons for either side of a referral, and when the referrer is rewarded (points and coupons);
    every referral reward is granted once per invitee."""

    invitee_coupon_template_ids: list[TemplateId] = Field(default_factory=list, max_length=10,
                                                          description="for the invitee, at registration")
    referrer_coupon_template_ids: list[TemplateId] = Field(default_factory=list, max_length=10)
    referrer_reward_on: Literal["first_order", "registration"] = Field(
        "first_order", description="the referrer's points and coupons come at the invitee's registration or "
                                   "first order")


MembershipPeriod = Literal["month", "quarter", "year"]
PERIOD_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


class CouponPackItem(Rule):
    template_id: TemplateId
    count: int = Field(1, ge=1, le=10, description="coupons of this template in each month's pack")


class MembershipPlan(Rule):
    """A paid membership plan (付费会员): bought and renewed with WeChat Pay in the mini-program, one period at a
    time. A period bought keeps the benefits the plan had when it was bought (they are copied onto it)."""

    code: str = Field(pattern=r"^[a-z0-9_]{1,20}$")
    name: str = Field(min_length=1, max_length=20)
    period: MembershipPeriod = Field(description="what one purchase grants: a month, a quarter (3) or a year (12)")
    price_cents: int = Field(ge=1, le=100_000_000, description="the price of one period, in fen")
    on_sale: bool = Field(True, description="offered in the mini-program; periods already bought run on either way")
    discount_pct: int = Field(100, ge=1, le=100, description="member price on the order amount for the POS: "
                                                             "95 = 95折, 100 = none")
    points_multiplier_pct: int = Field(100, ge=100, le=1000, description="150 = points ×1.5, multiplied with the "
                                                                        "tier's")
    free_shipping: bool = False
    monthly_coupons: list[CouponPackItem] = Field(default_factory=list, max_length=10,
                                                  description="the coupon pack issued each month of a paid period")
    coupon_center_priority: bool = Field(False, description="sees the coupon center's coupons first")

    def benefits(self) -> dict[str, object]:
        return {"discount_pct": self.discount_pct, "points_multiplier_pct": self.points_multiplier_pct,
                "free_shipping": self.free_shipping,
                "monthly_coupons": [item.model_dump() for item in self.monthly_coupons],
                "coupon_center_priority": self.coupon_center_priority}


class MembershipRules(Rule):
    plans: list[MembershipPlan] = Field(default_factory=list, max_length=10)
    refund_days: int = Field(7, ge=0, le=90, description="cooling-off: a period bought this many days ago or less "
                                                        "can be refunded, if none of its benefits was used")

    @model_validator(mode="after")
    def codes_unique(self) -> MembershipRules:
        codes = [plan.code for plan in self.plans]
        if len(set(codes)) != len(codes):
            raise ValueError("会员方案代码不能重复")
        for plan in self.plans:
            templates = [item.template_id for item in plan.monthly_coupons]
            if len(set(templates)) != len(templates):
                raise ValueError(f"会员方案 {plan.code} 的每月券包中同一券模板只能出现一次")
        return self

    def plan(self, code: str) -> MembershipPlan | None:
        return next((plan for plan in self.plans if plan.code == code), None)


class Program(Rule):
    tiers: list[Tier] = Field(min_length=1, max_length=MAX_TIERS)
    tier_measure: Literal["spend", "points", "orders"] = "spend"
    tier_window_days: int = Field(365, ge=30, le=1095)
    tier_retention_days: int = Field(365, ge=0, le=1095,
                                     description="a tier is kept at least this long before a review lowers it")
    earn_rules: list[EarnRule] = Field(max_length=len(EARN_CHANNELS))
    points_expiry: PointsExpiry = PointsExpiry()
    redeem_points_per_yuan: int = Field(100, ge=1, le=100_000, description="points worth one yuan when spent")
    registration_points: int = Field(0, ge=0, le=1_000_000)
    invitee_points: int = Field(0, ge=0, le=1_000_000, description="for a referred member, at registration")
    referrer_points: int = Field(0, ge=0, le=1_000_000,
                                 description="for the referrer, at the moment referral.referrer_reward_on names")
    topup_bonuses: list[TopupBonus] = Field(default_factory=list, max_length=50)
    registration_coupon_template_ids: list[TemplateId] = Field(default_factory=list, max_length=10)
    referral: ReferralRule = ReferralRule()
    checkin: CheckinRule = CheckinRule()
    membership: MembershipRules = MembershipRules()

    @model_validator(mode="after")
    def consistent(self) -> Program:
        codes = [tier.code for tier in self.tiers]
        if not self.tiers or len(set(codes)) != len(codes):
            raise ValueError("等级不能为空，代码不能重复")
        thresholds = [tier.threshold for tier in self.tiers]
        if thresholds[0] != 0 or any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError("第一个等级门槛应为 0，之后逐级递增")
        channels = [rule.channel for rule in self.earn_rules]
        if len(set(channels)) != len(channels):
            raise ValueError("每个渠道只能有一条积分规则")
        plan_codes = [plan.code for plan in self.topup_bonuses if plan.code is not None]
        if len(set(plan_codes)) != len(plan_codes):
            raise ValueError("充值方案代码不能重复")
        return self

    # --- lookups used by the services ---

    def earn_rule(self, channel: str) -> EarnRule | None:
        return next((rule for rule in self.earn_rules if rule.channel == channel), None)

    def tier(self, code: str | None) -> Tier:
        return next((tier for tier in self.tiers if tier.code == code), self.tiers[0])

    def rank(self, code: str | None) -> int:
        return next((i for i, tier in enumerate(self.tiers) if tier.code == code), 0)

    def tier_for(self, measure: int) -> Tier:
        return [tier for tier in self.tiers if tier.threshold <= measure][-1]

    def next_tier(self, code: str | None) -> Tier | None:
        rank = self.rank(code)
        return self.tiers[rank + 1] if rank + 1 < len(self.tiers) else None

    def topup_plans(self, channel: TopupChannel = "store", now: datetime | None = None) -> list[TopupBonus]:
        """The top-up plans that apply on ``channel`` at ``now`` (any time when None), by amount."""
        return sorted((b for b in self.topup_bonuses if b.applies(channel, now)), key=lambda b: b.min_amount_cents)

    def topup_bonus(self, amount_cents: int, channel: TopupChannel = "store", now: datetime | None = None) -> int:
        """The bonus of the best plan the amount reaches on ``channel`` at ``now``."""
        return max((b.bonus_cents for b in self.topup_plans(channel, now) if b.min_amount_cents <= amount_cents),
                   default=0)

    def topup_choice(self, amount_cents: int, channel: TopupChannel, now: datetime | None,
                     used: dict[str, int]) -> TopupBonus | None:
        """The best plan the amount reaches on ``channel`` at ``now`` among those the member has not used up
        (``used``: paid top-ups per plan code that got its bonus); None: no bonus."""
        open_plans = [b for b in self.topup_plans(channel, now) if b.min_amount_cents <= amount_cents
                      and (b.per_member_limit is None or used.get(b.code or "", 0) < b.per_member_limit)]
        return max(open_plans, key=lambda b: b.bonus_cents, default=None)

    def limited_topup_codes(self) -> list[str]:
        return [b.code for b in self.topup_bonuses if b.code is not None and b.per_member_limit is not None]

    def lot_expiry(self, earned_at: datetime, tz: str) -> datetime | None:
        """When points earned at ``earned_at`` expire under the current policy (None: never)."""
        policy = self.points_expiry
        if policy.policy == "never":
            return None
        local = earned_at.astimezone(ZoneInfo(tz))
        if policy.policy == "year_end":
            # Until the end of the year after the one they were earned in, merchant time.
            end = local.replace(year=local.year + 2, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
            return end.astimezone(earned_at.tzinfo)
        month = local.month - 1 + policy.months
        year, month = local.year + month // 12, month % 12 + 1
        day = min(local.day, _days_in_month(year, month))
        return local.replace(year=year, month=month, day=day).astimezone(earned_at.tzinfo)


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + (month == 12), month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


DEFAULT_TIERS = [
    Tier(code="normal", name="普通", threshold=0),
    Tier(code="silver", name="银卡", threshold=1000, points_multiplier_pct=120, discount_pct=98, gift_points=100),
    Tier(code="gold", name="金卡", threshold=5000, points_multiplier_pct=150, discount_pct=95, free_shipping=True,
         birthday_multiplier_pct=200, gift_points=300),
    Tier(code="diamond", name="钻石", threshold=20000, points_multiplier_pct=200, discount_pct=90,
         free_shipping=True, birthday_multiplier_pct=300, gift_points=1000),
]


def default_program() -> Program:
    return Program(tiers=DEFAULT_TIERS, earn_rules=[EarnRule(channel=channel) for channel in EARN_CHANNELS])


# Every order reads the program: each process keeps it for a few seconds (backend.documents).
_document = RowDocument(LoyaltyProgram, Program, default_program, row_id=PROGRAM_ID)


async def load(conn: BaseDBAsyncClient | None = None, *, fresh: bool = False) -> Program:
    return await _document.load(conn, fresh=fresh)


def forget() -> None:
    """Drop this process's cached program (tests that reset the database use it)."""
    _document.forget()


async def save(program: Program, conn: BaseDBAsyncClient) -> None:
    await _document.save(program, conn)
