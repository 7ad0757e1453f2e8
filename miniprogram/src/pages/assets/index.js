// 我的资产: points and what expires when, stored value (principal and bonus), tier and its progress.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');
const subscribe = require('../../utils/subscribe.js');

const MEASURES = { spend: (n) => `${n} 元消费`, points: (n) => `${n} 积分`, orders: (n) => `${n} 笔订单` };

function benefits(tier) {
  const parts = [];
  if (tier.discount_pct < 100) parts.push(`会员价 ${tier.discount_pct / 10} 折`);
  if (tier.points_multiplier_pct > 100) parts.push(`积分 ${tier.points_multiplier_pct / 100} 倍`);
  if (tier.birthday_multiplier_pct > 100) parts.push(`生日月 ${tier.birthday_multiplier_pct / 100} 倍积分`);
  if (tier.free_shipping) parts.push('线上包邮');
  return parts.join(' · ') || '积分、优惠券全渠道通用';
}

Component({
  data: { colors: config.colors, state: 'loading', error: '' },
  methods: {
    onLoad() {
      return this.reload();
    },
    onPullDownRefresh() {
      return this.reload().then(() => wx.stopPullDownRefresh());
    },
    reload() {
      return api.get('/me/assets').then((a) => {
        const next = a.tier.next;
        const measure = MEASURES[a.tier.measure] || String;
        this.setData({
          state: 'ready',
          tier: a.tier,
          benefits: benefits(a.tier),
          progressPct: next ? Math.min(100, Math.floor((a.tier.progress * 100) / next.threshold)) : 100,
          nextText: next ? `再累计 ${measure(next.remaining)} 升级为 ${next.name}` : '',
          points: format.points(a.points.balance),
          expiring: a.points.expiring.map((e) => ({ points: e.points, expires_at: e.expires_at, date: format.date(e.expires_at) })),
          balance: format.yuan(a.balance_cents),
          principal: format.yuan(a.principal_cents),
          bonus: format.yuan(a.bonus_cents),
          couponCount: a.coupons.available_count,
        });
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    goPoints() { wx.navigateTo({ url: '/pages/ledger/index?kind=points' }); },
    goBalance() { wx.navigateTo({ url: '/pages/ledger/index?kind=balance' }); },
    goCoupons() { wx.switchTab({ url: '/pages/coupons/index' }); },
    subscribe() { return subscribe.ask(['pointsExpiry']); },
  },
});
