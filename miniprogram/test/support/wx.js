// A stand-in for the `wx` global: wx.request really calls our server over a loopback socket; wx.login
// asks the fake WeChat API (through the stack's control server) for a code, as WeChat's client does.
// Everything shown to the shopper (toasts, modals, navigation) is recorded for the test to read.
const http = require('http');

function httpJson(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(url, { method, headers: Object.assign({}, headers, data ? { 'Content-Length': data.length } : {}) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        if ((res.headers['content-type'] || '').includes('json')) {
          try { parsed = JSON.parse(text); } catch (e) { parsed = text; }
        }
        resolve({ statusCode: res.statusCode, data: parsed, header: res.headers });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function createWx(stack) {
  const storage = new Map();
  const calls = [];
  let counter = 0;
  const record = (name) => (options = {}) => {
    calls.push({ name, options });
    if (options.success) options.success({ errMsg: `${name}:ok`, confirm: true });
    if (options.complete) options.complete({ errMsg: `${name}:ok` });
  };
  const wx = {
    calls,
    storage,
    user: { openid: `openid-${Date.now()}-${Math.random().toString(16).slice(2)}` },
    modalAnswer: true,
    subscribeAnswer: 'accept', // what the shopper taps in wx.requestSubscribeMessage
    offline: false,
    request(options) {
      calls.push({ name: 'request', options });
      if (wx.offline) {
        setTimeout(() => options.fail && options.fail({ errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' }), 0);
        return {};
      }
      const headers = Object.assign({}, options.header);
      httpJson(options.method || 'GET', options.url, options.data, headers).then(
        (res) => { if (options.success) options.success(res); if (options.complete) options.complete(res); },
        (err) => { if (options.fail) options.fail({ errMsg: `request:fail ${err.message}` }); },
      );
      return {};
    },
    login(options) {
      counter += 1;
      const code = `code-${Date.now()}-${counter}-${Math.random().toString(16).slice(2)}`;
      httpJson('POST', `${stack.control}/codes`, { code, openid: wx.user.openid }, { 'Content-Type': 'application/json' })
        .then(() => options.success && options.success({ code, errMsg: 'login:ok' }), (e) => options.fail && options.fail(e));
    },
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => { storage.set(key, value); },
    removeStorageSync: (key) => { storage.delete(key); },
    showToast: record('showToast'),
    showLoading: record('showLoading'),
    hideLoading: record('hideLoading'),
    showModal(options = {}) {
      calls.push({ name: 'showModal', options });
      const answer = { confirm: !!wx.modalAnswer, cancel: !wx.modalAnswer, errMsg: 'showModal:ok' };
      setTimeout(() => options.success && options.success(answer), 0);
    },
    navigateTo: record('navigateTo'),
    redirectTo: record('redirectTo'),
    switchTab: record('switchTab'),
    reLaunch: record('reLaunch'),
    navigateBack: record('navigateBack'),
    setNavigationBarTitle: record('setNavigationBarTitle'),
    setNavigationBarColor: record('setNavigationBarColor'),
    stopPullDownRefresh: record('stopPullDownRefresh'),
    setClipboardData: record('setClipboardData'),
    setKeepScreenOn: record('setKeepScreenOn'),
    setScreenBrightness: record('setScreenBrightness'),
    getScreenBrightness(options = {}) {
      calls.push({ name: 'getScreenBrightness', options });
      if (options.success) options.success({ value: 0.4 });
    },
    requestSubscribeMessage(options = {}) {
      calls.push({ name: 'requestSubscribeMessage', options });
      const result = { errMsg: 'requestSubscribeMessage:ok' };
      (options.tmplIds || []).forEach((id) => { result[id] = wx.subscribeAnswer; });
      setTimeout(() => options.success && options.success(result), 0);
    },
    // WeChat's payment sheet: `wx.payment(options)` (set by a test) is what the shopper does there and
    // resolves the errMsg ('requestPayment:ok', 'requestPayment:fail cancel', …); without one it fails.
    payment: null,
    requestPayment(options = {}) {
      calls.push({ name: 'requestPayment', options });
      const run = wx.payment ? Promise.resolve().then(() => wx.payment(options))
        : Promise.resolve('requestPayment:fail no payment stubbed');
      run.then((errMsg) => {
        const res = { errMsg };
        if (/:ok$/.test(errMsg)) { if (options.success) options.success(res); } else if (options.fail) options.fail(res);
        if (options.complete) options.complete(res);
      }, (e) => options.fail && options.fail({ errMsg: `requestPayment:fail ${e.message}` }));
    },
    onUserCaptureScreen() {},
    offUserCaptureScreen() {},
    vibrateShort: record('vibrateShort'),
  };
  wx.called = (name) => calls.filter((c) => c.name === name);
  return wx;
}

module.exports = { createWx, httpJson };
