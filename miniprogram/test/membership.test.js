// 付费会员 against the real server and the loopback fake of WeChat Pay (tests/miniprogram/stack.py seeds a month plan
// with every benefit and a monthly pack of two center coupons, a year plan, and a quarter plan off sale).
// wx.requestPayment is WeChat's payment sheet: the stub pays the order at the fake (through the stack's control
// server) and answers ok, or answers 'requestPayment:fail cancel'. What a card says a purchase runs until is
// checked against the end the server then grants.
const h = require('./support/helpers');

async function shown(name) {
  const page = h.loadPage(name || 'membership');
  await page.instance.onLoad({});
  return page;
}

function orderPosts(wx) {
  return wx.called('request').filter((c) => c.options.method === 'POST' && /\/membership\/orders$/.test(c.options.url));
}

function orderPolls(wx) {
  return wx.called('request').filter((c) => (c.options.method || 'GET') === 'GET' && /\/membership\/orders\/[^/]+$/.test(c.options.url));
}

function cards(page) {
  expect(page.querySelectorAll('.card').length).toBe(page.data.cards.length);
  return page.data.cards.map(({ code }) => {
    const id = `#plan-${code}`;
    return {
      name: h.text(page, `${id} .card-name`), price: h.text(page, `${id} .card-price`),
      benefits: page.querySelectorAll(`${id} .card-benefit`).map((b) => h.text(b)),
      button: h.text(page, `${id} .buy`),
    };
  });
}

function afterDate(page, code) {
  return /有效期至 (\d{4}-\d{2}-\d{2})$/.exec(h.text(page, `#plan-${code} .card-after`))[1];
}

