const h = require('./support/helpers');

describe('注册 / 登录', () => {
  let wx;
  beforeEach(() => { wx = h.freshWx(); });

  test('consents start unticked; registering a new phone creates the member with the ticked consent and its version', async () => {
    const page = h.loadPage('login');
    await page.instance.onLoad({ scene: encodeURIComponent('store=1') });
    const boxes = page.querySelectorAll('.consent-box');
    expect(boxes.length).toBe(3);
    boxes.forEach((box) => expect(h.attr(box, 'checked')).toBe(false));
    expect(h.api().session().registered).toBe(false);
    h.snapshot(page, 'login');

    page.instance.onConsents({ detail: { value: ['sms_marketing'] } });
    expect(boxes.map((box) => h.attr(box, 'checked'))).toEqual([true, false, false]);
    const phone = h.uniquePhone();
    await page.instance.onPhoneNumber({ detail: { code: await h.phoneCode(phone) } });

    expect(page.data.error).toBe('');
    expect(h.api().session().registered).toBe(true);
    expect(wx.called('switchTab')[0].options.url).toBe('/pages/card/index');
    const consents = await h.api().get('/me/consents');
    const sms = consents.items.find((c) => c.channel === 'sms' && c.purpose === 'marketing');
    const email = consents.items.find((c) => c.channel === 'email' && c.purpose === 'marketing');
    expect(sms.granted).toBe(true);
    expect(sms.text_version).toBe('2026-01');
    expect(email.granted).toBe(false);
    const me = await h.api().get('/me');
    expect(me.phone).toBe(`${phone.slice(0, 3)}****${phone.slice(7)}`);
  });

  test('a phone registered at a store counter joins that member: same member, its points kept', async () => {
    const page = h.loadPage('login');
    await page.instance.onLoad({});
    const demo = h.stack.demo_members[2]; // 137****7000, registered at a counter by the demo seed
    await page.instance.onPhoneNumber({ detail: { code: await h.phoneCode('13700137000') } });
    expect(wx.called('showToast')[0].options.title).toBe('已关联您的会员');
    expect(h.api().session().memberId).toBe(demo.id);
  });

  test('declining the phone number changes nothing and says why; a bad code shows the mapped message', async () => {
    const page = h.loadPage('login');
    await page.instance.onLoad({});
    await page.instance.onPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } });
    expect(h.text(page, '#error')).toBe('需要授权手机号才能注册会员');
    await page.instance.onPhoneNumber({ detail: { code: 'not-a-code-wechat-gave' } });
    expect(h.text(page, '#error')).toBe('获取手机号失败，请重新授权');
    expect(h.api().session().registered).toBe(false);
  });

  test('a referral code from a share link is sent with the registration', async () => {
    // The inviter registers first (as another WeChat user) and reads their code.
    await h.registerMember();
    const inviterApi = h.api();
    const inviterWx = global.wx;
    const code = (await inviterApi.get('/me/referral')).referral_code;
    h.freshWx();
    const page = h.loadPage('login');
    await page.instance.onLoad({ ref: code });
    expect(h.text(page, '.referral')).toBe(`邀请码：${code}`);
    await page.instance.onPhoneNumber({ detail: { code: await h.phoneCode(h.uniquePhone()) } });
    expect(page.data.error).toBe('');
    global.wx = inviterWx; // back to the inviter's phone
    const referral = await inviterApi.get('/me/referral');
    expect(referral.invited_count).toBe(1);
  });
});
