const config = require('./config.js');

App({
  globalData: { config },
  onLaunch(options) {
    // A share link or a store's QR code may carry a referral code or a store id: kept until registration.
    const query = (options && options.query) || {};
    if (query.ref) wx.setStorageSync('mp.referrer', query.ref);
    if (query.store) wx.setStorageSync('mp.store', query.store);
  },
});
