// 付费会员: the plans on sale as cards (月卡 / 季卡 / 年卡, price, benefits), the member's membership (有效期至 … or
// 未开通), and 开通 / 续费 with WeChat Pay (utils/pay.js): the order made, wx.requestPayment, the order polled until
// paid or closed. A period bought starts where the current membership ends (now when none runs) and ends at
// merchant midnight, so the card can say until when it would run; what is shown after paying is the server's.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');
const pager = require('../../utils/pager.js');
const pay = require('../../utils/pay.js');

const PERIODS = { month: { label: '月卡', unit: '月', months: 1 }, quarter: { label: '季卡', unit: '季', months: 3 },
  year: { label: '年卡', unit: '年', months: 12 } };
const DAY_MS = 24 * 3600 * 1000;
const MERCHANT_OFFSET_MS = 8 * 3600 * 1000; // merchant time is China's, as everywhere on these pages

// Where a period of `months` beginning at `startMs` ends, as the server computes it: the months added in merchant
// time (the 31st plus a month is the last day of a shorter month), rounded up to the next merchant midnight.
function periodEnd(startMs, months) {
  const t = new Date(startMs + MERCHANT_OFFSET_MS);
  const month = t.getUTCMonth() + months;
  const year = t.getUTCFullYear() + Math.floor(month / 12);
  const m = month % 12;
  const day = Math.min(t.getUTCDate(), new Date(Date.UTC(year, m + 1, 0)).getUTCDate());
  const local = Date.UTC(year, m, day, t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds());
  const midnight = Date.UTC(year, m, day);
  return new Date((midnight < local ? midnight + DAY_MS : midnight) - MERCHANT_OFFSET_MS).toISOString();
}

Component({
  data: {
    colors: config.colors, state: 'loading', error: '', enabled: false,
    active: false, planName: '', statusText: '', currentBenefits: [], cards: [],
    busy: false, paying: '', notice: '', lastError: '', result: '', resultTitle: '', resultText: '',
  },
  methods: {
    onLoad() {
      return this.reload();
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
      return api.get('/membership').then((o) => this.showOverview(o), (err) => this.setData({ state: 'error', error: err.message }));
    },
    showOverview(o) {
      const m = o.membership;
      // Renewal stacks: a period bought now starts at the current end (now when none runs).
      const start = m.active && m.ends_at ? Date.parse(m.ends_at) : Date.now();
      const cards = o.plans.map((p) => {
        const period = PERIODS[p.period];
        return {
          code: p.code, name: p.name, periodLabel: period.label,
          price: format.yuan(p.price_cents), perText: `/${period.unit}`,
          benefits: labels.benefits(p.benefits),
          action: m.active ? '续费' : '开通',
          afterText: `${m.active ? '续费' : '开通'}后有效期至 ${format.lastDay(periodEnd(start, period.months))}`,
        };
      });
      this.setData({
        state: 'ready', error: '', enabled: !!o.enabled, active: m.active, planName: m.active ? m.plan_name : '',
        statusText: m.active ? `有效期至 ${format.lastDay(m.ends_at)}` : '未开通',
        currentBenefits: m.active && m.benefits ? labels.benefits(m.benefits) : [], cards,
      });
      return o;
    },
    onBuy(e) {
      return this.buy(e.currentTarget.dataset.code);
    },
    buy(code) {
      // A second tap while one is in flight sends nothing (the flag is set before anything is awaited).
      if (this.buying || this.data.state !== 'ready' || !this.data.enabled || this.data.result) return Promise.resolve();
      const card = this.data.cards.find((c) => c.code === code);
      if (!card) return Promise.resolve();
      this.buying = true;
      const renewal = this.data.active;
      this.setData({ busy: true, paying: code, notice: '', lastError: '', result: '' });
      return pay.payOrder('/membership/orders', { plan_code: code })
        .then((order) => {
          if (!order) {
            this.setData({ notice: '已取消支付' });
            wx.showToast({ title: '已取消支付', icon: 'none' });
            return null;
          }
          return this.showOrder(order, card, renewal);
        })
        .catch((err) => {
          if (err.code === 'WECHATPAY_DISABLED') this.setData({ enabled: false });
          wx.showToast({ title: err.message, icon: 'none' });
          this.setData({ lastError: err.message });
          // A plan taken off sale meanwhile: show what is on sale now.
          if (err.code === 'MEMBERSHIP_PLAN_NOT_FOUND') return this.fetch();
          return null;
        })
        .then(() => {
          this.buying = false;
          this.setData({ busy: false, paying: '' });
        });
    },
    // The order as the server last said: the membership granted, the order closed, or not known yet.
    showOrder(order, card, renewal) {
      if (order.status !== 'paid') {
        this.setData({
          result: 'unpaid', resultTitle: '支付未完成',
          resultText: order.status === 'closed' ? '订单已关闭，未扣款' : '如已付款，会员将在稍后生效，可下拉刷新查看',
        });
        return null;
      }
      return api.get('/membership').then((o) => {
        this.showOverview(o);
        const m = o.membership;
        this.setData({
          result: 'paid', resultTitle: renewal ? '续费成功' : '开通成功',
          resultText: `${card.name}（${card.periodLabel}）已${renewal ? '续费' : '开通'}，有效期至 ${format.lastDay(m.ends_at)}`,
        });
      });
    },
    again() {
      this.setData({ result: '', notice: '' });
    },
    goRegister() {
      wx.navigateTo({ url: '/pages/login/index' });
    },
  },
});
