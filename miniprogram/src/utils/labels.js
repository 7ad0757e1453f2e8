// Chinese labels for what the API reports by code.
const POINTS_KINDS = {
  earn: '消费获得', spend: '积分抵扣', expire: '积分过期', bonus: '奖励积分', adjust: '积分调整',
  debt_repay: '抵扣欠分', refund_reversal: '退款扣回', refund_restore: '退款返还', transfer_in: '账户合并转入',
  transfer_out: '账户合并转出', import: '迁移导入',
};
const WALLET_KINDS = {
  topup: '充值', bonus: '充值赠送', spend: '消费', refund: '退款', adjust: '调整', transfer_in: '账户合并转入',
  transfer_out: '账户合并转出', import: '迁移导入',
};
const CHANNELS = { pos: '门店', online: '线上商城', miniprogram: '小程序', third_party: '第三方平台' };

function times(pct) {
  return `${pct / 100} 倍`;
}

// What a tier or a paid membership plan gives, as short tags: the fields either carries (a tier has a birthday
// multiplier, a plan a monthly coupon pack and coupon-center priority).
function benefits(b) {
  const parts = [];
  if (b.discount_pct < 100) parts.push(`会员价 ${b.discount_pct / 10} 折`);
  if (b.points_multiplier_pct > 100) parts.push(`消费积分 ${times(b.points_multiplier_pct)}`);
  if (b.birthday_multiplier_pct > 100) parts.push(`生日积分 ${times(b.birthday_multiplier_pct)}`);
  if (b.free_shipping) parts.push('线上包邮');
  const pack = (b.monthly_coupons || []).reduce((n, item) => n + item.count, 0);
  if (pack) parts.push(`每月券包 ${pack} 张`);
  if (b.coupon_center_priority) parts.push('领券优先');
  return parts;
}

function couponValue(terms) {
  if (terms.kind === 'amount_off') {
    const off = `减${terms.amount_off_cents / 100}元`;
    return terms.min_spend_cents ? `满${terms.min_spend_cents / 100}${off}` : `立${off}`;
  }
  if (terms.kind === 'percent_off') {
    const rate = terms.percent_pays % 10 === 0 ? terms.percent_pays / 10 : terms.percent_pays / 10;
    const cap = terms.max_discount_cents ? ` 最高抵${terms.max_discount_cents / 100}元` : '';
    return `${rate}折${cap}`;
  }
  if (terms.kind === 'gift') return '赠品券';
  return '包邮券';
}

module.exports = { POINTS_KINDS, WALLET_KINDS, CHANNELS, benefits, couponValue };
