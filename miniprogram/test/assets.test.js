const h = require('./support/helpers');

describe('我的资产 and 明细', () => {
  test('the assets page shows what the API answers: points, stored value, tier and its progress', async () => {
    h.freshWx();
    const member = await h.registerMember();
    await h.givePoints(member.member_id, 320);
    const page = h.loadPage('assets');
    await page.instance.onLoad({});
    const assets = await h.api().get('/me/assets');
    expect(h.text(page, '#points')).toBe('320');
    expect(h.text(page, '#balance')).toBe('¥0.00');
    expect(h.text(page, '#tier')).toBe(assets.tier.name);
    if (assets.tier.next) expect(h.text(page, '#next')).toContain(assets.tier.next.name);
    expect(h.text(page, '#coupons')).toBe(`${assets.coupons.available_count} 张`);
    h.snapshot(page, 'assets');
  });

  test('the points ledger scrolls through every row once, newest first, then says there is no more', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    for (let i = 1; i <= 25; i += 1) await h.givePoints(member.member_id, i, `第${i}次赠送`);
    const page = h.loadPage('ledger');
    await page.instance.onLoad({ kind: 'points' });
    expect(page.data.rows.length).toBe(20);
    expect(page.data.state).toBe('more');
    await Promise.all([page.instance.onReachBottom(), page.instance.onReachBottom()]); // two scroll events at once
    const amounts = page.data.rows.map((r) => r.amount);
    expect(amounts).toEqual(Array.from({ length: 25 }, (_, i) => `+${25 - i}`));
    expect(new Set(page.data.rows.map((r) => r.id)).size).toBe(25);
    expect(h.text(page, '#end')).toBe('没有更多了');
    expect(page.data.rows[0].label).toBe('门店调整');
    await page.instance.onReachBottom();
    const ledgerCalls = wx.called('request').filter((c) => c.options.url.includes('/me/points/ledger'));
    expect(ledgerCalls.length).toBe(2);
  });

  test('an empty stored-value ledger says so; a failed page shows the error and retries', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = h.loadPage('ledger');
    wx.offline = true;
    await page.instance.onLoad({ kind: 'balance' });
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    wx.offline = false;
    await page.instance.more();
    expect(h.text(page, '#empty')).toBe('暂无记录');
  });
});
