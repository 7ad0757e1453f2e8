// Shared by every test file: the stack's addresses, a fresh `wx` per test, loading a page through
// miniprogram-simulate, and a few calls made the way staff or WeChat would make them.
const fs = require('fs');
const path = require('path');
const simulate = require('miniprogram-simulate');
const { createWx, httpJson } = require('./wx');
const { spawnStack, stopStack } = require('./stack');

const SRC = path.resolve(__dirname, '../../src');
const stack = JSON.parse(fs.readFileSync(process.env.MP_STACK_FILE, 'utf8'));
const config = require('../../src/config.js');

config.apiBase = stack.api;

// The stack the helpers below talk to: the shared one, or one a test started for itself (startStack).
let current = stack;

// Start a stack of our own (args e.g. ['--test-clock']) and point the helpers at it until `stop()`.
async function startStack(args) {
  const { info, child } = await spawnStack(args);
  current = info;
  return {
    stack: info,
    stop: () => { current = stack; return stopStack(child); },
  };
}

// A new shopper (own openid, empty storage) with the api client's module state reset.
function freshWx() {
  jest.resetModules();
  const cfg = require('../../src/config.js');
  cfg.apiBase = current.api;
  global.wx = createWx(current);
  global.getApp = () => ({ globalData: {} });
  global.getCurrentPages = () => [];
  return global.wx;
}

function api() {
  return require('../../src/utils/api.js');
}

// Render pages/<name>/index and attach it to the document; returns miniprogram-simulate's wrapper.
function loadPage(name, properties) {
  const id = simulate.load(path.join(SRC, 'pages', name, 'index'), { rootPath: SRC });
  const comp = simulate.render(id, properties);
  const parent = document.createElement('parent-wrapper');
  document.body.appendChild(parent);
  comp.attach(parent);
  return comp;
}

async function waitFor(check, { timeout = 8000, interval = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await simulate.sleep(interval);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function text(comp, selector) {
  const node = selector ? comp.querySelector(selector) : comp;
  return node ? node.dom.textContent.replace(/\s+/g, ' ').trim() : null;
}

let phoneSeq = 0;
function uniquePhone() {
  phoneSeq += 1;
  const tail = String((Date.now() * 7 + phoneSeq * 7919 + process.pid) % 100000000).padStart(8, '0');
  return `15${(phoneSeq % 10)}${tail}`;
}

// Tell the fake WeChat that getPhoneNumber gave `phone_code` for `phone`.
async function phoneCode(phone) {
  const code = `pc-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  await httpJson('POST', `${current.control}/phone-codes`, { phone_code: code, phone }, { 'Content-Type': 'application/json' });
  return code;
}

// Log the current wx user in and register `phone` through the real API (for tests about other pages).
async function registerMember(phone = uniquePhone(), extra = {}) {
  const client = api();
  await client.login();
  const answer = await client.register(Object.assign({ phone_code: await phoneCode(phone), consents: {} }, extra));
  return Object.assign({ phone }, answer);
}

const tokens = {};
async function staffToken(username, { fresh = false } = {}) {
  const key = `${current.api} ${username}`;
  if (tokens[key] && !fresh) return tokens[key];
  const res = await httpJson('POST', `${current.api}/api/v1/staff/session`,
    { username, password: current.demo_password }, { 'Content-Type': 'application/json' });
  if (res.statusCode !== 200) throw new Error(`staff login ${username}: ${res.statusCode}`);
  tokens[key] = res.data.token;
  return res.data.token;
}

// A clerk at the counter scans a member or coupon code: the real store API.
async function clerkScan(code) {
  const token = await staffToken('clerk');
  return httpJson('POST', `${current.api}/api/v1/store/scan`, { code },
    { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` });
}

// Points given by the demo admin (an adjustment: its own ledger row each time).
async function givePoints(memberId, points, reason = '测试赠送') {
  const res = await admin('POST', `/members/${memberId}/points/adjustments`, { points, reason });
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`adjustment: ${res.statusCode} ${JSON.stringify(res.data)}`);
  return res.data;
}

