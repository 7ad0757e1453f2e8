// 我的订单: orders from every channel (门店, 线上商城, 小程序, 第三方), newest first, paged like 明细.
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');
const pager = require('../../utils/pager.js');

const STATUSES = { placed: '已完成', partially_refunded: '部分退款', refunded: '已退款' };

function row(o) {
  return {
    id: o.id,
    orderNo: o.order_no,
    channel: labels.CHANNELS[o.channel] || o.channel,
    amount: format.yuan(o.amount_cents),
    refunded: o.refunded_cents ? `已退 ${format.yuan(o.refunded_cents)}` : '',
    earned: o.points_earned ? `+${format.points(o.points_earned)} 积分` : '',
    spent: o.points_spent ? `抵扣 ${format.points(o.points_spent)} 积分` : '',
    status: STATUSES[o.status] || o.status,
    statusCode: o.status,
    when: format.dateTime(o.placed_at),
  };
}

Component({
  data: { colors: config.colors, rows: [], state: 'loading', error: '' },
  methods: Object.assign(pager.pagerMethods(), {
    onLoad() {
      return this.startList();
    },
    source() {
      return { path: '/me/orders', map: row };
    },
  }),
});
