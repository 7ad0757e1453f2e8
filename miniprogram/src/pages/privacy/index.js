// 我的: profile, consents per channel and purpose with when and where each was given (withdrawal takes
// effect at once), the personal-data export and account deletion (PIPL).
const api = require('../../utils/api.js');
const config = require('../../config.js');
const format = require('../../utils/format.js');

const CHANNELS = { sms: '短信', email: '邮件', wechat: '微信' };
const PURPOSES = { marketing: '营销信息', service: '服务通知' };
const SOURCES = { miniprogram: '小程序', pos: '门店', online: '线上商城', console: '客服', default: '默认', import: '迁移导入' };

function consentRows(items) {
  return items.map((c) => ({
    key: `${c.channel}_${c.purpose}`, granted: c.granted,
    label: `${CHANNELS[c.channel] || c.channel}${PURPOSES[c.purpose] || c.purpose}`,
    history: c.updated_at ? `${c.granted ? '同意' : '撤回'}于 ${format.dateTime(c.updated_at)} · ${SOURCES[c.source] || c.source}${c.text_version ? ` · 条款 ${c.text_version}` : ''}` : '未设置',
  }));
}

// Invitees are other people: only their nickname's first character is shown.
function maskName(name) {
  const chars = Array.from(String(name || ''));
  return chars.length ? `${chars[0]}*` : '未设置昵称';
}

// The export holds the phone in full; the screen shows it masked (the copied JSON keeps it whole).
function maskPhone(phone) {
  const p = String(phone || '');
  if (!p) return '未登记';
  return p.length >= 11 ? `${p.slice(0, 3)}****${p.slice(-4)}` : p;
}

function inviteeRows(items) {
  return items.map((m, i) => ({ key: `${i}-${m.registered_at}`, name: maskName(m.nickname), at: format.date(m.registered_at) }));
}

function confirm(title, content) {
  return new Promise((resolve) => wx.showModal({ title, content, success: (r) => resolve(!!r.confirm), fail: () => resolve(false) }));
}

Component({
  data: { colors: config.colors, state: 'loading', error: '', consents: [], exported: '', exportSummary: [], invitees: [] },
  methods: {
    onLoad() {
      return this.reload();
    },
    reload() {
      this.setData({ state: 'loading' });
      return Promise.all([api.get('/me'), api.get('/me/consents'), api.get('/me/referral')]).then(([me, consents, ref]) => {
        this.setData({ state: 'ready', nickname: me.nickname || '会员', phone: me.phone, memberNo: me.member_no,
          referralCode: ref.referral_code, invited: ref.invited_count,
          invitees: inviteeRows(ref.invitees || []), consents: consentRows(consents.items) });
      }, (err) => this.setData({ state: 'error', error: err.message }));
    },
    onConsent(e) {
      return this.setConsent(e.currentTarget.dataset.key, !!e.detail.value);
    },
    setConsent(key, granted) {
      const body = { consents: {}, text_version: config.consentTextVersion };
      body.consents[key] = granted;
      return api.put('/me/consents', body).then((answer) => {
        this.setData({ consents: consentRows(answer.items) });
        wx.showToast({ title: granted ? '已开启' : '已关闭，即时生效', icon: 'none' });
      }, (err) => {
        wx.showToast({ title: err.message, icon: 'none' });
        return this.reload(); // the switch goes back to what the server holds
      });
    },
    exportData() {
      return api.get('/me/export').then((data) => {
        wx.setClipboardData({ data: JSON.stringify(data, null, 2) });
        const p = data.profile || {};
        this.setData({
          exported: '个人信息已复制到剪贴板（JSON）',
          exportSummary: [
            `会员号 ${p.member_no || ''} · 手机号 ${maskPhone(p.phone)}`,
            `授权记录 ${(data.consent_history || []).length} 条 · 会员动态 ${(data.events || []).length} 条 · 积分明细 ${(data.points_ledger || []).length} 条`,
            `导出时间 ${format.dateTime(data.exported_at)}`,
          ],
        });
      }, (err) => wx.showToast({ title: err.message, icon: 'none' }));
    },
    deleteAccount() {
      return confirm('注销账号', '注销后积分、储值、优惠券将无法找回，个人信息将被删除。确定继续？')
        .then((yes) => yes && confirm('再次确认', '此操作不可撤销，确定注销？'))
        .then((yes) => {
          if (!yes) return null;
          return api.del('/me').then(() => {
            api.clearSession();
            wx.reLaunch({ url: '/pages/login/index' });
          }, (err) => wx.showToast({ title: err.message, icon: 'none' }));
        });
    },
    goOrders() {
      wx.navigateTo({ url: '/pages/orders/index' });
    },
  },
});
