// 会员码: the dynamic member code as a barcode and a QR code, refreshed when its step ends and at once
// after a clerk scanned it (the server then answers a fresh code), with the screen at full brightness.
const api = require('../../utils/api.js');
const codes = require('../../utils/codes.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');

const BAR_SPACE_RPX = 620; // the barcode's width on a 750-rpx screen, quiet zones included

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
    bars: [],
    barUnit: 4,
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
        return answer;
      });
    },
    show(answer) {
      const scanned = !!this.data.code && Date.now() < (this.refreshAt || 0);
      const runs = codes.barcodeRuns(answer.code);
      const modules = runs.reduce((sum, r) => sum + r.width, 0);
      this.setData({
        code: answer.code,
        grouped: codes.grouped(answer.code),
        qrSrc: codes.qrDataUrl(answer.code),
        bars: runs,
        barUnit: Math.max(2, Math.floor(BAR_SPACE_RPX / modules)),
        notice: scanned ? '已扫码，已为您刷新' : '',
      });
    },
    // Poll every codePollMs while shown: the code changes when its step ends or right after a scan.
    schedule() {
      this.stop();
      this.timer = setInterval(() => {
        this.fetchCode().catch(() => {}); // a missed poll is retried by the next one
      }, config.codePollMs);
    },
    stop() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
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
