// 我的优惠券 by status: 可用 / 已使用 / 已过期, with infinite scroll.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');

const TABS = [{ key: 'available', label: '可用' }, { key: 'used', label: '已使用' }, { key: 'expired', label: '已过期' }];
const BADGES = { available: '', used: '已使用', expired: '已过期' };

Component({
  data: { colors: config.colors, tabs: TABS, status: 'available', statusLabel: '可用', items: [], state: 'loading', error: '' },
  methods: {
    onLoad(query = {}) {
      return this.switchTo(query.status || 'available');
    },
    onShow() {
      if (this.loaded) return this.reload();
      return null;
    },
    onReachBottom() {
      return this.more();
    },
    onTab(e) {
      return this.switchTo(e.currentTarget.dataset.key);
    },
    switchTo(status) {
      const tab = TABS.find((t) => t.key === status) || TABS[0];
      this.setData({ status: tab.key, statusLabel: tab.label });
      return this.reload();
    },
    reload() {
      this.cursor = '';
      this.loaded = true;
      this.setData({ items: [], state: 'more' });
      return this.more();
    },
    more() {
      if (this.loading || this.data.state === 'end') return Promise.resolve();
      this.loading = true;
      const status = this.data.status;
      this.setData({ state: 'loading' });
      return api.get('/me/coupons', { status, limit: 20, cursor: this.cursor }).then((page) => {
        if (status !== this.data.status) return; // the shopper switched tabs meanwhile
        const items = page.items.map((c) => ({
          id: c.id, name: c.name, value: labels.couponValue(c.terms), badge: BADGES[status],
          valid: `${format.date(c.valid_from)} 至 ${format.date(c.valid_until)}`,
        }));
        this.cursor = page.next_cursor || '';
        this.setData({ items: this.data.items.concat(items), state: page.next_cursor ? 'more' : 'end' });
      }, (err) => this.setData({ state: 'error', error: err.message })).then(() => { this.loading = false; });
    },
    goCenter() {
      wx.navigateTo({ url: '/pages/center/index' });
    },
    goMall() {
      wx.navigateTo({ url: '/pages/mall/index' });
    },
    onOpen(e) {
      wx.navigateTo({ url: `/pages/coupon/index?id=${e.currentTarget.dataset.id}` });
    },
  },
});
