// 每日签到 against the real server: the stack switches check-in on (5 points a day, 10 on the 3rd day in a
// row, 30 and the center coupon on the 7th, a 7-day cycle); every test uses a fresh member.
const h = require('./support/helpers');

async function shown(query) {
  const page = h.loadPage('checkin');
  await page.instance.onLoad(query || {});
  return page;
}

function cellTexts(page) {
  return page.data.weeks.map((w) => w.cells.map((c) => (c.blank ? '' : c.label)));
}

async function setCheckin(enabled) {
  const program = await h.admin('GET', '/loyalty-program');
  expect(program.statusCode).toBe(200);
  const saved = await h.admin('PUT', '/loyalty-program',
    Object.assign({}, program.data, { checkin: Object.assign({}, program.data.checkin, { enabled }) }));
  expect(saved.statusCode).toBe(200);
  expect(saved.data.checkin.enabled).toBe(enabled);
}

describe('每日签到', () => {
  test('the page shows the cycle\'s rewards and this month\'s calendar, Monday first; tapping 签到 credits the points once', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    expect(page.data.state).toBe('ready');
    const before = await h.api().get('/check-ins');
    expect(before.enabled).toBe(true);
    expect(before.checked_in_today).toBe(false);

    // The big button, the streak, what today's check-in gives.
    expect(h.text(page, '#checkin')).toBe('签到');
    expect(h.attr(page.querySelector('#checkin'), 'disabled')).toBe(false);
    expect(h.text(page, '#streak')).toBe('已连续签到 0 天');
    expect(h.text(page, '#next')).toBe('今日签到可得 +5 积分');

    // The reward table: one cell per day of the cycle, day 1 (today's) highlighted.
    expect(page.querySelectorAll('.reward').length).toBe(7);
    const reward = (day) => ['.reward-day', '.reward-points', '.reward-coupon', '.reward-mark']
      .map((part) => h.text(page, `#reward-${day} ${part}`));
    expect(reward(1)).toEqual(['今天', '+5', null, null]);
    expect(reward(2)).toEqual(['第2天', '+5', null, null]);
    expect(reward(3)).toEqual(['第3天', '+10', null, null]);
    expect(reward(7)).toEqual(['第7天', '+30', '新人满100减20', null]);
    expect(page.querySelectorAll('.reward.current').length).toBe(1);
    expect(page.querySelector('#reward-1').dom.className).toContain('current');

    // The calendar: the merchant's month, seven columns, Monday first, today marked, nothing checked.
    const today = before.today;
    const month = today.slice(0, 7);
    expect(page.data.month).toBe(month);
    expect(h.text(page, '#month')).toBe(`${Number(month.slice(0, 4))}年${Number(month.slice(5))}月`);
    expect(page.querySelectorAll('.week.head .cell').map((c) => h.text(c))).toEqual(['一', '二', '三', '四', '五', '六', '日']);
    const grid = cellTexts(page);
    grid.forEach((week) => expect(week.length).toBe(7));
    const [y, m] = month.split('-').map(Number);
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    expect([].concat(...grid).filter(Boolean)).toEqual(Array.from({ length: days }, (_, i) => String(i + 1)));
    grid.forEach((week, w) => week.forEach((label, col) => {
      if (!label) return;
      const date = `${month}-${label.padStart(2, '0')}`;
      expect([w, col, (new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7]).toEqual([w, col, col]);
    }));
    const todayCell = page.querySelector(`#day-${today}`);
    expect(todayCell.dom.className).toContain('today');
    expect(todayCell.dom.className).not.toContain('checked');
    expect(page.querySelectorAll('.cell.checked').length).toBe(0);
    expect(h.attr(page.querySelector('#next-month'), 'disabled')).toBe(true);

    // Two taps in quick succession: one check-in, one toast, 5 points.
    page.querySelector('#checkin').dispatchEvent('tap');
    page.querySelector('#checkin').dispatchEvent('tap');
    await h.waitFor(() => wx.called('showToast').length && !page.data.busy, { what: 'the check-in' });
    const posts = wx.called('request').filter((c) => c.options.method === 'POST' && c.options.url.endsWith('/check-ins'));
    expect(posts.length).toBe(1);
    expect(posts[0].options.header['Idempotency-Key']).toMatch(/^mp-[0-9a-f]{32}$/);
    expect(wx.called('showToast').map((c) => c.options.title)).toEqual(['签到成功 +5 积分']);
    expect((await h.api().get('/me/assets')).points.balance).toBe(5);

    // Reloaded: the button reads 今日已签到 and is disabled, the streak is 1, today is ticked with its points.
    expect(h.text(page, '#checkin')).toBe('今日已签到');
    expect(h.attr(page.querySelector('#checkin'), 'disabled')).toBe(true);
    expect(h.text(page, '#streak')).toBe('已连续签到 1 天');
    expect(h.text(page, '#next')).toBe('明日签到可得 +5 积分');
    expect(page.querySelector(`#day-${today}`).dom.className).toContain('checked');
    expect(['.date', '.tick', '.pts', '.cpn'].map((part) => h.text(page, `#day-${today} ${part}`)))
      .toEqual([String(Number(today.slice(8))), '✓', '+5', null]);
    expect(page.querySelectorAll('.cell.checked').length).toBe(1);
    expect(page.querySelector('#reward-1').dom.className).toContain('done');
    expect(reward(1)).toEqual(['今天', '+5', null, '✓']);
    h.snapshot(page, 'checkin');

    // Tapping again does nothing; a repeat from elsewhere the same day is answered, not credited.
    await page.instance.checkIn();
    expect(wx.called('showToast').length).toBe(1);
    const again = await h.api().post('/check-ins');
    expect(again.created).toBe(false);
    expect(again.day).toBe(today);
    expect(again.streak).toBe(1);
    expect(again.points_balance).toBe(5);
    const after = await h.api().get('/check-ins');
    expect(after.checked_in_today).toBe(true);
    expect(after.streak).toBe(1);
    expect(after.days).toEqual([expect.objectContaining({ day: today, streak: 1, points: 5 })]);
    expect((await h.api().get('/me/assets')).points.balance).toBe(5);

    // The assets page shows the same balance and links here.
    const assets = h.loadPage('assets');
    await assets.instance.onLoad({});
    expect(h.text(assets, '#points')).toBe('5');
    expect(h.text(assets, '#checkin-panel')).toContain('每日签到');
    assets.querySelector('#checkin-panel').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo')[0].options.url).toBe('/pages/checkin/index');
  });

  test('previous and next month: the previous month has no marks, next is disabled again at the current month', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    const month = page.data.month;
    const [y, m] = month.split('-').map(Number);
    const prev = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
    await page.instance.checkIn();
    expect(page.querySelectorAll('.cell.checked').length).toBe(1);

    page.querySelector('#prev-month').dispatchEvent('tap');
    await h.waitFor(() => page.data.month === prev && !page.data.monthBusy, { what: 'the previous month' });
    expect(wx.called('request').some((c) => c.options.url.endsWith(`/check-ins?month=${prev}`))).toBe(true);
    expect(h.text(page, '#month')).toBe(`${Number(prev.slice(0, 4))}年${Number(prev.slice(5))}月`);
    expect(page.querySelectorAll('.cell.checked').length).toBe(0);
    expect(h.attr(page.querySelector('#next-month'), 'disabled')).toBe(false);
    expect(h.text(page, '#checkin')).toBe('今日已签到'); // the state of today, whatever month is shown
    const [py, pm] = prev.split('-').map(Number);
    expect([].concat(...cellTexts(page)).filter(Boolean).length).toBe(new Date(Date.UTC(py, pm, 0)).getUTCDate());

    page.querySelector('#next-month').dispatchEvent('tap');
    await h.waitFor(() => page.data.month === month && !page.data.monthBusy, { what: 'the current month' });
    expect(page.querySelectorAll('.cell.checked').length).toBe(1);
    expect(h.attr(page.querySelector('#next-month'), 'disabled')).toBe(true);
    const asked = wx.called('request').length;
    await page.instance.nextMonth(); // at the current month: nothing asked
    expect(wx.called('request').length).toBe(asked);
    expect(page.data.month).toBe(month);
  });

  test('switched off: a tap on a page opened before is refused with 签到活动未开启, and so is the page opened again', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    expect(h.text(page, '#checkin')).toBe('签到');
    await setCheckin(false);
    try {
      // The POST is refused (409 CHECKIN_DISABLED): the page says so instead of a toast.
      await page.instance.checkIn();
      expect(page.data.state).toBe('disabled');
      expect(h.text(page, '#disabled')).toBe('签到活动未开启');
      expect(h.text(page, '#checkin')).toBeNull();
      const err = await h.api().post('/check-ins').catch((e) => e);
      expect(err.status).toBe(409);
      expect(err.code).toBe('CHECKIN_DISABLED');
      expect(err.message).toBe('签到活动未开启');

      // Opened again: the GET answers enabled false, the same words, no button.
      await page.instance.reload();
      expect((await h.api().get('/check-ins')).enabled).toBe(false);
      expect(page.data.state).toBe('disabled');
      expect(h.text(page, '#disabled')).toBe('签到活动未开启');
      expect(h.text(page, '#checkin')).toBeNull();
    } finally {
      await setCheckin(true);
    }
    await page.instance.reload();
    expect(h.text(page, '#checkin')).toBe('签到');
    expect((await h.api().get('/me/assets')).points.balance).toBe(0);
    expect(wx.called('showToast').length).toBe(0);
  });

  test('a visitor is offered registration; offline shows the error and a retry that works', async () => {
    let wx = h.freshWx();
    const visitor = await shown();
    expect(visitor.data.state).toBe('visitor');
    visitor.querySelector('#register').dispatchEvent('tap');
    await h.waitFor(() => wx.called('navigateTo').length, { what: 'navigation' });
    expect(wx.called('navigateTo')[0].options.url).toBe('/pages/login/index');

    wx = h.freshWx();
    await h.registerMember();
    wx.offline = true;
    const page = await shown();
    expect(h.text(page, '#error')).toBe('网络连接失败，请检查网络后重试');
    expect(h.text(page, '#checkin')).toBeNull();
    wx.offline = false;
    page.querySelector('#retry').dispatchEvent('tap');
    await h.waitFor(() => page.data.state === 'ready', { what: 'the page after retry' });
    expect(h.text(page, '#checkin')).toBe('签到');
    expect(h.text(page, '#streak')).toBe('已连续签到 0 天');
  });
});

