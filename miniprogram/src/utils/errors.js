// Every error code a mini-program route can answer, as the shopper should read it. A code missing
// here falls back to the server's own (zh-CN) message; a test checks this table covers every code
// the served OpenAPI document declares for /api/v1/mp.
const MESSAGES = {
  UNAUTHENTICATED: '登录已过期，请重新登录',
  FORBIDDEN: '无权进行此操作',
  NOT_FOUND: '内容不存在或已下架',
  VALIDATION_FAILED: '填写的信息有误，请检查后重试',
  RATE_LIMITED: '操作太频繁，请稍后再试',
  DEPENDENCY_UNAVAILABLE: '服务暂时不可用，请稍后再试',
  SERVICE_UNAVAILABLE: '服务暂时不可用，请稍后再试',
  INTERNAL_ERROR: '系统繁忙，请稍后再试',
  CONFLICT: '操作冲突，请重试',
  IDEMPOTENCY_IN_FLIGHT: '请求正在处理中，请稍候',
  IDEMPOTENCY_KEY_REUSED: '重复的请求，请刷新后重试',
  WECHAT_CODE_INVALID: '微信登录失败，请重试',
  WECHAT_PHONE_CODE_INVALID: '获取手机号失败，请重新授权',
  WECHAT_DECRYPT_FAILED: '获取手机号失败，请重新授权',
  ALREADY_REGISTERED: '您已是会员',
  PHONE_BOUND_ELSEWHERE: '该手机号已绑定其他微信账号',
  WECHAT_BOUND_ELSEWHERE: '该微信已绑定其他会员',
  REFERRAL_CODE_INVALID: '邀请码无效',
  MEMBER_NOT_FOUND: '会员不存在',
  BIRTHDAY_LOCKED: '生日设置后不可自行修改，请联系门店',
  EMAIL_BOUND_ELSEWHERE: '该邮箱已被其他会员使用',
  PAYLOAD_TOO_LARGE: '提交的内容过多，请精简后重试',
  INSUFFICIENT_POINTS: '积分不足，无法兑换',
  COUPON_NOT_FOUND: '优惠券不存在或已失效',
  COUPON_TEMPLATE_NOT_FOUND: '该券已下架',
  COUPON_OUT_OF_STOCK: '来晚了，券已领完',
  COUPON_LIMIT_REACHED: '您已领过该券，领取次数已达上限',
  COUPON_NOT_CLAIMABLE: '该券当前不可领取',
  MALL_ITEM_NOT_FOUND: '该商品已下架',
  CHECKIN_DISABLED: '签到活动未开启',
  WECHATPAY_DISABLED: '暂未开通在线充值，请到门店充值',
  WECHAT_ACCOUNT_REQUIRED: '请使用微信登录后再支付',
  PAYMENT_GATEWAY_UNAVAILABLE: '微信支付暂时不可用，请稍后再试',
  PAYMENT_REFUSED: '微信支付未能下单，请稍后再试',
  PAYMENT_NOT_FOUND: '订单不存在',
  MEMBERSHIP_PLAN_NOT_FOUND: '该会员方案不存在或已停售',
};

const NETWORK = { code: 'NETWORK', message: '网络连接失败，请检查网络后重试' };

function messageFor(code, fallback) {
  return MESSAGES[code] || fallback || '操作失败，请稍后再试';
}

module.exports = { MESSAGES, NETWORK, messageFor };
