// Bonus-point campaigns (积分活动): extra points on top of the earn rules for the orders a campaign
// matches, within its time window, until its budget is spent. A campaign without an end is a standing
// rule (e.g. double points for a segment). Every rule is the API's: the screens send and show its answers.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const EDITORS = ["admin", "marketer"];
  const STATUS = { scheduled: "未开始", running: "进行中", paused: "已暂停", ended: "已结束", exhausted: "预算用完" };
  // exhausted has no badge colour of its own: shown as a capped one.
  const BADGE = { exhausted: "exhausted capped" };
  const KINDS = [["multiplier", "倍数"], ["fixed", "固定加送"]];
  const CHANNELS = [["online", "线上商城"], ["pos", "门店"], ["miniprogram", "小程序"], ["third_party", "第三方"]];
  const CHANNEL = Object.fromEntries(CHANNELS);

  const invalid = (fields) => new C.ApiError("VALIDATION_FAILED", "请检查标出的字段", 400, { fields });
  const splitList = (text) => String(text || "").split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);

  const statusBadge = (c) => ui.badge(STATUS[c.status] || c.status, BADGE[c.status] || c.status);
  const kindText = (c) => (c.kind === "multiplier" ? `倍数 ×${Number(c.multiplier_pct) / 100}`
    : `固定 +${fmt.number(c.bonus_points)}`);
  const timeText = (c) => `${fmt.dateTime(c.starts_at)} 至 ${c.ends_at ? fmt.dateTime(c.ends_at) : "长期有效"}`;
  const budgetText = (c) => `${fmt.number(c.spent_points)} / ${c.budget_points === null || c.budget_points === undefined
    ? "不限" : fmt.number(c.budget_points)}`;

  // What the campaign is limited to, in words; names from the pickers when they are known.
  function scopeText(c, names) {
    const parts = [];
    if (c.min_paid_cents) parts.push(`实付满 ${fmt.yuan(c.min_paid_cents)}`);
    if ((c.channels || []).length) parts.push(`渠道：${c.channels.map((ch) => CHANNEL[ch] || ch).join("、")}`);
    if ((c.store_ids || []).length) parts.push(`门店：${c.store_ids.map((id) => names.store[id] || `#${id}`).join("、")}`);
    if ((c.categories || []).length) parts.push(`类目：${c.categories.join("、")}`);
    if ((c.tiers || []).length) parts.push(`等级：${c.tiers.map((code) => names.tier[code] || code).join("、")}`);
    if (c.segment_id) parts.push(`人群：${names.segment[c.segment_id] || `#${c.segment_id}`}`);
    return parts.length ? parts.join("；") : "全部订单";
  }

  // Stores, tiers and segments the form offers (and the list names). A list that cannot be read
  // leaves its picker empty rather than the screen unusable.
  async function loadPickers() {
    const [stores, tiers, segments] = await Promise.all([
      api.all("/admin/stores").catch(() => null),
      api.get("/admin/tiers").then((answer) => answer.tiers).catch(() => []),
      api.all("/admin/segments").catch(() => []),
    ]);
    return {
      stores,
      tiers,
      segments,
      names: {
        store: Object.fromEntries((stores || []).map((s) => [s.id, s.name])),
        tier: Object.fromEntries(tiers.map((t) => [t.code, t.name])),
        segment: Object.fromEntries(segments.map((s) => [s.id, s.name])),
      },
    };
  }

  function readOnly(form) {
    form.querySelectorAll("input, select, textarea, button").forEach((node) => { node.disabled = true; });
    const bar = form.querySelector(".actions");
    if (bar) bar.hidden = true;
    return form;
  }

  // A group of checkboxes named `name` whose errors land on the group (data-field = the API's path).
  function checkGroup(name, legend, options, chosen) {
    const picked = new Set((chosen || []).map(String));
    return el("fieldset", { "data-field": name, class: "check-group" }, el("legend", {}, legend),
      el("p", { class: "field-error", hidden: true, role: "alert" }),
      options.length ? el("div", { class: "toolbar" }, options.map(([value, label]) => ui.field(label,
        el("input", { type: "checkbox", name, value: String(value), checked: picked.has(String(value)) }))))
        : el("p", { class: "hint" }, "暂无可选项"));
  }

  // ---- the campaign form (create and edit) --------------------------------------------------------------

  function nowMinute() {
    const now = new Date();
    now.setSeconds(0, 0);
    return now.toISOString();
  }

  function campaignForm(campaign, pickers, onSaved) {
    const c = campaign || { name: "", description: "", starts_at: nowMinute(), ends_at: null, kind: "multiplier",
      multiplier_pct: 200, bonus_points: 0, min_paid_cents: 0, channels: [], store_ids: [], categories: [],
      tiers: [], segment_id: null, budget_points: null, enabled: true };
    const int = (name, value, attrs = {}) => ui.input(name, value ?? "", { type: "number", step: "1", ...attrs });
    const kind = ui.select("kind", KINDS, c.kind);
    const multiplier = ui.field("倍率（%）", int("multiplier_pct", c.kind === "multiplier" ? c.multiplier_pct : 200,
      { min: 101, max: 1000 }), { hint: "按积分规则所得积分的百分比：200 即双倍积分，150 即 ×1.5" });
    const bonus = ui.field("加送积分", int("bonus_points", c.kind === "fixed" ? c.bonus_points : "", { min: 1 }),
      { hint: "每笔符合条件的订单加送" });
    const sync = () => {
      multiplier.hidden = kind.value !== "multiplier";
      bonus.hidden = kind.value !== "fixed";
    };
    kind.addEventListener("change", sync);

    const stores = pickers.stores
      ? checkGroup("store_ids", "限定门店（不选为全部门店）", pickers.stores.map((s) => [s.id, s.active === false
        ? `${s.name}（已停用）` : s.name]), c.store_ids)
      : ui.field("限定门店 ID", ui.input("store_ids", (c.store_ids || []).join(", ")), { hint: "以逗号分隔；留空为全部门店" });
    const segmentOptions = [["", "不限人群"], ...pickers.segments.map((s) => [s.id, s.name])];
    if (c.segment_id && !pickers.names.segment[c.segment_id]) segmentOptions.push([c.segment_id, `人群 #${c.segment_id}`]);

    const form = ui.form([
      ui.field("名称", ui.input("name", c.name, { maxlength: 40, required: true })),
      ui.field("说明", el("textarea", { name: "description", maxLength: 200, rows: 2 }, c.description || "")),
      el("div", { class: "form-row" },
        ui.field("开始时间", ui.input("starts_at", fmt.toLocalInput(c.starts_at), { type: "datetime-local" })),
        ui.field("结束时间", ui.input("ends_at", fmt.toLocalInput(c.ends_at), { type: "datetime-local" }),
          { hint: "留空为长期有效（常设规则，如某人群长期多倍积分）" })),
      el("fieldset", {}, el("legend", {}, "奖励方式"),
        el("div", { class: "columns compact" },
          ui.field("类型", kind), multiplier, bonus,
          ui.field("订单实付满（元）", ui.input("min_paid_cents", fmt.centsToYuanText(c.min_paid_cents || 0),
            { inputmode: "decimal" }), { hint: "0 为不限金额" }))),
      el("fieldset", { class: "campaign-scope" }, el("legend", {}, "活动范围（都不限即全部订单）"),
        checkGroup("channels", "限定渠道（不选为全部渠道）", CHANNELS, c.channels),
        stores,
        checkGroup("tiers", "限定等级（不选为全部等级）", pickers.tiers.map((t) => [t.code, t.name || t.code]), c.tiers),
        el("div", { class: "form-row" },
          ui.field("限定商品类目", ui.input("categories", (c.categories || []).join(", ")),
            { hint: "以逗号分隔；留空为全部商品" }),
          ui.field("限定人群", ui.select("segment_id", segmentOptions, c.segment_id ?? ""),
            { hint: pickers.segments.length ? "只有该人群的会员获得加送" : "还没有保存的人群" }))),
      el("div", { class: "columns compact" },
        ui.field("积分预算", int("budget_points", c.budget_points, { min: 1 }),
          { hint: "本活动最多加送的积分；留空为不限" }),
        ui.field("启用", el("input", { type: "checkbox", name: "enabled", checked: !!c.enabled }))),
    ], async (node) => {
      const body = collect(node, !pickers.stores);
      const saved = campaign ? await api.put(`/admin/campaigns/${campaign.id}`, body)
        : await api.post("/admin/campaigns", body);
      await onSaved(saved);
    }, { submit: campaign ? "保存修改" : "创建活动" });
    sync();
    return form;
  }

  function collect(form, storesTyped) {
    const value = (name) => form.elements[name].value.trim();
    const checkedValues = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
    const errors = {};
    const int = (name, { optional = false } = {}) => {
      const text = value(name);
      if (!text) {
        if (!optional) errors[name] = "必填";
        return null;
      }
      if (!/^\d+$/.test(text)) { errors[name] = "请输入整数"; return null; }
      return Number(text);
    };
    const kind = value("kind");
    const paid = fmt.parseYuan(value("min_paid_cents") || "0");
    if (paid === null || paid < 0) errors.min_paid_cents = "请输入金额（元），最多两位小数";
    let storeIds;
    if (storesTyped) {
      const typed = splitList(value("store_ids"));
      if (typed.some((s) => !/^\d+$/.test(s))) errors.store_ids = "门店 ID 应为数字，以逗号分隔";
      storeIds = typed.map(Number);
    } else storeIds = checkedValues("store_ids").map(Number);
    const segment = value("segment_id");
    const body = {
      name: value("name"),
      description: form.elements.description.value.trim(),
      starts_at: fmt.fromLocalInput(value("starts_at")),
      ends_at: fmt.fromLocalInput(value("ends_at")),
      kind,
      min_paid_cents: paid ?? 0,
      channels: checkedValues("channels"),
      store_ids: storeIds,
      categories: splitList(value("categories")),
      tiers: checkedValues("tiers"),
      segment_id: segment ? Number(segment) : null,
      budget_points: int("budget_points", { optional: true }),
      enabled: form.elements.enabled.checked,
    };
    if (kind === "multiplier") body.multiplier_pct = int("multiplier_pct");
    else body.bonus_points = int("bonus_points");
    if (Object.keys(errors).length) throw invalid(errors);
    return body;
  }

  // ---- screens ---------------------------------------------------------------------------------------------

  C.register({
    path: "/campaigns",
    title: "积分活动",
    nav: { group: "忠诚度", label: "积分活动", order: 20 },
    async render(view) {
      const editor = C.can(EDITORS);
      view.append(ui.header("积分活动",
        editor ? el("a", { class: "button primary", href: "#/campaigns/new" }, "新建活动") : null));
      const { names } = await loadPickers();
      const pager = ui.pager({
        load: (cursor) => api.get("/admin/campaigns", { cursor, limit: 20 }),
        caption: "积分活动列表",
        empty: "还没有积分活动",
        columns: [
          { label: "名称", render: (c) => el("a", { href: `#/campaigns/${c.id}` }, c.name) },
          { label: "时间", render: timeText },
          { label: "类型", render: kindText },
          { label: "范围", render: (c) => scopeText(c, names) },
          { label: "预算 已用 / 总额", class: "num", render: budgetText },
          { label: "状态", render: statusBadge },
        ],
      });
      view.append(ui.section(null, pager));
      await pager.ready;
    },
  });

  C.register({
    path: "/campaigns/new",
    title: "新建积分活动",
    async render(view) {
      view.append(ui.header("新建积分活动", el("a", { class: "button", href: "#/campaigns" }, "返回列表")));
      if (!C.can(EDITORS)) {
        view.append(ui.notice("仅管理员和营销人员可以新建积分活动。", "info"));
        return;
      }
      const pickers = await loadPickers();
      view.append(ui.section(null, campaignForm(null, pickers, (saved) => {
        ui.toast(`已创建积分活动「${saved.name}」`);
        C.navigate("/campaigns");
      })));
    },
  });

  C.register({
    path: "/campaigns/:id",
    title: "积分活动详情",
    async render(view, params) {
      const [campaign, pickers] = await Promise.all([api.get(`/admin/campaigns/${params.id}`), loadPickers()]);
      const editor = C.can(EDITORS);
      view.append(ui.header(campaign.name, el("a", { class: "button", href: "#/campaigns" }, "返回列表")));
      view.append(ui.section("概况", ui.dl([
        ["状态", el("span", { "data-testid": "campaign-status" }, statusBadge(campaign))],
        ["时间", timeText(campaign)],
        ["类型", kindText(campaign)],
        ["范围", scopeText(campaign, pickers.names)],
        ["预算 已用 / 总额", el("span", { "data-testid": "campaign-budget" }, budgetText(campaign))],
        ["更新时间", fmt.dateTime(campaign.updated_at)],
      ])));
      if (!editor) view.append(ui.notice("仅管理员和营销人员可以修改积分活动；你可以查看当前设置。", "info"));
      const form = campaignForm(campaign, pickers, (saved) => {
        ui.toast(`已保存「${saved.name}」`);
        C.render();
      });
      view.append(ui.section("编辑", editor ? form : readOnly(form)));
    },
  });
})();
