// 每日签到: one check-in per merchant day (the server's day, not the phone's), the streak, the rewards of
// the cycle with today's place in it, and a month calendar of the days checked in. A check-in is one
// idempotent POST; a second tap while it is in flight sends nothing, and a repeat the same day (another
// phone) is answered `created: false` and credits nothing.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const errors = require('../../utils/errors.js');
const format = require('../../utils/format.js');
const pager = require('../../utils/pager.js');

const WEEKDAYS = ['一', '二', '三', '四', '五', '六', '日'];

function pad(n) {
  return String(n).padStart(2, '0');
}

// "2026-03" moved by `delta` months.
function shiftMonth(month, delta) {
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7)) - 1 + delta;
  const year = y + Math.floor(m / 12);
  return `${year}-${pad(((m % 12) + 12) % 12 + 1)}`;
}

function monthTitle(month) {
  return `${Number(month.slice(0, 4))}年${Number(month.slice(5, 7))}月`;
}

function rewardText(points, couponName) {
  const parts = [];
  if (points) parts.push(`+${format.points(points)} 积分`);
  if (couponName) parts.push(couponName);
  return parts.join(' · ') || '—';
}

// The month as weeks of seven cells, Monday first; blanks before the 1st and after the last day.
function calendar(month, days, today) {
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7));
  const count = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;
  const byDay = {};
  (days || []).forEach((d) => { byDay[d.day] = d; });
  const cells = [];
  for (let i = 0; i < lead; i += 1) cells.push({ key: `b${i}`, blank: true });
  for (let d = 1; d <= count; d += 1) {
    const date = `${month}-${pad(d)}`;
    const done = byDay[date];
    cells.push({
      key: date, date, label: String(d), blank: false,
      checked: !!done, points: done && done.points ? `+${format.points(done.points)}` : '',
      coupon: !!(done && done.coupon_id), today: date === today, future: date > today,
    });
  }
  while (cells.length % 7) cells.push({ key: `a${cells.length}`, blank: true });
  const weeks = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push({ key: `w${i / 7}`, cells: cells.slice(i, i + 7) });
  return weeks;
}

Component({
  data: {
    colors: config.colors, state: 'loading', error: '', disabledText: errors.messageFor('CHECKIN_DISABLED'),
    checkedToday: false, busy: false, streak: 0, streakText: '', nextText: '', today: '',
    rewards: [], cycleDays: 0, todayPosition: 0,
    month: '', monthTitle: '', canNext: false, monthBusy: false, weekdays: WEEKDAYS, weeks: [], lastError: '',
  },
  methods: {
    onLoad() {
      return this.reload();
    },
    onPullDownRefresh() {
      return this.reload().then(() => wx.stopPullDownRefresh());
    },
    reload() {
      this.setData({ state: 'loading', error: '' });
      return pager.memberSession().then((s) => {
        if (!s.registered) {
          this.setData({ state: 'visitor' });
          return null;
        }
        return this.fetch(this.data.month);
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    // GET the state for `month` (the merchant's current month when empty); shown whole, or the error.
    fetch(month) {
      return api.get('/check-ins', month ? { month } : undefined).then((answer) => this.show(answer), (err) => {
        if (err.code === 'CHECKIN_DISABLED') this.setData({ state: 'disabled' });
        else this.setData({ state: 'error', error: err.message });
      });
    },
    show(a) {
      if (!a.enabled) {
        this.setData({ state: 'disabled' });
        return;
      }
      const cycle = a.cycle_days || (a.rewards || []).length || 1;
      // Today's place in the cycle: the day checked in, or the one today's check-in would be.
      const position = a.checked_in_today ? ((Math.max(a.streak, 1) - 1) % cycle) + 1
        : (a.next_reward ? a.next_reward.day : (a.streak % cycle) + 1);
      const rewards = (a.rewards || []).map((r) => ({
        day: r.day, label: `第${r.day}天`,
        points: r.points, couponName: r.coupon_name || '',
        current: r.day === position, done: r.day < position || (r.day === position && a.checked_in_today),
      }));
      const next = a.next_reward;
      const currentMonth = a.today.slice(0, 7);
      this.setData({
        state: 'ready',
        error: '',
        today: a.today,
        checkedToday: !!a.checked_in_today,
        streak: a.streak,
        streakText: `已连续签到 ${a.streak} 天`,
        nextText: next ? `${a.checked_in_today ? '明日签到' : '今日签到'}可得 ${rewardText(next.points, next.coupon_name)}` : '',
        rewards,
        cycleDays: cycle,
        todayPosition: position,
        month: a.month,
        monthTitle: monthTitle(a.month),
        canNext: a.month < currentMonth,
        weeks: calendar(a.month, a.days, a.today),
      });
    },
    onCheckIn() {
      return this.checkIn();
    },
    checkIn() {
      // Two taps before the first answer: one POST (the flag is set before anything is awaited).
      if (this.checking || this.data.checkedToday || this.data.state !== 'ready') return Promise.resolve();
      this.checking = true;
      this.setData({ busy: true });
      return api.post('/check-ins').then((r) => {
        this.setData({ lastError: '' });
        let title = '今日已签到';
        if (r.created) {
          title = `签到成功 +${format.points(r.points)} 积分`;
          if (r.coupon_name) title += `，获得「${r.coupon_name}」`;
        }
        wx.showToast({ title, icon: 'none' });
        return this.fetch(''); // the current month, where today's mark is
      }, (err) => {
        if (err.code === 'CHECKIN_DISABLED') {
          this.setData({ state: 'disabled' });
          return;
        }
        wx.showToast({ title: err.message, icon: 'none' });
        this.setData({ lastError: err.message });
      }).then(() => {
        this.checking = false;
        this.setData({ busy: false });
      });
    },
    prevMonth() {
      return this.goMonth(-1);
    },
    nextMonth() {
      if (!this.data.canNext) return Promise.resolve();
      return this.goMonth(1);
    },
    goMonth(delta) {
      if (this.data.monthBusy || this.data.state !== 'ready') return Promise.resolve();
      const month = shiftMonth(this.data.month, delta);
      this.setData({ monthBusy: true });
      return api.get('/check-ins', { month }).then((answer) => this.show(answer), (err) => {
        if (err.code === 'CHECKIN_DISABLED') this.setData({ state: 'disabled' });
        else wx.showToast({ title: err.message, icon: 'none' });
      }).then(() => this.setData({ monthBusy: false }));
    },
    goRegister() {
      wx.navigateTo({ url: '/pages/login/index' });
    },
  },
});
