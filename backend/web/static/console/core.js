// Console shell: session, API client, router, navigation and the widgets every screen uses.
// Each screen (static/console/screens/*.js) calls Console.register({...}); boot.js starts the
// shell once all of them are loaded. Every rule is the API's: a screen collects input, sends it
// and shows the answer, errors included, on the field they belong to.
(() => {
  "use strict";

  const API = "/api/v1";
  const SESSION_KEY = "console.session";
  const ROLE_NAMES = { admin: "管理员", marketer: "营销", clerk: "店员" };
  const CONSOLE_ROLES = ["admin", "marketer"];
  // Navigation groups, in the order the menu shows them.
  const GROUPS = ["首页", "数据分析", "会员", "营销", "消息", "优惠券", "忠诚度", "系统管理"];

  const $ = (selector, root = document) => root.querySelector(selector);

  class ApiError extends Error {
    constructor(code, message, status, details) {
      super(message);
      this.code = code;
      this.status = status;
      this.details = details || {};
    }
  }

  const state = {
    session: null, // {token, staff: {id, username, role, store}, expires_at (ms)}
    routes: [],
    expiryTimer: null,
    renderSeq: 0,
  };

  // ---- DOM helpers ---------------------------------------------------------------------------

  // el("button", {class: "primary", type: "button", onclick: fn, "aria-label": "…"}, "text", node, [more])
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "for") node.htmlFor = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else if (name.startsWith("data-") || name.startsWith("aria-") || name === "role" || !(name in node)) {
        node.setAttribute(name, value === true ? "" : String(value));
      } else node[name] = value;
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  let uid = 0;
  const nextId = (prefix = "c") => `${prefix}-${++uid}`;

  // ---- formatting ----------------------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, "0");
  const fmt = {
    yuan(cents) {
      if (cents === null || cents === undefined) return "—";
      const value = Math.abs(Number(cents) || 0);
      const sign = cents < 0 ? "-" : "";
      const whole = Math.floor(value / 100).toLocaleString("zh-CN");
      return `${sign}¥${whole}.${String(value % 100).padStart(2, "0")}`;
    },
    // "12.5" -> 1250; null unless an amount in yuan with at most two decimals.
    parseYuan(text) {
      const match = /^(-?)(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(text ?? "").trim());
      if (!match) return null;
      const cents = Number(match[2]) * 100 + Number((match[3] || "").padEnd(2, "0"));
      return match[1] ? -cents : cents;
    },
    centsToYuanText(cents) {
      if (cents === null || cents === undefined || cents === "") return "";
      const value = Math.abs(Number(cents));
      return `${cents < 0 ? "-" : ""}${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")}`;
    },
    number(n) {
      return n === null || n === undefined ? "—" : Number(n).toLocaleString("zh-CN");
    },
    percent(ratio, digits = 1) {
      return ratio === null || ratio === undefined ? "—" : `${(Number(ratio) * 100).toFixed(digits)}%`;
    },
    date(iso) {
      if (!iso) return "—";
      if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
      const d = new Date(iso);
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    },
    dateTime(iso) {
      if (!iso) return "—";
      const d = new Date(iso);
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
    },
    // A value for <input type="datetime-local"> from an ISO time, and back to ISO (browser's zone).
    toLocalInput(iso) {
      if (!iso) return "";
      const d = new Date(iso);
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    },
    fromLocalInput(value) {
      return value ? new Date(value).toISOString() : null;
    },
    role(role) {
      return ROLE_NAMES[role] || role;
    },
  };

  // crypto.randomUUID exists only in secure contexts; the console may be reached over plain http
  // on an office LAN, where getRandomValues still works.
  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // ---- API -----------------------------------------------------------------------------------

  function queryString(query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query || {})) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) value.forEach((item) => params.append(name, String(item)));
      else params.append(name, String(value));
    }
    const text = params.toString();
    return text ? `?${text}` : "";
  }

  // request("POST", "/admin/segments", {body, query, key}): the parsed JSON answer, or throws
  // ApiError(code, message, status, details). A POST carries a fresh Idempotency-Key unless
  // `key` is given (or false). A 401 shows the session-expired prompt.
  // `file` (a File or Blob) is sent as the raw body instead of JSON (the member import upload).
  async function request(method, path, { body, query, key, raw = false, file } = {}) {
    const headers = { Accept: "application/json" };
    if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (file !== undefined) headers["Content-Type"] = "application/octet-stream";
    if (key === undefined && method === "POST") key = newKey();
    if (key) headers["Idempotency-Key"] = key;
    let response;
    try {
      response = await fetch(`${API}${path}${queryString(query)}`, {
        method, headers, body: file !== undefined ? file : body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      throw new ApiError("NETWORK", "网络连接失败，请检查网络后重试", 0, {});
    }
    if (raw && response.ok) return response;
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        if (response.ok) return text;
        throw new ApiError("BAD_RESPONSE", `服务器返回了无法识别的内容（${response.status}）`, response.status, {});
      }
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const problem = new ApiError(error.code || `HTTP_${response.status}`,
        error.message || `请求失败（${response.status}）`, response.status, error.details);
      if (response.status === 401 && state.session && !path.startsWith("/staff/session")) expire();
      throw problem;
    }
    return data;
  }

  const api = {
    get: (path, query) => request("GET", path, { query }),
    post: (path, body = {}, options = {}) => request("POST", path, { body, ...options }),
    put: (path, body, options = {}) => request("PUT", path, { body, ...options }),
    patch: (path, body, options = {}) => request("PATCH", path, { body, ...options }),
    del: (path, options = {}) => request("DELETE", path, options),
    request,
    // Every item of a paged list (follows next_cursor; stops after `max` items).
    async all(path, query = {}, max = 1000) {
      const items = [];
      let cursor = null;
      do {
        const page = await request("GET", path, { query: { ...query, cursor, limit: 100 } });
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && items.length < max);
      return items;
    },
  };

  // ---- session -------------------------------------------------------------------------------

  function saveSession(session) {
    state.session = session;
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(SESSION_KEY);
    scheduleExpiry();
  }

  function loadSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
      if (session && session.token && session.expires_at > Date.now()) return session;
    } catch (_) { /* a damaged entry is a logged-out console */ }
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }

  function scheduleExpiry() {
    clearTimeout(state.expiryTimer);
    if (!state.session) return;
    const left = state.session.expires_at - Date.now();
    // setTimeout overflows past ~24.8 days; a staff token lives hours.
    state.expiryTimer = setTimeout(expire, Math.max(0, Math.min(left, 2 ** 31 - 1)));
  }

  function expire() {
    saveSession(null);
    const dialog = $("#expired-dialog");
    if (!dialog.open) dialog.showModal();
  }

  async function login(username, password) {
    const answer = await request("POST", "/staff/session", { body: { username, password }, key: false });
    if (!CONSOLE_ROLES.includes(answer.staff.role)) {
      throw new ApiError("CONSOLE_ROLE", "店员账号请使用门店柜台（/store/）登录", 403, {});
    }
    saveSession({ token: answer.token, staff: answer.staff, expires_at: Date.now() + answer.expires_in * 1000 });
  }

  function logout() {
    saveSession(null);
    location.hash = "#/";
    showLogin();
  }

  const can = (roles) => !!state.session && (roles || CONSOLE_ROLES).includes(state.session.staff.role);

  // ---- router --------------------------------------------------------------------------------

  // register({path: "/members/:id", title: "会员详情", roles: ["admin"], nav: {group: "会员",
  //   label: "会员查询", order: 10}, render: async (view, params, query) => {...}})
  function register(route) {
    const names = [];
    const pattern = new RegExp(`^${route.path.replace(/:([a-z_]+)/g, (_, name) => {
      names.push(name);
      return "([^/]+)";
    })}$`);
    state.routes.push({ roles: CONSOLE_ROLES, ...route, pattern, names });
  }

  function currentLocation() {
    const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
    const [path, search = ""] = hash.split("?");
    return { path: path || "/", query: Object.fromEntries(new URLSearchParams(search)) };
  }

  function navigate(path, query) {
    const target = `#${path}${queryString(query)}`;
    if (location.hash === target) render();
    else location.hash = target;
  }

  function findRoute(path) {
    for (const route of state.routes) {
      const match = route.pattern.exec(path);
      if (match) {
        const params = {};
        route.names.forEach((name, index) => { params[name] = match[index + 1]; });
        return { route, params };
      }
    }
    return null;
  }

  async function render() {
    if (!state.session) return showLogin();
    const seq = ++state.renderSeq;
    const { path, query } = currentLocation();
    const found = findRoute(path);
    const screen = $("#screen");
    const view = el("div", { class: "screen" });
    clear(screen).append(view);
    screen.hidden = false;
    $("#login-view").hidden = true;
    renderNav(path);
    if (!found) {
      document.title = "页面不存在 · 会员运营后台";
      view.append(ui.header("页面不存在"), ui.notice("没有这个页面。请从左侧菜单进入。", "error"));
      return;
    }
    const { route, params } = found;
    document.title = `${route.title} · 会员运营后台`;
    if (!can(route.roles)) {
      view.append(ui.header(route.title),
        ui.notice(`无权访问：此页面仅限${route.roles.map(fmt.role).join("、")}使用。`, "error"));
      return;
    }
    try {
      await route.render(view, params, query);
    } catch (error) {
      if (seq !== state.renderSeq) return;
      view.append(ui.errorNotice(error));
      if (!(error instanceof ApiError)) throw error;
    }
  }

  function renderNav(path) {
    const nav = $("#nav");
    clear(nav).hidden = false;
    const items = state.routes.filter((route) => route.nav && can(route.roles));
    for (const group of GROUPS) {
      const inGroup = items.filter((route) => route.nav.group === group)
        .sort((a, b) => (a.nav.order || 0) - (b.nav.order || 0));
      if (!inGroup.length) continue;
      const list = el("ul");
      for (const route of inGroup) {
        const active = path === route.path || (route.path !== "/" && path.startsWith(`${route.path}/`));
        list.append(el("li", {}, el("a", { href: `#${route.path}`, "aria-current": active ? "page" : null },
          route.nav.label || route.title)));
      }
      nav.append(el("div", { class: "nav-group" }, el("h2", { text: group }), list));
    }
  }

  function showLogin(notice) {
    $("#who").hidden = true;
    $("#nav").hidden = true;
    $("#screen").hidden = true;
    $("#login-view").hidden = false;
    const box = $("#login-notice");
    box.textContent = notice || "";
    box.hidden = !notice;
    document.title = "登录 · 会员运营后台";
    $("#login-username").focus();
  }

  function showWho() {
    const staff = state.session.staff;
    $("#who-name").textContent = staff.username;
    $("#who-role").textContent = fmt.role(staff.role);
    $("#who").hidden = false;
  }

  // ---- widgets -------------------------------------------------------------------------------

  const ui = {
    // The screen's title (the one h2) and its actions on the right.
    header(title, ...actions) {
      return el("div", { class: "screen-header" }, el("h2", { text: title }),
        el("div", { class: "actions" }, ...actions));
    },
    section(title, ...children) {
      return el("section", { class: "panel" }, title ? el("h3", { text: title }) : null, ...children);
    },
    notice(text, kind = "info") {
      return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
    },
    errorNotice(error) {
      const code = error instanceof ApiError ? error.code : "SCRIPT_ERROR";
      return el("p", { class: "notice error", role: "alert", "data-code": code },
        error.message || String(error), code.startsWith("HTTP_") ? null : el("span", { class: "code" }, code));
    },
    toast(text, kind = "ok") {
      const node = el("div", { class: `toast ${kind}` }, text);
      $("#toasts").append(node);
      setTimeout(() => node.remove(), 5000);
      return node;
    },
    badge(text, kind = "") {
      return el("span", { class: `badge ${kind}` }, text);
    },
    button(label, onclick, { kind = "", type = "button", ...attrs } = {}) {
      return el("button", { type, class: kind, onclick, ...attrs }, label);
    },
    // Runs `work` with the button disabled; shows an ApiError as a toast unless `onError` is given.
    async busy(button, work, onError) {
      button.disabled = true;
      try {
        return await work();
      } catch (error) {
        if (onError) onError(error);
        else if (error instanceof ApiError) ui.toast(`${error.message}（${error.code}）`, "error");
        else throw error;
        return undefined;
      } finally {
        button.disabled = false;
      }
    },
    dl(pairs) {
      const list = el("dl", { class: "pairs" });
      for (const [term, value] of pairs) list.append(el("dt", { text: term }), el("dd", {}, value ?? "—"));
      return list;
    },
    // columns: [{label, render: (row) => node|string, class}]
    table({ columns, rows, empty = "暂无数据", caption }) {
      const table = el("table", { class: "grid" });
      if (caption) table.append(el("caption", { text: caption }));
      table.append(el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.class }, c.label)))));
      const body = el("tbody");
      for (const row of rows) {
        body.append(el("tr", {}, columns.map((c) => el("td", { class: c.class }, c.render(row)))));
      }
      if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: columns.length, class: "empty" }, empty)));
      table.append(body);
      return el("div", { class: "table-wrap" }, table);
    },
    // A table over a cursor-paged API list: load(cursor) returns {items, next_cursor}.
    pager({ load, columns, empty, caption }) {
      const box = el("div", { class: "pager" });
      const stack = [null];
      let index = 0;
      const prev = ui.button("上一页", () => show(index - 1));
      const next = ui.button("下一页", () => show(index + 1));
      const status = el("span", { class: "muted", "aria-live": "polite" });
      const slot = el("div");
      box.append(slot, el("div", { class: "pager-bar" }, prev, status, next));
      async function show(target) {
        prev.disabled = next.disabled = true;
        try {
          const page = await load(stack[target]);
          index = target;
          if (page.next_cursor) stack[index + 1] = page.next_cursor;
          stack.length = page.next_cursor ? index + 2 : index + 1;
          clear(slot).append(ui.table({ columns, rows: page.items, empty, caption }));
          status.textContent = `第 ${index + 1} 页`;
          prev.disabled = index === 0;
          next.disabled = !page.next_cursor;
        } catch (error) {
          clear(slot).append(ui.errorNotice(error));
          prev.disabled = index === 0;
        }
      }
      box.reload = () => show(index);
      box.ready = show(0);
      return box;
    },
    // A labelled input with its hint and an error slot; data-field is the API's field path.
    field(label, input, { hint, name } = {}) {
      if (!input.id) input.id = nextId("f");
      const path = name || input.name;
      const error = el("p", { class: "field-error", id: `${input.id}-error`, hidden: true });
      const described = [hint ? `${input.id}-hint` : null, error.id].filter(Boolean).join(" ");
      input.setAttribute("aria-describedby", described);
      const isCheck = input.type === "checkbox" || input.type === "radio";
      const labelNode = el("label", { for: input.id }, label);
      return el("div", { class: `field${isCheck ? " check" : ""}`, "data-field": path || null },
        isCheck ? [input, labelNode] : [labelNode, input],
        hint ? el("p", { class: "hint", id: `${input.id}-hint` }, hint) : null, error);
    },
    input(name, value, attrs = {}) {
      return el("input", { name, value: value ?? "", autocomplete: "off", ...attrs });
    },
    select(name, options, value, attrs = {}) {
      // options: [[value, label], ...]
      const node = el("select", { name, ...attrs });
      for (const [optionValue, label] of options) {
        const chosen = String(optionValue) === String(value ?? "");
        // defaultSelected too: form.reset() returns to the value the screen drew, not the first option.
        node.append(el("option", { value: String(optionValue), selected: chosen, defaultSelected: chosen }, label));
      }
      return node;
    },
    // Puts an ApiError's details.fields on the fields they name (data-field="a.b" matches "a.b",
    // then its parents "a"); what matches no field is shown in the form's own notice.
    showErrors(form, error) {
      ui.clearErrors(form);
      const notice = form.querySelector(".form-error") || form.insertBefore(
        el("p", { class: "notice error form-error", role: "alert", hidden: true }), form.firstChild);
      const fields = (error && error.details && error.details.fields) || {};
      const unplaced = [];
      for (const [path, message] of Object.entries(fields)) {
        const parts = path.split(".");
        let target = null;
        for (let n = parts.length; n > 0 && !target; n -= 1) {
          target = form.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join("."))}"]`);
        }
        if (!target) { unplaced.push(`${path}：${message}`); continue; }
        const slot = target.querySelector(".field-error");
        slot.textContent = slot.hidden ? String(message) : `${slot.textContent}；${message}`;
        slot.hidden = false;
        target.classList.add("invalid");
        const input = target.querySelector("input, select, textarea");
        if (input) input.setAttribute("aria-invalid", "true");
      }
      const placed = Object.keys(fields).length - unplaced.length;
      if (!placed || unplaced.length) {
        notice.textContent = [error.message, ...unplaced].join("；");
        notice.dataset.code = error.code || "";
        notice.hidden = false;
      }
      const first = form.querySelector(".invalid input, .invalid select, .invalid textarea");
      if (first) first.focus();
    },
    clearErrors(form) {
      form.querySelectorAll(".field-error").forEach((slot) => { slot.hidden = true; slot.textContent = ""; });
      form.querySelectorAll(".invalid").forEach((node) => node.classList.remove("invalid"));
      form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
      const notice = form.querySelector(".form-error");
      if (notice) notice.hidden = true;
    },
    // A <form> whose submit runs onSubmit(form) with the submit button disabled; an ApiError
    // lands on the fields (showErrors), anything else is rethrown.
    form(children, onSubmit, { submit = "保存", extra = [] } = {}) {
      const button = el("button", { type: "submit", class: "primary" }, submit);
      const form = el("form", { class: "form", novalidate: true }, ...children,
        el("div", { class: "actions" }, button, ...extra));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        ui.clearErrors(form);
        button.disabled = true;
        try {
          await onSubmit(form);
        } catch (error) {
          if (error instanceof ApiError) ui.showErrors(form, error);
          else throw error;
        } finally {
          button.disabled = false;
        }
      });
      return form;
    },
    // confirm({title, body: string|node, ok: "删除", danger: true}) -> Promise<boolean>
    confirm({ title = "请确认", body = "", ok = "确定", danger = false } = {}) {
      const dialog = $("#confirm-dialog");
      $("#confirm-title").textContent = title;
      clear($("#confirm-body")).append(typeof body === "string" ? el("p", {}, body) : body);
      const okButton = $("#confirm-ok");
      okButton.textContent = ok;
      okButton.className = danger ? "danger" : "primary";
      return new Promise((resolve) => {
        const finish = (answer) => {
          okButton.onclick = null;
          $("#confirm-cancel").onclick = null;
          dialog.onclose = null;
          if (dialog.open) dialog.close();
          resolve(answer);
        };
        okButton.onclick = () => finish(true);
        $("#confirm-cancel").onclick = () => finish(false);
        dialog.onclose = () => finish(false);
        dialog.showModal();
        $("#confirm-cancel").focus();
      });
    },
    // An ECharts chart in a box of the given height; null (with the table alone) when ECharts
    // did not load. Screens always show the numbers as a table too.
    chart(option, { height = 320, label = "图表" } = {}) {
      const box = el("div", { class: "chart", role: "img", "aria-label": label, style: `height:${height}px` });
      if (!window.echarts) return box;
      requestAnimationFrame(() => {
        const chart = window.echarts.init(box, null, { renderer: "svg", locale: "ZH" });
        chart.setOption({ animation: false, ...option });
        box.chart = chart;
        new ResizeObserver(() => chart.resize()).observe(box);
      });
      return box;
    },
  };

  // ---- boot ----------------------------------------------------------------------------------

  function start() {
    $("#login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await login($("#login-username").value.trim(), $("#login-password").value);
        $("#login-password").value = "";
        showWho();
        render();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showLogin(error.code === "INVALID_CREDENTIALS" ? "用户名或密码错误" : error.message);
      } finally {
        button.disabled = false;
      }
    });
    $("#logout").addEventListener("click", logout);
    $("#expired-login").addEventListener("click", () => {
      $("#expired-dialog").close();
      showLogin("登录已过期，请重新登录");
    });
    window.addEventListener("hashchange", () => render());
    state.session = loadSession();
    scheduleExpiry();
    if (state.session) {
      showWho();
      render();
    } else showLogin();
  }

  window.Console = {
    ApiError, api, register, navigate, render, start, el, append, clear, fmt, ui, newKey, nextId, can,
    get staff() { return state.session && state.session.staff; },
    ROLE_NAMES,
  };
})();
