// 领券中心: claimable coupons; a claim is one idempotent POST, and right after it the shopper is asked
// whether to be reminded before the coupon expires (the moment that earns a subscribe request).
const api = require('../../utils/api.js');
const config = require('../../config.js');
const labels = require('../../utils/labels.js');
const subscribe = require('../../utils/subscribe.js');

function view(t) {
  const full = t.per_member_limit !== null && t.held >= t.per_member_limit;
  let limitText = t.per_member_limit ? `每人限领 ${t.per_member_limit} 张，已领 ${t.held} 张` : `已领 ${t.held} 张`;
  if (t.total_stock !== null) limitText += ` · 剩余 ${Math.max(0, t.total_stock - t.issued_count)} 张`;
  return { id: t.id, name: t.name, description: t.description, value: labels.couponValue(t.terms), full, limitText };
}

Component({
  data: { colors: config.colors, items: [], state: 'loading', error: '', busyId: null },
  methods: {
    onLoad() {
      return this.reload();
    },
    reload() {
      this.setData({ state: 'loading' });
      return api.get('/coupon-center', { limit: 50 }).then((page) => {
        this.templates = page.items;
        this.setData({ items: page.items.map(view), state: 'ready' });
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    onClaim(e) {
      return this.claim(Number(e.currentTarget.dataset.id));
    },
    claim(templateId) {
      if (this.data.busyId) return Promise.resolve();
      this.setData({ busyId: templateId });
      return api.post(`/coupon-center/${templateId}/claim`, {}).then(() => {
        wx.showToast({ title: '领取成功', icon: 'success' });
        subscribe.ask(['couponExpiry']);
        // Stays on the list as claimed (the server leaves a fully claimed coupon out of the next list).
        this.templates = this.templates.map((t) => (t.id === templateId
          ? Object.assign({}, t, { held: t.held + 1, issued_count: t.issued_count + 1 }) : t));
        this.setData({ items: this.templates.map(view) });
      }, (err) => {
        wx.showToast({ title: err.message, icon: 'none' });
        return this.reload();
      }).then(() => this.setData({ busyId: null }));
    },
  },
});
