"""Paid membership errors (stable codes; zh-CN messages)."""

from backend.errors import error

MembershipPlanNotFound = error("MEMBERSHIP_PLAN_NOT_FOUND", 404, "该会员方案不存在或已停售")
MembershipNotRefundable = error("MEMBERSHIP_NOT_REFUNDABLE", 409, "该会员订单无法退款")
