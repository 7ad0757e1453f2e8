// 储值充值 against the real server and the loopback fake of WeChat Pay (tests/miniprogram/stack.py binds
// it to the fake WeChat's app id and seeds 充100送20 and 充300送80). wx.requestPayment is WeChat's payment
// sheet: the stub pays the order at the fake (through the stack's control server) and answers ok, or
// answers 'requestPayment:fail cancel'. The balance is checked on the assets page, from the server.
const h = require('./support/helpers');

async function shown(name) {
  const page = h.loadPage(name || 'topup');
  await page.instance.onLoad({});
  return page;
}

function topupPosts(wx) {
  return wx.called('request').filter((c) => c.options.method === 'POST' && /\/wallet\/topups$/.test(c.options.url));
}

function topupPolls(wx) {
  return wx.called('request').filter((c) => (c.options.method || 'GET') === 'GET' && /\/wallet\/topups\/[^/]+$/.test(c.options.url));
}

async function balanceOnAssets() {
  const assets = await shown('assets');
  return h.text(assets, '#balance');
}

function typeAmount(page, value) {
  page.querySelector('#custom').dispatchEvent('input', { detail: { value } });
}

async function settled(page, wx) {
  await h.waitFor(() => !page.data.busy && (page.data.result || page.data.notice || page.data.lastError),
    { timeout: 20000, what: 'the top-up to settle' });
}

