"""The public event types and how the member timeline's internal types map onto them.

One internal event may stand for several public ones: an order that earns points and spends stored
value is ``order.recorded``, ``points.changed`` and ``stored_value.changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# type -> what it reports (the README's table is this one).
EVENT_TYPES: dict[str, str] = {
    "member.registered": "会员注册（任一渠道）",
    "member.updated": "会员资料或绑定的身份变更",
    "member.merged": "另一会员被合并到该会员",
    "member.erased": "会员被删除（个人信息删除或注销）",
    "consent.changed": "会员授权或撤回同意",
    "points.changed": "积分获得、使用、调整、冲回或过期",
    "points.will_expire": "积分即将过期",
    "tier.changed": "会员等级升降",
    "coupon.issued": "发券",
    "coupon.redeemed": "核销券",
    "coupon.reversed": "核销撤销或随退款退回",
    "coupon.expired": "券过期未用",
    "order.recorded": "订单入账（门店、对接系统、商城）",
    "order.refunded": "订单退款（全部或部分）",
    "stored_value.changed": "储值充值、消费或退回",
    "checkout.completed": "线上结算会话完成",
    "message.delivered": "消息已交给发送渠道",
    "message.failed": "消息发送失败",
}
TEST_TYPE = "webhook.tested"  # the console's test event, sent to one endpoint whatever it subscribes to

Mapper = Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]


def _same(public: str) -> Mapper:
    return lambda payload: [(public, dict(payload))]


def _order_placed(p: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [("order.recorded", dict(p))]
    earned, spent = int(p.get("points_earned") or 0), int(p.get("points_spent") or 0)
    if earned or spent:
        out.append(("points.changed", {"delta": earned - spent, "earned": earned, "spent": spent,
                                       "cause": "order", "order_id": p.get("order_id"), "order_no": p.get("order_no")}))
    if p.get("balance_spent_cents"):
        out.append(("stored_value.changed", {"delta_cents": -int(p["balance_spent_cents"]), "cause": "order",
                                             "order_id": p.get("order_id"), "order_no": p.get("order_no")}))
    return out


def _order_refunded(p: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [("order.refunded", dict(p))]
    reversed_, restored = int(p.get("points_reversed") or 0), int(p.get("points_restored") or 0)
    if reversed_ or restored:
        out.append(("points.changed", {"delta": restored - reversed_, "reversed": reversed_, "restored": restored,
                                       "cause": "refund", "order_id": p.get("order_id"),
                                       "order_no": p.get("order_no")}))
    if p.get("balance_restored_cents"):
        out.append(("stored_value.changed", {"delta_cents": int(p["balance_restored_cents"]), "cause": "refund",
                                             "order_id": p.get("order_id"), "order_no": p.get("order_no")}))
    return out


def _points(cause: str, key: str = "points", sign: int = 1) -> Mapper:
    def mapper(p: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        points = int(p.get(key) or 0)
        return [("points.changed", {**p, "delta": sign * points, "cause": cause})] if points else []
    return mapper


def _wallet(p: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    delta = int(p.get("amount_cents") or 0) + int(p.get("bonus_cents") or 0)
    return [("stored_value.changed", {**p, "delta_cents": delta, "cause": "topup"})]


def _profile(change: str) -> Mapper:
    return lambda p: [("member.updated", {**p, "change": change})]


# internal member-event type -> the public events it stands for
MAPPERS: dict[str, Mapper] = {
    "registered": _same("member.registered"),
    "profile_updated": _profile("profile"),
    "wechat_bound": _profile("wechat_bound"),
    "member_merged": _same("member.merged"),
    "member_deleted": _same("member.erased"),
    "consent_changed": _same("consent.changed"),
    "tier_changed": _same("tier.changed"),
    "coupon_issued": _same("coupon.issued"),
    "coupon_redeemed": _same("coupon.redeemed"),
    "coupon_redemption_reversed": _same("coupon.reversed"),
    "coupon_returned": _same("coupon.reversed"),
    "coupon_expired": _same("coupon.expired"),
    "order_placed": _order_placed,
    "order_refunded": _order_refunded,
    "wallet_topped_up": _wallet,
    "points_adjusted": _points("adjustment"),
    "points_expired": _points("expiry", sign=-1),
    "points_exchanged": _points("points_mall", sign=-1),
    "checked_in": _points("check_in"),
    "referral_rewarded": _points("referral"),
    "points_expiring": _same("points.will_expire"),
    "checkout_completed": _same("checkout.completed"),
    "message_sent": _same("message.delivered"),
    "message_delivered": _same("message.delivered"),
    "message_failed": _same("message.failed"),
}

# Which public types each internal type can produce: a cheap filter before building any payload.
PRODUCES: dict[str, frozenset[str]] = {
    "order_placed": frozenset({"order.recorded", "points.changed", "stored_value.changed"}),
    "order_refunded": frozenset({"order.refunded", "points.changed", "stored_value.changed"}),
}


def produces(internal: str) -> frozenset[str]:
    """The public types an internal event type may stand for (empty: none)."""
    if internal in PRODUCES:
        return PRODUCES[internal]
    mapper = MAPPERS.get(internal)
    if mapper is None:
        return frozenset()
    return frozenset(public for public, _ in mapper({"points": 1}))


def public_events(internal: str, payload: dict[str, Any], *, member_id: int, channel: str | None,
                  store_id: int | None) -> list[tuple[str, dict[str, Any]]]:
    """The public (type, data) pairs an internal event stands for; data always names the member."""
    mapper = MAPPERS.get(internal)
    if mapper is None:
        return []
    extra: dict[str, Any] = {"member_id": member_id}
    if channel is not None:
        extra["channel"] = channel
    if store_id is not None:
        extra["store_id"] = store_id
    return [(public, {**extra, **data}) for public, data in mapper(payload)]
