// WeChat Pay for the pages that sell something (储值充值, 付费会员): the order made by the server, WeChat's payment
// sheet with the signed parameters it answered, then the order's state asked of the server until WeChat Pay has
// said paid or closed (a pending order is asked of WeChat Pay by the server, so a lost notification does not
// leave the shopper waiting). What was bought is shown on the server's word, never on the sheet's success alone.
const api = require('./api.js');

const POLL_EVERY_MS = 1500;
const POLL_FOR_MS = 15000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// wx.requestPayment as a promise of 'paid' (WeChat's sheet said ok), 'cancelled' or 'failed'.
function requestPayment(params) {
  return new Promise((resolve) => {
    wx.requestPayment(Object.assign({}, params, {
      success: () => resolve('paid'),
      fail: (res) => resolve(/cancel/.test((res && res.errMsg) || '') ? 'cancelled' : 'failed'),
    }));
  });
}

// The order at `path` asked until it is paid or closed, for up to 15 s when the sheet said paid (once when it
// failed: it may have paid all the same), under a loading mask.
function settle(path, outcome) {
  wx.showLoading({ title: '确认支付结果…', mask: true });
  const end = Date.now() + (outcome === 'paid' ? POLL_FOR_MS : 0);
  const poll = () => api.get(path).then((order) => {
    if (order.status !== 'pending' || Date.now() >= end) return order;
    return sleep(POLL_EVERY_MS).then(poll);
  });
  return poll().then((order) => {
    wx.hideLoading();
    return order;
  }, (err) => {
    wx.hideLoading();
    throw err;
  });
}

// POST `body` to `path` (an order that answers `payment`, the sheet's parameters), pay it in WeChat's sheet and
// settle it at `path`/{out_trade_no}: the order as the server last said, or null when the shopper cancelled (the
// order stays pending at WeChat Pay and is closed there when its time runs out).
function payOrder(path, body) {
  return api.post(path, body).then((order) => requestPayment(order.payment).then((outcome) => {
    if (outcome === 'cancelled') return null;
    return settle(`${path}/${encodeURIComponent(order.out_trade_no)}`, outcome);
  }));
}

module.exports = { POLL_EVERY_MS, POLL_FOR_MS, requestPayment, settle, payOrder };
