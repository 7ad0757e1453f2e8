// 积分明细 / 储值明细 with infinite scroll: each page asked once, by the cursor the last one gave.
const api = require('../../utils/api.js');
const format = require('../../utils/format.js');
const labels = require('../../utils/labels.js');

const KINDS = {
  points: { path: '/me/points/ledger', title: '积分明细', names: labels.POINTS_KINDS, value: (e) => e.points,
    show: (n) => `${n > 0 ? '+' : ''}${n}` },
  balance: { path: '/me/balance/ledger', title: '储值明细', names: labels.WALLET_KINDS, value: (e) => e.amount_cents,
    show: (n) => `${n > 0 ? '+' : ''}${format.yuan(n)}` },
};
const PAGE_SIZE = 20;

Component({
  data: { rows: [], state: 'loading', error: '' },
  methods: {
    onLoad(query = {}) {
      this.kind = KINDS[query.kind] || KINDS.points;
      this.cursor = '';
      wx.setNavigationBarTitle({ title: this.kind.title });
      return this.more();
    },
    onReachBottom() {
      return this.more();
    },
    more() {
      if (this.loading || this.data.state === 'end') return Promise.resolve();
      this.loading = true;
      this.setData({ state: 'loading' });
      const kind = this.kind;
      return api.get(kind.path, { limit: PAGE_SIZE, cursor: this.cursor }).then((page) => {
        const rows = page.items.map((e) => {
          const n = kind.value(e);
          return { id: e.id, label: kind.names[e.kind] || e.reason || e.kind, when: format.dateTime(e.created_at),
            amount: kind.show(n), positive: n > 0 };
        });
        this.cursor = page.next_cursor || '';
        this.setData({ rows: this.data.rows.concat(rows), state: page.next_cursor ? 'more' : 'end' });
      }, (err) => this.setData({ state: 'error', error: err.message })).then(() => { this.loading = false; });
    },
  },
});
