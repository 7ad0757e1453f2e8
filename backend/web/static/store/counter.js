// Store counter page: a client of /api/v1/staff/session and /api/v1/store/*.
// Every rule (what a coupon is worth, what may be spent, who may act) is the API's; the page
// collects input, sends it with an Idempotency-Key per action and shows the answer.
(() => {
  "use strict";

  const API = "/api/v1";
  const SESSION_KEY = "store-counter.session";
  const EXPIRED_MESSAGE = "登录已过期，请重新登录";
  const SCAN_AGAIN_MESSAGE = "扫码已超过有效时间，请让顾客重新出示会员码";
  const CHANNELS = { pos: "门店", online: "线上商城", miniprogram: "小程序", third_party: "第三方" };
  const ORDER_STATUS = { placed: "已完成", partially_refunded: "部分退款", refunded: "已退款" };

  const $ = (selector, root = document) => root.querySelector(selector);

  const state = {
    session: null, // {token, staff}
    scanToken: null,
    scanValidUntil: 0, // Date.now() milliseconds
    summary: null,
    customFields: null, // promise of the required custom fields, read when the registration form opens
  };

  // ---- helpers -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(code, message, status, details) {
      super(message);
      this.code = code;
      this.status = status;
      this.details = details || {};
    }
  }

  // crypto.randomUUID exists only in secure contexts; a counter PC may reach the app over plain
  // http on the shop's LAN, where getRandomValues still works.
  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function yuan(cents) {
    const value = Math.abs(Number(cents) || 0);
    const sign = cents < 0 ? "-" : "";
    return `${sign}¥${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")}`;
  }

  // "12.5" -> 1250; null when it is not an amount in yuan with at most two decimals.
  function parseYuan(text, { allowZero = false } = {}) {
    const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(text || "").trim());
    if (!match) return null;
    const cents = Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
    if (cents === 0 && !allowZero) return null;
    return cents;
  }

  function parseCount(text) {
    const value = String(text || "").trim() || "0";
    return /^\d{1,10}$/.test(value) ? Number(value) : null;
  }

  function discountText(pct) {
    if (!pct || pct >= 100) return "无折扣";
    return `${pct % 10 === 0 ? pct / 10 : pct}折`;
  }

  function termsText(terms) {
    if (!terms) return "";
    const parts = [];
    if (terms.kind === "amount_off") {
      parts.push(terms.min_spend_cents ? `满${yuan(terms.min_spend_cents)}减${yuan(terms.amount_off_cents)}`
        : `立减${yuan(terms.amount_off_cents)}`);
    } else if (terms.kind === "percent_off") {
      parts.push(discountText(terms.percent_pays));
      if (terms.min_spend_cents) parts.push(`满${yuan(terms.min_spend_cents)}可用`);
      if (terms.max_discount_cents) parts.push(`最多减${yuan(terms.max_discount_cents)}`);
    } else if (terms.kind === "gift") {
      parts.push(`赠品${terms.gift_sku ? `：${terms.gift_sku}` : ""}`);
      if (terms.min_spend_cents) parts.push(`满${yuan(terms.min_spend_cents)}可用`);
    } else if (terms.kind === "free_shipping") {
      parts.push("免运费");
    }
    return parts.join("，");
  }

  function dateText(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else if (name.startsWith("data-")) node.setAttribute(name, value);
      else node[name] = value;
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function show(node, visible = true) {
    node.hidden = !visible;
  }

  // ---- API -----------------------------------------------------------------------------------

  async function api(path, body, { key = null, auth = true, method = "POST" } = {}) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (auth) headers.Authorization = `Bearer ${state.session.token}`;
    if (key) headers["Idempotency-Key"] = key;
    let response;
    try {
      const init = method === "GET" ? { method, headers } : { method, headers, body: JSON.stringify(body || {}) };
      response = await fetch(API + path, init);
    } catch (_) {
      throw new ApiError("NETWORK", "网络异常，请检查网络后重试（重试不会重复操作）", 0);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      if (response.status === 401 && auth) {
        sessionExpired();
        throw new ApiError("UNAUTHENTICATED", EXPIRED_MESSAGE, 401, error.details);
      }
      if (error.code === "SCAN_TOKEN_EXPIRED") {
        // The scan is stale, not the login: the clerk stays signed in and scans again.
        state.scanToken = null;
        state.scanValidUntil = 0;
      }
      throw new ApiError(error.code || `HTTP_${response.status}`, error.message || `操作失败（${response.status}）`,
        response.status, error.details);
    }
    return data;
  }

  // ---- notices -------------------------------------------------------------------------------

  function notify(text) {
    const error = $("#error");
    const notice = $("#notice");
    show(error, false);
    notice.textContent = text;
    show(notice, Boolean(text));
  }

  function fail(text) {
    const error = $("#error");
    show($("#notice"), false);
    error.textContent = text;
    show(error, Boolean(text));
  }

  // ---- session -------------------------------------------------------------------------------

  function saveSession(session) {
    state.session = session;
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(SESSION_KEY);
  }

  function loadSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
      return session && session.token ? session : null;
    } catch (_) {
      return null;
    }
  }

  function showLogin(message) {
    closeDialogs();
    stopCamera();
    clearMember();
    saveSession(null);
    show($("#counter-view"), false);
    show($("#who"), false);
    show($("#login-view"));
    const notice = $("#login-notice");
    notice.textContent = message || "";
    show(notice, Boolean(message));
    $("#login-password").value = "";
    $("#login-username").focus();
  }

  function sessionExpired() {
    showLogin(EXPIRED_MESSAGE);
  }

  function showCounter() {
    const staff = state.session.staff || {};
    $("#who-store").textContent = staff.store ? staff.store.name : "未绑定门店";
    $("#who-clerk").textContent = `店员：${staff.username || ""}`;
    show($("#who"));
    show($("#login-view"), false);
    show($("#counter-view"));
    notify("");
    focusScan();
  }

  async function login(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = $("button[type=submit]", form);
    const username = form.username.value.trim();
    const password = form.password.value;
    const notice = $("#login-notice");
    if (!username || !password) {
      notice.textContent = "请输入用户名和密码";
      show(notice);
      return;
    }
    if (button.disabled) return;
    button.disabled = true;
    try {
      const session = await api("/staff/session", { username, password }, { auth: false });
      saveSession({ token: session.token, staff: session.staff });
      form.reset();
      show(notice, false);
      showCounter();
    } catch (error) {
      notice.textContent = error.message;
      show(notice);
    } finally {
      button.disabled = false;
    }
  }

  function logout() {
    showLogin("已退出登录");
  }

  // ---- scan ----------------------------------------------------------------------------------

  function dialogOpen() {
    return Array.from(document.querySelectorAll("dialog")).some((d) => d.open);
  }

  function typing(node) {
    return node && (node.tagName === "INPUT" || node.tagName === "TEXTAREA" || node.tagName === "SELECT");
  }

  // The scan input keeps the focus whenever the clerk is not using another control, so a scanner's
  // keystrokes always land there.
  function focusScan() {
    if ($("#counter-view").hidden || dialogOpen()) return;
    const input = $("#scan-input");
    const active = document.activeElement;
    if (typing(active) && active !== input) return; // the clerk is filling in another field
    input.focus();
  }

  function rememberScan(answer) {
    state.scanToken = answer.scan_token;
    // A little before the server's own limit, so an action never carries a token about to lapse.
    state.scanValidUntil = Date.now() + Math.max(0, (answer.scan_token_expires_in || 600) - 15) * 1000;
  }

  function scanValid() {
    return state.scanToken && Date.now() < state.scanValidUntil;
  }

  async function scan(code) {
    const input = $("#scan-input");
    code = String(code || "").trim();
    if (!code) return;
    input.value = "";
    if (!/^\d+$/.test(code)) {
      fail("请扫描会员码或券码（只含数字）；不支持按手机号查询");
      return;
    }
    input.disabled = true;
    try {
      const summary = await api("/store/scan", { code });
      rememberScan(summary);
      renderMember(summary, { focusCoupon: summary.kind === "coupon" ? summary.coupon.id : null });
      notify(summary.kind === "coupon" ? `已识别券：${summary.coupon.name}` : "已识别会员");
      show($("#receipt"), false);
    } catch (error) {
      // The card on screen is no longer the customer at the counter: never leave it to act on.
      clearMember();
      if (error.status !== 401) fail(error.message);
    } finally {
      input.disabled = false;
      focusScan();
    }
  }

  async function refreshMember() {
    if (!scanValid()) return;
    try {
      renderMember(await api("/store/members/current", { scan_token: state.scanToken }));
    } catch (error) {
      if (error.status !== 401) fail(error.message);
    }
  }

  // ---- camera (only where the browser has BarcodeDetector) ------------------------------------

  let camera = null;

  async function startCamera() {
    if (camera) return;
    try {
      const detector = new window.BarcodeDetector({ formats: ["qr_code", "code_128"] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      const video = $("#camera-video");
      video.srcObject = stream;
      await video.play();
      show($("#camera"));
      camera = { stream, timer: null };
      const look = async () => {
        if (!camera) return;
        try {
          const found = await detector.detect(video);
          const code = found.map((b) => b.rawValue).find((v) => /^\d+$/.test(v));
          if (code) {
            stopCamera();
            await scan(code);
            return;
          }
        } catch (_) {
          // a frame the detector could not read: try the next one
        }
        camera.timer = window.setTimeout(look, 250);
      };
      look();
    } catch (_) {
      stopCamera();
      fail("无法打开摄像头，请使用扫码枪");
    }
  }

  function stopCamera() {
    if (!camera) return;
    window.clearTimeout(camera.timer);
    camera.stream.getTracks().forEach((track) => track.stop());
    camera = null;
    $("#camera-video").srcObject = null;
    show($("#camera"), false);
    focusScan();
  }

  // ---- member card ---------------------------------------------------------------------------

  function clearMember() {
    state.scanToken = null;
    state.scanValidUntil = 0;
    state.summary = null;
    show($("#member-card"), false);
    show($("#receipt"), false);
  }

  function renderMember(summary, { focusCoupon = null, readOnly = false } = {}) {
    state.summary = summary;
    const member = summary.member || {};
    const points = summary.points || {};
    const tier = summary.tier || {};
    $("#member-card").dataset.memberId = String(member.id || "");
    $("#m-nickname").textContent = member.nickname || "会员";
    $("#m-phone").textContent = member.phone || "";
    $("#m-tier").textContent = tier.name ? `${tier.name}会员` : "";
    $("#m-discount").textContent = discountText(tier.discount_pct);
    $("#m-points").textContent = String(points.balance || 0);
    $("#m-debt").textContent = String(points.debt || 0);
    show($("#m-debt-row"), Boolean(points.debt));
    const expiring = (points.expiring || []).reduce((sum, lot) => sum + lot.points, 0);
    $("#m-expiring").textContent = expiring ? `${expiring} 积分将在 30 天内过期` : "";
    show($("#m-expiring"), Boolean(expiring));
    $("#m-balance").textContent = yuan(summary.balance_cents || 0);
    show($("#m-actions"), !readOnly);
    show($("#m-readonly"), readOnly);

    const coupons = summary.coupons || { usable: [], unusable: [] };
    const usable = $("#m-usable");
    usable.replaceChildren();
    for (const coupon of coupons.usable) {
      const item = el("li", { class: "coupon", "data-coupon-id": String(coupon.id) },
        el("span", { class: "coupon-name" }, coupon.name),
        el("span", { class: "coupon-terms" }, termsText(coupon.terms)),
        el("span", { class: "coupon-until" }, `有效期至 ${dateText(coupon.valid_until)}`));
      if (!readOnly) {
        const button = el("button", { type: "button", class: "primary small", textContent: "核销" });
        button.setAttribute("aria-label", `核销 ${coupon.name}`);
        button.addEventListener("click", () => openRedeem(coupon));
        item.append(button);
      }
      if (coupon.id === focusCoupon) item.classList.add("scanned");
      usable.append(item);
    }
    if (!coupons.usable.length) usable.append(el("li", { class: "empty" }, "没有本店可用的券"));

    const unusable = $("#m-unusable");
    unusable.replaceChildren();
    for (const coupon of coupons.unusable) {
      const item = el("li", { class: "coupon", "data-coupon-id": String(coupon.id) },
        el("span", { class: "coupon-name" }, coupon.name),
        el("span", { class: "coupon-terms" }, termsText(coupon.terms)),
        el("span", { class: "coupon-reason" }, coupon.message));
      if (coupon.id === focusCoupon) item.classList.add("scanned");
      unusable.append(item);
    }
    show(unusable.parentElement, coupons.unusable.length > 0);

    const rows = $("#m-orders tbody");
    rows.replaceChildren();
    for (const order of summary.recent_orders || []) {
      const cells = [order.order_no, CHANNELS[order.channel] || order.channel, yuan(order.amount_cents),
        order.points_earned ? `+${order.points_earned}` : "0", ORDER_STATUS[order.status] || order.status,
        dateText(order.placed_at)].map((text) => el("td", {}, text));
      const action = el("td");
      if (!readOnly && order.channel === "pos" && order.status !== "refunded") {
        const button = el("button", { type: "button", class: "small", textContent: "退款" });
        button.setAttribute("aria-label", `退款 ${order.order_no}`);
        button.addEventListener("click", () => openRefund(order));
        action.append(button);
      }
      rows.append(el("tr", {}, ...cells, action));
    }
    if (!(summary.recent_orders || []).length) {
      rows.append(el("tr", {}, el("td", { colSpan: 7, class: "empty" }, "暂无订单")));
    }
    show($("#member-card"));
  }

  // ---- receipts ------------------------------------------------------------------------------

  function showReceipt(title, lines, { redemption = null } = {}) {
    $("#receipt-title").textContent = title;
    const list = $("#receipt-lines");
    list.replaceChildren();
    for (const [label, value] of lines) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("div", {}, el("dt", {}, label), el("dd", {}, String(value))));
    }
    const reverse = $("#reverse-form");
    reverse.reset();
    $(".form-error", reverse).hidden = true;
    reverse.dataset.redemptionId = redemption ? String(redemption.id) : "";
    reverse.dataset.key = redemption ? newKey() : "";
    show(reverse, Boolean(redemption && redemption.status !== "reversed"));
    show($("#receipt"));
  }

  function balanceLines(receipt) {
    const lines = [];
    if (receipt.points_balance !== undefined) lines.push(["积分余额", receipt.points_balance]);
    if (receipt.points_debt) lines.push(["积分欠款", receipt.points_debt]);
    if (receipt.balance_cents !== undefined) lines.push(["储值余额", yuan(receipt.balance_cents)]);
    return lines;
  }

  function orderReceipt(receipt) {
    showReceipt("消费收据", [
      ["订单号", receipt.order_no],
      ["订单金额", yuan(receipt.amount_cents)],
      ["券优惠", receipt.discount_cents ? `-${yuan(receipt.discount_cents)}` : null],
      ["积分抵扣", receipt.points_spent ? `${receipt.points_spent} 积分（-${yuan(receipt.points_value_cents)}）` : null],
      ["储值支付", receipt.balance_spent_cents ? yuan(receipt.balance_spent_cents) : null],
      ["还需支付", yuan(receipt.payable_cents)],
      ["获得积分", `+${receipt.points_earned}`],
      ["会员等级", receipt.tier_change ? "本单后已升级" : null],
      ...balanceLines(receipt),
    ]);
  }

  // ---- actions: one Idempotency-Key per action, kept for retries -----------------------------

  function closeDialogs() {
    document.querySelectorAll("dialog").forEach((d) => {
      if (d.open) d.close();
    });
  }

  function formError(form, message) {
    const node = $(".form-error", form);
    node.textContent = message || "";
    node.hidden = !message;
  }

  function openDialog(id, prepare) {
    const dialog = document.getElementById(id);
    const form = $("form", dialog);
    form.reset();
    formError(form, "");
    form.dataset.key = newKey();
    if (prepare) prepare(form);
    dialog.showModal();
    const first = Array.from(form.querySelectorAll("input")).find((input) => !input.value && input.type !== "checkbox")
      || $("input", form);
    if (first) first.focus();
  }

  // Runs ``action(form, key)`` once per click: the confirm button is disabled while the request is in
  // flight, and a failed attempt keeps its key so the retry cannot act twice.
  async function submitAction(form, action, { needsScan = true } = {}) {
    const button = $("button[type=submit]", form);
    if (button.disabled) return;
    if (needsScan && !scanValid()) {
      closeDialogs();
      clearMember();
      fail(SCAN_AGAIN_MESSAGE);
      focusScan();
      return;
    }
    button.disabled = true;
    formError(form, "");
    try {
      await action(form, form.dataset.key);
      form.dataset.key = newKey();
      const dialog = form.closest("dialog");
      if (dialog && dialog.open) dialog.close();
      if (needsScan) await refreshMember();
    } catch (error) {
      if (error.status !== 401) formError(form, error.message);
    } finally {
      button.disabled = false;
      focusScan();
    }
  }

  function invalid(message) {
    return new ApiError("INPUT", message, 0);
  }

  function openRedeem(coupon) {
    openDialog("redeem-dialog", (form) => {
      form.dataset.couponId = String(coupon.id);
      form.dataset.couponName = coupon.name;
      $("[data-field=coupon]", form).textContent = `${coupon.name}（${termsText(coupon.terms)}）`;
    });
  }

  async function redeem(form, key) {
    const body = { scan_token: state.scanToken };
    if (form.amount.value.trim()) {
      const cents = parseYuan(form.amount.value);
      if (cents === null) throw invalid("请输入正确的金额（元，最多两位小数）");
      body.order_amount_cents = cents;
    }
    const redemption = await api(`/store/coupons/${form.dataset.couponId}/redeem`, body, { key });
    notify(`已核销：${form.dataset.couponName}`);
    const coupon = (state.summary.coupons.usable || []).find((c) => String(c.id) === form.dataset.couponId);
    const minutes = coupon && coupon.terms ? coupon.terms.reversal_window_minutes : null;
    showReceipt("核销凭证", [
      ["券", form.dataset.couponName],
      ["优惠", redemption.discount_cents ? yuan(redemption.discount_cents) : null],
      ["核销时间", dateText(redemption.created_at)],
      ["核销编号", redemption.id],
      ["可撤销", minutes ? `核销后 ${minutes} 分钟内` : null],
    ], { redemption });
  }

  async function reverse(form, key) {
    const reason = form.reason.value.trim();
    if (!reason) throw invalid("请填写撤销原因");
    const redemption = await api(`/store/redemptions/${form.dataset.redemptionId}/reverse`, { reason }, { key });
    notify("已撤销核销，券已退回顾客");
    showReceipt("撤销核销", [["核销编号", redemption.id], ["状态", "已撤销"], ["原因", reason]]);
  }

  function newOrderNo() {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    const stamp = `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}${pad(d.getHours())}${pad(d.getMinutes())}`;
    return `POS-${stamp}-${newKey().slice(0, 6).toUpperCase()}`;
  }

  function openPurchase() {
    openDialog("purchase-dialog", (form) => {
      form.order_no.value = newOrderNo();
      const box = $("[data-field=coupons]", form);
      box.replaceChildren();
      const usable = (state.summary && state.summary.coupons.usable) || [];
      for (const coupon of usable) {
        const input = el("input", { type: "checkbox", name: "coupon", value: String(coupon.id) });
        box.append(el("label", { class: "check" }, input, ` ${coupon.name}（${termsText(coupon.terms)}）`));
      }
      if (!usable.length) box.append(el("p", { class: "hint" }, "没有本店可用的券"));
      purchaseSummary(form);
    });
  }

  // What the order will do, computed by the API (POST /store/orders/quote runs the same rules and
  // writes nothing): the page does not know the points rate or how coupons combine.
  let quoteSeq = 0;
  let quoteTimer = null;

  function purchaseBody(form) {
    const amount = parseYuan(form.amount.value);
    const points = parseCount(form.points.value);
    const balance = parseYuan(form.balance.value, { allowZero: true });
    if (amount === null || points === null || balance === null) return null;
    return {
      scan_token: state.scanToken, order_no: form.order_no.value.trim(), amount_cents: amount,
      coupon_ids: Array.from(form.querySelectorAll("input[name=coupon]:checked"), (input) => Number(input.value)),
      points_to_spend: points, balance_to_spend_cents: balance, member_price_applied: form.member_price.checked,
    };
  }

  function requestQuote(form) {
    window.clearTimeout(quoteTimer);
    const field = $("[data-field=quote]", form);
    const body = purchaseBody(form);
    const seq = ++quoteSeq;
    if (!body || !scanValid() || !/^[A-Za-z0-9_\-.]{1,64}$/.test(body.order_no)) {
      field.textContent = "";
      return;
    }
    quoteTimer = window.setTimeout(async () => {
      try {
        const quote = await api("/store/orders/quote", body);
        if (seq !== quoteSeq) return;
        const parts = [];
        if (quote.discount_cents) parts.push(`券优惠 ${yuan(quote.discount_cents)}`);
        if (quote.points_spent) parts.push(`积分抵扣 ${yuan(quote.points_value_cents)}`);
        if (quote.balance_spent_cents) parts.push(`储值支付 ${yuan(quote.balance_spent_cents)}`);
        parts.push(`还需支付 ${yuan(quote.payable_cents)}`, `预计获得积分 ${quote.points_earned}`);
        field.textContent = parts.join("，");
        field.classList.remove("form-error-text");
      } catch (error) {
        if (seq !== quoteSeq || error.status === 401) return;
        field.textContent = error.message;
        field.classList.add("form-error-text");
      }
    }, 250);
  }

  function purchaseSummary(form) {
    const amount = parseYuan(form.amount.value);
    const balance = parseYuan(form.balance.value, { allowZero: true });
    const points = parseCount(form.points.value);
    const coupons = form.querySelectorAll("input[name=coupon]:checked").length;
    const parts = [`订单 ${amount === null ? "—" : yuan(amount)}`];
    if (coupons) parts.push(`用券 ${coupons} 张`);
    if (points) parts.push(`用积分 ${points}`);
    if (balance) parts.push(`用储值 ${yuan(balance)}`);
    const has = state.summary || {};
    $("[data-field=summary]", form).textContent = `${parts.join("，")}。可用积分 ${(has.points || {}).balance || 0}，`
      + `储值余额 ${yuan(has.balance_cents || 0)}。`;
    requestQuote(form);
  }

  async function purchase(form, key) {
    const amount = parseYuan(form.amount.value);
    if (amount === null) throw invalid("请输入订单金额（元，最多两位小数）");
    const points = parseCount(form.points.value);
    if (points === null) throw invalid("使用积分须为整数");
    const balance = parseYuan(form.balance.value, { allowZero: true });
    if (balance === null) throw invalid("请输入正确的储值金额（元，最多两位小数）");
    const orderNo = form.order_no.value.trim();
    if (!/^[A-Za-z0-9_\-.]{1,64}$/.test(orderNo)) throw invalid("订单号只能包含字母、数字和 _ - .");
    const couponIds = Array.from(form.querySelectorAll("input[name=coupon]:checked"), (input) => Number(input.value));
    // The order number is the API's idempotency key for orders: a retry sends the same one.
    const receipt = await api("/store/orders", {
      scan_token: state.scanToken, order_no: orderNo, amount_cents: amount, coupon_ids: couponIds,
      points_to_spend: points, balance_to_spend_cents: balance, member_price_applied: form.member_price.checked,
    }, { key });
    notify(`消费已记录：${receipt.order_no}`);
    orderReceipt(receipt);
  }

  function openRefund(order) {
    openDialog("refund-dialog", (form) => {
      if (order) {
        form.order_no.value = order.order_no;
        form.amount.value = ((order.amount_cents - (order.refunded_cents || 0)) / 100).toFixed(2);
      }
    });
  }

  async function refund(form, key) {
    const orderNo = form.order_no.value.trim();
    if (!/^[A-Za-z0-9_\-.]{1,64}$/.test(orderNo)) throw invalid("请输入订单号");
    const amount = parseYuan(form.amount.value);
    if (amount === null) throw invalid("请输入退款金额（元，最多两位小数）");
    const reason = form.reason.value.trim();
    if (!reason) throw invalid("请填写退款原因");
    const receipt = await api(`/store/orders/${encodeURIComponent(orderNo)}/refund`,
      { amount_cents: amount, reason }, { key });
    notify(`已退款：${receipt.order_no}`);
    const points = [];
    if (receipt.points_restored) points.push(["退回积分", `+${receipt.points_restored}`]);
    if (receipt.points_reversed) points.push(["扣回积分", `-${receipt.points_reversed}`]);
    if (receipt.points_debt_added) points.push(["计入积分欠款", receipt.points_debt_added]);
    showReceipt("退款收据", [
      ["订单号", receipt.order_no],
      ["本次退款", yuan(receipt.amount_cents)],
      ["累计退款", yuan(receipt.refunded_total_cents)],
      ["剩余可退", yuan(receipt.refundable_cents)],
      ...points,
      ["退回储值", receipt.balance_restored_cents ? yuan(receipt.balance_restored_cents) : null],
      ["退回券", (receipt.coupons_returned || []).length ? `${receipt.coupons_returned.length} 张` : null],
      ...balanceLines(receipt),
    ]);
  }

  async function topup(form, key) {
    const amount = parseYuan(form.amount.value);
    if (amount === null) throw invalid("请输入充值金额（元，最多两位小数）");
    const ref = form.payment_ref.value.trim();
    if (!/^[A-Za-z0-9_\-.]{1,64}$/.test(ref)) throw invalid("请输入支付流水号（字母、数字和 _ - .）");
    const receipt = await api("/store/wallet/topups", { scan_token: state.scanToken, amount_cents: amount, payment_ref: ref },
      { key });
    notify(`已充值 ${yuan(receipt.amount_cents)}`);
    showReceipt("充值收据", [
      ["充值金额", yuan(receipt.amount_cents)],
      ["赠送", receipt.bonus_cents ? yuan(receipt.bonus_cents) : null],
      ["支付流水号", receipt.payment_ref],
      ...balanceLines(receipt),
    ]);
  }

  // The console decides which profile fields a new member must give; the form asks for those.
  function openRegister() {
    openDialog("register-dialog", (form) => {
      $("#register-custom", form).replaceChildren();
      loadCustomFields(form).catch((error) => {
        if (error.status !== 401) formError(form, `无法读取会员资料项：${error.message}`);
      });
    });
  }

  function loadCustomFields(form) {
    const box = $("#register-custom", form);
    const kept = {};
    box.querySelectorAll("[data-key]").forEach((input) => { kept[input.dataset.key] = input.value; });
    state.customFields = api("/store/custom-fields", null, { method: "GET" })
      .then((answer) => answer.items.filter((field) => field.required));
    return state.customFields.then((fields) => {
      renderCustomFields(box, fields);
      box.querySelectorAll("[data-key]").forEach((input) => { input.value = kept[input.dataset.key] || input.value; });
    });
  }

  function renderCustomFields(box, fields) {
    box.replaceChildren(...fields.flatMap((field) => {
      const id = `register-cf-${field.key}`;
      const label = el("label", { htmlFor: id }, field.label, el("span", { class: "required-mark", title: "必填" }, "*"));
      let input;
      if (field.type === "choice") {
        input = el("select", { id }, el("option", { value: "" }, "请选择"),
          ...(field.choices || []).map((choice) => el("option", { value: choice }, choice)));
      } else {
        input = el("input", { id, autocomplete: "off" });
        if (field.type === "date") input.type = "date";
        if (field.type === "number") input.inputMode = "decimal";
        if (field.type === "text") input.maxLength = field.max_length || 200;
      }
      input.required = true;
      input.dataset.key = field.key;
      input.dataset.type = field.type;
      input.dataset.label = field.label;
      return [label, input];
    }));
  }

  function customValues(form) {
    const values = {};
    for (const input of $("#register-custom", form).querySelectorAll("[data-key]")) {
      const text = input.value.trim();
      const label = input.dataset.label;
      if (!text) throw invalid(`请填写${label}`);
      if (input.dataset.type === "number") {
        if (!/^-?\d+(\.\d+)?$/.test(text)) throw invalid(`${label}应为数字`);
        values[input.dataset.key] = Number(text);
      } else {
        values[input.dataset.key] = text;
      }
    }
    return values;
  }

  // "custom_fields.shoe_size: 必填" from the API, said with the field's label. A field the form does not
  // show was made required after it opened: the form reads the fields again and shows it.
  async function registrationProblem(form, error) {
    const fields = Object.entries((error.details && error.details.fields) || {});
    const input = (key) => $(`#register-custom [data-key="${CSS.escape(key)}"]`, form);
    const customKey = (name) => (name.startsWith("custom_fields.") ? name.slice("custom_fields.".length) : null);
    if (fields.some(([name]) => customKey(name) && !input(customKey(name)))) {
      try {
        await loadCustomFields(form);
      } catch (_) {
        // the labels below fall back to the field names
      }
    }
    const lines = fields.map(([name, problem]) => {
      const key = customKey(name);
      const shown = key && input(key);
      const label = shown ? shown.dataset.label : { phone: "手机号", name: "称呼" }[name] || key || name;
      return `${label}：${problem}`;
    });
    return lines.length ? new ApiError(error.code, lines.join("；"), error.status, error.details) : error;
  }

  async function register(form, key) {
    const phone = form.phone.value.trim();
    if (!phone) throw invalid("请输入手机号");
    try {
      await state.customFields;
    } catch (_) {
      throw invalid("无法读取会员资料项，请关闭后重新打开登记窗口");
    }
    const consents = {};
    for (const name of ["sms_marketing", "wechat_marketing", "email_marketing"]) {
      consents[name] = form[name].checked;
    }
    const body = { phone, consents };
    if (form.name.value.trim()) body.name = form.name.value.trim();
    const custom = customValues(form);
    if (Object.keys(custom).length) body.custom_fields = custom;
    let result;
    try {
      result = await api("/store/members", body, { key });
    } catch (error) {
      throw error.code === "VALIDATION_FAILED" ? await registrationProblem(form, error) : error;
    }
    clearMember();
    if (result.created) {
      rememberScan(result);
      renderMember(result);
      notify("新会员已登记");
    } else {
      // An existing member is served by scanning their code, as at every other visit.
      notify("该手机号已是会员，请让顾客出示会员码");
    }
  }

  // ---- wiring --------------------------------------------------------------------------------

  function bindAction(dialogId, action, options) {
    const form = $(`#${dialogId} form`);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitAction(form, action, options);
    });
  }

  function start() {
    $("#login-form").addEventListener("submit", login);
    $("#logout").addEventListener("click", logout);
    $("#scan-form").addEventListener("submit", (event) => {
      event.preventDefault();
      scan($("#scan-input").value);
    });
    $("#register-open").addEventListener("click", openRegister);
    $("#purchase-open").addEventListener("click", () => {
      if (!scanValid()) {
        clearMember();
        fail(SCAN_AGAIN_MESSAGE);
        focusScan();
        return;
      }
      openPurchase();
    });
    $("#topup-open").addEventListener("click", () => openDialog("topup-dialog"));
    $("#refund-open").addEventListener("click", () => openRefund(null));
    bindAction("redeem-dialog", redeem);
    bindAction("purchase-dialog", purchase);
    bindAction("refund-dialog", refund);
    bindAction("topup-dialog", topup);
    bindAction("register-dialog", register, { needsScan: false });
    const reverseForm = $("#reverse-form");
    reverseForm.addEventListener("submit", (event) => {
      event.preventDefault();
      submitAction(reverseForm, reverse);
    });
    $("#purchase-dialog form").addEventListener("input", (event) => purchaseSummary(event.currentTarget));
    document.querySelectorAll("dialog").forEach((dialog) => {
      $("[data-close]", dialog).addEventListener("click", () => dialog.close());
      dialog.addEventListener("close", () => window.setTimeout(focusScan, 0));
    });

    if ("BarcodeDetector" in window && navigator.mediaDevices) {
      show($("#camera-open"));
      $("#camera-open").addEventListener("click", startCamera);
      $("#camera-close").addEventListener("click", stopCamera);
    }

    // A scanner types digits wherever the focus is: when it sits on a button or on nothing, the
    // keystrokes are sent to the scan input instead.
    document.addEventListener("keydown", (event) => {
      if ($("#counter-view").hidden || dialogOpen() || typing(document.activeElement)) return;
      if (/^\d$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) $("#scan-input").focus();
    });
    document.addEventListener("focusout", () => window.setTimeout(() => {
      if (!document.activeElement || document.activeElement === document.body) focusScan();
    }, 0));

    state.session = loadSession();
    if (state.session) showCounter();
    else showLogin("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