async function admin(method, pathname, body, { freshToken = false } = {}) {
  const token = await staffToken('admin', { fresh: freshToken });
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
  if (method === 'POST') headers['Idempotency-Key'] = `test-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  return httpJson(method, `${current.api}/api/v1/admin${pathname}`, body, headers);
}

// The shopper pays in WeChat the order wx.requestPayment was given (its `package`, prepay_id=…): the fake
// WeChat Pay marks it paid and, with `notify`, posts its signed notification to our callback.
async function payAtWeChat(paymentOptions, { notify = true } = {}) {
  const res = await httpJson('POST', `${current.control}/pay`, { package: paymentOptions.package, notify },
    { 'Content-Type': 'application/json' });
  if (res.statusCode !== 200) throw new Error(`pay: ${res.statusCode} ${JSON.stringify(res.data)}`);
  return res.data;
}

// A built-in tag's attribute as the WXML bound it (the simulator keeps it on the virtual node only).
function attr(node, name) {
  const vt = (node._exparserNode || node)._vt;
  const found = vt && vt.attrs.find((a) => a.name === name);
  return found ? found.value : undefined;
}

const BASE_CSS = `
  html, body { margin: 0; background: #f6f6f6; width: 750px; }
  body { font-family: "WenQuanYi Micro Hei", "PingFang SC", sans-serif; font-size: 28px; color: #222; }
  wx-view, wx-scroll-view, wx-swiper, wx-form, wx-checkbox-group, wx-radio-group { display: block; }
  wx-text, wx-label { display: inline; }
  wx-image { display: inline-block; width: 320px; height: 240px; background: center / contain no-repeat; }
  wx-button { display: block; text-align: center; padding: 22px 0; border-radius: 10px; background: #f8f8f8;
    font-size: 32px; margin: 16px 0; }
  wx-checkbox, wx-switch, wx-radio { display: inline-block; width: 36px; height: 36px; border: 2px solid #bbb;
    border-radius: 6px; vertical-align: middle; background: #fff; }
  wx-switch { width: 84px; border-radius: 36px; }
  wx-checkbox[checked="true"], wx-switch[checked="true"], wx-radio[checked="true"] { background: #b4232a;
    border-color: #b4232a; }
  wx-input { display: block; border-bottom: 1px solid #ddd; padding: 12px 0; }
`;

// Save what the page shows as a stand-alone HTML file (the simulator's DOM with the page's compiled
// WXSS), built-in tags given the look their attributes ask for; tests/miniprogram screenshots it.
function snapshot(comp, name) {
  const dir = process.env.MP_ARTIFACTS || path.resolve(__dirname, '../artifacts');
  fs.mkdirSync(dir, { recursive: true });
  const walk = (node) => {
    const dom = node.$$;
    if (dom && node._vt && dom.setAttribute) {
      node._vt.attrs.forEach(({ name: key, value }) => {
        if (['src', 'checked', 'disabled', 'value', 'placeholder'].indexOf(key) >= 0 && value !== undefined) {
          dom.setAttribute(key, String(value));
        }
      });
      if (dom.tagName === 'WX-IMAGE' && dom.getAttribute('src')) {
        dom.style.backgroundImage = `url("${dom.getAttribute('src')}")`;
      }
      if ((dom.tagName === 'WX-INPUT') && dom.getAttribute('value')) dom.textContent = dom.getAttribute('value');
    }
    (node.childNodes || []).forEach(walk);
    if (node.shadowRoot) walk(node.shadowRoot);
  };
  walk(comp._exparserNode);
  const styles = Array.from(document.querySelectorAll('style')).map((st) => st.outerHTML).join('\n');
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>${BASE_CSS}</style>${styles}</head>`
    + `<body>${comp.dom.outerHTML}</body></html>`;
  fs.writeFileSync(path.join(dir, `${name}.html`), html);
  return html;
}

module.exports = {
  attr, snapshot,
  SRC, stack, simulate, freshWx, api, loadPage, waitFor, text, uniquePhone, phoneCode, registerMember,
  staffToken, clerkScan, admin, givePoints, httpJson, startStack, payAtWeChat,
};
