// 我的资产: points and what expires when, stored value (principal and bonus), tier with its progress
// and benefits (what assets.tier carries: the shopper routes have no program document), coupons; a 充值
// button beside the balance when top-ups can be paid here (topup-options says enabled); 付费会员 (until when, or
// 开通) when plans are on sale or the member has a membership running.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');
const subscribe = require('../../utils/subscribe.js');
const pager = require('../../utils/pager.js');

const MEASURES = { spend: (n) => `${format.points(n)} 元消费`, points: (n) => `${format.points(n)} 积分`,
  orders: (n) => `${n} 笔订单` };

Component({
  data: {
    colors: config.colors, state: 'loading', error: '', notice: '',
    tier: null, benefits: [], progressPct: 0, progressText: '', nextText: '',
    points: '0', debt: '', expiring: [], balance: '¥0.00', principal: '¥0.00', bonus: '¥0.00', couponCount: 0, canTopup: false,
    membershipText: '',
  },
  methods: {
    onLoad() {
      return this.reload();
    },
    onShow() {
      // Back from a ledger or after a purchase: fresh numbers, without blanking what is shown.
      if (this.data.state === 'ready') return this.fetch();
      return Promise.resolve();
    },
    onPullDownRefresh() {
      return (this.data.state === 'ready' ? this.fetch() : this.reload()).then(() => wx.stopPullDownRefresh());
    },
    reload() {
      this.setData({ state: 'loading', error: '' });
      return pager.memberSession().then((s) => {
        if (!s.registered) {
          this.setData({ state: 'visitor' });
          return null;
        }
        return this.fetch();
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    fetch() {
      // Whether 充值 is offered; a failure there hides the button and leaves the rest of the page alone.
      const topup = api.get('/wallet/topup-options').then((o) => !!o.enabled, () => false);
      // Likewise the 付费会员 entry: '' hides it.
      const membership = api.get('/membership').then((o) => {
        if (o.membership.active) return `有效期至 ${format.lastDay(o.membership.ends_at)}`;
        return o.plans.length ? '开通享会员权益' : '';
      }, () => '');
      return Promise.all([api.get('/me/assets'), topup, membership]).then(([a, canTopup, membershipText]) => {
        const tier = a.tier;
        const next = tier.next;
        const measure = MEASURES[tier.measure] || String;
        this.setData({
          state: 'ready',
          error: '',
          tier,
          benefits: labels.benefits(tier),
          progressPct: next && next.threshold ? Math.min(100, Math.floor((tier.progress * 100) / next.threshold)) : 100,
          progressText: next ? `${measure(tier.progress)} / ${measure(next.threshold)}` : '',
          nextText: next ? `再累计 ${measure(next.remaining)} 升级为${next.name}` : '已是最高等级',
          points: format.points(a.points.balance),
          debt: a.points.debt ? `待抵扣欠分 ${format.points(a.points.debt)}` : '',
          expiring: a.points.expiring.map((e) => ({
            key: e.expires_at, text: `${format.points(e.points)} 积分将于 ${format.date(e.expires_at)} 过期`,
          })),
          balance: format.yuan(a.balance_cents),
          principal: format.yuan(a.principal_cents),
          bonus: format.yuan(a.bonus_cents),
          couponCount: a.coupons.available_count,
          canTopup,
          membershipText,
        });
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    goRegister() { wx.navigateTo({ url: '/pages/login/index' }); },
    goPoints() { wx.navigateTo({ url: '/pages/ledger/index?kind=points' }); },
    goBalance() { wx.navigateTo({ url: '/pages/ledger/index?kind=balance' }); },
    goOrders() { wx.navigateTo({ url: '/pages/orders/index' }); },
    goCheckin() { wx.navigateTo({ url: '/pages/checkin/index' }); },
    goTopup() { wx.navigateTo({ url: '/pages/topup/index' }); },
    goMembership() { wx.navigateTo({ url: '/pages/membership/index' }); },
    goCoupons() { wx.switchTab({ url: '/pages/coupons/index' }); },
    subscribe() {
      return subscribe.ask(['pointsExpiry']).then((answer) => {
        const id = config.subscribeTemplates.pointsExpiry;
        const ok = !!(answer && answer.items && answer.items.some((i) => i.template_id === id && i.credits > 0));
        const notice = ok ? '已订阅，积分到期前将提醒您' : '未订阅积分到期提醒';
        this.setData({ notice });
        wx.showToast({ title: ok ? '订阅成功' : '未订阅', icon: ok ? 'success' : 'none' });
      });
    },
  },
});
