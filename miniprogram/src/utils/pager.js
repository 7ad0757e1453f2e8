// Cursor paging shared by 明细, 我的订单 and 我的优惠券: the first page on load, the next one on reaching the
// bottom, each page asked once (a second scroll event while one is in flight is ignored), rows kept
// unique by id, and the end said once the server answers no next_cursor.
const api = require('./api.js');

const PAGE_SIZE = 20;

// A visitor (WeChat user who has not registered) has no ledgers or orders: offer registration instead.
function memberSession() {
  const current = api.session();
  return current ? Promise.resolve(current) : api.login();
}

// The methods a list page mixes in; `source()` gives {path, query?, map(item) → row}.
function pagerMethods() {
  return {
    startList() {
      this.cursor = '';
      this.seen = {};
      this.loading = false;
      this.generation = (this.generation || 0) + 1; // a page still in flight from before is dropped
      this.setData({ rows: [], state: 'loading', error: '' });
      return memberSession().then((s) => {
        if (!s.registered) {
          this.setData({ state: 'visitor' });
          return null;
        }
        return this.more();
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    more() {
      const state = this.data.state;
      if (this.loading || state === 'end' || state === 'visitor') return Promise.resolve();
      this.loading = true;
      this.setData({ state: 'loading', error: '' });
      const source = this.source();
      const generation = this.generation;
      const query = Object.assign({}, source.query, { limit: PAGE_SIZE, cursor: this.cursor });
      return api.get(source.path, query).then((page) => {
        if (generation !== this.generation) return;
        const fresh = page.items.filter((item) => !this.seen[item.id]);
        fresh.forEach((item) => { this.seen[item.id] = true; });
        this.cursor = page.next_cursor || '';
        this.setData({ rows: this.data.rows.concat(fresh.map(source.map)), state: page.next_cursor ? 'more' : 'end' });
      }, (err) => {
        if (generation === this.generation) this.setData({ state: 'error', error: err.message });
      }).then(() => { if (generation === this.generation) this.loading = false; });
    },
    retry() {
      return this.data.rows.length ? this.more() : this.startList();
    },
    onReachBottom() {
      return this.more();
    },
    onPullDownRefresh() {
      return this.startList().then(() => wx.stopPullDownRefresh());
    },
    goRegister() {
      wx.navigateTo({ url: '/pages/login/index' });
    },
  };
}

module.exports = { PAGE_SIZE, pagerMethods, memberSession };