describe('储值充值', () => {
  test('the chips are the program\'s bonus rules; paying 充100送20 with WeChat Pay\'s notification credits ¥120.00', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    // The assets page offers 充值 beside the balance and goes to this page.
    const assets = await shown('assets');
    expect(h.text(assets, '#balance')).toBe('¥0.00');
    expect(h.text(assets, '#topup')).toBe('充值');
    assets.querySelector('#topup').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo').map((c) => c.options.url)).toEqual(['/pages/topup/index']);

    const page = await shown();
    expect(page.data.state).toBe('ready');
    const options = await h.api().get('/wallet/topup-options');
    expect(options.enabled).toBe(true);
    expect(options.options.map((o) => ({ min_amount_cents: o.min_amount_cents, bonus_cents: o.bonus_cents })))
      .toEqual(h.stack.topup_bonuses.map((o) => ({ min_amount_cents: o.min_amount_cents, bonus_cents: o.bonus_cents })));
    expect(page.querySelectorAll('.chip').map((c) => h.text(c))).toEqual(['充100送20', '充300送80']);
    expect(h.text(page, '#balance')).toBe('¥0.00');
    // The first chip is chosen: what will be credited.
    expect(page.querySelector('#chip-0').dom.className).toContain('selected');
    expect([h.text(page, '#principal'), h.text(page, '#bonus'), h.text(page, '#total')]).toEqual(['¥100.00', '¥20.00', '¥120.00']);
    page.querySelector('#chip-1').dispatchEvent('tap');
    await h.waitFor(() => page.data.selected === 1, { what: 'the second chip' });
    expect([h.text(page, '#principal'), h.text(page, '#bonus'), h.text(page, '#total')]).toEqual(['¥300.00', '¥80.00', '¥380.00']);
    page.querySelector('#chip-0').dispatchEvent('tap');
    await h.waitFor(() => page.data.selected === 0, { what: 'the first chip' });
    h.snapshot(page, 'topup');

    const paid = [];
    wx.payment = async (options) => {
      paid.push(await h.payAtWeChat(options, { notify: true }));
      return 'requestPayment:ok';
    };
    page.querySelector('#pay').dispatchEvent('tap');
    await settled(page, wx);
    expect(h.text(page, '#result-title')).toBe('充值成功');
    expect(h.text(page, '#result-text')).toBe('本金 ¥100.00 + 赠送 ¥20.00 已到账');
    expect(h.text(page, '#result-balance')).toBe('当前储值余额 ¥120.00');
    expect(paid.length).toBe(1);
    expect(paid[0].notified).toBe(204); // our callback took WeChat Pay's signed notification

    // wx.requestPayment got the server's signed parameters as they were.
    const [pay] = wx.called('requestPayment');
    expect(Object.keys(pay.options).filter((k) => typeof pay.options[k] === 'string').sort())
      .toEqual(['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    expect(pay.options.appId).toBe(h.stack.wechat_app_id);
    expect(pay.options.package).toMatch(/^prepay_id=wx/);
    expect(pay.options.signType).toBe('RSA');
    expect(topupPosts(wx).map((c) => c.options.data)).toEqual([{ amount_cents: 10000 }]);
    const state = await h.api().get(`/wallet/topups/${paid[0].out_trade_no}`);
    expect([state.status, state.amount_cents, state.bonus_cents]).toEqual(['paid', 10000, 2000]);
    h.snapshot(page, 'topup-paid');

    const a = await h.api().get('/me/assets');
    expect([a.balance_cents, a.principal_cents, a.bonus_cents]).toEqual([12000, 10000, 2000]);
    await assets.instance.onShow(); // back on 我的资产 (a page is loaded once per test)
    expect(h.text(assets, '#balance')).toBe('¥120.00');
    expect(h.text(assets, '#split')).toBe('本金 ¥100.00 · 赠送 ¥20.00');
  });

  test('without a notification the page\'s polling still ends in paid: the server asks WeChat Pay', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    typeAmount(page, '150.5');
    await h.waitFor(() => page.data.amountCents === 15050, { what: 'the amount typed' });
    expect(page.data.selected).toBe(-1);
    expect([h.text(page, '#principal'), h.text(page, '#bonus'), h.text(page, '#total')]).toEqual(['¥150.50', '¥20.00', '¥170.50']);
    let outTradeNo;
    wx.payment = async (options) => {
      outTradeNo = (await h.payAtWeChat(options, { notify: false })).out_trade_no;
      return 'requestPayment:ok';
    };
    await page.instance.pay();
    expect(h.text(page, '#result-title')).toBe('充值成功');
    expect(h.text(page, '#result-balance')).toBe('当前储值余额 ¥170.50');
    expect(topupPolls(wx).length).toBeGreaterThanOrEqual(1);
    expect(topupPolls(wx)[0].options.url).toContain(encodeURIComponent(outTradeNo));
    expect(await balanceOnAssets()).toBe('¥170.50');
  });

  test('a cancelled payment shows 已取消支付, credits nothing and leaves the order pending to close by itself', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    wx.payment = async () => 'requestPayment:fail cancel';
    await page.instance.pay();
    expect(h.text(page, '#notice')).toBe('已取消支付');
    expect(wx.called('showToast').map((c) => c.options.title)).toEqual(['已取消支付']);
    expect(page.data.result).toBe('');
    expect(topupPosts(wx).length).toBe(1);
    expect(topupPolls(wx).length).toBe(0);
    expect(h.text(page, '#pay')).toBe('立即充值');
    expect(h.attr(page.querySelector('#pay'), 'disabled')).toBe(false);
    const a = await h.api().get('/me/assets');
    expect(a.balance_cents).toBe(0);
    expect(await balanceOnAssets()).toBe('¥0.00');
  });

  test('a custom amount below 1 yuan, with three decimals or above the limit is refused before any request', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    wx.payment = async () => { throw new Error('must not be asked'); };
    const tries = [
      ['0.99', '充值金额不能低于 ¥1.00'],
      ['1.005', '请输入正确的金额，最多两位小数'],
      ['abc', '请输入正确的金额，最多两位小数'],
      ['', '请输入充值金额'],
      ['50000.01', '单次充值不能超过 ¥50000.00'],
    ];
    for (const [value, message] of tries) {
      typeAmount(page, value);
      await h.waitFor(() => page.data.custom === value && page.data.selected === -1, { what: `typing ${value}` });
      await page.instance.pay();
      expect([value, h.text(page, '#input-error')]).toEqual([value, message]);
      expect(h.text(page, '#summary')).toBeNull();
    }
    expect(wx.called('showToast').map((c) => c.options.title)).toEqual(tries.map((t) => t[1]));
    expect(topupPosts(wx).length).toBe(0);
    expect(wx.called('requestPayment').length).toBe(0);
    // One yuan exactly is fine: the summary says so, no bonus.
    typeAmount(page, '1');
    await h.waitFor(() => page.data.amountCents === 100, { what: 'one yuan' });
    expect(h.text(page, '#input-error')).toBeNull();
    expect([h.text(page, '#principal'), h.text(page, '#bonus'), h.text(page, '#total')]).toEqual(['¥1.00', '¥0.00', '¥1.00']);
  });

  test('a second tap while the first is in flight sends nothing: one POST, one payment', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    wx.payment = async (options) => {
      await h.payAtWeChat(options, { notify: true });
      return 'requestPayment:ok';
    };
    page.querySelector('#pay').dispatchEvent('tap');
    page.querySelector('#pay').dispatchEvent('tap');
    await settled(page, wx);
    await page.instance.pay(); // the result is shown: nothing more is sent from it either
    expect(topupPosts(wx).length).toBe(1);
    expect(topupPosts(wx)[0].options.header['Idempotency-Key']).toMatch(/^mp-[0-9a-f]{32}$/);
    expect(wx.called('requestPayment').length).toBe(1);
    expect(h.text(page, '#result-title')).toBe('充值成功');
    expect(await balanceOnAssets()).toBe('¥120.00');
  });
});

// A merchant without WeChat Pay: a stack of its own started with --no-wechatpay.
describe('储值充值 without WeChat Pay (own stack)', () => {
  let own;
  beforeAll(async () => { own = await h.startStack(['--no-wechatpay']); }, 60000);
  afterAll(async () => { if (own) await own.stop(); });

  test('the assets page has no 充值 button and the page says top-ups are not offered', async () => {
    expect(own.stack.wechatpay).toBe(false);
    h.freshWx();
    await h.registerMember();
    const options = await h.api().get('/wallet/topup-options');
    expect(options.enabled).toBe(false);
    const assets = await shown('assets');
    expect(assets.data.state).toBe('ready');
    expect(h.text(assets, '#topup')).toBeNull();
    expect(h.text(assets, '#balance')).toBe('¥0.00');
    const page = await shown();
    expect(page.data.state).toBe('disabled');
    expect(h.text(page, '#disabled')).toBe('暂未开通在线充值，请到门店充值');
  });
});
