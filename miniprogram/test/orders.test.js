const h = require('./support/helpers');

function format() {
  return require('../src/utils/format.js');
}

async function clerk(method, pathname, body) {
  const token = await h.staffToken('clerk');
  return h.httpJson(method, `${h.stack.api}/api/v1/store${pathname}`, body,
    { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` });
}

// The clerk scans the member's card once (the scan token serves the whole visit) and records sales at
// the counter (channel pos).
const scans = {};
async function counterOrder(amountCents) {
  const memberId = h.api().session().memberId;
  if (!scans[memberId]) {
    const scan = await h.clerkScan((await h.api().get('/me/code')).code);
    expect(scan.statusCode).toBe(200);
    scans[memberId] = scan.data.scan_token;
  }
  const orderNo = `T-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  const res = await clerk('POST', '/orders', { scan_token: scans[memberId], order_no: orderNo, amount_cents: amountCents });
  expect(res.statusCode).toBe(201);
  return orderNo;
}

async function shown() {
  const page = h.loadPage('orders');
  await page.instance.onLoad({});
  return page;
}

describe('我的订单', () => {
  test('an order recorded at the counter shows with its channel, amount, points earned and status', async () => {
    h.freshWx();
    await h.registerMember();
    const orderNo = await counterOrder(25800);
    const page = await shown();
    const server = await h.api().get('/me/orders');
    expect(server.items.length).toBe(1);
    const order = server.items[0];
    expect(order.channel).toBe('pos');
    expect(order.points_earned).toBeGreaterThan(0);
    expect(h.text(page, '.channel')).toBe('门店');
    expect(h.text(page, '.order-no')).toBe(orderNo);
    expect(h.text(page, '.amount')).toBe('¥258.00');
    expect(h.text(page, '.earned')).toBe(`+${format().points(order.points_earned)} 积分`);
    expect(h.text(page, '.status')).toBe('已完成');
    expect(h.text(page, '.when')).toBe(format().dateTime(order.placed_at));
    expect(h.text(page, '#end')).toBe('没有更多了');
    h.snapshot(page, 'orders');
  });

  test('a refunded order says so, with the amount refunded', async () => {
    h.freshWx();
    await h.registerMember();
    const orderNo = await counterOrder(10000);
    const refund = await clerk('POST', `/orders/${orderNo}/refund`, { amount_cents: 10000, reason: '顾客退货' });
    expect(refund.statusCode).toBe(201);
    const page = await shown();
    const order = (await h.api().get('/me/orders')).items[0];
    expect(order.status).toBe('refunded');
    expect(h.text(page, '.status')).toBe('已退款');
    expect(h.text(page, '.refunded')).toBe('已退 ¥100.00');
  });

  test('more orders than one page: scrolling loads each once, newest first, then "没有更多了"', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const numbers = [];
    for (let i = 0; i < 23; i += 1) numbers.push(await counterOrder(1000 + i * 100));
    const page = await shown();
    expect(page.querySelectorAll('.order').length).toBe(20);
    expect(h.text(page, '#end')).toBeNull();
    await Promise.all([page.instance.onReachBottom(), page.instance.onReachBottom()]);
    expect(page.data.rows.map((r) => r.orderNo)).toEqual(numbers.slice().reverse());
    expect(page.querySelectorAll('.order').length).toBe(23);
    expect(h.text(page, '#end')).toBe('没有更多了');
    await page.instance.onReachBottom();
    expect(wx.called('request').filter((c) => c.options.url.indexOf('/me/orders') >= 0).length).toBe(2);
  });

  test('a member without orders sees the empty state', async () => {
    h.freshWx();
    await h.registerMember();
    const page = await shown();
    expect((await h.api().get('/me/orders')).items).toEqual([]);
    expect(h.text(page, '#empty')).toBe('暂无订单，门店、商城与小程序的消费都会显示在这里');
    expect(page.querySelectorAll('.order').length).toBe(0);
  });

  test('offline: the error is shown with a retry that works once the network is back', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const orderNo = await counterOrder(5000);
    wx.offline = true;
    const page = await shown();
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    expect(page.querySelectorAll('.order').length).toBe(0);
    wx.offline = false;
    page.querySelector('#retry').dispatchEvent('tap');
    await h.waitFor(() => page.data.state === 'end', { what: 'the orders after retry' });
    expect(h.text(page, '.order-no')).toBe(orderNo);
  });

  test('pull-down refresh shows an order recorded since the page was opened', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    expect(h.text(page, '#empty')).not.toBeNull();
    const orderNo = await counterOrder(3000);
    await page.instance.onPullDownRefresh();
    expect(page.data.rows.map((r) => r.orderNo)).toEqual([orderNo]);
    expect(wx.called('stopPullDownRefresh').length).toBe(1);
  });

  test('a visitor is offered registration', async () => {
    const wx = h.freshWx();
    const page = await shown();
    expect(page.data.state).toBe('visitor');
    page.querySelector('#register').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo')[0].options.url).toBe('/pages/login/index');
  });
});