function addDays(iso, n) {
  const t = new Date(`${iso}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}

// The streak needs days to pass: a stack of its own on a test clock, so the shared stack's time (its
// tokens, member codes, expiries) never jumps under the test files running beside this one.
describe('每日签到 day after day (own stack, test clock)', () => {
  let own;
  beforeAll(async () => { own = await h.startStack(['--test-clock']); }, 60000);
  afterAll(async () => { if (own) await own.stop(); });

  async function nextDays(n) {
    // A fresh staff token each time: the one from before the jump may have expired with it.
    const moved = await h.admin('POST', '/test-clock/advance', { seconds: n * 86400 }, { freshToken: true });
    expect(moved.statusCode).toBe(200);
  }

  test('the streak grows a day at a time with the cycle\'s rewards (10 on day 3, 30 and a coupon on day 7), and starts over after a missed day', async () => {
    expect(own.stack.test_clock).toBe(true);
    const wx = h.freshWx();
    await h.registerMember();
    const page = await shown();
    const first = page.data.today;
    const toasts = () => wx.called('showToast').map((c) => c.options.title);

    await page.instance.checkIn();
    expect(h.text(page, '#streak')).toBe('已连续签到 1 天');

    // The next day: yesterday's streak is shown, today's check-in is day 2 of the cycle.
    await nextDays(1);
    await page.instance.onPullDownRefresh();
    expect(page.data.today).toBe(addDays(first, 1));
    expect(h.text(page, '#checkin')).toBe('签到');
    expect(h.text(page, '#streak')).toBe('已连续签到 1 天');
    expect(page.querySelector('#reward-2').dom.className).toContain('current');
    expect(page.querySelector('#reward-1').dom.className).toContain('done');
    expect(h.text(page, '#next')).toBe('今日签到可得 +5 积分');
    await page.instance.checkIn();
    expect(h.text(page, '#streak')).toBe('已连续签到 2 天');

    // Day 3 gives 10.
    await nextDays(1);
    await page.instance.reload();
    expect(page.querySelector('#reward-3').dom.className).toContain('current');
    expect(h.text(page, '#next')).toBe('今日签到可得 +10 积分');
    await page.instance.checkIn();
    expect(h.text(page, '#streak')).toBe('已连续签到 3 天');

    // Days 4 to 6 from another phone (the API), day 7 on the page: 30 points and the center coupon.
    for (let day = 4; day <= 6; day += 1) {
      await nextDays(1);
      const answer = await h.api().post('/check-ins');
      expect([answer.created, answer.streak, answer.points]).toEqual([true, day, 5]);
    }
    await nextDays(1);
    await page.instance.reload();
    expect(h.text(page, '#streak')).toBe('已连续签到 6 天');
    expect(page.querySelector('#reward-7').dom.className).toContain('current');
    expect(h.text(page, '#next')).toBe('今日签到可得 +30 积分 · 新人满100减20');
    await page.instance.checkIn();
    expect(toasts().pop()).toBe('签到成功 +30 积分，获得「新人满100减20」');
    expect(h.text(page, '#streak')).toBe('已连续签到 7 天');
    const seventh = addDays(first, 6);
    if (seventh.slice(0, 7) === page.data.month) expect(h.text(page, `#day-${seventh} .cpn`)).toBe('券');
    const coupons = (await h.api().get('/me/coupons', { status: 'available' })).items;
    expect(coupons.map((c) => c.name)).toEqual(['新人满100减20']);
    h.snapshot(page, 'checkin-week');

    // A day missed: nothing carried over, today is day 1 again.
    await nextDays(2);
    await page.instance.reload();
    expect(h.text(page, '#streak')).toBe('已连续签到 0 天');
    expect(page.querySelector('#reward-1').dom.className).toContain('current');
    expect(page.querySelectorAll('.reward.done').length).toBe(0);
    await page.instance.checkIn();
    expect(h.text(page, '#streak')).toBe('已连续签到 1 天');
    expect(toasts()).toEqual(['签到成功 +5 积分', '签到成功 +5 积分', '签到成功 +10 积分',
      '签到成功 +30 积分，获得「新人满100减20」', '签到成功 +5 积分']);
    expect((await h.api().get('/me/assets')).points.balance).toBe(5 + 5 + 10 + 5 + 5 + 5 + 30 + 5);

    // Every day checked in, by month, as the server keeps them, and as this month's calendar marks them.
    const expected = [0, 1, 2, 3, 4, 5, 6, 8].map((n, i) => ({
      day: addDays(first, n), streak: [1, 2, 3, 4, 5, 6, 7, 1][i], points: [5, 5, 10, 5, 5, 5, 30, 5][i],
    }));
    const months = [...new Set(expected.map((e) => e.day.slice(0, 7)))];
    const kept = [];
    for (const month of months) {
      const answer = await h.api().get('/check-ins', { month });
      answer.days.forEach((d) => kept.push({ day: d.day, streak: d.streak, points: d.points }));
    }
    expect(kept).toEqual(expected);
    const marked = [].concat(...page.data.weeks.map((w) => w.cells)).filter((c) => c.checked).map((c) => c.date);
    expect(marked).toEqual(expected.filter((e) => e.day.slice(0, 7) === page.data.month).map((e) => e.day));
  });
});
