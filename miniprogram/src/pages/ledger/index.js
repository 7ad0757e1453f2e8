// 积分明细 / 储值明细: newest first, the next page on reaching the bottom (see utils/pager.js).
const config = require('../../config.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');
const pager = require('../../utils/pager.js');

// Points spent in the points mall are an exchange, not a discount on an order.
function pointsLabel(e) {
  if (e.kind === 'spend' && e.source !== 'order') return '积分兑换';
  return labels.POINTS_KINDS[e.kind] || e.kind;
}

function signed(n, show) {
  return `${n > 0 ? '+' : ''}${show(n)}`;
}

const KINDS = {
  points: {
    path: '/me/points/ledger',
    title: '积分明细',
    map: (e) => ({
      id: e.id, label: pointsLabel(e), detail: e.reason, when: format.dateTime(e.created_at),
      amount: signed(e.points, String), positive: e.points > 0,
      after: `余额 ${format.points(e.balance_after)}`,
    }),
  },
  balance: {
    path: '/me/balance/ledger',
    title: '储值明细',
    map: (e) => ({
      id: e.id, label: labels.WALLET_KINDS[e.kind] || e.kind, detail: e.reason, when: format.dateTime(e.created_at),
      amount: signed(e.amount_cents, format.yuan), positive: e.amount_cents > 0,
      after: `余额 ${format.yuan(e.balance_after_cents)}`,
    }),
  },
};

Component({
  data: { colors: config.colors, rows: [], state: 'loading', error: '', title: '' },
  methods: Object.assign(pager.pagerMethods(), {
    onLoad(query = {}) {
      this.kind = KINDS[query.kind] || KINDS.points;
      this.setData({ title: this.kind.title });
      wx.setNavigationBarTitle({ title: this.kind.title });
      return this.startList();
    },
    source() {
      return this.kind;
    },
  }),
});
