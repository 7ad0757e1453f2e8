// 我的优惠券 by status: 可用 / 已使用 / 已过期, with infinite scroll (utils/pager.js).
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');
const pager = require('../../utils/pager.js');

const TABS = [{ key: 'available', label: '可用' }, { key: 'used', label: '已使用' }, { key: 'expired', label: '已过期' }];
const BADGES = { available: '', used: '已使用', expired: '已过期' };

Component({
  data: { colors: config.colors, tabs: TABS, status: 'available', statusLabel: '可用', rows: [], state: 'loading', error: '' },
  methods: Object.assign(pager.pagerMethods(), {
    onLoad(query = {}) {
      return this.switchTo(query.status || 'available');
    },
    onShow() {
      if (this.loaded) return this.startList();
      return null;
    },
    onTab(e) {
      return this.switchTo(e.currentTarget.dataset.key);
    },
    switchTo(status) {
      const tab = TABS.find((t) => t.key === status) || TABS[0];
      this.loaded = true;
      this.setData({ status: tab.key, statusLabel: tab.label });
      return this.startList(); // a page of the previous tab still in flight is dropped
    },
    source() {
      const status = this.data.status;
      return {
        path: '/me/coupons',
        query: { status },
        map: (c) => ({
          id: c.id, name: c.name, value: labels.couponValue(c.terms), badge: BADGES[status],
          valid: `${format.date(c.valid_from)} 至 ${format.date(c.valid_until)}`,
        }),
      };
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
  }),
});
