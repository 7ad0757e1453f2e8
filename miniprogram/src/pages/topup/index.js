// 储值充值: the program's top-up bonus rules as chips (充100送20) and an amount of one's own, what will be
// credited (本金 + 赠送), then WeChat Pay (utils/pay.js): POST the top-up, wx.requestPayment with the signed
// parameters it answers, and the order's state polled until WeChat Pay has said paid or closed. The balance
// changes only on the server's word, never on wx.requestPayment's success alone.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const errors = require('../../utils/errors.js');
const format = require('../../utils/format.js');
const pager = require('../../utils/pager.js');
const pay = require('../../utils/pay.js');

const MIN_CENTS = 100;

// The bonus the program gives for `cents`: the best rule it reaches (as the server computes it).
function bonusFor(rules, cents) {
  return rules.reduce((best, r) => (r.min_amount_cents <= cents && r.bonus_cents > best ? r.bonus_cents : best), 0);
}

Component({
  data: {
    colors: config.colors, state: 'loading', error: '', disabledText: errors.messageFor('WECHATPAY_DISABLED'),
    chips: [], selected: -1, custom: '', inputError: '', maxCents: 0,
    amountCents: 0, bonusCents: 0, principalText: '', bonusText: '', totalText: '',
    balance: '', busy: false, notice: '', lastError: '',
    result: '', resultTitle: '', resultText: '', resultBalance: '',
  },
  methods: {
    onLoad() {
      return this.reload();
    },
    onPullDownRefresh() {
      return this.reload().then(() => wx.stopPullDownRefresh());
    },
    reload() {
      this.setData({ state: 'loading', error: '' });
      return pager.memberSession().then((s) => {
        if (!s.registered) {
          this.setData({ state: 'visitor' });
          return null;
        }
        return Promise.all([api.get('/wallet/topup-options'), api.get('/me/assets')]).then(([o, a]) => {
          if (!o.enabled) {
            this.setData({ state: 'disabled' });
            return;
          }
          this.rules = o.options || [];
          const chips = this.rules.map((r) => ({
            key: String(r.min_amount_cents), amountCents: r.min_amount_cents,
            label: `充${format.yuanShort(r.min_amount_cents)}`,
            bonus: r.bonus_cents ? `送${format.yuanShort(r.bonus_cents)}` : '',
          }));
          this.setData({ state: 'ready', chips, maxCents: o.max_amount_cents, balance: format.yuan(a.balance_cents) });
          this.choose(chips.length ? 0 : -1);
        });
      }).catch((err) => {
        if (err.code === 'WECHATPAY_DISABLED') this.setData({ state: 'disabled' });
        else this.setData({ state: 'error', error: err.message });
      });
    },
    // A chip chosen (index), or -1 for the amount typed in.
    choose(index) {
      const chip = this.data.chips[index];
      if (chip) {
        this.setData({ selected: index, custom: '', inputError: '', notice: '' });
        this.showAmount(chip.amountCents);
      } else {
        this.setData({ selected: -1 });
        this.showAmount(this.parseCustom(this.data.custom).cents);
      }
    },
    onChip(e) {
      if (this.paying) return;
      this.choose(Number(e.currentTarget.dataset.index));
    },
    onInput(e) {
      const custom = e.detail.value;
      const parsed = this.parseCustom(custom);
      // Said while typing only when the text cannot become valid; "too little" waits for 立即充值.
      this.setData({ custom, selected: -1, notice: '', inputError: parsed.format ? parsed.error : '' });
      this.showAmount(parsed.cents);
      return custom;
    },
    // {cents, error, format}: cents 0 unless the text is an amount that may be paid.
    parseCustom(text) {
      if (!String(text || '').trim()) return { cents: 0, error: '请输入充值金额', format: false };
      const cents = format.parseYuan(text);
      if (cents === null) return { cents: 0, error: '请输入正确的金额，最多两位小数', format: true };
      if (cents < MIN_CENTS) return { cents: 0, error: `充值金额不能低于 ${format.yuan(MIN_CENTS)}`, format: false };
      if (cents > this.data.maxCents) {
        return { cents: 0, error: `单次充值不能超过 ${format.yuan(this.data.maxCents)}`, format: true };
      }
      return { cents, error: '', format: false };
    },
    showAmount(cents) {
      const bonus = cents ? bonusFor(this.rules || [], cents) : 0;
      this.setData({
        amountCents: cents, bonusCents: bonus,
        principalText: cents ? format.yuan(cents) : '', bonusText: cents ? format.yuan(bonus) : '',
        totalText: cents ? format.yuan(cents + bonus) : '',
      });
    },
    onPay() {
      return this.pay();
    },
    pay() {
      // A second tap while one is in flight sends nothing (the flag is set before anything is awaited).
      if (this.paying || this.data.state !== 'ready' || this.data.result) return Promise.resolve();
      let cents = this.data.amountCents;
      if (this.data.selected < 0) {
        const parsed = this.parseCustom(this.data.custom);
        if (parsed.error) {
          this.setData({ inputError: parsed.error });
          wx.showToast({ title: parsed.error, icon: 'none' });
          return Promise.resolve();
        }
        cents = parsed.cents;
      }
      if (!cents) return Promise.resolve();
      this.paying = true;
      this.setData({ busy: true, notice: '', lastError: '', result: '' });
      return pay.payOrder('/wallet/topups', { amount_cents: cents })
        .then((order) => {
          if (!order) {
            this.setData({ notice: '已取消支付' });
            wx.showToast({ title: '已取消支付', icon: 'none' });
            return null;
          }
          return this.showOrder(order);
        })
        .catch((err) => {
          if (err.code === 'WECHATPAY_DISABLED') {
            this.setData({ state: 'disabled' });
            return;
          }
          wx.showToast({ title: err.message, icon: 'none' });
          this.setData({ lastError: err.message });
        })
        .then(() => {
          this.paying = false;
          this.setData({ busy: false });
        });
    },
    // The order as the server last said: credited, closed, or not known yet.
    showOrder(t) {
      if (t.status !== 'paid') {
        this.setData({
          result: 'unpaid', resultTitle: '支付未完成', resultBalance: '',
          resultText: t.status === 'closed' ? '订单已关闭，未扣款' : '如已付款，余额将在稍后到账，可在储值明细中查看',
        });
        return null;
      }
      return api.get('/me/assets').then((a) => {
        this.setData({
          result: 'paid', resultTitle: '充值成功', balance: format.yuan(a.balance_cents),
          resultText: `本金 ${format.yuan(t.amount_cents)} + 赠送 ${format.yuan(t.bonus_cents)} 已到账`,
          resultBalance: `当前储值余额 ${format.yuan(a.balance_cents)}`,
        });
      });
    },
    again() {
      this.setData({ result: '', notice: '' });
    },
    goLedger() {
      wx.redirectTo({ url: '/pages/ledger/index?kind=balance' });
    },
    goRegister() {
      wx.navigateTo({ url: '/pages/login/index' });
    },
  },
});
