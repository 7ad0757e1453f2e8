// The merchant's settings: one file to edit before uploading the mini-program.
module.exports = {
  // The member platform's address (must be a "request 合法域名" of the mini-program in production).
  apiBase: 'https://member.example.com',
  merchantName: '示例商城',
  colors: {
    primary: '#b4232a',
    primaryText: '#ffffff',
    accent: '#f5c26b',
    background: '#f6f6f6',
  },
  // Consent texts the shopper reads before ticking; their version is recorded with each consent.
  consentTextVersion: '2026-01',
  consentTexts: {
    sms_marketing: '同意通过短信接收优惠与活动信息',
    email_marketing: '同意通过邮件接收优惠与活动信息',
    wechat_marketing: '同意通过微信服务通知接收优惠与活动信息',
  },
  // Subscribe-message template ids (from the mini-program's admin console) asked for at the moments
  // that earn them: after a claim (coupon expiry reminder), on the assets page (points expiry).
  subscribeTemplates: {
    couponExpiry: '',
    pointsExpiry: '',
  },
  // How often the member card asks whether its code was scanned (the code changes at once after a scan).
  codePollMs: 3000,
};
