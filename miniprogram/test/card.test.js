const h = require('./support/helpers');

function config() {
  return require('../src/config.js');
}

async function shownCard(wx) {
  const page = h.loadPage('card');
  await page.instance.onLoad({});
  await h.waitFor(() => page.data.state === 'card', { what: 'the card' });
  return page;
}

describe('会员码', () => {
  afterEach(() => { if (global.__page) global.__page.instance.onUnload(); global.__page = null; });

  test('a member sees their code as barcode, digits and QR code, with tier, points and stored value', async () => {
    const wx = h.freshWx();
    await h.registerMember('13900139000'); // the demo member with orders at the counter and online
    const page = global.__page = await shownCard(wx);
    const assets = await h.api().get('/me/assets');
    expect(h.text(page, '#tier')).toBe(assets.tier.name);
    expect(h.text(page, '#points')).toBe(assets.points.balance.toLocaleString('en-US'));
    expect(assets.points.balance).toBeGreaterThan(0);
    expect(h.text(page, '#balance')).toBe(require('../src/utils/format.js').yuan(assets.balance_cents));
    const code = page.data.code;
    expect(code).toMatch(/^8\d{12,20}$/);
    expect(h.text(page, '#digits').replace(/ /g, '')).toBe(code);
    expect(h.attr(page.querySelector('#qr'), 'src')).toBe(require('../src/utils/codes.js').qrDataUrl(code));
    expect(page.querySelectorAll('.bar').length).toBe(require('../src/utils/codes.js').barcodeRuns(code).length);
    h.snapshot(page, 'card');
  });

  test('after a clerk scans the code the card shows a fresh one at once, which scans too; the old one is used', async () => {
    const wx = h.freshWx();
    config().codePollMs = 150;
    await h.registerMember();
    const page = global.__page = await shownCard(wx);
    const first = page.data.code;
    const scanned = await h.clerkScan(first);
    expect(scanned.statusCode).toBe(200);
    await h.waitFor(() => page.data.code !== first, { what: 'a fresh code after the scan' });
    expect(h.text(page, '#refreshed')).toBe('已扫码，已为您刷新');
    const second = page.data.code;
    expect((await h.clerkScan(second)).statusCode).toBe(200);
    const again = await h.clerkScan(first);
    expect(again.statusCode).toBe(409);
    expect(again.data.error.code).toBe('CODE_ALREADY_USED');
  });

  test('the screen is at full brightness while shown, restored on hide, and polling stops', async () => {
    const wx = h.freshWx();
    config().codePollMs = 100;
    await h.registerMember();
    const page = await shownCard(wx);
    expect(wx.called('setScreenBrightness').map((c) => c.options.value)).toEqual([1]);
    page.instance.onHide();
    expect(wx.called('setScreenBrightness').map((c) => c.options.value)).toEqual([1, 0.4]);
    const before = wx.called('request').length;
    await h.simulate.sleep(400);
    expect(wx.called('request').length).toBe(before);
    page.instance.onShow();
    await h.waitFor(() => wx.called('request').length > before, { what: 'polling again after onShow' });
    page.instance.onUnload();
  });

  test('a visitor is offered registration', async () => {
    const wx = h.freshWx();
    const page = h.loadPage('card');
    await page.instance.onLoad({});
    expect(page.data.state).toBe('visitor');
    page.querySelector('#register').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo')[0].options.url).toBe('/pages/login/index');
  });

  test('offline: the error is shown with a retry that works once the network is back', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    wx.offline = true;
    const page = h.loadPage('card');
    await page.instance.onLoad({});
    expect(page.data.state).toBe('error');
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    wx.offline = false;
    await page.instance.reload();
    expect(page.data.state).toBe('card');
    page.instance.onUnload();
  });
});
