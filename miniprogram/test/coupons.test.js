const h = require('./support/helpers');

describe('领券中心 and 我的优惠券', () => {
  test('a claim shows in my coupons under 可用; a second claim is refused with the limit message', async () => {
    const wx = h.freshWx();
    require('../src/config.js').subscribeTemplates.couponExpiry = 'TPL-COUPON-EXPIRY';
    await h.registerMember();
    const center = h.loadPage('center');
    await center.instance.onLoad({});
    const id = h.stack.center_template_id;
    expect(h.text(center, `#coupon-${id}`)).toContain('新人满100减20');
    expect(h.text(center, `#claim-${id}`)).toBe('领取');
    await center.instance.claim(id);
    expect(wx.called('showToast')[0].options.title).toBe('领取成功');
    expect(h.text(center, `#claim-${id}`)).toBe('已领取');
    expect(h.text(center, `#coupon-${id} .limit`)).toContain('已领 1 张');
    // The subscribe request came right after the claim, and the accept was recorded on the server.
    expect(wx.called('requestSubscribeMessage')[0].options.tmplIds).toEqual(['TPL-COUPON-EXPIRY']);
    await h.waitFor(async () => (await h.api().get('/me/subscriptions')).items.length, { what: 'the subscription' });
    const subs = (await h.api().get('/me/subscriptions')).items;
    expect(subs.map((s) => s.template_id)).toContain('TPL-COUPON-EXPIRY');
    h.snapshot(center, 'center');

    // Claiming again through the page: the server refuses, the page shows the limit message.
    await center.instance.claim(id);
    expect(wx.called('showToast')[1].options.title).toBe('您已领过该券，领取次数已达上限');

    const mine = h.loadPage('coupons');
    await mine.instance.onLoad({});
    expect(mine.data.rows.map((c) => c.name)).toEqual(['新人满100减20']);
    expect(mine.data.rows[0].value).toBe('满100减20元');
    expect(h.text(mine, `#coupon-${mine.data.rows[0].id}`)).toContain('满100减20元');
    h.snapshot(mine, 'coupons');
    mine.instance.onOpen({ currentTarget: { dataset: { id: mine.data.rows[0].id } } });
    expect(wx.called('navigateTo')[0].options.url).toBe(`/pages/coupon/index?id=${mine.data.rows[0].id}`);
    await mine.instance.switchTo('used');
    expect(h.text(mine, '#empty')).toBe('暂无已使用的优惠券');
    const held = await h.api().get('/me/coupons', { status: 'available' });
    expect(held.items.length).toBe(1);
  });

  test('a refusal shown by the page is the mapped message', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const center = h.loadPage('center');
    await center.instance.onLoad({});
    await center.instance.claim(999999);
    expect(wx.called('showToast')[0].options.title).toBe('该券已下架');
  });
});

describe('优惠券详情', () => {
  test('an available coupon shows its code grouped, a clerk scans it, and back on screen a fresh code is shown', async () => {
    h.freshWx();
    await h.registerMember();
    const claimed = await h.api().post(`/coupon-center/${h.stack.center_template_id}/claim`, {});
    const page = h.loadPage('coupon');
    await page.instance.onLoad({ id: String(claimed.id) });
    expect(h.text(page, '#name')).toBe('新人满100减20');
    expect(h.text(page, '#value')).toBe('满100减20元');
    expect(h.text(page, '#status')).toBe('可使用');
    expect(page.data.history.map((e) => e.label)).toEqual(['获得优惠券']);
    const code = page.data.code;
    expect(code).toMatch(/^\d{8,}$/);
    expect(h.text(page, '#code').replace(/ /g, '')).toBe(code);
    expect(h.text(page, '#code')).toMatch(/^\d{4} \d{4}/);
    expect(page.instance.timer).toBeTruthy();
    h.snapshot(page, 'coupon');

    // Hidden, the refresh timer stops; shown again, a new code is fetched.
    page.instance.onHide();
    expect(page.instance.timer).toBeNull();

    const scan = await h.clerkScan(code);
    expect(scan.statusCode).toBe(200);
    expect(scan.data.kind).toBe('coupon');
    expect(scan.data.coupon.id).toBe(claimed.id);
    // Back on screen after the scan: a fresh code (the scanned one is spent) and the timer runs again.
    await page.instance.onShow();
    expect(page.data.code).toMatch(/^\d{8,}$/);
    expect(page.data.code).not.toBe(code);
    expect(page.instance.timer).toBeTruthy();
    page.instance.onUnload();
    expect(page.instance.timer).toBeNull();
  });

  test('another member\'s coupon is not found: the error and a retry are shown', async () => {
    h.freshWx();
    await h.registerMember();
    const page = h.loadPage('coupon');
    await page.instance.onLoad({ id: '987654321' });
    expect(h.text(page, '#error')).toBe('优惠券不存在或已失效');
    expect(page.querySelector('#retry')).toBeTruthy();
  });
});

