// Every error code a /api/v1/mp operation declares in the served contract has a shopper's message,
// and the client turns a real refusal into that message.
const h = require('./support/helpers');

describe('error codes', () => {
  test('the message table covers every code the mini-program routes declare', async () => {
    const doc = (await h.httpJson('GET', `${h.stack.api}/api/v1/openapi.json`)).data;
    const { MESSAGES } = require('../src/utils/errors.js');
    const declared = new Set();
    Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/mp/')).forEach((p) => {
      Object.values(doc.paths[p]).forEach((op) => (op['x-error-codes'] || []).forEach((c) => declared.add(c)));
    });
    expect(declared.size).toBeGreaterThan(10);
    const missing = [...declared].filter((c) => !MESSAGES[c]).sort();
    expect(missing).toEqual([]);
  });

  test('a refusal from the server reaches the caller as an ApiError with the mapped message', async () => {
    h.freshWx();
    await h.registerMember();
    const err = await h.api().patch('/me', { birthday: '1890-01-01' }).catch((e) => e);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    expect(err.message).toBe('填写的信息有误，请检查后重试');
    expect(Object.keys(err.details.fields || {})).toContain('birthday');
  });

  test('an offline phone gets the network message, not a crash', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    wx.offline = true;
    const err = await h.api().get('/me').catch((e) => e);
    expect(err.code).toBe('NETWORK');
    expect(err.message).toBe('网络连接失败，请检查网络后重试');
  });

  test('an expired token is refreshed once for every request waiting on it', async () => {
    const wx = h.freshWx();
    await h.registerMember();
    const client = h.api();
    const s = client.session();
    wx.setStorageSync('mp.session', Object.assign({}, s, { token: 'expired.token.value' }));
    const answers = await Promise.all([client.get('/me'), client.get('/me/assets'), client.get('/me/consents')]);
    expect(answers[0].member_no).toBeTruthy();
    const refreshes = wx.called('request').filter((c) => c.options.url.endsWith('/session/refresh'));
    expect(refreshes.length).toBe(1);
    expect(client.session().token).not.toBe('expired.token.value');
  });
});
