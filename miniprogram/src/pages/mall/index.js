// 积分商城: coupons for points. An exchange is confirmed first, and is one idempotent POST (points spent
// and coupon issued together or not at all); the balance shown is the one the server answers.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');

function confirm(title, content) {
  return new Promise((resolve) => wx.showModal({ title, content, success: (r) => resolve(!!r.confirm), fail: () => resolve(false) }));
}

Component({
  data: { colors: config.colors, state: 'loading', error: '', items: [], balance: 0, balanceText: '0', busyId: null, lastError: '' },
  methods: {
    onLoad() {
      return this.reload();
    },
    onPullDownRefresh() {
      return this.reload().then(() => wx.stopPullDownRefresh());
    },
    reload() {
      this.setData({ state: 'loading' });
      return Promise.all([api.get('/points-mall'), api.get('/me/assets')]).then(([mall, assets]) => {
        this.offers = mall.items;
        this.show(assets.points.balance);
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    show(balance) {
      const items = this.offers.map((o) => ({
        id: o.id, name: o.name, price: o.points_price, priceText: format.points(o.points_price),
        value: labels.couponValue(o.coupon.terms), description: o.coupon.description,
        short: o.points_price > balance,
      }));
      this.setData({ state: 'ready', items, balance, balanceText: format.points(balance) });
    },
    onExchange(e) {
      return this.exchange(Number(e.currentTarget.dataset.id));
    },
    exchange(itemId) {
      const offer = (this.offers || []).find((o) => o.id === itemId);
      if (!offer || this.data.busyId) return Promise.resolve();
      return confirm('确认兑换', `使用 ${format.points(offer.points_price)} 积分兑换「${offer.name}」？`).then((yes) => {
        if (!yes) return null;
        this.setData({ busyId: itemId });
        return api.post(`/points-mall/${itemId}/exchange`, {}).then((answer) => {
          this.setData({ lastError: '' });
          this.show(answer.points_balance);
          wx.showToast({ title: '兑换成功，已放入我的优惠券', icon: 'none' });
        }, (err) => {
          wx.showToast({ title: err.message, icon: 'none' });
          this.setData({ lastError: err.message });
        }).then(() => this.setData({ busyId: null }));
      });
    },
    goCoupons() {
      wx.switchTab({ url: '/pages/coupons/index' });
    },
  },
});
