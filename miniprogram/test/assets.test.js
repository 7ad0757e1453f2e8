const h = require('./support/helpers');

function format() {
  return require('../src/utils/format.js');
}

async function shown(name, query) {
  const page = h.loadPage(name);
  await page.instance.onLoad(query || {});
  return page;
}

function ledgerCalls(wx, path) {
  return wx.called('request').filter((c) => c.options.url.indexOf(path) >= 0);
}

describe('我的资产', () => {
  test('the demo member sees exactly what the API answers: points, stored value split, tier, progress, benefits', async () => {
    h.freshWx();
    await h.registerMember('13800138000'); // demo_members[0]: counter orders, points and a top-up
    const page = await shown('assets');
    const assets = await h.api().get('/me/assets');
    expect(page.data.state).toBe('ready');
    expect(assets.points.balance).toBeGreaterThan(0);
    expect(assets.balance_cents).toBeGreaterThan(0);
    expect(h.text(page, '#points')).toBe(assets.points.balance.toLocaleString('en-US'));
    expect(h.text(page, '#balance')).toBe(format().yuan(assets.balance_cents));
    expect(h.text(page, '#split')).toBe(`本金 ${format().yuan(assets.principal_cents)} · 赠送 ${format().yuan(assets.bonus_cents)}`);
    expect(h.text(page, '#tier')).toBe(assets.tier.name);
    expect(assets.tier.next).not.toBeNull();
    expect(h.text(page, '#next')).toBe(`再累计 ${assets.tier.next.remaining.toLocaleString('en-US')} 元消费 升级为${assets.tier.next.name}`);
    expect(h.text(page, '#progress')).toBe(`${assets.tier.progress.toLocaleString('en-US')} 元消费 / ${assets.tier.next.threshold.toLocaleString('en-US')} 元消费`);
    expect(h.text(page, '#benefits')).toContain(`会员价 ${assets.tier.discount_pct / 10} 折`);
    expect(h.text(page, '#coupons')).toBe(`${assets.coupons.available_count} 张 ›`);
    expect(h.text(page, '#no-expiring')).toBe('30 天内没有将要过期的积分');
    h.snapshot(page, 'assets');
  });

  test('links go to the points and stored-value ledgers and to the coupons tab', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown('assets');
    page.querySelector('#points-panel').dispatchEvent('tap');
    page.querySelector('#balance-panel').dispatchEvent('tap');
    page.querySelector('#coupons-panel').dispatchEvent('tap');
    await h.waitFor(() => wx.called('switchTab').length, { what: 'navigation' });
    expect(wx.called('navigateTo').map((c) => c.options.url))
      .toEqual(['/pages/ledger/index?kind=points', '/pages/ledger/index?kind=balance']);
    expect(wx.called('switchTab')[0].options.url).toBe('/pages/coupons/index');
  });

  test('pull-down refresh shows points given since the page was opened', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    const page = await shown('assets');
    expect(h.text(page, '#points')).toBe('0');
    await h.givePoints(member.member_id, 1500, '门店补录积分');
    await page.instance.onPullDownRefresh();
    expect(h.text(page, '#points')).toBe('1,500');
    expect(wx.called('stopPullDownRefresh').length).toBe(1);
    expect((await h.api().get('/me/assets')).points.balance).toBe(1500);
  });

  test('the points-expiry button asks WeChat and the server records one send for the accepted template', async () => {
    const wx = h.freshWx();
    require('../src/config.js').subscribeTemplates.pointsExpiry = 'tmpl-points-expiry';
    await h.registerMember();
    const page = await shown('assets');
    await page.instance.subscribe();
    expect(wx.called('requestSubscribeMessage')[0].options.tmplIds).toEqual(['tmpl-points-expiry']);
    expect(h.text(page, '#notice')).toBe('已订阅，积分到期前将提醒您');
    const subs = await h.api().get('/me/subscriptions');
    expect(subs.items.find((i) => i.template_id === 'tmpl-points-expiry').credits).toBe(1);

    wx.subscribeAnswer = 'reject';
    await page.instance.subscribe();
    expect(h.text(page, '#notice')).toBe('已订阅，积分到期前将提醒您'); // the earlier send is still there
    wx.subscribeAnswer = 'ban';
    await page.instance.subscribe();
    expect(h.text(page, '#notice')).toBe('未订阅积分到期提醒');
    const after = await h.api().get('/me/subscriptions');
    const left = after.items.find((i) => i.template_id === 'tmpl-points-expiry');
    expect(left ? left.credits : 0).toBe(0);
  });

  test('a visitor is offered registration instead of an error', async () => {
    const wx = h.freshWx();
    const page = await shown('assets');
    expect(page.data.state).toBe('visitor');
    expect(h.text(page, '#error')).toBeNull();
    page.querySelector('#register').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo')[0].options.url).toBe('/pages/login/index');
  });

  test('offline: the error is shown with a retry that works once the network is back', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    await h.givePoints(member.member_id, 88);
    wx.offline = true;
    const page = await shown('assets');
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    expect(h.text(page, '#points')).toBeNull();
    wx.offline = false;
    page.querySelector('#retry').dispatchEvent('tap');
    await h.waitFor(() => page.data.state === 'ready', { what: 'the assets after retry' });
    expect(h.text(page, '#points')).toBe('88');
  });
});