// ISO end (a merchant midnight) → the last day it covers, in China's time.
function lastDay(iso) {
  return new Date(Date.parse(iso) - 1 + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

function paying(wx, { notify }) {
  const paid = [];
  wx.payment = async (options) => {
    paid.push(await h.payAtWeChat(options, { notify }));
    return 'requestPayment:ok';
  };
  return paid;
}

async function settled(page) {
  await h.waitFor(() => !page.data.busy && (page.data.result || page.data.notice || page.data.lastError),
    { timeout: 20000, what: 'the membership order to settle' });
}

describe('付费会员', () => {
  test('the plans on sale are cards with their benefits; 开通 the month plan with WeChat Pay grants it until the day the card said', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    // 我的资产 links to the page while plans are on sale.
    const assets = await shown('assets');
    expect(h.text(assets, '#membership')).toBe('开通享会员权益 ›');
    assets.querySelector('#membership-panel').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo').map((c) => c.options.url)).toEqual(['/pages/membership/index']);

    const page = await shown();
    expect(page.data.state).toBe('ready');
    expect(h.text(page, '#status')).toBe('未开通');
    expect(h.text(page, '#plan')).toBeNull();
    const overview = await h.api().get('/membership');
    expect(overview.plans.map((p) => p.code)).toEqual(['month', 'year']); // the quarter plan is off sale
    expect(cards(page)).toEqual([
      { name: '月卡会员月卡', price: '¥19.90/月', button: '开通',
        benefits: ['会员价 9.5 折', '消费积分 2 倍', '线上包邮', '每月券包 2 张', '领券优先'] },
      { name: '年卡会员年卡', price: '¥199.00/年', button: '开通', benefits: ['会员价 9 折', '消费积分 1.5 倍'] },
    ]);
    expect(h.text(page, '#plan-month .card-after')).toMatch(/^开通后有效期至 \d{4}-\d{2}-\d{2}$/);
    const promised = afterDate(page, 'month');
    h.snapshot(page, 'membership');

    const paid = paying(wx, { notify: true });
    page.querySelector('#buy-month').dispatchEvent('tap');
    await settled(page);
    expect(h.text(page, '#result-title')).toBe('开通成功');
    expect(h.text(page, '#result-text')).toBe(`月卡会员（月卡）已开通，有效期至 ${promised}`);
    expect(paid.length).toBe(1);
    expect(paid[0].notified).toBe(204); // our callback took WeChat Pay's signed notification
    expect(paid[0].out_trade_no).toMatch(/^VM/);
    expect(orderPosts(wx).map((c) => c.options.data)).toEqual([{ plan_code: 'month' }]);
    const [pay] = wx.called('requestPayment');
    expect(pay.options.appId).toBe(h.stack.wechat_app_id);
    expect(pay.options.package).toMatch(/^prepay_id=wx/);
    expect(pay.options.signType).toBe('RSA');
    const order = await h.api().get(`/membership/orders/${paid[0].out_trade_no}`);
    expect([order.kind, order.status, order.amount_cents]).toEqual(['membership', 'paid', 1990]);
    h.snapshot(page, 'membership-paid');

    // The server's word: one period of the month plan, ending the day after the one the card named.
    const { membership } = await h.api().get('/membership');
    expect([membership.active, membership.plan_code, membership.periods.length]).toEqual([true, 'month', 1]);
    expect(lastDay(membership.ends_at)).toBe(promised);
    expect(membership.benefits.monthly_coupons).toEqual([{ template_id: h.stack.center_template_id, count: 2 }]);

    // Back on the page: the membership with its benefits, and every card offers 续费 after the current end.
    page.querySelector('#again').dispatchEvent('tap');
    await h.waitFor(() => !page.data.result, { what: 'the page again' });
    expect(h.text(page, '#plan')).toBe('月卡会员');
    expect(h.text(page, '#status')).toBe(`有效期至 ${promised}`);
    expect(page.querySelectorAll('#current-benefits .benefit').map((b) => h.text(b)))
      .toEqual(['会员价 9.5 折', '消费积分 2 倍', '线上包邮', '每月券包 2 张', '领券优先']);
    expect(cards(page).map((c) => c.button)).toEqual(['续费', '续费']);
    expect(h.text(page, '#plan-month .card-after')).toMatch(/^续费后有效期至 /);
    await assets.instance.onShow();
    expect(h.text(assets, '#membership')).toBe(`有效期至 ${promised} ›`);
  });

  test('续费 without a notification: polling ends in paid and the year is stacked after the current end', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    paying(wx, { notify: true });
    await page.instance.buy('month');
    expect(h.text(page, '#result-title')).toBe('开通成功');
    const first = (await h.api().get('/membership')).membership;
    page.instance.again();

    const promised = afterDate(page, 'year');
    expect(h.text(page, '#plan-year .card-after')).toBe(`续费后有效期至 ${promised}`);
    const paid = paying(wx, { notify: false });
    await page.instance.buy('year');
    expect(h.text(page, '#result-title')).toBe('续费成功');
    expect(h.text(page, '#result-text')).toBe(`年卡会员（年卡）已续费，有效期至 ${promised}`);
    expect(orderPolls(wx).some((c) => c.options.url.includes(encodeURIComponent(paid[0].out_trade_no)))).toBe(true);

    const { membership } = await h.api().get('/membership');
    expect(lastDay(membership.ends_at)).toBe(promised);
    expect(membership.plan_code).toBe('month'); // the running period's plan: the year starts after it
    const [year, month] = membership.periods;
    expect([year.plan_code, month.plan_code]).toEqual(['year', 'month']);
    expect(year.starts_at).toBe(first.ends_at);
    expect(year.ends_at).toBe(membership.ends_at);
  });

  test('a cancelled payment shows 已取消支付, grants nothing and asks nothing more', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    wx.payment = async () => 'requestPayment:fail cancel';
    await page.instance.buy('year');
    expect(h.text(page, '#notice')).toBe('已取消支付');
    expect(wx.called('showToast').map((c) => c.options.title)).toEqual(['已取消支付']);
    expect(page.data.result).toBe('');
    expect(orderPosts(wx).length).toBe(1);
    expect(orderPolls(wx).length).toBe(0);
    expect(h.text(page, '#buy-year')).toBe('开通');
    expect(h.attr(page.querySelector('#buy-year'), 'disabled')).toBe(false);
    expect((await h.api().get('/membership')).membership.active).toBe(false);
    expect(h.text(page, '#status')).toBe('未开通');
  });

  test('a second tap while the first is in flight sends nothing: one POST, one payment, one period', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    paying(wx, { notify: true });
    page.querySelector('#buy-month').dispatchEvent('tap');
    page.querySelector('#buy-year').dispatchEvent('tap');
    await settled(page);
    await page.instance.buy('month'); // the result is shown: nothing more is sent from it either
    expect(orderPosts(wx).length).toBe(1);
    expect(orderPosts(wx)[0].options.header['Idempotency-Key']).toMatch(/^mp-[0-9a-f]{32}$/);
    expect(wx.called('requestPayment').length).toBe(1);
    expect(h.text(page, '#result-title')).toBe('开通成功');
    expect((await h.api().get('/membership')).membership.periods.length).toBe(1);
  });
});

// A merchant without WeChat Pay: a stack of its own started with --no-wechatpay.
describe('付费会员 without WeChat Pay (own stack)', () => {
  let own;
  beforeAll(async () => { own = await h.startStack(['--no-wechatpay']); }, 60000);
  afterAll(async () => { if (own) await own.stop(); });

  test('the plans are shown without 开通 buttons and the page says they cannot be bought online', async () => {
    expect(own.stack.wechatpay).toBe(false);
    h.freshWx();
    await h.registerMember();
    const assets = await shown('assets');
    expect(h.text(assets, '#membership')).toBe('开通享会员权益 ›');
    const page = await shown();
    expect(page.data.state).toBe('ready');
    expect(cards(page).map((c) => [c.name, c.button])).toEqual([['月卡会员月卡', null], ['年卡会员年卡', null]]);
    expect(h.text(page, '#disabled')).toBe('暂未开通在线购买，请到门店咨询');
    expect(await page.instance.buy('month')).toBeUndefined();
    expect(orderPosts(global.wx).length).toBe(0);
  });
});
