// One coupon: its value, validity and history, and for an available coupon its own dynamic code for
// the counter (digits, grouped so a clerk can read them out; renewed when the server says so).
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');

const STATUS = { available: '可使用', redeemed: '已使用', expired: '已过期' };
const SOURCES = { admin: '商家发放', claim: '领券中心领取', mall: '积分兑换', reward: '奖励发放' };
const EVENTS = {
  coupon_issued: '获得优惠券', coupon_redeemed: '使用优惠券', coupon_redemption_reversed: '撤销使用（券已退回）',
  coupon_returned: '优惠券退回', coupon_expired: '优惠券过期',
};

// "12345678901234" → "1234 5678 9012 34": easier to read aloud and to type at the till.
function group(code) {
  return String(code || '').replace(/(\d{4})(?=\d)/g, '$1 ');
}

function historyRow(e, i) {
  let detail = '';
  if (e.discount_cents) detail = `优惠 ${format.yuan(e.discount_cents)}`;
  return { key: `${i}-${e.type}`, label: EVENTS[e.type] || e.type, at: format.dateTime(e.at),
    channel: labels.CHANNELS[e.channel] || '', detail };
}

Component({
  data: { colors: config.colors, state: 'loading', error: '', coupon: null, history: [], code: '', codeText: '',
    codeState: '', codeError: '' },
  methods: {
    onLoad(query = {}) {
      this.couponId = Number(query.id);
      return this.reload();
    },
    onShow() {
      // Back on screen: a code shown before may have been used or expired meanwhile.
      const back = this.hidden && this.data.coupon && this.data.coupon.available;
      this.hidden = false;
      return back ? this.loadCode() : null;
    },
    onHide() {
      this.hidden = true;
      this.stopTimer();
    },
    onUnload() {
      this.stopTimer();
    },
    stopTimer() {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    },
    reload() {
      this.stopTimer();
      if (!this.couponId) {
        this.setData({ state: 'error', error: '优惠券不存在或已失效' });
        return Promise.resolve();
      }
      this.setData({ state: 'loading' });
      return api.get(`/me/coupons/${this.couponId}`).then((c) => {
        const available = c.status === 'available' && new Date(c.valid_until).getTime() > Date.now();
        const coupon = {
          id: c.id, name: c.name, value: labels.couponValue(c.terms), available,
          status: available ? STATUS.available : (STATUS[c.status] || c.status),
          valid: `${format.dateTime(c.valid_from)} 至 ${format.dateTime(c.valid_until)}`,
          source: SOURCES[c.source] || c.source, redeemedAt: c.redeemed_at ? format.dateTime(c.redeemed_at) : '',
        };
        this.setData({ state: 'ready', coupon, history: (c.history || []).map(historyRow) });
        return available ? this.loadCode() : null;
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    loadCode() {
      this.stopTimer();
      this.setData({ codeState: this.data.code ? 'ready' : 'loading' });
      return api.get(`/me/coupons/${this.couponId}/code`).then((answer) => {
        this.setData({ code: answer.code, codeText: group(answer.code), codeState: 'ready', codeError: '' });
        if (!this.hidden) {
          const seconds = Math.max(1, Number(answer.refresh_after_s) || 30);
          this.timer = setTimeout(() => { this.timer = null; this.loadCode(); }, seconds * 1000);
        }
      }, (err) => {
        // A coupon used at the counter meanwhile is no longer available: show what it is now.
        if (err.code === 'COUPON_NOT_FOUND') return this.reload();
        this.setData({ code: '', codeText: '', codeState: 'error', codeError: err.message });
        return null;
      });
    },
  },
});