describe('积分明细 / 储值明细', () => {
  test('25 adjustments: the first page shows 20, scrolling loads the other 5 once, newest first, then "没有更多了"', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    for (let i = 1; i <= 25; i += 1) await h.givePoints(member.member_id, i * 10, `第${i}次补录`);
    const page = await shown('ledger', { kind: 'points' });
    expect(wx.called('setNavigationBarTitle')[0].options.title).toBe('积分明细');
    expect(page.querySelectorAll('.row').length).toBe(20);
    expect(h.text(page, '#end')).toBeNull();
    await Promise.all([page.instance.onReachBottom(), page.instance.onReachBottom()]); // two scroll events at once
    const server = await h.api().get('/me/points/ledger', { limit: 100 });
    expect(server.items.length).toBe(25);
    expect(page.data.rows.map((r) => r.id)).toEqual(server.items.map((e) => e.id));
    expect(page.data.rows.map((r) => r.amount)).toEqual(Array.from({ length: 25 }, (_, i) => `+${(25 - i) * 10}`));
    expect(page.querySelectorAll('.row').length).toBe(25);
    expect(['.reason', '.detail', '.when', '.amount', '.after'].map((sel) => h.text(page, `.row ${sel}`))).toEqual(
      ['积分调整', '第25次补录', format().dateTime(server.items[0].created_at), '+250',
        `余额 ${format().points(server.items[0].balance_after)}`]);
    expect(h.text(page, '#end')).toBe('没有更多了');
    await page.instance.onReachBottom(); // at the end: nothing more is asked
    expect(ledgerCalls(wx, '/me/points/ledger?limit=20').length).toBe(2); // the pages, not this test's own read
  });

  test('points rows read in Chinese with signed amounts, as the server recorded them', async () => {
    h.freshWx();
    const member = await h.registerMember();
    await h.givePoints(member.member_id, 300, '活动补发');
    await h.givePoints(member.member_id, -50, '误发扣回');
    const page = await shown('ledger', { kind: 'points' });
    const server = await h.api().get('/me/points/ledger');
    expect(server.items.map((e) => [e.kind, e.points])).toEqual([['adjust', -50], ['adjust', 300]]);
    expect(page.data.rows.map((r) => [r.label, r.detail, r.amount])).toEqual([
      ['积分调整', '误发扣回', '-50'], ['积分调整', '活动补发', '+300']]);
    expect(h.text(page, '#end')).toBe('没有更多了');
  });

  test('a counter top-up shows in the stored-value ledger in yuan, with the balance after it', async () => {
    h.freshWx();
    await h.registerMember();
    const code = (await h.api().get('/me/code')).code;
    const scan = await h.clerkScan(code);
    const clerk = await h.staffToken('clerk');
    const topup = await h.httpJson('POST', `${h.stack.api}/api/v1/store/wallet/topups`,
      { scan_token: scan.data.scan_token, amount_cents: 12345, payment_ref: `pay-${Date.now()}` },
      { 'Content-Type': 'application/json', Authorization: `Bearer ${clerk}` });
    expect(topup.statusCode).toBe(201);
    const page = await shown('ledger', { kind: 'balance' });
    const server = await h.api().get('/me/balance/ledger');
    expect(server.items.length).toBe(1);
    expect(page.data.rows.map((r) => [r.id, r.label, r.amount])).toEqual([[server.items[0].id, '充值', '+¥123.45']]);
    expect(h.text(page.querySelector('.row .after'))).toBe('余额 ¥123.45');
  });

  test('an empty stored-value ledger says so; an offline first page shows the error and retry works', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    wx.offline = true;
    const page = await shown('ledger', { kind: 'balance' });
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    wx.offline = false;
    page.querySelector('#retry').dispatchEvent('tap');
    await h.waitFor(() => page.data.state === 'end', { what: 'the ledger after retry' });
    expect(h.text(page, '#empty')).toBe('暂无记录');
    expect(h.text(page, '#end')).toBeNull();
  });

  test('a failed next page keeps the rows, and retry loads the rest without repeating any', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    for (let i = 1; i <= 22; i += 1) await h.givePoints(member.member_id, i);
    const page = await shown('ledger', { kind: 'points' });
    expect(page.data.rows.length).toBe(20);
    wx.offline = true;
    await page.instance.onReachBottom();
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    expect(page.querySelectorAll('.row').length).toBe(20);
    wx.offline = false;
    page.querySelector('#retry').dispatchEvent('tap');
    await h.waitFor(() => page.data.state === 'end', { what: 'the last page' });
    expect(page.data.rows.map((r) => r.amount)).toEqual(Array.from({ length: 22 }, (_, i) => `+${22 - i}`));
    expect(h.text(page, '#end')).toBe('没有更多了');
  });

  test('a refused cursor answers the server\'s message', async () => {
    h.freshWx();
    await h.registerMember();
    const page = await shown('ledger', { kind: 'points' });
    expect(page.data.state).toBe('end');
    page.instance.cursor = 'not!a!cursor';
    page.instance.setData({ state: 'more' });
    await page.instance.onReachBottom();
    expect(h.text(page, '#error')).toBe('填写的信息有误，请检查后重试');
  });
});
