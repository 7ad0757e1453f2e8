// 会员码: the dynamic member code as a Code 128 barcode and a QR code (PNG data URLs made here, so
// they look the same in WeChat, the simulator and a screenshot), refreshed when its step ends and at
// once after a clerk scanned it (the server then answers a fresh code), at full screen brightness.
const api = require('../../utils/api.js');
const qr = require('../../utils/qr.js');
const barcode = require('../../utils/barcode.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');

const NOTICE_MS = 3000;

// "81150012345678" → "8115 0012 3456 78": easier to read out or type at a till.
function grouped(code) {
  return String(code).replace(/(\d{4})(?=\d)/g, '$1 ');
}

Component({
  data: {
    merchantName: config.merchantName,
    colors: config.colors,
    state: 'loading',
    error: '',
    notice: '',
    code: '',
    grouped: '',
    qrSrc: '',
    barSrc: '',
    nickname: '',
    memberNo: '',
    tierName: '',
    points: '0',
    balance: '¥0.00',
    couponCount: 0,
  },
  methods: {
    onLoad() {
      return this.reload();
    },
    onShow() {
      if (this.data.state === 'card') {
        this.brighten();
        this.schedule();
      }
    },
    onHide() {
      this.stop();
      this.restoreBrightness();
    },
    onUnload() {
      this.onHide();
    },
    reload() {
      this.setData({ state: 'loading', error: '' });
      return api.login().then(() => {
        if (!api.isRegistered()) {
          this.setData({ state: 'visitor' });
          return null;
        }
        return Promise.all([api.get('/me'), api.get('/me/assets'), this.fetchCode()]).then(([me, assets]) => {
          this.setData({
            state: 'card',
            nickname: me.nickname || '会员',
            memberNo: me.member_no,
            tierName: assets.tier.name,
            points: format.points(assets.points.balance),
            balance: format.yuan(assets.balance_cents),
            couponCount: assets.coupons.available_count,
          });
          this.brighten();
          this.schedule();
        });
      }).catch((err) => this.setData({ state: 'error', error: err.message }));
    },
    fetchCode() {
      return api.get('/me/code').then((answer) => {
        if (answer.code !== this.data.code) this.show(answer);
        this.refreshAt = Date.now() + answer.refresh_after_s * 1000;
        if (this.timer) this.scheduleRefresh(answer.refresh_after_s);
        return answer;
      });
    },
    show(answer) {
      // A new code before the shown one's step ended: the shown one was scanned (the server then
      // answers the next step's code at once).
      const scanned = !!this.data.code && Date.now() < (this.refreshAt || 0);
      this.setData({
        code: answer.code,
        grouped: grouped(answer.code),
        qrSrc: qr.dataUrl(answer.code, 8),
        barSrc: barcode.dataUrl(answer.code, 3, 120),
        notice: scanned ? '已扫码，已为您刷新' : '',
      });
      if (this.noticeTimer) clearTimeout(this.noticeTimer);
      this.noticeTimer = scanned ? setTimeout(() => this.setData({ notice: '' }), NOTICE_MS) : null;
    },
    // While shown: poll every codePollMs (a scan replaces the code at once) and refresh when the
    // code's step ends (refresh_after_s).
    schedule() {
      this.stop();
      this.timer = setInterval(() => {
        this.fetchCode().catch(() => {}); // a missed poll is retried by the next one
      }, config.codePollMs);
      this.scheduleRefresh(Math.max(0, ((this.refreshAt || 0) - Date.now()) / 1000));
    },
    scheduleRefresh(seconds) {
      if (this.refreshTimer) clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = null;
        if (this.timer) this.fetchCode().catch(() => {});
      }, seconds * 1000 + 200); // just after the step boundary, so the server is on the next step
    },
    stop() {
      if (this.timer) clearInterval(this.timer);
      if (this.refreshTimer) clearTimeout(this.refreshTimer);
      if (this.noticeTimer) clearTimeout(this.noticeTimer);
      this.timer = null;
      this.refreshTimer = null;
      this.noticeTimer = null;
    },
    brighten() {
      wx.setKeepScreenOn({ keepScreenOn: true });
      if (this.savedBrightness === undefined) {
        wx.getScreenBrightness({ success: (res) => { this.savedBrightness = res.value; } });
      }
      wx.setScreenBrightness({ value: 1 });
    },
    restoreBrightness() {
      if (this.savedBrightness !== undefined) {
        wx.setScreenBrightness({ value: this.savedBrightness });
        this.savedBrightness = undefined;
      }
      wx.setKeepScreenOn({ keepScreenOn: false });
    },
    goRegister() {
      wx.navigateTo({ url: '/pages/login/index' });
    },
    goAssets() {
      wx.switchTab({ url: '/pages/assets/index' });
    },
    goCoupons() {
      wx.switchTab({ url: '/pages/coupons/index' });
    },
  },
});
