// Ask for subscribe-message permission at a moment that earns it (a tap: WeChat only shows the dialog
// in answer to one) and report the shopper's choices to the server, which counts one send per "accept".
const api = require('./api.js');
const config = require('../config.js');

function ask(keys) {
  const ids = keys.map((k) => config.subscribeTemplates[k]).filter(Boolean);
  if (!ids.length) return Promise.resolve(null);
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds: ids,
      success: (res) => {
        const body = { accepted: [], rejected: [], banned: [] };
        ids.forEach((id) => {
          if (res[id] === 'accept') body.accepted.push(id);
          else if (res[id] === 'ban') body.banned.push(id);
          else body.rejected.push(id);
        });
        api.post('/me/subscriptions', body).then(resolve, () => resolve(null));
      },
      fail: () => resolve(null), // the shopper closed it or the template is unavailable: nothing to record
    });
  });
}

module.exports = { ask };
