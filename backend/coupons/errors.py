"""Coupon errors (stable codes; zh-CN messages)."""

from backend.errors import error

CouponNotFound = error("COUPON_NOT_FOUND", 404, "优惠券不存在")
CouponTemplateNotFound = error("COUPON_TEMPLATE_NOT_FOUND", 404, "券模板不存在")
CouponAlreadyRedeemed = error("COUPON_ALREADY_REDEEMED", 409, "该券已核销")
CouponExpired = error("COUPON_EXPIRED", 422, "该券已过期")
CouponNotYetValid = error("COUPON_NOT_YET_VALID", 422, "该券尚未到可用时间")
CouponWrongStore = error("COUPON_WRONG_STORE", 422, "该券不能在本门店使用")
CouponWrongChannel = error("COUPON_WRONG_CHANNEL", 422, "该券不能在此渠道使用")
CouponWrongCategory = error("COUPON_WRONG_CATEGORY", 422, "订单中没有该券适用的商品")
CouponMinSpendNotMet = error("COUPON_MIN_SPEND_NOT_MET", 422, "未达到该券的最低消费金额")
CouponTemplatePaused = error("COUPON_TEMPLATE_PAUSED", 422, "该券活动已暂停，暂不能使用")
CouponNotCombinable = error("COUPON_NOT_COMBINABLE", 422, "这些优惠不能同时使用")
CouponNotApplicable = error("COUPON_NOT_APPLICABLE", 422, "该券不适用于本次消费")
CouponOutOfStock = error("COUPON_OUT_OF_STOCK", 409, "券已领完")
CouponLimitReached = error("COUPON_LIMIT_REACHED", 409, "已达到领取上限")
CouponNotClaimable = error("COUPON_NOT_CLAIMABLE", 422, "该券当前不可领取")
CouponTemplateState = error("COUPON_TEMPLATE_STATE", 409, "券模板当前状态不允许此操作")
RedemptionNotFound = error("REDEMPTION_NOT_FOUND", 404, "核销记录不存在")
RedemptionNotReversible = error("REDEMPTION_NOT_REVERSIBLE", 422, "该核销记录不能撤销")
MallItemNotFound = error("MALL_ITEM_NOT_FOUND", 404, "积分商城商品不存在")
CouponTemplateWindowPast = error("COUPON_TEMPLATE_WINDOW_PAST", 422, "券模板的有效期已结束，不能启用")
