// The mini-program's one way to the member platform. Reads `wx` from the global scope (tests stub it),
// keeps the session in storage, refreshes an expired token once for every caller waiting on it, and
// turns every failure into an ApiError with a stable code and a message the shopper can read.
const config = require('../config.js');
const errors = require('./errors.js');

const PREFIX = '/api/v1/mp';
const SESSION_KEY = 'mp.session';

class ApiError extends Error {
  constructor(code, message, status, details) {
    super(message);
    this.code = code;
    this.status = status || 0;
    this.details = details || {};
  }
}

let refreshing = null; // the one refresh in flight, shared by every request that met a 401
let loggingIn = null;

function session() {
  return wx.getStorageSync(SESSION_KEY) || null;
}

function saveSession(answer) {
  const value = {
    token: answer.token,
    refreshToken: answer.refresh_token,
    registered: !!answer.registered,
    memberId: answer.member_id || null,
  };
  wx.setStorageSync(SESSION_KEY, value);
  return value;
}

function clearSession() {
  wx.removeStorageSync(SESSION_KEY);
}

function newKey() {
  const hex = '0123456789abcdef';
  let key = 'mp-';
  for (let i = 0; i < 32; i += 1) key += hex[Math.floor(Math.random() * 16)];
  return key;
}

function query(params) {
  const parts = Object.keys(params || {})
    .filter((k) => params[k] !== undefined && params[k] !== null && params[k] !== '')
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

// One HTTP exchange; resolves {status, body} for any answer, rejects only on a network failure.
function send(method, path, data, headers) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: config.apiBase + path,
      method,
      data: data === undefined ? undefined : data,
      header: Object.assign({ 'Content-Type': 'application/json', 'Accept-Language': 'zh-CN' }, headers),
      timeout: 15000,
      success: (res) => resolve({ status: res.statusCode, body: res.data }),
      fail: () => reject(new ApiError(errors.NETWORK.code, errors.NETWORK.message, 0)),
    });
  });
}

function toError(status, body) {
  const err = (body && body.error) || {};
  const code = err.code || (status >= 500 ? 'INTERNAL_ERROR' : 'HTTP_' + status);
  return new ApiError(code, errors.messageFor(code, err.message), status, err.details);
}

// wx.login → /session: a visitor's token (registered false) or the member's.
function login() {
  if (loggingIn) return loggingIn;
  loggingIn = new Promise((resolve, reject) => {
    wx.login({
      success: (res) => resolve(res.code),
      fail: () => reject(new ApiError('WECHAT_CODE_INVALID', errors.messageFor('WECHAT_CODE_INVALID'), 0)),
    });
  })
    .then((code) => send('POST', `${PREFIX}/session`, { code }))
    .then(({ status, body }) => {
      if (status !== 200) throw toError(status, body);
      return saveSession(body);
    })
    .finally(() => { loggingIn = null; });
  return loggingIn;
}

function refresh() {
  if (refreshing) return refreshing;
  const current = session();
  refreshing = (current && current.refreshToken
    ? send('POST', `${PREFIX}/session/refresh`, { refresh_token: current.refreshToken })
      .then(({ status, body }) => (status === 200 ? saveSession(body) : login()))
    : login())
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function ensureSession() {
  return session() || login();
}

// request(method, path, {data, query, idempotencyKey}) → the answer's JSON body.
async function request(method, path, options = {}) {
  const current = await ensureSession();
  const headers = {};
  if (method === 'POST' || options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey || newKey();
  const url = PREFIX + path + query(options.query);
  const attempt = (token) => send(method, url, options.data, Object.assign({ Authorization: `Bearer ${token}` }, headers));
  let answer = await attempt(current.token);
  if (answer.status === 401) {
    const renewed = await refresh();
    answer = await attempt(renewed.token); // the same Idempotency-Key: a retry, not a second action
  }
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  throw toError(answer.status, answer.body);
}

const api = {
  ApiError,
  session,
  clearSession,
  login,
  refresh,
  request,
  get: (path, q) => request('GET', path, { query: q }),
  post: (path, data, options = {}) => request('POST', path, Object.assign({ data }, options)),
  put: (path, data) => request('PUT', path, { data }),
  patch: (path, data) => request('PATCH', path, { data }),
  del: (path) => request('DELETE', path),
  isRegistered: () => !!(session() && session().registered),
  // POST /register; the answer is a member's session.
  register: async (body, idempotencyKey) => {
    const answer = await request('POST', '/register', { data: body, idempotencyKey });
    saveSession(answer);
    return answer;
  },
};

module.exports = api;
