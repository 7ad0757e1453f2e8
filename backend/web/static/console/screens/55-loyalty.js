// Loyalty program: tiers, earn rules per channel, tier review and points expiry, daily check-in,
// referral rewards, top-up bonuses, paid membership plans (付费会员, their own GET/PUT).
// Everyone in the console reads it; only an admin may change it (the API's PUT routes are admin-only).
// Each form's fields are named with the program's own paths ("tiers.1.threshold"), so what the API
// refuses is shown on the field it is about.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const CHANNELS = [["online", "线上商城"], ["pos", "门店 POS"], ["miniprogram", "小程序"], ["third_party", "第三方平台"]];
  const MEASURES = [["spend", "消费金额（元）"], ["points", "获得积分"], ["orders", "订单数"]];
  const UNIT = { spend: "元", points: "积分", orders: "单" };
  const EXPIRY = [["never", "永不过期"], ["rolling_months", "获得后 N 个月过期"], ["year_end", "次年年底过期"]];
  const ROUNDING = [["floor", "向下取整"], ["round", "四舍五入"], ["ceil", "向上取整"]];
  const TOPUP_CHANNELS = [["store,online", "门店和小程序"], ["store", "仅门店"], ["online", "仅小程序"]];
  const REWARD_ON = [["first_order", "被邀请人首单后"], ["registration", "被邀请人注册后"]];
  const PERIODS = [["month", "月卡（1 个月）"], ["quarter", "季卡（3 个月）"], ["year", "年卡（12 个月）"]];
  const TEMPLATE_STATUS = { draft: "草稿", active: "生效中", paused: "已暂停", ended: "已结束" };

  const invalid = (fields) => new C.ApiError("VALIDATION_FAILED", "请检查标出的字段", 400, { fields });
  const splitList = (text) => String(text || "").split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);

  // Reads inputs by name and collects the errors found before sending.
  function reader(form) {
    const errors = {};
    const text = (name) => form.elements[name].value.trim();
    return {
      errors,
      text,
      checked: (name) => form.elements[name].checked,
      int(name) {
        const value = text(name);
        if (!/^-?\d+$/.test(value)) { errors[name] = "请输入整数"; return 0; }
        return Number(value);
      },
      cents(name) {
        const value = fmt.parseYuan(text(name));
        if (value === null) { errors[name] = "请输入金额（元），最多两位小数"; return 0; }
        return value;
      },
      ids(name) {
        const items = splitList(text(name));
        if (items.some((s) => !/^\d+$/.test(s))) errors[name] = "请输入以逗号分隔的数字";
        return items.map(Number);
      },
    };
  }

  const num = (name, value, attrs = {}) => ui.input(name, value ?? "", { type: "number", step: "1", ...attrs });
  const check = (name, label, value) => ui.field(label, el("input", { type: "checkbox", name, checked: !!value }));

  function readOnly(form) {
    form.querySelectorAll("input, select, textarea, button").forEach((node) => { node.disabled = true; });
    const bar = form.querySelector(".actions");
    if (bar) bar.hidden = true;
    return form;
  }

  // A list of rows (tiers, top-up bonuses) a form edits: rows are re-drawn from their current values
  // when one is added or removed, so every name keeps its index.
  function rowList({ rows, draw, read, blank, addLabel, removeLabel, min = 0 }) {
    const box = el("div", { class: "row-list" });
    let items = rows.map((row) => ({ ...row }));
    function redraw() {
      C.clear(box);
      items.forEach((row, index) => {
        const remove = items.length > min
          ? ui.button(removeLabel, () => { items = current(); items.splice(index, 1); redraw(); },
            { "aria-label": `${removeLabel}（第 ${index + 1} 项）` }) : null;
        box.append(draw(row, index, remove));
      });
      box.append(ui.button(addLabel, () => { items = current(); items.push(blank(items)); redraw(); }));
    }
    function current() {
      const form = box.closest("form");
      return items.map((row, index) => ({ ...row, ...read(form, index) }));
    }
    redraw();
    box.count = () => items.length;
    return box;
  }

  // ---- tiers ----------------------------------------------------------------------------------------

  function tiersForm(settings, onSaved) {
    const unit = UNIT[settings.measure] || "";
    const list = rowList({
      rows: settings.tiers,
      min: 1,
      addLabel: "添加等级",
      removeLabel: "删除等级",
      blank: (items) => ({ code: `tier${items.length + 1}`, name: "", threshold: "", points_multiplier_pct: 100,
        discount_pct: 100, free_shipping: false, birthday_multiplier_pct: 100, gift_points: 0,
        gift_coupon_template_ids: [] }),
      read: (form, i) => {
        const value = (name) => form.elements[`tiers.${i}.${name}`];
        return { code: value("code").value, name: value("name").value, threshold: value("threshold").value,
          points_multiplier_pct: value("points_multiplier_pct").value, discount_pct: value("discount_pct").value,
          free_shipping: value("free_shipping").checked, birthday_multiplier_pct: value("birthday_multiplier_pct").value,
          gift_points: value("gift_points").value,
          gift_coupon_template_ids: splitList(value("gift_coupon_template_ids").value) };
      },
      draw: (tier, i, remove) => {
        const p = `tiers.${i}`;
        return el("fieldset", { class: "tier", "data-field": p }, el("legend", {}, `第 ${i + 1} 级：${tier.name || "新等级"}`),
          el("p", { class: "field-error", hidden: true, role: "alert" }),
          el("div", { class: "columns compact" },
            ui.field("代码", ui.input(`${p}.code`, tier.code, { maxlength: 20 }), { hint: "小写字母、数字、下划线" }),
            ui.field("名称", ui.input(`${p}.name`, tier.name, { maxlength: 20 })),
            ui.field(`门槛（${unit}）`, num(`${p}.threshold`, tier.threshold), { hint: i === 0 ? "第一级为 0" : "高于上一级" }),
            ui.field("积分倍率（%）", num(`${p}.points_multiplier_pct`, tier.points_multiplier_pct, { min: 100, max: 1000 }),
              { hint: "150 即 ×1.5" }),
            ui.field("会员价（%）", num(`${p}.discount_pct`, tier.discount_pct, { min: 1, max: 100 }), { hint: "95 即 95 折" }),
            ui.field("生日积分倍率（%）", num(`${p}.birthday_multiplier_pct`, tier.birthday_multiplier_pct, { min: 100, max: 1000 })),
            ui.field("升级赠送积分", num(`${p}.gift_points`, tier.gift_points, { min: 0 })),
            ui.field("升级礼包券模板 ID", ui.input(`${p}.gift_coupon_template_ids`, (tier.gift_coupon_template_ids || []).join(", ")),
              { hint: "以逗号分隔" }),
            check(`${p}.free_shipping`, "包邮", tier.free_shipping)),
          remove);
      },
    });
    return ui.form([list], async (form) => {
      const r = reader(form);
      const tiers = [];
      for (let i = 0; i < list.count(); i += 1) {
        const p = `tiers.${i}`;
        tiers.push({ code: r.text(`${p}.code`), name: r.text(`${p}.name`), threshold: r.int(`${p}.threshold`),
          points_multiplier_pct: r.int(`${p}.points_multiplier_pct`), discount_pct: r.int(`${p}.discount_pct`),
          free_shipping: r.checked(`${p}.free_shipping`), birthday_multiplier_pct: r.int(`${p}.birthday_multiplier_pct`),
          gift_points: r.int(`${p}.gift_points`), gift_coupon_template_ids: r.ids(`${p}.gift_coupon_template_ids`) });
      }
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      await api.put("/admin/tiers", { tiers });
      ui.toast("等级已保存");
      await onSaved();
    }, { submit: "保存等级" });
  }

  // ---- earn rules -------------------------------------------------------------------------------------

  function earnForm(rules, onSaved) {
    const byChannel = Object.fromEntries(rules.map((rule) => [rule.channel, rule]));
    const rows = CHANNELS.map(([channel, label], i) => {
      const rule = byChannel[channel] || { points: 1, per_yuan: 1, rounding: "floor", bonus_pct: 100,
        store_bonus_pct: {}, excluded_categories: [] };
      const p = `earn.${channel}`;
      return el("fieldset", { class: "earn-rule" }, el("legend", {}, label),
        check(`${p}.enabled`, `${label}可获得积分`, !!byChannel[channel]),
        el("div", { class: "columns compact" },
          ui.field("每", num(`${p}.per_yuan`, rule.per_yuan, { min: 1 }), { hint: "元" }),
          ui.field("得积分", num(`${p}.points`, rule.points, { min: 0 })),
          ui.field("取整", ui.select(`${p}.rounding`, ROUNDING, rule.rounding)),
          ui.field("渠道加成（%）", num(`${p}.bonus_pct`, rule.bonus_pct, { min: 100, max: 1000 })),
          ui.field("门店加成", ui.input(`${p}.store_bonus_pct`,
            Object.entries(rule.store_bonus_pct || {}).map(([s, v]) => `${s}:${v}`).join(", ")),
          { hint: "门店ID:百分比，如 3:150" }),
          ui.field("不计积分品类", ui.input(`${p}.excluded_categories`, (rule.excluded_categories || []).join(", ")),
            { hint: "以逗号分隔" })),
        // The API's paths are by position in the list it gets; these slots take its errors.
        el("div", { "data-field": `earn_rules.${i}` }, el("p", { class: "field-error", hidden: true, role: "alert" })));
    });
    return ui.form(rows, async (form) => {
      const r = reader(form);
      const earnRules = [];
      for (const [channel] of CHANNELS) {
        const p = `earn.${channel}`;
        if (!r.checked(`${p}.enabled`)) continue;
        const bonuses = {};
        for (const pair of splitList(r.text(`${p}.store_bonus_pct`))) {
          const match = /^(\d+)[:：](\d+)$/.exec(pair);
          if (!match) { r.errors[`${p}.store_bonus_pct`] = "格式：门店ID:百分比，以逗号分隔"; break; }
          bonuses[match[1]] = Number(match[2]);
        }
        earnRules.push({ channel, points: r.int(`${p}.points`), per_yuan: r.int(`${p}.per_yuan`),
          rounding: r.text(`${p}.rounding`), bonus_pct: r.int(`${p}.bonus_pct`), store_bonus_pct: bonuses,
          excluded_categories: splitList(r.text(`${p}.excluded_categories`)) });
      }
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      // The API answers by position in the list sent: move its slots onto the channels sent.
      const slots = [...form.querySelectorAll('[data-field^="earn_rules."]')];
      const sent = earnRules.map((rule) => CHANNELS.findIndex(([c]) => c === rule.channel));
      slots.forEach((slot, i) => { slot.dataset.field = `earn_rules.x${i}`; });
      sent.forEach((channelIndex, position) => { slots[channelIndex].dataset.field = `earn_rules.${position}`; });
      await api.put("/admin/earn-rules", { earn_rules: earnRules });
      ui.toast("积分规则已保存");
      await onSaved();
    }, { submit: "保存积分规则" });
  }

  // ---- the rest of the program (sent back whole) ------------------------------------------------------

  // The program as the API has it now, with `change` put in: a section given as an object (checkin,
  // referral, points_expiry) replaces the fields it names and keeps the others.
  async function saveProgram(change) {
    const program = await api.get("/admin/loyalty-program");
    const merged = { ...program };
    const plain = (v) => v && typeof v === "object" && !Array.isArray(v);
    for (const [key, value] of Object.entries(change)) {
      merged[key] = plain(value) && plain(program[key]) ? { ...program[key], ...value } : value;
    }
    await api.put("/admin/loyalty-program", merged);
  }

  // Coupon templates as [id, label] for the pickers; a chosen id the list does not have still shows.
  function templateOptions(templates, chosen = []) {
    const options = templates.map((t) => [t.id, `${t.name}（${TEMPLATE_STATUS[t.status] || t.status}）`]);
    for (const id of chosen) {
      if (id !== null && id !== undefined && !templates.some((t) => String(t.id) === String(id))) {
        options.push([id, `券模板 #${id}`]);
      }
    }
    return options;
  }

  function multiSelect(name, options, chosen) {
    const picked = new Set((chosen || []).map(String));
    const node = el("select", { name, multiple: true, size: Math.min(Math.max(options.length, 2), 6) });
    for (const [value, label] of options) {
      const on = picked.has(String(value));
      node.append(el("option", { value: String(value), selected: on, defaultSelected: on }, label));
    }
    return node;
  }

  function policyForm(program, onSaved) {
    const policy = ui.select("points_expiry.policy", EXPIRY, program.points_expiry.policy);
    const months = ui.field("过期月数", num("points_expiry.months", program.points_expiry.months, { min: 1, max: 120 }));
    const sync = () => { months.hidden = policy.value !== "rolling_months"; };
    policy.addEventListener("change", sync);
    const form = ui.form([
      el("div", { class: "columns compact" },
        ui.field("等级评定依据", ui.select("tier_measure", MEASURES, program.tier_measure)),
        ui.field("统计周期（天）", num("tier_window_days", program.tier_window_days, { min: 30, max: 1095 })),
        ui.field("等级保级期（天）", num("tier_retention_days", program.tier_retention_days, { min: 0, max: 1095 }),
          { hint: "升级后至少保留这么久才会降级" }),
        ui.field("积分有效期", policy), months,
        ui.field("多少积分抵 1 元", num("redeem_points_per_yuan", program.redeem_points_per_yuan, { min: 1 })),
        ui.field("注册赠送积分", num("registration_points", program.registration_points, { min: 0 }))),
    ], async (node) => {
      const r = reader(node);
      const change = { tier_measure: r.text("tier_measure"), tier_window_days: r.int("tier_window_days"),
        tier_retention_days: r.int("tier_retention_days"),
        points_expiry: { policy: r.text("points_expiry.policy"), months: r.int("points_expiry.months") },
        redeem_points_per_yuan: r.int("redeem_points_per_yuan"), registration_points: r.int("registration_points") };
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      await saveProgram(change);
      ui.toast("评定与有效期已保存");
      await onSaved();
    }, { submit: "保存评定与有效期" });
    sync();
    return form;
  }

  // ---- daily check-in ---------------------------------------------------------------------------------

  function checkinForm(program, templates, onSaved) {
    const checkin = program.checkin || { enabled: false, cycle_days: 7, daily_points: 5, rewards: [] };
    const coupons = templateOptions(templates, (checkin.rewards || []).map((reward) => reward.coupon_template_id));
    const list = rowList({
      rows: checkin.rewards || [],
      addLabel: "添加签到奖励",
      removeLabel: "删除奖励",
      blank: (items) => ({ day: items.length ? Math.max(...items.map((row) => Number(row.day) || 0)) + 1 : 7,
        points: "", coupon_template_id: null }),
      read: (form, i) => ({ day: form.elements[`checkin.rewards.${i}.day`].value,
        points: form.elements[`checkin.rewards.${i}.points`].value,
        coupon_template_id: form.elements[`checkin.rewards.${i}.coupon_template_id`].value || null }),
      draw: (row, i, remove) => {
        const p = `checkin.rewards.${i}`;
        return el("fieldset", { class: "checkin-reward", "data-field": p }, el("legend", {}, `奖励 ${i + 1}`),
          el("p", { class: "field-error", hidden: true, role: "alert" }),
          el("div", { class: "columns compact" },
            ui.field("第几天", num(`${p}.day`, row.day, { min: 1, max: 31 }), { hint: "连续签到的第几天" }),
            ui.field("积分", num(`${p}.points`, row.points, { min: 0 })),
            ui.field("赠券", ui.select(`${p}.coupon_template_id`, [["", "不赠券"], ...coupons],
              row.coupon_template_id ?? ""))),
          remove);
      },
    });
    const form = ui.form([
      // The program's rules about check-in as a whole (a day beyond the cycle, a day twice) land here.
      el("div", { "data-field": "checkin" }, el("p", { class: "field-error", hidden: true, role: "alert" })),
      check("checkin.enabled", "开启签到", checkin.enabled),
      el("div", { class: "columns compact" },
        ui.field("签到周期（天）", num("checkin.cycle_days", checkin.cycle_days, { min: 1, max: 31 }),
          { hint: "连续签到满这么多天后从第 1 天重新开始" }),
        ui.field("每日签到积分", num("checkin.daily_points", checkin.daily_points, { min: 0 }),
          { hint: "没有单独奖励的日子得这么多积分" })),
      el("div", { "data-field": "checkin.rewards" }, el("h4", {}, "连续签到奖励"),
        el("p", { class: "field-error", hidden: true, role: "alert" }), list),
    ], async (node) => {
      const r = reader(node);
      const rewards = [];
      for (let i = 0; i < list.count(); i += 1) {
        const p = `checkin.rewards.${i}`;
        const coupon = r.text(`${p}.coupon_template_id`);
        rewards.push({ day: r.int(`${p}.day`), points: r.int(`${p}.points`),
          coupon_template_id: coupon ? Number(coupon) : null });
      }
      const change = { checkin: { enabled: r.checked("checkin.enabled"), cycle_days: r.int("checkin.cycle_days"),
        daily_points: r.int("checkin.daily_points"), rewards } };
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      await saveProgram(change);
      ui.toast("签到设置已保存");
      await onSaved();
    }, { submit: "保存签到设置" });
    return form;
  }

  // ---- referral ---------------------------------------------------------------------------------------

  function referralForm(program, templates, onSaved) {
    const referral = program.referral || { invitee_coupon_template_ids: [], referrer_coupon_template_ids: [],
      referrer_reward_on: "first_order" };
    const invitee = referral.invitee_coupon_template_ids || [];
    const referrer = referral.referrer_coupon_template_ids || [];
    const hint = templates.length ? "按住 Ctrl（Mac 为 ⌘）可多选；不选为不赠券" : "还没有券模板";
    return ui.form([
      el("div", { "data-field": "referral" }, el("p", { class: "field-error", hidden: true, role: "alert" })),
      el("div", { class: "columns compact" },
        ui.field("被邀请人注册积分", num("invitee_points", program.invitee_points, { min: 0 })),
        ui.field("邀请人积分", num("referrer_points", program.referrer_points, { min: 0 })),
        ui.field("邀请人奖励时机", ui.select("referral.referrer_reward_on", REWARD_ON,
          referral.referrer_reward_on || "first_order"), { hint: "邀请人的积分和赠券在此时发放" })),
      el("div", { class: "columns" },
        ui.field("被邀请人赠券", multiSelect("referral.invitee_coupon_template_ids", templateOptions(templates, invitee),
          invitee), { hint: `${hint}；注册时发放` }),
        ui.field("邀请人赠券", multiSelect("referral.referrer_coupon_template_ids", templateOptions(templates, referrer),
          referrer), { hint })),
    ], async (node) => {
      const r = reader(node);
      const chosen = (name) => [...node.elements[name].selectedOptions].map((option) => Number(option.value));
      const change = { invitee_points: r.int("invitee_points"), referrer_points: r.int("referrer_points"),
        referral: { invitee_coupon_template_ids: chosen("referral.invitee_coupon_template_ids"),
          referrer_coupon_template_ids: chosen("referral.referrer_coupon_template_ids"),
          referrer_reward_on: r.text("referral.referrer_reward_on") } };
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      await saveProgram(change);
      ui.toast("邀请有礼已保存");
      await onSaved();
    }, { submit: "保存邀请有礼" });
  }

  // ---- top-up bonuses ---------------------------------------------------------------------------------

  function topupForm(program, onSaved) {
    const list = rowList({
      rows: program.topup_bonuses,
      addLabel: "添加赠送档位",
      removeLabel: "删除档位",
      blank: () => ({ min_amount_cents: "", bonus_cents: "", name: "", channels: ["store", "online"] }),
      read: (form, i) => {
        const p = `topup_bonuses.${i}`;
        const value = (name) => form.elements[`${p}.${name}`].value;
        return { min_amount_cents: value("min_amount_cents"), bonus_cents: value("bonus_cents"), name: value("name"),
          channels: value("channels").split(","), starts_at: fmt.fromLocalInput(value("starts_at")),
          ends_at: fmt.fromLocalInput(value("ends_at")), code: value("code"),
          per_member_limit: value("per_member_limit"), text: true };
      },
      draw: (row, i, remove) => {
        const p = `topup_bonuses.${i}`;
        const yuan = (cents) => (row.text ? cents : fmt.centsToYuanText(cents));
        const channels = (row.channels || ["store", "online"]).join(",");
        return el("fieldset", { class: "topup", "data-field": p }, el("legend", {}, `档位 ${i + 1}`),
          el("p", { class: "field-error", hidden: true, role: "alert" }),
          el("div", { class: "columns compact" },
            ui.field("单次充值满（元）", ui.input(`${p}.min_amount_cents`, yuan(row.min_amount_cents), { inputmode: "decimal" })),
            ui.field("赠送（元）", ui.input(`${p}.bonus_cents`, yuan(row.bonus_cents), { inputmode: "decimal" })),
            ui.field("名称（选填）", ui.input(`${p}.name`, row.name || "", { maxlength: "40" })),
            ui.field("适用渠道", ui.select(`${p}.channels`, TOPUP_CHANNELS, channels))),
          el("div", { class: "columns compact" },
            ui.field("开始时间（选填）", ui.input(`${p}.starts_at`, fmt.toLocalInput(row.starts_at), { type: "datetime-local" })),
            ui.field("结束时间（选填）", ui.input(`${p}.ends_at`, fmt.toLocalInput(row.ends_at), { type: "datetime-local" }))),
          el("div", { class: "columns compact" },
            ui.field("方案代码（限享时必填）", ui.input(`${p}.code`, row.code || "", { maxlength: "20" })),
            ui.field("每人限享次数（选填）", num(`${p}.per_member_limit`, row.per_member_limit, { min: "1" }))),
          remove);
      },
    });
    return ui.form([el("p", { class: "hint" }, "一次充值按该渠道当时适用的、满足的最高档位赠送（设了每人限享次数的档位，用完后按次高档位）；没有档位即不赠送。"), list], async (node) => {
      const r = reader(node);
      const bonuses = [];
      for (let i = 0; i < list.count(); i += 1) {
        const p = `topup_bonuses.${i}`;
        const name = r.text(`${p}.name`);
        const code = r.text(`${p}.code`);
        const limit = r.text(`${p}.per_member_limit`) ? r.int(`${p}.per_member_limit`) : null;
        bonuses.push({ min_amount_cents: r.cents(`${p}.min_amount_cents`), bonus_cents: r.cents(`${p}.bonus_cents`),
          name: name || null, channels: r.text(`${p}.channels`).split(","),
          starts_at: fmt.fromLocalInput(r.text(`${p}.starts_at`)), ends_at: fmt.fromLocalInput(r.text(`${p}.ends_at`)),
          code: code || null, per_member_limit: limit });
      }
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      await saveProgram({ topup_bonuses: bonuses });
      ui.toast("储值赠送已保存");
      await onSaved();
    }, { submit: "保存储值赠送" });
  }

  // ---- paid membership plans (付费会员) ---------------------------------------------------------------

  // A monthly pack as typed: "12×2, 15" (template id × count, 1 when left out); null when it is not that.
  function parsePack(text) {
    const items = splitList(String(text || "").replace(/\s*[×xX*]\s*/g, "×"));
    const pack = [];
    for (const item of items) {
      const match = /^(\d+)(?:×(\d+))?$/.exec(item);
      if (!match) return null;
      pack.push({ template_id: Number(match[1]), count: Number(match[2] || 1) });
    }
    return pack;
  }
  const packText = (pack) => (pack || []).map((item) => `${item.template_id}×${item.count}`).join(", ");

  function membershipForm(settings, templates, onSaved) {
    const names = new Map(templates.map((t) => [String(t.id), t.name]));
    const list = rowList({
      rows: settings.plans,
      addLabel: "添加会员方案",
      removeLabel: "删除方案",
      blank: () => ({ code: "", name: "", period: "month", price_cents: "", on_sale: true, discount_pct: 100,
        points_multiplier_pct: 100, free_shipping: false, monthly_coupons: [], coupon_center_priority: false }),
      read: (form, i) => {
        const p = `plans.${i}`;
        const value = (name) => form.elements[`${p}.${name}`].value;
        const on = (name) => form.elements[`${p}.${name}`].checked;
        return { code: value("code"), name: value("name"), period: value("period"), price_cents: value("price_cents"),
          on_sale: on("on_sale"), discount_pct: value("discount_pct"), points_multiplier_pct: value("points_multiplier_pct"),
          free_shipping: on("free_shipping"), monthly_coupons: value("monthly_coupons"),
          coupon_center_priority: on("coupon_center_priority"), text: true };
      },
      draw: (row, i, remove) => {
        const p = `plans.${i}`;
        const pack = row.text ? row.monthly_coupons : packText(row.monthly_coupons);
        const contents = (parsePack(pack) || []).map((item) =>
          `${names.get(String(item.template_id)) || `券模板 #${item.template_id}`} ×${item.count}`).join("、");
        return el("fieldset", { class: "membership-plan", "data-field": p }, el("legend", {}, `方案 ${i + 1}`),
          el("p", { class: "field-error", hidden: true, role: "alert" }),
          el("div", { class: "columns compact" },
            ui.field("方案代码", ui.input(`${p}.code`, row.code || "", { maxlength: "20" }),
              { hint: "小写字母、数字或下划线，保存后请勿修改" }),
            ui.field("方案名称", ui.input(`${p}.name`, row.name || "", { maxlength: "20" })),
            ui.field("周期", ui.select(`${p}.period`, PERIODS, row.period)),
            ui.field("价格（元）", ui.input(`${p}.price_cents`, row.text ? row.price_cents : fmt.centsToYuanText(row.price_cents),
              { inputmode: "decimal" }))),
          el("div", { class: "columns compact" },
            ui.field("会员价（%）", num(`${p}.discount_pct`, row.discount_pct, { min: 1, max: 100 }),
              { hint: "95 即 95 折，100 为不打折；与等级折扣取更优的一项" }),
            ui.field("积分倍数（%）", num(`${p}.points_multiplier_pct`, row.points_multiplier_pct, { min: 100, max: 1000 }),
              { hint: "150 即 1.5 倍，与等级倍数相乘" }),
            ui.field("每月券包", ui.input(`${p}.monthly_coupons`, pack, { placeholder: "如 12×2, 15×1" }),
              { hint: contents ? `券模板 ID×张数：${contents}` : "券模板 ID×张数，以逗号分隔；不填即无券包" })),
          el("div", { class: "columns compact" },
            check(`${p}.on_sale`, "在售（小程序可购买）", row.on_sale),
            check(`${p}.free_shipping`, "线上包邮", row.free_shipping),
            check(`${p}.coupon_center_priority`, "领券优先", row.coupon_center_priority)),
          remove);
      },
    });
    const refundDays = ui.field("退款冷静期（天）", num("refund_days", settings.refund_days, { min: 0, max: 90 }),
      { hint: "购买后这些天内、且未使用任何权益的最后一期可退款" });
    return ui.form([el("p", { class: "hint" }, "会员在小程序用微信支付购买或续费，续费的时长接在当前有效期之后；已购买的会员期保留购买时的权益。"),
      list, refundDays], async (node) => {
      const r = reader(node);
      const plans = [];
      for (let i = 0; i < list.count(); i += 1) {
        const p = `plans.${i}`;
        const pack = parsePack(r.text(`${p}.monthly_coupons`));
        if (pack === null) r.errors[`${p}.monthly_coupons`] = "请按“券模板 ID×张数”填写，以逗号分隔";
        plans.push({ code: r.text(`${p}.code`), name: r.text(`${p}.name`), period: r.text(`${p}.period`),
          price_cents: r.cents(`${p}.price_cents`), on_sale: r.checked(`${p}.on_sale`),
          discount_pct: r.int(`${p}.discount_pct`), points_multiplier_pct: r.int(`${p}.points_multiplier_pct`),
          free_shipping: r.checked(`${p}.free_shipping`), monthly_coupons: pack || [],
          coupon_center_priority: r.checked(`${p}.coupon_center_priority`) });
      }
      const days = r.int("refund_days");
      if (Object.keys(r.errors).length) throw invalid(r.errors);
      await api.put("/admin/membership-plans", { plans, refund_days: days });
      ui.toast("付费会员方案已保存");
      await onSaved();
    }, { submit: "保存付费会员" });
  }

  C.register({
    path: "/loyalty",
    title: "等级与规则",
    nav: { group: "忠诚度", label: "等级与规则", order: 10 },
    async render(view) {
      const [settings, earn, program, templates, membership] = await Promise.all([
        api.get("/admin/tiers"), api.get("/admin/earn-rules"), api.get("/admin/loyalty-program"),
        api.all("/admin/coupon-templates").catch(() => []), api.get("/admin/membership-plans")]);
      const admin = C.can(["admin"]);
      const reload = () => C.render();
      const guard = (form) => (admin ? form : readOnly(form));
      view.append(ui.header("等级与规则"));
      if (!admin) view.append(ui.notice("仅管理员可以修改忠诚度规则；你可以查看当前设置。", "info"));
      view.append(
        ui.section("会员等级", el("p", { class: "hint" },
          `按${(MEASURES.find(([m]) => m === settings.measure) || [null, settings.measure])[1]}评定，`
          + `统计最近 ${settings.window_days} 天，保级 ${settings.retention_days} 天。`),
        guard(tiersForm(settings, reload))),
        ui.section("积分规则", guard(earnForm(earn.earn_rules, reload))),
        ui.section("等级评定与积分有效期", guard(policyForm(program, reload))),
        ui.section("每日签到", guard(checkinForm(program, templates, reload))),
        ui.section("邀请有礼", guard(referralForm(program, templates, reload))),
        ui.section("储值赠送", guard(topupForm(program, reload))),
        ui.section("付费会员", guard(membershipForm(membership, templates, reload))));
    },
  });
})();
