"""Payment errors (stable codes; zh-CN messages)."""

from backend.errors import error

PaymentsDisabled = error("WECHATPAY_DISABLED", 409, "暂未开通微信支付，请到门店充值")
WeChatAccountRequired = error("WECHAT_ACCOUNT_REQUIRED", 409, "请在微信小程序内登录后支付")
PaymentNotFound = error("PAYMENT_NOT_FOUND", 404, "支付订单不存在")
PaymentGatewayUnavailable = error("PAYMENT_GATEWAY_UNAVAILABLE", 503, "微信支付暂时不可用，请稍后再试")
PaymentRefused = error("PAYMENT_REFUSED", 502, "微信支付未能创建订单，请稍后再试")
NotificationInvalid = error("WECHATPAY_SIGNATURE_INVALID", 401, "微信支付通知验签失败")
RefundExceedsUnspent = error("REFUND_EXCEEDS_UNSPENT", 409, "退款金额超过该笔充值尚未使用的本金")
PaymentNotRefundable = error("PAYMENT_NOT_REFUNDABLE", 409, "该订单未支付，无法退款")
