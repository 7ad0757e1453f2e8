// 数据分析 (marketers and admins): the dashboard and what every analytics page shares — the filters kept in the
// hash's query (#/analytics/sales?from=…&to=…&store=…&channel=…&tier=…, so a view can be shared and reloaded),
// headline figures with 环比 / 同比, charts with the same numbers as a table under them, and each table's export.
// The area pages are in 61-analytics-areas.js; they use Console.analytics from here.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;
  const BASE = "/admin/analytics";
  const GROUP = "数据分析";
  const MINUS = "\u2212";

  const CHANNELS = [["miniprogram", "小程序"], ["pos", "门店"], ["online", "线上商城"], ["third_party", "第三方平台"],
    ["console", "后台"]];
  const AREAS = [
    ["/analytics/overview", "概览"], ["/analytics/members", "会员"], ["/analytics/sales", "销售"],
    ["/analytics/points", "积分"], ["/analytics/stored-value", "储值"], ["/analytics/coupons", "优惠券"],
    ["/analytics/messages", "消息"], ["/analytics/touches", "触达效果"],
  ];
  // The filters an area page keeps in the URL; the messages page has its own channel (sms, email, wechat).
  const KEYS = ["from", "to", "store", "channel", "tier", "msg_channel", "purpose"];

  // ---- dates (merchant days are the browser's calendar days, as on 数据导出) -------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  const dayText = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const addDays = (d, n) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);

  function presets(now = new Date()) {
    const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const monthStart = new Date(today.getFullYear(), today.getMonth(), 1);
    const lastMonthStart = new Date(today.getFullYear(), today.getMonth() - 1, 1);
    return [
      ["7d", "近7天", addDays(today, -6), today],
      ["30d", "近30天", addDays(today, -29), today],
      ["month", "本月", monthStart, today],
      ["last_month", "上月", lastMonthStart, addDays(monthStart, -1)],
    ].map(([key, label, from, to]) => ({ key, label, from: dayText(from), to: dayText(to) }));
  }

  // ---- formatting -------------------------------------------------------------------------------------------
  // A comparison ratio as +x.x% / −x.x%, "—" when the API gives null (a zero base).
  function signed(ratio, digits = 1) {
    if (ratio === null || ratio === undefined) return "—";
    const text = `${(Math.abs(Number(ratio)) * 100).toFixed(digits)}%`;
    return Number(ratio) < 0 ? `${MINUS}${text}` : `+${text}`;
  }
  const KINDS = {
    count: (v) => fmt.number(v),
    money: (v) => fmt.yuan(v),
    rate: (v) => fmt.percent(v),
    points: (v) => fmt.number(v),
    frequency: (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(2)),
  };
  const show = (kind, value) => (KINDS[kind] || KINDS.count)(value);
  const yuanNumber = (cents) => Math.round(Number(cents || 0)) / 100;

  // ---- filters in the URL -----------------------------------------------------------------------------------
  function filtersOf(query) {
    const out = {};
    for (const key of KEYS) if (query && query[key]) out[key] = query[key];
    return out;
  }

  // The API's query for an area: the page's filters that endpoint takes.
  function apiQuery(filters, { only = ["from", "to", "store", "channel", "tier"], messages = false } = {}) {
    const query = {};
    for (const key of only) if (filters[key]) query[key] = filters[key];
    if (messages) {
      if (filters.msg_channel) query.channel = filters.msg_channel;
      if (filters.purpose) query.purpose = filters.purpose;
    }
    return query;
  }

  let pickerCache = null;
  function pickers() {
    if (!pickerCache) {
      pickerCache = Promise.all([
        api.all("/admin/stores").catch(() => []),
        api.get("/admin/tiers").then((answer) => answer.tiers || []).catch(() => []),
      ]).then(([stores, tiers]) => ({ stores, tiers }));
      pickerCache.catch(() => { pickerCache = null; });
    }
    return pickerCache;
  }

  // The filter bar: presets, the dates, store / channel / tier (or the message channel and purpose). Every
  // change goes to the URL, and the router draws the page again from it (so it refetches).
  async function filterBar(path, filters, range, { fields = ["store", "channel", "tier"] } = {}) {
    const { stores, tiers } = await pickers();
    const go = (changes) => {
      const next = { ...filters, ...changes };
      for (const key of Object.keys(next)) if (!next[key]) delete next[key];
      C.navigate(path, next);
    };
    const from = ui.input("from", filters.from || (range && range.from) || "", { type: "date" });
    const to = ui.input("to", filters.to || (range && range.to) || "", { type: "date" });
    const onDates = () => { if (from.value && to.value) go({ from: from.value, to: to.value }); };
    from.addEventListener("change", onDates);
    to.addEventListener("change", onDates);
    const chosen = presets().find((p) => p.from === (range ? range.from : filters.from)
      && p.to === (range ? range.to : filters.to));
    const presetButtons = el("div", { class: "analytics-presets", role: "group", "aria-label": "时间范围" },
      presets().map((p) => ui.button(p.label, () => go({ from: p.from, to: p.to }),
        { "aria-pressed": chosen && chosen.key === p.key ? "true" : "false", dataset: { preset: p.key } })));
    const select = (name, label, options, all) => {
      const node = ui.select(name, [["", all], ...options], filters[name] || "");
      node.addEventListener("change", () => go({ [name]: node.value }));
      return ui.field(label, node);
    };
    const choices = {
      store: () => select("store", "门店", stores.map((s) => [s.id, s.name]), "全部门店"),
      channel: () => select("channel", "渠道", CHANNELS, "全部渠道"),
      tier: () => select("tier", "等级", tiers.map((t) => [t.code, t.name]), "全部等级"),
      msg_channel: () => select("msg_channel", "消息渠道", [["sms", "短信"], ["email", "邮件"], ["wechat", "微信"]],
        "全部渠道"),
      purpose: () => select("purpose", "用途", [["marketing", "营销"], ["service", "服务"]], "全部用途"),
    };
    const reset = ui.button("清除筛选", () => C.navigate(path, {}), { kind: "link" });
    return el("form", { class: "analytics-filters panel", "aria-label": "筛选", onsubmit: (e) => e.preventDefault() },
      presetButtons,
      el("div", { class: "form-row" },
        ui.field("开始日期", from), ui.field("结束日期", to), fields.map((name) => choices[name]())),
      el("div", { class: "analytics-range muted" }, range ? rangeText(range) : "", reset));
  }

  function rangeText(range) {
    return `${range.from} 至 ${range.to}（${range.days} 天）· 环比 ${range.previous_from} 至 ${range.previous_to}`
      + ` · 同比 ${range.last_year_from} 至 ${range.last_year_to}`
      + (range.built_through ? ` · 汇总数据截至 ${range.built_through}` : " · 汇总数据尚未生成")
      + (range.live ? "，今天为实时数据" : "");
  }

  // The area links, carrying the filters so moving between pages keeps the view.
  function areaTabs(current, filters) {
    const shared = {};
    for (const key of ["from", "to", "store", "channel", "tier"]) if (filters[key]) shared[key] = filters[key];
    const qs = new URLSearchParams(shared).toString();
    return el("nav", { class: "analytics-areas", "aria-label": "分析页面" }, AREAS.map(([path, label]) =>
      el("a", { href: `#${path}${qs ? `?${qs}` : ""}`, "aria-current": current === path ? "page" : null }, label)));
  }

  // ---- figures ----------------------------------------------------------------------------------------------
  // A headline figure: its value, and 环比 / 同比 from a Figure ({value, change, yoy}); a bare number (a figure
  // the API gives without comparisons) shows "—" for both.
  function figureCard(key, label, figureOrValue, kind = "count", note = null) {
    const isFigure = figureOrValue !== null && typeof figureOrValue === "object";
    const value = isFigure ? figureOrValue.value : figureOrValue;
    const change = isFigure ? figureOrValue.change : null;
    const yoy = isFigure ? figureOrValue.yoy : null;
    const trend = (ratio) => (ratio === null || ratio === undefined ? "flat" : ratio < 0 ? "down" : "up");
    return el("div", { class: "kpi", "data-figure": key },
      el("div", { class: "kpi-label" }, label),
      el("div", { class: "kpi-value" }, show(kind, value)),
      el("div", { class: "kpi-compare" },
        el("span", {}, "环比 ", el("span", { class: `kpi-change ${trend(change)}`, "data-compare": "change" },
          signed(change))),
        el("span", {}, "同比 ", el("span", { class: `kpi-change ${trend(yoy)}`, "data-compare": "yoy" },
          signed(yoy)))),
      note ? el("div", { class: "kpi-note muted" }, note) : null);
  }

  const cards = (list) => el("div", { class: "kpis" }, list);

  // ---- charts and tables ------------------------------------------------------------------------------------
  const GRID = { left: 64, right: 64, top: 40, bottom: 40 };
  const moneyAxis = { type: "value", axisLabel: { formatter: (v) => `¥${v}` } };

  // A daily line chart: series [{name, key, kind: "money"|"count", axis: 0|1}].
  function lineChart(rows, lines, label) {
    const money = lines.some((l) => l.kind === "money");
    const twoAxes = lines.some((l) => (l.axis || 0) === 1);
    return ui.chart({
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: GRID,
      xAxis: { type: "category", data: rows.map((r) => r.day) },
      yAxis: twoAxes ? [money ? moneyAxis : { type: "value", minInterval: 1 }, { type: "value", minInterval: 1 }]
        : [money ? moneyAxis : { type: "value", minInterval: 1 }],
      series: lines.map((l) => ({
        type: "line", name: l.name, yAxisIndex: l.axis || 0, showSymbol: rows.length < 40,
        data: rows.map((r) => (l.kind === "money" ? yuanNumber(r[l.key]) : r[l.key])),
      })),
    }, { height: 300, label });
  }

  // Bars by a labelled group: bars [{name, key, kind}].
  function barChart(rows, bars, label, { horizontal = false, height = 280 } = {}) {
    const kind = bars[0] ? bars[0].kind : "count";
    const valueAxis = kind === "money" ? moneyAxis
      : kind === "rate" ? { type: "value", max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } }
        : { type: "value", minInterval: 1 };
    const categories = { type: "category", data: rows.map((r) => r.label) };
    return ui.chart({
      tooltip: { trigger: "axis" }, legend: bars.length > 1 ? { top: 0 } : undefined, grid: GRID,
      xAxis: horizontal ? valueAxis : categories, yAxis: horizontal ? categories : valueAxis,
      series: bars.map((b) => ({
        type: "bar", name: b.name, stack: b.stack,
        data: rows.map((r) => (b.kind === "money" ? yuanNumber(r[b.key]) : r[b.key] ?? 0)),
        label: { show: rows.length <= 12 && !b.stack, position: horizontal ? "right" : "top",
          formatter: (p) => (b.kind === "money" ? `¥${p.value}` : b.kind === "rate" ? fmt.percent(p.value) : p.value) },
      })),
    }, { height, label });
  }

  // columns: [{label, key, kind} | {label, render}]; the table carries data-table for tests and exports.
  function table(name, caption, columns, rows, empty = "暂无数据") {
    const wrap = ui.table({
      caption, empty, rows,
      columns: columns.map((c) => ({
        label: c.label, class: c.kind && c.kind !== "text" ? "num" : undefined,
        render: c.render || ((row) => (c.kind === "text" || !c.kind ? String(row[c.key] ?? "—") : show(c.kind, row[c.key]))),
      })),
    });
    wrap.dataset.table = name;
    return wrap;
  }

  // A panel with a chart (optional) and its table, and the export buttons of the table of that name in the area's
  // answer (the server's `table`; "daily": the area's daily rows, for a block whose table is not one of them).
  function block(title, { chart = null, tableNode, exportArea = null, query = {}, name = "", exportTable = name } = {}) {
    const actions = exportArea ? exportButtons(exportArea, query, title, exportTable) : null;
    const section = el("section", { class: "panel analytics-block", dataset: { block: name } },
      el("div", { class: "analytics-block-head" }, el("h3", {}, title), actions), chart, tableNode);
    return section;
  }

  // ---- exports (as 数据导出 does: the file under the name the server gives) -----------------------------------
  function fileName(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const encoded = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
    if (encoded) {
      try {
        return decodeURIComponent(encoded[1].trim());
      } catch (_) { /* a damaged name: try the plain one */ }
    }
    const plain = /filename\s*=\s*"([^"]*)"/i.exec(header) || /filename\s*=\s*([^;\s]+)/i.exec(header);
    return (plain && plain[1]) || fallback;
  }

  async function download(area, query, format) {
    const response = await api.request("GET", `${BASE}/${area}/export`, { query: { ...query, format }, raw: true });
    let blob;
    try {
      blob = await response.blob();
    } catch (_) {
      throw new C.ApiError("DOWNLOAD_INTERRUPTED", "文件下载中断，请重试", 0, {});
    }
    const name = fileName(response, `analytics-${area}.${format}`);
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return name;
  }

  // The block's own table as CSV and Excel; under the day series also the daily rows it is summed from (per day,
  // store, channel and tier), the streamed export for a spreadsheet of one's own.
  function exportButtons(area, query, title, own) {
    const make = (format, label, tableName, what) => {
      const button = ui.button(label, () => ui.busy(button, async () => {
        ui.toast(`已下载 ${await download(area, { ...query, table: tableName }, format)}`);
      }), { kind: "small", "aria-label": `${label}：${what}`, dataset: { export: format, table: tableName } });
      return button;
    };
    const buttons = [make("csv", "导出 CSV", own, own === "daily" ? `${title}的每日明细` : title),
      make("xlsx", "导出 Excel", own, own === "daily" ? `${title}的每日明细` : title)];
    if (own === "series") {
      buttons.push(make("csv", "明细 CSV", "daily", `${title}的每日明细（按日期、门店、渠道、等级）`),
        make("xlsx", "明细 Excel", "daily", `${title}的每日明细（按日期、门店、渠道、等级）`));
    }
    return el("div", { class: "actions", title: "导出该表，与当前筛选一致；明细为其所依据的每日数据（按日期、门店、渠道、等级）" },
      ...buttons);
  }

  // ---- the page frame ---------------------------------------------------------------------------------------
  // Draws the header, the area tabs and the filter bar, loads the answer and hands it to `draw`.
  async function page(view, { path, title, query, load, draw, fields, lead }) {
    const filters = filtersOf(query);
    view.append(ui.header(title), areaTabs(path, filters));
    if (lead) view.append(el("p", { class: "lead" }, lead));
    const barSlot = el("div");
    const body = el("div", { class: "analytics-body", "aria-busy": "true" });
    view.append(barSlot, body);
    let answer;
    try {
      answer = await load(filters);
    } catch (error) {
      barSlot.append(await filterBar(path, filters, null, { fields }));
      if (error instanceof C.ApiError && error.code.startsWith("ANALYTICS_RANGE")) {
        body.append(ui.errorNotice(error));
        body.dataset.hash = location.hash;
        body.removeAttribute("aria-busy");
        return;
      }
      throw error;
    }
    const range = (answer && answer.range) || (Array.isArray(answer) ? answer[0].range : null);
    barSlot.append(await filterBar(path, filters, range, { fields }));
    draw(body, answer, filters);
    body.dataset.hash = location.hash; // which view this is, for a test waiting on a new one
    body.removeAttribute("aria-busy");
  }

  // ---- the dashboard ----------------------------------------------------------------------------------------
  // The headline figures and the daily trend: one overview answer, with the filters (messages take none).
  async function loadDashboard(filters) {
    return api.get(`${BASE}/overview`, apiQuery(filters));
  }

  function headline(d) {
    const x = d.figures;
    return cards([
      figureCard("members", "会员总数", x.members),
      figureCard("active", "活跃会员（近30天下单）", x.active_30, "count", `近90天 ${fmt.number(x.active_90.value)}`),
      figureCard("repurchase_rate", "复购率", x.repurchase_rate, "rate"),
      figureCard("gmv", "销售额（GMV）", x.gmv_cents, "money"),
      figureCard("aov", "客单价", x.aov_cents, "money"),
      figureCard("points_liability", "积分负债", x.points_liability_cents, "money",
        `${fmt.number(x.points_balance.value)} 积分`),
      figureCard("stored_value", "储值余额（本金）", x.outstanding_principal_cents, "money",
        `赠送 ${fmt.yuan(x.outstanding_bonus_cents.value)}`),
      figureCard("coupon_redemption_rate", "券核销率", x.coupon_redemption_rate, "rate"),
      figureCard("messages_sent", "消息发送", x.messages_sent),
    ]);
  }

  function drawDashboard(body, d, filters) {
    const q = apiQuery(filters);
    const rows = d.series;
    body.append(headline(d),
      el("p", { class: "hint" }, "环比：与上一个同样长度的时间段相比；同比：与去年同期相比；基数为零时显示 —。"
        + "积分负债为当前值，没有对比；储值余额为期末值，不受门店、渠道与等级筛选影响。"),
      block("每日趋势", {
        name: "trend", exportArea: "sales", exportTable: "daily", query: q,
        chart: lineChart(rows, [{ name: "销售额", key: "gmv_cents", kind: "money" },
          { name: "订单数", key: "orders", axis: 1 }, { name: "新会员", key: "new_members", axis: 1 }],
        "每日销售额、订单数与新会员"),
        tableNode: table("series", "每日销售额、订单数与新会员", [
          { label: "日期", key: "day", kind: "text" }, { label: "销售额", key: "gmv_cents", kind: "money" },
          { label: "订单数", key: "orders", kind: "count" }, { label: "客单价", key: "aov_cents", kind: "money" },
          { label: "新会员", key: "new_members", kind: "count" }], rows),
      }));
  }

  const dashboard = {
    title: "数据概览", roles: ["admin", "marketer"],
    async render(view, _params, query) {
      await page(view, { path: "/analytics/overview", title: "数据概览", query, load: loadDashboard,
        draw: drawDashboard });
    },
  };
  C.register({ path: "/analytics/overview", nav: { group: GROUP, label: "数据概览", order: 0 }, ...dashboard });
  C.register({ path: "/analytics", ...dashboard });

  C.analytics = {
    BASE, CHANNELS, presets, signed, areaTabs, show, filtersOf, apiQuery, page, figureCard, cards, lineChart, barChart, table,
    block, download, loadDashboard, headline, yuanNumber,
  };
})();
