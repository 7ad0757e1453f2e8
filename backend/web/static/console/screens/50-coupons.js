// Coupons: templates (list, create, edit, status), issuing a template to a segment, and the points mall.
// Every rule (lifecycle, terms, stock, limits) is the API's: the screens send and show its answers.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const STATUS = { draft: "草稿", active: "生效中", paused: "已暂停", ended: "已结束" };
  const KINDS = [["amount_off", "满减券"], ["percent_off", "折扣券"], ["gift", "赠品券"], ["free_shipping", "包邮券"]];
  const KIND = Object.fromEntries(KINDS);
  const CHANNELS = [["online", "线上商城"], ["pos", "门店 POS"], ["miniprogram", "小程序"], ["third_party", "第三方平台"]];
  // The moves the lifecycle allows (draft → active ⇄ paused → ended); the API refuses the others anyway.
  const MOVES = {
    draft: [["active", "激活"]],
    active: [["paused", "暂停"], ["ended", "结束"]],
    paused: [["active", "重新激活"], ["ended", "结束"]],
    ended: [],
  };

  // A validation error raised before sending, shown on the fields like the API's own.
  const invalid = (fields) => new C.ApiError("VALIDATION_FAILED", "请检查标出的字段", 400, { fields });
  const list = (text) => String(text || "").split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);

  function termsSummary(terms) {
    const parts = [KIND[terms.kind] || terms.kind];
    if (terms.min_spend_cents) parts.push(`满 ${fmt.yuan(terms.min_spend_cents)}`);
    if (terms.kind === "amount_off") parts.push(`减 ${fmt.yuan(terms.amount_off_cents)}`);
    if (terms.kind === "percent_off") {
      parts.push(`${terms.percent_pays / 10} 折`);
      if (terms.max_discount_cents) parts.push(`最多减 ${fmt.yuan(terms.max_discount_cents)}`);
    }
    if (terms.kind === "gift" && terms.gift_sku) parts.push(`赠品 ${terms.gift_sku}`);
    parts.push(terms.valid_days ? `领取后 ${terms.valid_days} 天有效`
      : `${fmt.dateTime(terms.valid_from)} 至 ${fmt.dateTime(terms.valid_until)}`);
    return parts.join("，");
  }

  const stockText = (t) => `${fmt.number(t.issued_count)} / ${t.total_stock === null ? "不限" : fmt.number(t.total_stock)}`;

  // ---- the template form (create and edit) -----------------------------------------------------

  function templateForm(template, onSaved) {
    const t = template || { terms: { kind: "amount_off", min_spend_cents: 0, valid_days: 30, with_tier_discount: true,
      channels: [], store_ids: [], categories: [], percent_pays: 100, reversal_window_minutes: 30 }, claim_tiers: [] };
    const terms = t.terms;
    const kind = ui.select("terms.kind", KINDS, terms.kind);
    const yuanInput = (name, cents) => ui.input(name, fmt.centsToYuanText(cents), { inputmode: "decimal" });
    const intInput = (name, value, attrs = {}) => ui.input(name, value ?? "", { type: "number", step: "1", ...attrs });
    const amountOff = ui.field("减免金额（元）", yuanInput("terms.amount_off_cents", terms.amount_off_cents || ""));
    const percent = ui.field("折扣（支付比例 %）", intInput("terms.percent_pays", terms.percent_pays ?? 100, { min: 1, max: 100 }),
      { hint: "80 即 8 折（支付 80%）" });
    const maxOff = ui.field("最高优惠（元，可空）", yuanInput("terms.max_discount_cents", terms.max_discount_cents));
    const gift = ui.field("赠品 SKU", ui.input("terms.gift_sku", terms.gift_sku || ""));
    const validity = ui.select("validity", [["days", "领取后 N 天有效"], ["window", "固定时间段"]],
      terms.valid_days ? "days" : "window");
    const days = ui.field("有效天数", intInput("terms.valid_days", terms.valid_days ?? 30, { min: 1, max: 3650 }));
    const from = ui.field("开始时间", ui.input("terms.valid_from", fmt.toLocalInput(terms.valid_from), { type: "datetime-local" }));
    const until = ui.field("结束时间", ui.input("terms.valid_until", fmt.toLocalInput(terms.valid_until), { type: "datetime-local" }));
    const channelBoxes = CHANNELS.map(([value, label]) => ui.field(label,
      el("input", { type: "checkbox", name: "terms.channels", value, checked: (terms.channels || []).includes(value) })));
    const check = (name, label, value) => ui.field(label, el("input", { type: "checkbox", name, checked: !!value }));

    function sync() {
      amountOff.hidden = kind.value !== "amount_off";
      percent.hidden = maxOff.hidden = kind.value !== "percent_off";
      gift.hidden = kind.value !== "gift";
      days.hidden = validity.value !== "days";
      from.hidden = until.hidden = validity.value !== "window";
    }
    kind.addEventListener("change", sync);
    validity.addEventListener("change", sync);

    const termsSet = el("fieldset", { "data-field": "terms" }, el("legend", {}, "券规则"),
      el("p", { class: "field-error", hidden: true, role: "alert" }),
      el("div", { class: "columns compact" },
        ui.field("券类型", kind),
        ui.field("使用门槛（元）", yuanInput("terms.min_spend_cents", terms.min_spend_cents), { hint: "0 为无门槛" }),
        amountOff, percent, maxOff, gift),
      el("div", { class: "columns compact" }, ui.field("有效期方式", validity), days, from, until),
      el("fieldset", { "data-field": "terms.channels" }, el("legend", {}, "适用渠道（不选为全部渠道）"),
        el("p", { class: "field-error", hidden: true }), channelBoxes),
      ui.field("适用门店 ID", ui.input("terms.store_ids", (terms.store_ids || []).join(", ")),
        { hint: "以逗号分隔；留空为全部门店" }),
      ui.field("适用品类", ui.input("terms.categories", (terms.categories || []).join(", ")),
        { hint: "以逗号分隔；留空为全部商品" }),
      check("terms.stackable", "可与其他券叠加", terms.stackable),
      check("terms.with_tier_discount", "可与会员价同享", terms.with_tier_discount));

    const form = ui.form([
      ui.field("名称", ui.input("name", t.name || "", { maxlength: 40, required: true })),
      ui.field("说明", el("textarea", { name: "description", maxLength: 200, rows: 2 }, t.description || "")),
      termsSet,
      el("div", { class: "columns compact" },
        ui.field("总库存（可空）", intInput("total_stock", t.total_stock, { min: 0 }), { hint: "留空为不限" }),
        ui.field("每人限领（可空）", intInput("per_member_limit", t.per_member_limit, { min: 1 }), { hint: "留空为不限" }),
        ui.field("每人每日限领（可空）", intInput("per_member_daily_limit", t.per_member_daily_limit, { min: 1 }),
          { hint: "留空为不限" })),
      check("claimable", "在领券中心展示", t.claimable),
      ui.field("可领取等级代码", ui.input("claim_tiers", (t.claim_tiers || []).join(", ")), { hint: "以逗号分隔；留空为全部等级" }),
    ], async (node) => {
      const body = collect(node);
      const saved = template ? await api.patch(`/admin/coupon-templates/${template.id}`, body)
        : await api.post("/admin/coupon-templates", body);
      await onSaved(saved);
    }, { submit: template ? "保存修改" : "创建券模板" });
    sync();
    return form;
  }

  function collect(form) {
    const value = (name) => form.elements[name].value.trim();
    const errors = {};
    const cents = (name, { optional = false } = {}) => {
      const text = value(name);
      if (!text && optional) return null;
      const parsed = fmt.parseYuan(text || "0");
      if (parsed === null || parsed < 0) errors[name] = "请输入金额（元），最多两位小数";
      return parsed;
    };
    const int = (name) => {
      const text = value(name);
      if (!text) return null;
      if (!/^\d+$/.test(text)) { errors[name] = "请输入整数"; return null; }
      return Number(text);
    };
    const kind = value("terms.kind");
    const terms = { kind, min_spend_cents: cents("terms.min_spend_cents") ?? 0,
      stackable: form.elements["terms.stackable"].checked,
      with_tier_discount: form.elements["terms.with_tier_discount"].checked,
      channels: [...form.querySelectorAll('input[name="terms.channels"]:checked')].map((box) => box.value),
      categories: list(value("terms.categories")) };
    const stores = list(value("terms.store_ids"));
    if (stores.some((s) => !/^\d+$/.test(s))) errors["terms.store_ids"] = "门店 ID 应为数字，以逗号分隔";
    terms.store_ids = stores.map(Number);
    if (kind === "amount_off") terms.amount_off_cents = cents("terms.amount_off_cents") ?? 0;
    if (kind === "percent_off") {
      terms.percent_pays = int("terms.percent_pays") ?? 100;
      terms.max_discount_cents = cents("terms.max_discount_cents", { optional: true });
    }
    if (kind === "gift") terms.gift_sku = value("terms.gift_sku") || null;
    if (value("validity") === "days") terms.valid_days = int("terms.valid_days");
    else {
      terms.valid_from = fmt.fromLocalInput(value("terms.valid_from"));
      terms.valid_until = fmt.fromLocalInput(value("terms.valid_until"));
    }
    const body = { name: value("name"), description: form.elements.description.value.trim(), terms,
      total_stock: int("total_stock"), per_member_limit: int("per_member_limit"),
      per_member_daily_limit: int("per_member_daily_limit"), claimable: form.elements.claimable.checked,
      claim_tiers: list(value("claim_tiers")) };
    if (Object.keys(errors).length) throw invalid(errors);
    return body;
  }

  // ---- screens ----------------------------------------------------------------------------------

  C.register({
    path: "/coupons",
    title: "券模板",
    nav: { group: "优惠券", label: "券模板", order: 10 },
    async render(view) {
      view.append(ui.header("券模板", el("a", { class: "button primary", href: "#/coupons/new" }, "新建券模板")));
      const pager = ui.pager({
        load: (cursor) => api.get("/admin/coupon-templates", { cursor, limit: 20 }),
        caption: "券模板列表",
        empty: "还没有券模板",
        columns: [
          { label: "名称", render: (t) => el("a", { href: `#/coupons/${t.id}` }, t.name) },
          { label: "类型", render: (t) => KIND[t.terms.kind] || t.terms.kind },
          { label: "规则", render: (t) => termsSummary(t.terms) },
          { label: "状态", render: (t) => ui.badge(STATUS[t.status] || t.status, t.status) },
          { label: "已发 / 库存", class: "num", render: stockText },
          { label: "更新时间", render: (t) => fmt.dateTime(t.updated_at) },
        ],
      });
      view.append(ui.section(null, pager));
      await pager.ready;
    },
  });

  C.register({
    path: "/coupons/new",
    title: "新建券模板",
    async render(view) {
      view.append(ui.header("新建券模板", el("a", { class: "button", href: "#/coupons" }, "返回列表")),
        ui.section(null, templateForm(null, (saved) => {
          ui.toast(`已创建券模板「${saved.name}」（草稿）`);
          C.navigate(`/coupons/${saved.id}`);
        })));
    },
  });

  C.register({
    path: "/coupons/:id",
    title: "券模板详情",
    async render(view, params) {
      const template = await api.get(`/admin/coupon-templates/${params.id}`);
      const actions = MOVES[template.status].map(([status, label]) => ui.button(label, async (event) => {
        const button = event.currentTarget;
        if (status === "ended" && !await ui.confirm({ title: "结束券模板", ok: "结束", danger: true,
          body: `结束后「${template.name}」不能再发放或领取，且不能重新激活。已发出的券仍可使用。` })) return;
        await ui.busy(button, async () => {
          await api.post(`/admin/coupon-templates/${template.id}/status`, { status });
          ui.toast(`已${label}`);
          C.render();
        });
      }, { kind: status === "active" ? "primary" : status === "ended" ? "danger" : "" }));
      view.append(ui.header(template.name, ...actions, el("a", { class: "button", href: "#/coupons" }, "返回列表")));
      view.append(ui.section("概况", ui.dl([
        ["状态", ui.badge(STATUS[template.status] || template.status, template.status)],
        ["规则", termsSummary(template.terms)],
        ["已发 / 库存", el("span", { "data-testid": "issued-count" }, stockText(template))],
        ["每人限领", template.per_member_limit ?? "不限"],
        ["领券中心", template.claimable ? "展示" : "不展示"],
        ["更新时间", fmt.dateTime(template.updated_at)],
      ])));
      view.append(ui.section("发券给人群", await issuePanel(template)));
      view.append(ui.section("编辑", templateForm(template, (saved) => {
        ui.toast(`已保存「${saved.name}」`);
        C.render();
      })));
    },
  });

  async function issuePanel(template) {
    const segments = await api.all("/admin/segments");
    if (!segments.length) {
      return el("p", {}, "还没有人群。", el("a", { href: "#/segments/new" }, "先新建一个人群"), "。");
    }
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, "");
    const segment = ui.select("segment_id", segments.map((s) => [s.id, s.name]), segments[0].id);
    const batch = ui.input("batch_id", `seg${segments[0].id}-${today}`, { maxlength: 40 });
    segment.addEventListener("change", () => { batch.value = `seg${segment.value}-${today}`; });
    const progress = el("div", { class: "issue-progress", role: "status", "aria-live": "polite" });
    const form = ui.form([
      ui.field("人群", segment, { name: "segment_id" }),
      ui.field("批次号", batch, { hint: "同一批次重复发放不会让任何人多得一张" }),
      template.status === "active" ? null
        : ui.notice(`券模板当前为「${STATUS[template.status]}」，激活后才能发放。`, "info"),
    ], async () => {
      const body = { segment_id: Number(segment.value), batch_id: batch.value.trim() };
      const name = segment.selectedOptions[0].textContent;
      C.clear(progress).append(el("p", {}, el("progress", { "aria-label": "发放进度" }), ` 正在向「${name}」发放…`));
      try {
        const result = await api.post(`/admin/coupon-templates/${template.id}/issue`, body, { key: false });
        C.clear(progress).append(ui.notice(`发放完成：人群 ${fmt.number(result.selected)} 人，`
          + `本次发出 ${fmt.number(result.issued)} 张，跳过 ${fmt.number(result.skipped)} 人`, "ok"),
        ui.dl([["批次号", result.batch_id], ["人群人数", fmt.number(result.selected)],
          ["本次发出", el("strong", { "data-testid": "issue-issued" }, fmt.number(result.issued))],
          ["跳过（已发过、限领或库存不足）", fmt.number(result.skipped)]]));
        const fresh = await api.get(`/admin/coupon-templates/${template.id}`);
        const count = document.querySelector('[data-testid="issued-count"]');
        if (count) count.textContent = stockText(fresh);
      } catch (error) {
        C.clear(progress);
        throw error;
      }
    }, { submit: "发放" });
    return el("div", {}, form, progress);
  }

  // ---- points mall --------------------------------------------------------------------------------

  C.register({
    path: "/points-mall",
    title: "积分商城",
    nav: { group: "优惠券", label: "积分商城", order: 20 },
    async render(view) {
      const templates = await api.all("/admin/coupon-templates");
      const names = Object.fromEntries(templates.map((t) => [t.id, t.name]));
      const editSlot = el("div");
      view.append(ui.header("积分商城"));
      const pager = ui.pager({
        load: (cursor) => api.get("/admin/points-mall", { cursor, limit: 20 }),
        caption: "积分商城商品",
        empty: "积分商城还没有商品",
        columns: [
          { label: "名称", render: (item) => item.name },
          { label: "券模板", render: (item) => el("a", { href: `#/coupons/${item.template_id}` },
            names[item.template_id] || `#${item.template_id}`) },
          { label: "所需积分", class: "num", render: (item) => fmt.number(item.points_price) },
          { label: "状态", render: (item) => ui.badge(item.active ? "上架" : "下架", item.active ? "on" : "off") },
          { label: "操作", render: (item) => ui.button("编辑", () => edit(item), { "aria-label": `编辑 ${item.name}` }) },
        ],
      });
      function edit(item) {
        const form = ui.form([
          ui.field("名称", ui.input("name", item.name, { maxlength: 40 })),
          ui.field("所需积分", ui.input("points_price", item.points_price, { type: "number", min: 1, step: 1 })),
          ui.field("上架", el("input", { type: "checkbox", name: "active", checked: item.active })),
        ], async (node) => {
          const price = node.elements.points_price.value.trim();
          if (!/^\d+$/.test(price)) throw invalid({ points_price: "请输入正整数" });
          await api.patch(`/admin/points-mall/${item.id}`, { name: node.elements.name.value.trim(),
            points_price: Number(price), active: node.elements.active.checked });
          ui.toast(`已保存「${node.elements.name.value.trim()}」`);
          C.clear(editSlot);
          await pager.reload();
        }, { submit: "保存修改", extra: [ui.button("取消", () => C.clear(editSlot))] });
        C.clear(editSlot).append(ui.section(`编辑：${item.name}`, form));
        form.querySelector("input").focus();
      }
      const offerable = templates.filter((t) => t.status !== "ended");
      const create = offerable.length ? ui.form([
        ui.field("名称", ui.input("name", "", { maxlength: 40 })),
        ui.field("券模板", ui.select("template_id", offerable.map((t) => [t.id, `${t.name}（${STATUS[t.status]}）`]),
          offerable[0].id)),
        ui.field("所需积分", ui.input("points_price", "", { type: "number", min: 1, step: 1 })),
        ui.field("立即上架", el("input", { type: "checkbox", name: "active", checked: true })),
      ], async (node) => {
        const price = node.elements.points_price.value.trim();
        if (!/^\d+$/.test(price)) throw invalid({ points_price: "请输入正整数" });
        const item = await api.post("/admin/points-mall", { name: node.elements.name.value.trim(),
          template_id: Number(node.elements.template_id.value), points_price: Number(price),
          active: node.elements.active.checked });
        ui.toast(`已上架「${item.name}」`);
        node.reset();
        await pager.reload();
      }, { submit: "添加商品" }) : el("p", {}, "还没有可兑换的券模板。", el("a", { href: "#/coupons/new" }, "新建券模板"), "。");
      view.append(ui.section(null, pager), editSlot, ui.section("添加商品", create));
      await pager.ready;
    },
  });
})();
