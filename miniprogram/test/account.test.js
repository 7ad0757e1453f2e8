const h = require('./support/helpers');

describe('我的 (consents, export, deletion)', () => {
  test('switching a consent off withdraws it on the server at once, with its history shown', async () => {
    h.freshWx();
    await h.registerMember(undefined, { consents: { sms_marketing: true }, consent_text_version: '2026-01' });
    const page = h.loadPage('privacy');
    await page.instance.onLoad({});
    const sms = page.data.consents.find((c) => c.key === 'sms_marketing');
    expect(sms.granted).toBe(true);
    expect(sms.history).toContain('同意于');
    await page.instance.setConsent('sms_marketing', false);
    const server = (await h.api().get('/me/consents')).items.find((c) => c.channel === 'sms' && c.purpose === 'marketing');
    expect(server.granted).toBe(false);
    expect(server.source).toBe('miniprogram');
    expect(page.data.consents.find((c) => c.key === 'sms_marketing').history).toContain('撤回于');
  });

  test('the export is copied as JSON; deletion needs two confirms and ends the session', async () => {
    const wx = h.freshWx();
    const member = await h.registerMember();
    const page = h.loadPage('privacy');
    await page.instance.onLoad({});
    await page.instance.exportData();
    const copied = JSON.parse(wx.called('setClipboardData')[0].options.data);
    expect(JSON.stringify(copied)).toContain(member.member.member_no);
    expect(h.text(page, '#exported')).toBe('个人信息已复制到剪贴板（JSON）');

    wx.modalAnswer = false; // the shopper cancels
    await page.instance.deleteAccount();
    expect(wx.called('showModal').length).toBe(1);
    expect((await h.api().get('/me')).member_no).toBe(member.member.member_no);

    wx.modalAnswer = true;
    const token = h.api().session().token;
    await page.instance.deleteAccount();
    expect(wx.called('showModal').length).toBe(3);
    expect(wx.called('reLaunch')[0].options.url).toBe('/pages/login/index');
    expect(h.api().session()).toBeNull();
    const after = await h.httpJson('GET', `${h.stack.api}/api/v1/mp/me`, undefined, { Authorization: `Bearer ${token}` });
    expect(after.statusCode).toBe(401);
  });
});
