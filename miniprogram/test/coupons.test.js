const h = require('./support/helpers');

describe('领券中心 and 我的优惠券', () => {
  test('a claim shows in my coupons under 可用; a second claim is refused with the limit message', async () => {
    const wx = h.freshWx();
    require('../src/config.js').subscribeTemplates.couponExpiry = 'TPL-COUPON-EXPIRY';
    await h.registerMember();
    const center = h.loadPage('center');
    await center.instance.onLoad({});
    const id = h.stack.center_template_id;
    expect(h.text(center, `#coupon-${id} .main--name`) || h.text(center, `#coupon-${id}`)).toContain('新人满100减20');
    expect(h.text(center, `#claim-${id}`)).toBe('领取');
    await center.instance.claim(id);
    expect(wx.called('showToast')[0].options.title).toBe('领取成功');
    expect(h.text(center, `#claim-${id}`)).toBe('已领取');
    // The subscribe request came right after the claim, and the accept was recorded on the server.
    await h.waitFor(async () => (await h.api().get('/me/subscriptions')).items.length, { what: 'the subscription' });
    const subs = (await h.api().get('/me/subscriptions')).items;
    expect(subs.map((s) => s.template_id)).toContain('TPL-COUPON-EXPIRY');
    h.snapshot(center, 'center');

    const refused = await h.api().post(`/coupon-center/${id}/claim`, {}).catch((e) => e);
    expect(refused.code).toBe('COUPON_LIMIT_REACHED');
    expect(refused.message).toBe('您已领过该券，领取次数已达上限');

    const mine = h.loadPage('coupons');
    await mine.instance.onLoad({});
    expect(mine.data.items.map((c) => c.name)).toEqual(['新人满100减20']);
    expect(mine.data.items[0].value).toBe('满100减20元');
    h.snapshot(mine, 'coupons');
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
