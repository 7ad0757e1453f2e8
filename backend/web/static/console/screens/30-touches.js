// Touches (触达): the list, the create/edit form (audience, channels in order, template with a
// rendered preview, coupon, schedule in words, hold-out, capped behaviour), and a touch's page with
// its state actions, the dry-run counts and the stats (funnel and treated vs hold-out).
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const STATUS = { draft: "草稿", scheduled: "已排期", running: "进行中", paused: "已暂停", finished: "已结束" };
  const CHANNELS = { sms: "短信", email: "邮件", wechat: "微信订阅消息" };
  const EVENTS = { registered: "注册后", first_order: "首单后", order_placed: "每次下单后",
    tier_changed: "等级变化后", coupon_redeemed: "核销优惠券后" };
  const CAP = { drop: "放弃发送（超出频次上限即不发）", defer: "顺延（到可发送时再发）" };
  // Weekdays as the form writes them (names); numbers as crontab counts them: 0 and 7 Sunday, 1 Monday
  // (the scheduler reads them so: jobs/cron.py).
  const DAYS = [["mon", "一"], ["tue", "二"], ["wed", "三"], ["thu", "四"], ["fri", "五"], ["sat", "六"], ["sun", "日"]];
  const ACTIONS = {
    schedule: ["排期", ["draft"]], pause: ["暂停", ["scheduled", "running"]],
    resume: ["恢复", ["paused"]], finish: ["结束", ["draft", "scheduled", "running", "paused"]],
  };
  const pad = (n) => String(n).padStart(2, "0");

  // "0 10 * * mon,wed" -> "每周一、三 10:00"; null when the cron is not a weekly one the form writes.
  function cronWords(cron) {
    const match = /^(\d{1,2}) (\d{1,2}) \* \* (\S+)$/.exec(String(cron || "").trim());
    if (!match) return null;
    const time = `${pad(match[2])}:${pad(match[1])}`;
    if (match[3] === "*") return `每天 ${time}`;
    const days = [];
    for (const part of match[3].split(",")) {
      const index = /^[0-7]$/.test(part) ? (Number(part) + 6) % 7
        : DAYS.findIndex(([name]) => name === part.toLowerCase());
      if (index < 0 || index > 6) return null;
      days.push(index);
    }
    if (new Set(days).size === 7) return `每天 ${time}`;
    return `每周${[...new Set(days)].sort().map((i) => DAYS[i][1]).join("、")} ${time}`;
  }

  function scheduleWords(touch) {
    const s = touch.schedule || {};
    if (touch.audience && touch.audience.event) {
      const delay = touch.audience.delay_hours ? ` ${touch.audience.delay_hours} 小时` : "立即";
      return `${EVENTS[touch.audience.event] || touch.audience.event}${delay}发送`;
    }
    if (s.at) return `一次：${fmt.dateTime(s.at)}`;
    if (s.cron) {
      const words = cronWords(s.cron) || `cron ${s.cron}`;
      return s.until ? `${words}（至 ${fmt.dateTime(s.until)}）` : words;
    }
    return "—";
  }

  // A run's period: "once", "event", or the minute of a repeating run (merchant time).
  const periodWords = (period) => ({ once: "已运行（一次性）", event: "事件触发" }[period]
    || (period ? period.replace("T", " ") : "—"));

  const statusBadge = (status) => ui.badge(STATUS[status] || status, status);

  function audienceWords(touch, segmentNames = {}) {
    const a = touch.audience || {};
    if (a.event) return `事件：${EVENTS[a.event] || a.event}`;
    return `人群：${segmentNames[a.segment_id] || `#${a.segment_id}`}`;
  }

  // ---- list ------------------------------------------------------------------------------------

  C.register({
    path: "/touches",
    title: "触达",
    nav: { group: "营销", label: "触达", order: 20 },
    async render(view) {
      view.append(ui.header("触达", el("a", { class: "button primary", href: "#/touches/new" }, "新建触达")));
      const pager = ui.pager({
        load: (cursor) => api.get("/admin/touches", { cursor, limit: 20 }),
        caption: "触达列表",
        empty: "还没有触达。点击“新建触达”开始。",
        columns: [
          { label: "名称", render: (t) => el("a", { href: `#/touches/${t.id}` }, t.name) },
          { label: "状态", render: (t) => statusBadge(t.status) },
          { label: "受众", render: (t) => audienceWords(t) },
          { label: "时间安排", render: (t) => scheduleWords(t) },
          { label: "下次运行", render: (t) => (t.next_run_at ? fmt.dateTime(t.next_run_at) : "—") },
          { label: "上次运行", render: (t) => periodWords(t.last_period) },
        ],
      });
      view.append(ui.section(null, pager));
      await pager.ready;
    },
  });

  // ---- form ------------------------------------------------------------------------------------

  function channelOrder(selected) {
    // Every channel, chosen ones first in their order; each a checkbox and move buttons.
    const order = [...selected, ...Object.keys(CHANNELS).filter((c) => !selected.includes(c))];
    const list = el("ol", { class: "touch-channels" });
    const chosen = new Set(selected);
    const changed = () => list.dispatchEvent(new Event("channels-change"));
    function draw() {
      C.clear(list);
      order.forEach((channel, index) => {
        const box = el("input", { type: "checkbox", name: `channel-${channel}`, checked: chosen.has(channel),
          onchange: (event) => { if (event.target.checked) chosen.add(channel); else chosen.delete(channel); changed(); } });
        const move = (delta) => () => {
          const target = index + delta;
          if (target < 0 || target >= order.length) return;
          [order[index], order[target]] = [order[target], order[index]];
          draw();
          changed();
          list.querySelector(`[data-move="${channel}:${delta}"]`)?.focus();
        };
        list.append(el("li", {},
          ui.field(`${index + 1}. ${CHANNELS[channel]}`, box),
          ui.button("上移", move(-1), { class: "small", disabled: index === 0, "aria-label": `上移${CHANNELS[channel]}`,
            "data-move": `${channel}:-1` }),
          ui.button("下移", move(1), { class: "small", disabled: index === order.length - 1,
            "aria-label": `下移${CHANNELS[channel]}`, "data-move": `${channel}:1` })));
      });
    }
    draw();
    list.value = () => order.filter((c) => chosen.has(c));
    return list;
  }

  function renderedPreview(channel, answer) {
    if (!answer) return el("p", { class: "muted" }, "此模板没有该渠道的内容");
    if (!answer.ok) return ui.notice(`无法发送：${answer.problem}`, "error");
    const pairs = [];
    const names = { text: "正文", subject: "主题", html: "HTML", template_id: "模板编号", params: "参数", data: "数据", page: "页面" };
    for (const [name, value] of Object.entries(answer.rendered || {})) {
      if (value === null || value === undefined || name === "html") continue;
      pairs.push([names[name] || name, typeof value === "string" ? value : JSON.stringify(value)]);
    }
    return ui.dl(pairs);
  }

  async function touchForm(view, touch) {
    const [segmentList, templateList, couponList] = await Promise.all([
      api.all("/admin/segments"), api.get("/admin/message-templates"), api.all("/admin/coupon-templates")]);
    const marketing = templateList.items.filter((t) => t.purpose === "marketing" || (touch && t.key === touch.template_key));
    const a = (touch && touch.audience) || {};
    const s = (touch && touch.schedule) || {};

    const name = ui.input("name", touch ? touch.name : "", { maxlength: 64, required: true });
    const kind = ui.select("audience_kind", [["segment", "人群（按时间发送）"], ["event", "事件触发（逐个会员）"]],
      a.event ? "event" : "segment");
    const segment = ui.select("audience.segment_id", [["", "请选择人群"], ...segmentList.map((g) => [g.id, g.name])],
      a.segment_id);
    const event = ui.select("audience.event", Object.entries(EVENTS), a.event || "registered");
    const delay = ui.input("audience.delay_hours", a.delay_hours ?? 0, { type: "number", min: 0, step: 1 });
    const channels = channelOrder((touch && touch.channels) || ["sms"]);
    const template = ui.select("template_key", [["", "请选择消息模板"], ...marketing.map((t) => [t.key, `${t.name}（${t.key}）`])],
      touch && touch.template_key);
    const coupon = ui.select("coupon_template_id", [["", "不发券"], ...couponList.map((c) => [c.id, c.name])],
      touch && touch.coupon_template_id);
    const repeating = !!s.cron;
    const scheduleKind = ui.select("schedule_kind", [["once", "一次"], ["repeat", "每周重复"]], repeating ? "repeat" : "once");
    const at = ui.input("schedule.at", fmt.toLocalInput(s.at), { type: "datetime-local" });
    const cronMatch = /^(\d{1,2}) (\d{1,2}) \* \* (\S+)$/.exec(s.cron || "");
    const dayBoxes = DAYS.map(([day, label], index) => {
      let on = false;
      if (cronMatch) {
        const parts = cronMatch[3] === "*" ? DAYS.map(([d]) => d) : cronMatch[3].split(",");
        on = parts.some((p) => p === day || p === String(index));
      }
      return el("input", { type: "checkbox", name: `day-${day}`, value: day, checked: on });
    });
    const time = ui.input("schedule_time", cronMatch ? `${pad(cronMatch[2])}:${pad(cronMatch[1])}` : "10:00", { type: "time" });
    const until = ui.input("schedule.until", fmt.toLocalInput(s.until), { type: "datetime-local" });
    const words = el("p", { class: "hint touch-words", "aria-live": "polite" });
    const holdout = ui.input("holdout_pct", touch ? touch.holdout_pct : 0, { type: "number", min: 0, max: 50, step: 1 });
    const attribution = ui.input("attribution_days", touch ? touch.attribution_days : 7, { type: "number", min: 1, max: 90 });
    const cap = ui.select("cap_behaviour", Object.entries(CAP), touch ? touch.cap_behaviour : "drop");
    const expires = ui.input("expires_hours", touch && touch.expires_hours ? touch.expires_hours : "",
      { type: "number", min: 1, max: 720 });

    function cron() {
      const days = DAYS.filter((_, i) => dayBoxes[i].checked).map(([d]) => d);
      const [h, m] = (time.value || "").split(":");
      if (!days.length || h === undefined || m === undefined) return null;
      return `${Number(m)} ${Number(h)} * * ${days.length === 7 ? "*" : days.join(",")}`;
    }
    const segmentBox = el("div", {}, ui.field("人群", segment, { name: "audience.segment_id", hint: "发送时按人群规则实时圈选会员" }));
    const eventBox = el("div", {}, ui.field("触发事件", event, { name: "audience.event" }),
      ui.field("延迟（小时）", delay, { name: "audience.delay_hours", hint: "事件发生多久后发送，0 为立即" }));
    const onceBox = el("div", {}, ui.field("发送时间", at, { name: "schedule.at" }));
    const repeatBox = el("div", {},
      el("fieldset", { class: "touch-days", "data-field": "schedule.cron" }, el("legend", {}, "每周哪几天"),
        dayBoxes.map((box, i) => ui.field(`周${DAYS[i][1]}`, box)),
        el("p", { class: "field-error", hidden: true })),
      ui.field("时间", time, { name: "schedule_time" }),
      ui.field("截止时间（可选）", until, { name: "schedule.until", hint: "此后不再运行" }), words);
    const scheduleBox = el("div", {}, ui.field("发送方式", scheduleKind, { name: "schedule" }), onceBox, repeatBox);

    function sync() {
      const isEvent = kind.value === "event";
      segmentBox.hidden = isEvent;
      eventBox.hidden = !isEvent;
      scheduleBox.hidden = isEvent;
      onceBox.hidden = scheduleKind.value !== "once";
      repeatBox.hidden = scheduleKind.value !== "repeat";
      const c = cron();
      words.textContent = c ? `将于 ${cronWords(c)} 发送` : "请选择至少一天和时间";
    }
    [kind, scheduleKind, time, ...dayBoxes].forEach((node) => node.addEventListener("change", sync));
    sync();

    const previewBox = el("div", { class: "touch-preview", "aria-live": "polite" });
    let previewSeq = 0;
    async function preview() {
      const seq = ++previewSeq;
      C.clear(previewBox);
      if (!template.value) { previewBox.append(el("p", { class: "muted" }, "选择模板后显示示例会员收到的内容")); return; }
      try {
        const answer = await api.post(`/admin/message-templates/${encodeURIComponent(template.value)}/preview`, {});
        if (seq !== previewSeq) return;
        const order = channels.value().length ? channels.value() : Object.keys(answer.channels);
        previewBox.append(el("p", { class: "muted" }, "示例会员收到的内容（按渠道优先顺序）："));
        for (const channel of order) {
          previewBox.append(el("div", { class: "touch-preview-channel", "data-channel": channel },
            el("h4", {}, CHANNELS[channel] || channel), renderedPreview(channel, answer.channels[channel])));
        }
      } catch (error) {
        if (seq === previewSeq) previewBox.append(ui.errorNotice(error));
      }
    }
    template.addEventListener("change", preview);
    channels.addEventListener("channels-change", preview);
    preview();

    const form = ui.form([
      ui.field("名称", name, { name: "name" }),
      ui.section("受众", ui.field("受众类型", kind, { name: "audience" }), segmentBox, eventBox),
      ui.section("渠道与内容",
        el("div", { class: "field", "data-field": "channels" },
          el("p", { class: "label", id: "touch-channels-label" }, "渠道（按优先顺序，首个可送达的渠道发送）"),
          channels, el("p", { class: "field-error", hidden: true })),
        ui.field("消息模板", template, { name: "template_key" }), previewBox,
        ui.field("附带优惠券", coupon, { name: "coupon_template_id" })),
      ui.section("时间安排", scheduleBox),
      ui.section("效果与规则",
        ui.field("对照组比例（%）", holdout, { name: "holdout_pct", hint: "这部分会员不发送，用来衡量提升；0–50" }),
        ui.field("归因天数", attribution, { name: "attribution_days", hint: "发送后多少天内下单计为转化" }),
        ui.field("超出频次上限时", cap, { name: "cap_behaviour" }),
        ui.field("消息有效期（小时，可选）", expires, { name: "expires_hours", hint: "到时仍未发出则放弃" })),
    ], async () => {
      const isEvent = kind.value === "event";
      const number = (node) => (node.value === "" ? null : Number(node.value));
      const body = {
        name: name.value.trim(),
        audience: isEvent ? { event: event.value, delay_hours: number(delay) ?? 0 }
          : { segment_id: number(segment) },
        channels: channels.value(),
        template_key: template.value,
        coupon_template_id: number(coupon),
        schedule: isEvent ? {} : scheduleKind.value === "once" ? { at: fmt.fromLocalInput(at.value) }
          : { cron: cron() || "", ...(until.value ? { until: fmt.fromLocalInput(until.value) } : {}) },
        cap_behaviour: cap.value,
        attribution_days: number(attribution),
        holdout_pct: number(holdout),
        expires_hours: number(expires),
      };
      if (body.schedule.at === null) delete body.schedule.at;
      const saved = touch ? await api.put(`/admin/touches/${touch.id}`, body) : await api.post("/admin/touches", body);
      ui.toast(touch ? "已保存" : "已创建触达（草稿）");
      C.navigate(`/touches/${saved.id}`);
    }, { submit: touch ? "保存" : "创建", extra: [el("a", { class: "button", href: touch ? `#/touches/${touch.id}` : "#/touches" }, "取消")] });
    // A corrected field (or a part of it: audience.segment_id for audience) drops its error.
    const settle = (event) => {
      const own = event.target.closest("[data-field]");
      if (!own) return;
      const path = own.dataset.field;
      form.querySelectorAll(".invalid[data-field]").forEach((node) => {
        const name = node.dataset.field;
        if (path !== name && !path.startsWith(`${name}.`)) return;
        node.classList.remove("invalid");
        const slot = node.querySelector(".field-error");
        if (slot) { slot.hidden = true; slot.textContent = ""; }
        node.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
      });
    };
    form.addEventListener("change", settle);
    form.addEventListener("input", settle);
    view.append(form);
  }

  C.register({
    path: "/touches/new",
    title: "新建触达",
    async render(view) {
      view.append(ui.header("新建触达"));
      await touchForm(view, null);
    },
  });

  C.register({
    path: "/touches/:id/edit",
    title: "编辑触达",
    async render(view, params) {
      view.append(ui.header("编辑触达"));
      const touch = await api.get(`/admin/touches/${params.id}`);
      if (!["draft", "paused"].includes(touch.status)) {
        view.append(ui.notice(touch.status === "finished" ? "已结束的触达不能修改。"
          : `${STATUS[touch.status]}的触达不能修改；先暂停再编辑。`, "error"),
          el("a", { href: `#/touches/${touch.id}` }, "返回触达"));
        return;
      }
      await touchForm(view, touch);
    },
  });

  // ---- detail ----------------------------------------------------------------------------------

  function dryRunView(dry) {
    if (dry.audience === null) return ui.notice(dry.note || "事件触达无法预演");
    const would = dry.would || {};
    const sent = Object.entries(would.sent || {});
    const rows = [
      ["人群会员", dry.audience], ["触达组（将发送）", dry.treatment], ["对照组（不发送）", dry.holdout],
      ...sent.map(([channel, n]) => [`将发送：${CHANNELS[channel] || channel}`, n]),
      ["无营销授权", would.no_consent], ["超出频次上限（放弃）", would.capped], ["超出频次上限（顺延）", would.deferred],
      ["免打扰时段（顺延）", would.quiet_hours], ["无可用联系方式", would.failed],
    ];
    return el("div", { class: "touch-dry-run" }, ui.table({
      caption: "预演结果（不发送任何消息）",
      columns: [{ label: "项目", render: (r) => r[0] }, { label: "人数", render: (r) => fmt.number(r[1]), class: "num" }],
      rows,
    }));
  }

  function statsView(stats) {
    const f = stats.funnel;
    const steps = [["已排队", f.queued], ["已发送", f.sent], ["已送达", f.delivered], ["已转化", f.converted]];
    const conv = stats.conversions;
    const groups = [["触达组", conv.treatment], ["对照组", conv.holdout]];
    const box = el("div", { class: "touch-stats" });
    box.append(el("div", { class: "columns" },
      el("div", {},
        el("h4", {}, "发送漏斗"),
        ui.chart({
          tooltip: { trigger: "axis" }, grid: { left: 48, right: 16, top: 24, bottom: 32 },
          xAxis: { type: "category", data: steps.map((s) => s[0]) }, yAxis: { type: "value", minInterval: 1 },
          series: [{ type: "bar", name: "数量", data: steps.map((s) => s[1]), label: { show: true, position: "top" } }],
        }, { height: 260, label: `发送漏斗：${steps.map(([n, v]) => `${n} ${v}`).join("，")}` }),
        ui.table({ caption: "发送漏斗", columns: [{ label: "阶段", render: (r) => r[0] },
          { label: "数量", render: (r) => fmt.number(r[1]), class: "num" }], rows: steps })),
      el("div", {},
        el("h4", {}, "转化：触达组 vs 对照组"),
        ui.chart({
          tooltip: { trigger: "axis" }, grid: { left: 48, right: 16, top: 24, bottom: 32 },
          xAxis: { type: "category", data: groups.map((g) => g[0]) },
          yAxis: { type: "value", axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
          series: [{ type: "bar", name: "转化率", data: groups.map((g) => (g[1] ? g[1].conversion_rate : 0)),
            label: { show: true, position: "top", formatter: (p) => fmt.percent(p.value) } }],
        }, { height: 260, label: `转化率：触达组 ${fmt.percent(conv.treatment && conv.treatment.conversion_rate)}，`
          + `对照组 ${fmt.percent(conv.holdout && conv.holdout.conversion_rate)}` }),
        ui.table({
          caption: `转化（归因 ${conv.attribution_days} 天）`,
          columns: [
            { label: "分组", render: (r) => r[0] },
            { label: "会员", render: (r) => fmt.number(r[1] ? r[1].members : 0), class: "num" },
            { label: "转化会员", render: (r) => fmt.number(r[1] ? r[1].converted : 0), class: "num" },
            { label: "订单", render: (r) => fmt.number(r[1] ? r[1].orders : 0), class: "num" },
            { label: "销售额", render: (r) => fmt.yuan(r[1] ? r[1].revenue_cents : 0), class: "num" },
            { label: "转化率", render: (r) => (r[1] ? fmt.percent(r[1].conversion_rate) : "—"), class: "num" },
          ],
          rows: groups,
        }),
        ui.dl([["提升（触达组 − 对照组）", el("strong", { class: "touch-lift" },
          conv.lift === null ? (conv.treatment ? "—（没有对照组）" : "—（尚未运行）") : `${conv.lift >= 0 ? "+" : ""}${(conv.lift * 100).toFixed(1)} 个百分点`)]]))));
    const states = Object.entries(stats.by_channel);
    const names = { queued: "排队中", sent: "已发送", delivered: "已送达", failed: "失败", capped: "频次上限",
      no_consent: "无授权", deferred: "顺延", expired: "已过期", cancelled: "已取消", unknown: "未知", sending: "发送中" };
    const allStates = [...new Set(states.flatMap(([, s]) => Object.keys(s)))];
    box.append(ui.table({
      caption: "各渠道消息状态",
      columns: [{ label: "渠道", render: (r) => (r[0] === "none" ? "未发出" : CHANNELS[r[0]] || r[0]) },
        ...allStates.map((st) => ({ label: names[st] || st, render: (r) => fmt.number(r[1][st] || 0), class: "num" }))],
      rows: states, empty: "还没有消息",
    }));
    box.append(ui.dl([["已发优惠券", fmt.number(stats.coupons.issued)], ["已核销", fmt.number(stats.coupons.redeemed)]]));
    return box;
  }

  C.register({
    path: "/touches/:id",
    title: "触达详情",
    async render(view, params) {
      const id = params.id;
      const [touch, templates] = await Promise.all([api.get(`/admin/touches/${id}`),
        api.get("/admin/message-templates").catch(() => ({ items: [] }))]);
      let segmentName = null;
      if (touch.audience.segment_id) {
        segmentName = await api.get(`/admin/segments/${touch.audience.segment_id}`).then((g) => g.name).catch(() => null);
      }
      let couponName = null;
      if (touch.coupon_template_id) {
        couponName = await api.get(`/admin/coupon-templates/${touch.coupon_template_id}`).then((c) => c.name).catch(() => null);
      }
      const refresh = () => C.navigate(`/touches/${id}`);
      const actions = [];
      if (["draft", "paused"].includes(touch.status)) actions.push(el("a", { class: "button", href: `#/touches/${id}/edit` }, "编辑"));
      for (const [action, [label, from]] of Object.entries(ACTIONS)) {
        if (!from.includes(touch.status)) continue;
        const button = ui.button(label, () => ui.busy(button, async () => {
          if (action === "finish" && !(await ui.confirm({ title: "结束触达", body: "结束后不能再运行或恢复。", ok: "结束", danger: true }))) return;
          await api.post(`/admin/touches/${id}/${action}`);
          ui.toast(`已${label}`);
          refresh();
        }), { kind: action === "finish" ? "danger" : action === "schedule" ? "primary" : "" });
        actions.push(button);
      }
      const dryBox = el("div", { "aria-live": "polite" });
      if (touch.status !== "finished" && !touch.audience.event) {
        const dry = ui.button("预演", () => ui.busy(dry, async () => {
          const answer = await api.post(`/admin/touches/${id}/dry-run`);
          C.clear(dryBox).append(dryRunView(answer));
        }));
        actions.push(dry);
      }
      if (["scheduled", "running"].includes(touch.status)) {
        const runNow = ui.button("立即运行", () => ui.busy(runNow, async () => {
          if (!(await ui.confirm({ title: "立即运行", body: "将立即向人群发送本期消息（每期只发送一次）。", ok: "立即运行" }))) return;
          const result = await api.post(`/admin/touches/${id}/run`);
          const words = { done: "已运行", resumed: "已继续运行", already_done: "本期已运行过", running_elsewhere: "正在其他进程运行",
            failed: "运行失败", finished: "已过截止时间，触达结束" };
          ui.toast(words[result.outcome] || result.outcome, result.outcome === "failed" ? "error" : "ok");
          refresh();
        }), { kind: "primary" });
        actions.push(runNow);
      }
      view.append(ui.header(touch.name, ...actions));
      const tpl = templates.items.find((t) => t.key === touch.template_key);
      view.append(ui.section("概况", ui.dl([
        ["状态", statusBadge(touch.status)],
        ["受众", audienceWords(touch, segmentName ? { [touch.audience.segment_id]: segmentName } : {})],
        ["渠道顺序", touch.channels.length ? touch.channels.map((c) => CHANNELS[c] || c).join(" → ") : "按模板的渠道顺序"],
        ["消息模板", tpl ? `${tpl.name}（${tpl.key}）` : touch.template_key],
        ["优惠券", touch.coupon_template_id ? couponName || `券模板 #${touch.coupon_template_id}` : "不发券"],
        ["时间安排", scheduleWords(touch)],
        ["下次运行", touch.next_run_at ? fmt.dateTime(touch.next_run_at) : "—"],
        ["上次运行", periodWords(touch.last_period)],
        ["对照组比例", `${touch.holdout_pct}%`],
        ["超出频次上限时", CAP[touch.cap_behaviour]],
      ])));
      if (!touch.audience.event && touch.status !== "finished") {
        dryBox.append(el("p", { class: "muted" }, "点击“预演”查看现在运行会发送多少、被拦下多少（不会发送）。"));
      } else {
        dryBox.append(el("p", { class: "muted" }, touch.audience.event ? "事件触达在事件发生时逐个触达，无法预演。"
          : "触达已结束。"));
      }
      view.append(ui.section("预演", dryBox));
      const statsBox = ui.section("效果");
      view.append(statsBox);
      statsBox.append(statsView(await api.get(`/admin/touches/${id}/stats`)));
    },
  });
})();
