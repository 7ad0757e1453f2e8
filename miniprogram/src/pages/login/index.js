// 注册 / 登录: wx.login at once (a visitor's session), then the phone-number button registers or joins
// the member with that phone. Consents start unticked and are sent with the text version shown.
const api = require('../../utils/api.js');
const config = require('../../config.js');

function consentItems(selected) {
  return Object.keys(config.consentTexts).map((key) => ({
    key, text: config.consentTexts[key], checked: selected.indexOf(key) >= 0,
  }));
}

// A QR code's `scene` is one string ("ref=AB12CD&store=3"); a share link passes ?ref= directly.
function parseScene(scene) {
  const out = {};
  decodeURIComponent(scene || '').split('&').forEach((pair) => {
    const [k, v] = pair.split('=');
    if (k && v) out[k] = v;
  });
  return out;
}

Component({
  data: {
    merchantName: config.merchantName,
    colors: config.colors,
    consentTextVersion: config.consentTextVersion,
    consentItems: consentItems([]),
    selected: [],
    referrer: '',
    storeId: null,
    busy: false,
    error: '',
  },
  methods: {
    onLoad(query = {}) {
      const scene = parseScene(query.scene);
      const referrer = query.ref || scene.ref || wx.getStorageSync('mp.referrer') || '';
      const store = query.store || scene.store || wx.getStorageSync('mp.store') || '';
      this.setData({ referrer, storeId: store && /^\d+$/.test(String(store)) ? Number(store) : null });
      this.redirect = query.redirect ? decodeURIComponent(query.redirect) : '';
      return api.login().then((s) => {
        if (s.registered) this.done();
      }, (e) => this.setData({ error: e.message }));
    },
    onConsents(e) {
      const selected = e.detail.value || [];
      this.setData({ selected, consentItems: consentItems(selected) });
    },
    onPhoneNumber(e) {
      const detail = (e && e.detail) || {};
      if (!detail.code && !(detail.encryptedData && detail.iv)) {
        // The shopper declined: nothing happens until they tap again.
        this.setData({ error: '需要授权手机号才能注册会员' });
        return Promise.resolve();
      }
      const consents = {};
      Object.keys(config.consentTexts).forEach((k) => { consents[k] = this.data.selected.indexOf(k) >= 0; });
      const body = detail.code ? { phone_code: detail.code } : { encrypted_data: detail.encryptedData, iv: detail.iv };
      Object.assign(body, { consents, consent_text_version: config.consentTextVersion });
      if (this.data.referrer) body.referrer_code = this.data.referrer;
      if (this.data.storeId) body.store_id = this.data.storeId;
      this.setData({ busy: true, error: '' });
      // One key per tap: a retry after a timeout joins the first attempt instead of registering twice.
      this.key = this.key || `reg-${Date.now()}-${Math.random().toString(16).slice(2)}`;
      return api.register(body, this.key).then((answer) => {
        this.key = null;
        wx.removeStorageSync('mp.referrer');
        this.setData({ busy: false });
        wx.showToast({ title: answer.created ? '注册成功' : '已关联您的会员', icon: 'success' });
        this.done();
      }, (err) => {
        if (err.code === 'ALREADY_REGISTERED') return this.done();
        if (err.status && err.status < 500) this.key = null;
        this.setData({ busy: false, error: err.message });
        return null;
      });
    },
    done() {
      if (this.redirect) wx.redirectTo({ url: this.redirect });
      else wx.switchTab({ url: '/pages/card/index' });
    },
  },
});