describe('积分商城', () => {
  test('too few points: the refusal is shown and nothing changes; with enough, the balance drops by the price and a coupon is added', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    const itemId = h.stack.mall_item_id;
    const price = h.stack.mall_points_price;
    const page = h.loadPage('mall');
    await page.instance.onLoad({});
    expect(h.text(page, '#balance')).toBe('0');
    expect(h.text(page, `#offer-${itemId}`)).toContain(`${price} 积分`);
    expect(h.text(page, `#exchange-${itemId}`)).toBe('积分不足');

    await page.instance.exchange(itemId);
    expect(wx.called('showModal').length).toBe(1);
    expect(wx.called('showToast')[0].options.title).toBe('积分不足，无法兑换');
    expect(h.text(page, '#last-error')).toBe('积分不足，无法兑换');
    expect((await h.api().get('/me/coupons', { status: 'available' })).items.length).toBe(0);

    await h.givePoints(member.member.id, price + 50);
    await page.instance.reload();
    expect(h.text(page, '#balance')).toBe(String(price + 50));
    wx.modalAnswer = false; // cancelled at the confirm: nothing spent
    await page.instance.exchange(itemId);
    expect((await h.api().get('/me/assets')).points.balance).toBe(price + 50);

    wx.modalAnswer = true;
    await page.instance.exchange(itemId);
    expect(h.text(page, '#balance')).toBe('50');
    expect(h.text(page, '#last-error')).toBeNull();
    expect(wx.called('showToast').pop().options.title).toBe('兑换成功，已放入我的优惠券');
    expect((await h.api().get('/me/assets')).points.balance).toBe(50);
    const coupons = (await h.api().get('/me/coupons', { status: 'available' })).items;
    expect(coupons.map((c) => c.source)).toEqual(['mall']);
    h.snapshot(page, 'mall');
  });

  test('my coupons: a visitor is offered registration; switching tabs drops the previous tab\'s rows', async () => {
    const wx = h.freshWx();
    const page = h.loadPage('coupons');
    await page.instance.onLoad({});
    expect(page.data.state).toBe('visitor');
    page.instance.goRegister();
    expect(wx.called('navigateTo')[0].options.url).toBe('/pages/login/index');

    h.freshWx();
    await h.registerMember();
    await h.api().post(`/coupon-center/${h.stack.center_template_id}/claim`, {});
    const mine = h.loadPage('coupons');
    await mine.instance.onLoad({});
    expect(mine.data.rows.length).toBe(1);
    await mine.instance.switchTo('expired');
    expect(mine.data.rows).toEqual([]);
    expect(h.text(mine, '#empty')).toBe('暂无已过期的优惠券');
    const calls = global.wx.called('request').filter((c) => c.options.url.includes('/me/coupons?'));
    expect(calls.map((c) => c.options.url.includes('status=expired'))).toEqual([false, true]);
  });
});
