"""Loyalty errors (stable codes; zh-CN messages)."""

from backend.errors import error

InsufficientPoints = error("INSUFFICIENT_POINTS", 422, "积分不足")
InsufficientBalance = error("INSUFFICIENT_BALANCE", 422, "储值余额不足")
OrderNotFound = error("ORDER_NOT_FOUND", 404, "订单不存在")
OrderConflict = error("ORDER_CONFLICT", 409, "该订单号已用于另一笔不同内容的订单")
OrderOverpaid = error("ORDER_OVERPAID", 422, "积分抵扣与储值支付合计超过订单金额")
RefundExceedsPaid = error("REFUND_EXCEEDS_PAID", 422, "退款金额超过订单可退金额")
RefundConflict = error("REFUND_CONFLICT", 409, "该退款单号已用于另一笔不同金额的退款")
PaymentRefUsed = error("PAYMENT_REF_USED", 409, "该支付流水号已用于另一笔充值")
PointsNotRedeemable = error("POINTS_NOT_REDEEMABLE", 422, "抵扣积分数须能折算为整分金额")
CheckinDisabled = error("CHECKIN_DISABLED", 409, "签到活动未开启")
CampaignNotFound = error("CAMPAIGN_NOT_FOUND", 404, "积分活动不存在")
CheckoutClosed = error("CHECKOUT_CLOSED", 409, "该结算已完成或已取消")
