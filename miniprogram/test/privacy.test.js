const h = require('./support/helpers');

describe('我的 / 隐私', () => {
  test('switching a consent off withdraws it on the server at once, with when and where shown', async () => {
    h.freshWx();
    await h.registerMember(undefined, { consents: { sms_marketing: true }, consent_text_version: '2026-01' });
    const page = h.loadPage('privacy');
    await page.instance.onLoad({});
    const sms = page.data.consents.find((c) => c.key === 'sms_marketing');
    expect(sms.granted).toBe(true);
    expect(sms.history).toContain('同意于');
    expect(sms.history).toContain('条款 2026-01');
    await page.instance.onConsent({ currentTarget: { dataset: { key: 'sms_marketing' } }, detail: { value: false } });
    const server = (await h.api().get('/me/consents')).items.find((c) => c.channel === 'sms' && c.purpose === 'marketing');
    expect(server.granted).toBe(false);
    expect(server.source).toBe('miniprogram');
    expect(page.data.consents.find((c) => c.key === 'sms_marketing').history).toMatch(/^撤回于 .* · 小程序 · 条款 2026-01$/);
    h.snapshot(page, 'privacy');
  });

  test('invitees are shown by the first character of their nickname', async () => {
    const inviterWx = h.freshWx();
    await h.registerMember();
    const inviterApi = h.api();
    const code = (await inviterApi.get('/me/referral')).referral_code;
    h.freshWx();
    await h.registerMember(undefined, { referrer_code: code });
    await h.api().patch('/me', { nickname: '王小明' });
    global.wx = inviterWx;
    const page = h.loadPage('privacy');
    await page.instance.onLoad({});
    expect(h.text(page, '#referral')).toBe(code);
    expect(page.data.invitees.map((i) => i.name)).toEqual(['王*']);
    expect(h.text(page, '.invitee')).toContain('王*');
    expect(h.text(page, '.privacy-page')).not.toContain('王小明');
  });

  test('the export is copied as JSON with the phone; deletion needs two confirms and ends the session', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    const page = h.loadPage('privacy');
    await page.instance.onLoad({});
    await page.instance.exportData();
    const copied = JSON.parse(wx.called('setClipboardData')[0].options.data);
    expect(copied.profile.member_no).toBe(member.member.member_no);
    const masked = `${member.phone.slice(0, 3)}****${member.phone.slice(7)}`;
    expect([member.phone, masked]).toContain(copied.profile.phone);
    expect(h.text(page, '#exported')).toBe('个人信息已复制到剪贴板（JSON）');
    expect(h.text(page, '.export-line')).toContain(`手机号 ${masked}`);

    wx.modalAnswer = false; // the shopper cancels the first confirm
    await page.instance.deleteAccount();
    expect(wx.called('showModal').length).toBe(1);
    expect((await h.api().get('/me')).member_no).toBe(member.member.member_no);
    expect(wx.called('reLaunch').length).toBe(0);

    wx.modalAnswer = true;
    const token = h.api().session().token;
    await page.instance.deleteAccount();
    expect(wx.called('showModal').length).toBe(3);
    expect(wx.called('reLaunch')[0].options.url).toBe('/pages/login/index');
    expect(h.api().session()).toBeNull();
    const after = await h.httpJson('GET', `${h.stack.api}/api/v1/mp/me`, undefined, { Authorization: `Bearer ${token}` });
    expect(after.statusCode).toBe(401);
  });

  test('a failed load shows the error and a retry', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    wx.offline = true;
    const page = h.loadPage('privacy');
    await page.instance.onLoad({});
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    expect(page.querySelector('#retry')).toBeTruthy();
  });
});
