// Messaging: lifecycle programs (switch, timing, template, coupon, channels, recent runs), message
// templates with a live per-channel preview, and the sending policy (caps, quiet hours, retries).
// Lengths and billed SMS parts come from the preview API; the screen only shows them.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const CHANNELS = [["sms", "短信"], ["email", "邮件"], ["wechat", "微信订阅消息"]];
  const CHANNEL_NAME = Object.fromEntries(CHANNELS);
  const PURPOSE = { marketing: "营销", service: "服务" };
  const RUN_STATUS = { running: "运行中", done: "完成", failed: "失败" };
  const OUTCOME = { done: "已完成", resumed: "已续跑完成", already_done: "今天已运行过", running_elsewhere: "正在别处运行",
    taken_over: "已被其他进程接管", failed: "运行失败", disabled: "计划已停用，未运行" };
  const WINDOWS = [["hour", "每小时（滚动）"], ["day", "每自然日"], ["week", "每 7 天（滚动）"]];

  // A group of labelled checkboxes (one per channel) inside a fieldset with a legend.
  function channelBoxes(name, legend, checked) {
    const set = el("fieldset", { class: "msg-channels", "data-field": name },
      el("legend", {}, legend), el("p", { class: "field-error", hidden: true }),
      CHANNELS.map(([value, label]) => {
        const box = el("input", { type: "checkbox", name: `${name}:${value}`, value, checked: checked.includes(value) });
        return ui.field(label, box);
      }));
    // The order the channels are tried in: the saved order first, then channels newly ticked.
    const order = [...checked, ...CHANNELS.map(([v]) => v).filter((v) => !checked.includes(v))];
    set.values = () => order.filter((v) => set.querySelector(`input[value="${v}"]`).checked);
    return set;
  }

  // ---- #/programs -------------------------------------------------------------------------------

  function programBody(form, enabled) {
    const value = (name) => form.querySelector(`[name="${name}"]`).value.trim();
    const coupon = value("coupon_template_id");
    const days = value("days");
    return {
      enabled, cron: value("cron"), days: days === "" ? 0 : Number(days),
      template_key: value("template_key") || null,
      coupon_template_id: coupon === "" ? null : Number(coupon),
      channels: form.querySelector(".msg-channels").values(),
    };
  }

  function programCard(program, templateOptions) {
    const card = el("section", { class: "panel msg-program", "data-program": program.key,
      "aria-labelledby": `program-${program.key}` });
    const heading = el("h3", { id: `program-${program.key}` }, program.name, " ",
      el("span", { class: "muted" }, program.key));
    const toggle = el("input", { type: "checkbox", role: "switch", name: "enabled", checked: program.enabled });
    const state = ui.badge(program.enabled ? "已启用" : "已停用", program.enabled ? "ok" : "");
    const form = ui.form([
      el("div", { class: "form-row" },
        ui.field("运行时间（cron，商户时区）", ui.input("cron", program.cron), { hint: "分 时 日 月 周，如 0 10 * * *" }),
        ui.field("天数", ui.input("days", program.days, { type: "number", min: 0, max: 3650 }),
          { hint: "距离事件的天数（提前提醒、沉睡天数等）" }),
        ui.field("消息模板", ui.select("template_key", templateOptions, program.template_key || "")),
        ui.field("优惠券模板 ID", ui.input("coupon_template_id", program.coupon_template_id ?? "",
          { type: "number", min: 1 }), { hint: "留空：不发券" })),
      channelBoxes("channels", "渠道（不选：按模板的渠道顺序）", program.channels),
    ], async (f) => {
      const saved = await api.put(`/admin/lifecycle-programs/${program.key}`, programBody(f, toggle.checked));
      Object.assign(program, saved);
      ui.toast(`已保存：${program.name}`);
    }, {
      submit: "保存设置",
      extra: [ui.button("立即运行", async (event) => {
        const answer = await ui.busy(event.currentTarget, () => api.post(`/admin/lifecycle-programs/${program.key}/run`));
        if (answer) { ui.toast(`${program.name}：${OUTCOME[answer.outcome] || answer.outcome}`, answer.outcome === "failed" ? "error" : "ok"); runs.reload(); }
      })],
    });
    toggle.addEventListener("change", async () => {
      toggle.disabled = true;
      try {
        const saved = await api.put(`/admin/lifecycle-programs/${program.key}`, programBody(form, toggle.checked));
        Object.assign(program, saved);
        state.textContent = saved.enabled ? "已启用" : "已停用";
        state.className = `badge ${saved.enabled ? "ok" : ""}`;
        ui.toast(`${program.name}${saved.enabled ? "已启用" : "已停用"}`);
      } catch (error) {
        toggle.checked = !toggle.checked;
        if (error instanceof C.ApiError) ui.showErrors(form, error);
        else throw error;
      } finally {
        toggle.disabled = false;
      }
    });
    const runsBox = el("div");
    const runs = {
      async reload() {
        try {
          const answer = await api.get("/admin/job-runs", { job: `program:${program.key}` });
          C.clear(runsBox).append(ui.table({
            caption: `${program.name}：最近运行`,
            columns: [
              { label: "周期", render: (r) => r.period },
              { label: "状态", render: (r) => ui.badge(RUN_STATUS[r.status] || r.status, r.status) },
              { label: "结果", render: (r) => Object.entries(r.counts || {}).map(([k, v]) => `${k} ${v}`).join("，") || "—" },
              { label: "开始", render: (r) => fmt.dateTime(r.started_at) },
              { label: "结束", render: (r) => fmt.dateTime(r.finished_at) },
            ],
            rows: answer.items.slice(0, 5), empty: "还没有运行记录",
          }));
        } catch (error) {
          C.clear(runsBox).append(ui.errorNotice(error));
        }
      },
    };
    card.append(el("div", { class: "msg-program-head" }, heading,
      el("div", { class: "msg-switch" }, ui.field(`启用${program.name}`, toggle), state)), form, runsBox);
    runs.reload();
    return card;
  }

  C.register({
    path: "/programs",
    title: "生命周期",
    nav: { group: "营销", label: "生命周期", order: 30 },
    async render(view) {
      view.classList.add("msg-scope");
      view.append(ui.header("生命周期"),
        el("p", { class: "lead" }, "内置的会员生命周期计划：每天按设定时间运行，同一天只运行一次。"));
      const [programs, templates] = await Promise.all([api.get("/admin/lifecycle-programs"),
        api.get("/admin/message-templates")]);
      const options = [["", "（不发消息）"], ...templates.items.map((t) => [t.key, `${t.name}（${t.key}）`])];
      for (const program of programs.items) view.append(programCard(program, options));
    },
  });

  // ---- #/templates ------------------------------------------------------------------------------

  C.register({
    path: "/templates",
    title: "消息模板",
    nav: { group: "消息", label: "消息模板", order: 10 },
    async render(view) {
      view.append(ui.header("消息模板", el("a", { class: "button primary", href: "#/templates/new" }, "新建模板")));
      const answer = await api.get("/admin/message-templates");
      view.append(ui.table({
        caption: "消息模板",
        columns: [
          { label: "名称", render: (t) => el("a", { href: `#/templates/${t.key}` }, t.name) },
          { label: "代码", render: (t) => t.key },
          { label: "用途", render: (t) => PURPOSE[t.purpose] || t.purpose },
          { label: "渠道", render: (t) => t.channels.map((c) => CHANNEL_NAME[c] || c).join(" → ") },
          { label: "状态", render: (t) => ui.badge(t.enabled ? "已启用" : "已停用", t.enabled ? "ok" : "") },
          { label: "来源", render: (t) => (t.builtin ? "内置" : "自建") },
        ],
        rows: answer.items,
      }));
    },
  });

  const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

  // The template as the form says it (the API's TemplateDoc shape).
  function draftOf(form, channels) {
    const v = (name) => form.querySelector(`[name="${name}"]`).value;
    const content = {};
    if (v("sms.text").trim()) {
      content.sms = { template_id: v("sms.template_id").trim(), params: lines(v("sms.params")), text: v("sms.text") };
    }
    if (v("email.subject").trim() || v("email.text").trim()) {
      content.email = { subject: v("email.subject"), text: v("email.text"), html: v("email.html") };
    }
    const fields = {};
    for (const line of lines(v("wechat.fields"))) {
      const at = line.indexOf("=");
      if (at > 0) fields[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    if (Object.keys(fields).length) {
      content.wechat = { template_id: v("wechat.template_id").trim(), page: v("wechat.page").trim(), fields };
    }
    return { name: v("name").trim(), purpose: v("purpose"), enabled: form.querySelector('[name="enabled"]').checked,
      channels: channels.values(), content };
  }

  function previewPane() {
    const box = el("div", { class: "msg-preview", "aria-live": "polite", "data-state": "idle" });
    box.show = (answer) => {
      C.clear(box);
      const ch = answer.channels;
      if (ch.sms) {
        const part = ch.sms;
        box.append(el("section", { class: "msg-pv", "data-channel": "sms" }, el("h4", {}, "短信"),
          part.ok ? [
            el("p", { class: "msg-bubble", "data-preview": "sms" }, part.rendered.full_text),
            el("p", { class: "muted", "data-count": "sms" },
              `${part.rendered.chars} 字，计费 ${part.rendered.segments} 条（70 字以内 1 条，超过按每条 67 字）`),
            part.rendered.sign_name ? null : ui.notice("未设置短信签名（SMS_SIGN_NAME）：国内短信须带签名", "warn"),
            part.rendered.opt_out ? el("p", { class: "muted" }, "含退订说明") : el("p", { class: "muted" }, "不含退订说明（服务短信可不带）"),
          ] : ui.notice(part.problem, "error")));
      }
      if (ch.email) {
        const part = ch.email;
        box.append(el("section", { class: "msg-pv", "data-channel": "email" }, el("h4", {}, "邮件"),
          part.ok ? ui.dl([["主题", part.rendered.subject], ["正文", el("pre", { "data-preview": "email" }, part.rendered.text)]])
            : ui.notice(part.problem, "error")));
      }
      if (ch.wechat) {
        const part = ch.wechat;
        box.append(el("section", { class: "msg-pv", "data-channel": "wechat" }, el("h4", {}, "微信订阅消息"),
          part.ok ? ui.table({
            caption: "订阅消息字段",
            columns: [
              { label: "字段", render: ([k]) => k },
              { label: "内容", render: ([, value]) => value },
              { label: "长度", render: ([k, value]) => {
                const limit = part.rendered.limits[k];
                return limit == null ? "按格式" : `${[...value].length} / ${limit}`;
              } },
            ],
            rows: Object.entries(part.rendered.fields),
          }) : ui.notice(part.problem, "error")));
      }
      if (!box.childNodes.length) box.append(ui.notice("填写任一渠道的内容后显示预览", "info"));
      box.dataset.state = "ok";
    };
    box.fail = (error) => {
      const fields = (error.details && error.details.fields) || {};
      const problems = (error.details && error.details.problems) || {};
      const more = [...Object.entries(fields), ...Object.entries(problems)].map(([k, m]) => `${k}：${m}`);
      C.clear(box).append(ui.notice([error.message, ...more].join("；"), "error"));
      box.dataset.state = "error";
    };
    return box;
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  C.register({
    path: "/templates/:key",
    title: "编辑消息模板",
    async render(view, params) {
      view.classList.add("msg-scope");
      const isNew = params.key === "new";
      const t = isNew
        ? { key: "", name: "", purpose: "marketing", enabled: true, channels: ["sms"], builtin: false,
          content: { sms: { template_id: "", params: [], text: "" } } }
        : await api.get(`/admin/message-templates/${encodeURIComponent(params.key)}`);
      const c = t.content || {};
      const sms = c.sms || {}; const email = c.email || {}; const wechat = c.wechat || {};
      const switchButton = isNew ? null : ui.button(t.enabled ? "停用模板" : "启用模板", async (event) => {
        const saved = await ui.busy(event.currentTarget,
          () => api.patch(`/admin/message-templates/${t.key}`, { enabled: !t.enabled }));
        if (saved) { ui.toast(saved.enabled ? "模板已启用" : "模板已停用"); C.render(); }
      });
      view.append(ui.header(isNew ? "新建消息模板" : "编辑消息模板", el("a", { href: "#/templates" }, "返回模板列表"),
        switchButton));
      if (!isNew) {
        view.append(el("p", { class: "lead" }, `${t.name}（${t.key}）`, " ",
          ui.badge(t.enabled ? "已启用" : "已停用", t.enabled ? "ok" : ""), t.builtin ? " 内置模板：可编辑或停用，不能删除" : ""));
      }
      const channels = channelBoxes("channels", `渠道（依次尝试，当前顺序：${t.channels.map((c) => CHANNEL_NAME[c] || c).join(" → ")}）`, t.channels);
      const hintVars = "可用变量：{{ member.name }}、{{ member.member_no }}、{{ merchant }}、{{ today }}、{{ event.… }}";
      const form = ui.form([
        el("div", { class: "form-row" },
          isNew ? ui.field("模板代码", ui.input("key", "", { required: true }), { hint: "小写字母开头，字母数字下划线", name: "key" }) : null,
          ui.field("名称", ui.input("name", t.name, { required: true })),
          ui.field("用途", ui.select("purpose", [["marketing", "营销"], ["service", "服务"]], t.purpose,
            { disabled: t.builtin })),
          ui.field("启用", el("input", { type: "checkbox", name: "enabled", checked: t.enabled }))),
        channels,
        el("fieldset", { "data-field": "content.sms" }, el("legend", {}, "短信"),
          ui.field("短信正文", el("textarea", { name: "sms.text", rows: 3 }, sms.text || ""),
            { name: "content.sms.text", hint: `${hintVars}。营销短信须含退订说明，如“拒收请回复R”；签名自动加在开头` }),
          el("div", { class: "form-row" },
            ui.field("短信模板 ID（服务商审核通过的）", ui.input("sms.template_id", sms.template_id || ""), { name: "content.sms.template_id" }),
            ui.field("模板参数（每行一个）", el("textarea", { name: "sms.params", rows: 2 }, (sms.params || []).join("\n")),
              { name: "content.sms.params" }))),
        el("fieldset", { "data-field": "content.email" }, el("legend", {}, "邮件"),
          ui.field("邮件主题", ui.input("email.subject", email.subject || ""), { name: "content.email.subject" }),
          ui.field("邮件正文（纯文本）", el("textarea", { name: "email.text", rows: 4 }, email.text || ""), { name: "content.email.text" }),
          ui.field("邮件正文（HTML，可选）", el("textarea", { name: "email.html", rows: 3 }, email.html || ""), { name: "content.email.html" })),
        el("fieldset", { "data-field": "content.wechat" }, el("legend", {}, "微信订阅消息"),
          el("div", { class: "form-row" },
            ui.field("订阅消息模板 ID", ui.input("wechat.template_id", wechat.template_id || ""), { name: "content.wechat.template_id" }),
            ui.field("跳转页面", ui.input("wechat.page", wechat.page || ""), { name: "content.wechat.page" })),
          ui.field("字段（每行 字段=内容）", el("textarea", { name: "wechat.fields", rows: 3 },
            Object.entries(wechat.fields || {}).map(([k, v]) => `${k}=${v}`).join("\n")),
          { name: "content.wechat.fields", hint: "thing ≤ 20 字，phrase ≤ 5 个汉字，name ≤ 10 个汉字，character_string ≤ 32 位；不能换行" })),
      ], async (f) => {
        const doc = draftOf(f, channels);
        if (isNew) {
          const key = f.querySelector('[name="key"]').value.trim();
          const saved = await api.post("/admin/message-templates", { key, ...doc });
          ui.toast("模板已创建");
          C.navigate(`/templates/${saved.key}`);
        } else {
          await api.put(`/admin/message-templates/${t.key}`, doc);
          ui.toast("模板已保存");
        }
      }, { submit: isNew ? "创建模板" : "保存模板" });
      const pane = previewPane();
      let seq = 0;
      const refresh = async () => {
        const mine = ++seq;
        pane.dataset.state = "loading";
        const keyInput = form.querySelector('[name="key"]');
        const key = isNew ? ((keyInput && /^[a-z][a-z0-9_]{1,39}$/.test(keyInput.value.trim())) ? keyInput.value.trim() : "draft") : t.key;
        try {
          const answer = await api.post(`/admin/message-templates/${key}/preview`, { template: draftOf(form, channels) }, { key: false });
          if (mine === seq) pane.show(answer);
        } catch (error) {
          if (!(error instanceof C.ApiError)) throw error;
          if (mine === seq) pane.fail(error);
        }
      };
      form.addEventListener("input", debounce(refresh, 400));
      form.addEventListener("change", debounce(refresh, 400));
      view.append(el("div", { class: "msg-editor" }, ui.section(null, form),
        ui.section("预览（示例会员：张三）", pane)));
      refresh();
    },
  });

  // ---- #/policy ---------------------------------------------------------------------------------

  C.register({
    path: "/policy",
    title: "发送策略",
    nav: { group: "消息", label: "发送策略", order: 20 },
    async render(view) {
      view.classList.add("msg-scope");
      view.append(ui.header("发送策略"), el("p", { class: "lead" },
        "频控只计营销消息；服务消息（验证码、凭证、到期提醒）有自己的上限，不受营销频控影响。“每自然日”按商户时区计算。"));
      const policy = await api.get("/admin/caps");
      const capsBody = el("tbody");
      const capRow = (cap) => {
        const row = el("tr", { class: "msg-cap" });
        const cell = (label, input) => el("td", {}, ui.field(label, input));
        row.append(
          cell("渠道", ui.select("channel", [["any", "全部渠道（总量）"], ...CHANNELS], cap.channel)),
          cell("用途", ui.select("purpose", [["marketing", "营销"], ["service", "服务"]], cap.purpose)),
          cell("上限（条）", ui.input("limit", cap.limit, { type: "number", min: 1, max: 10000 })),
          cell("时间窗口", ui.select("window", WINDOWS, cap.window)),
          el("td", {}, ui.button("删除", () => { row.remove(); renumber(); }, { kind: "link", "aria-label": "删除这条频控" })));
        return row;
      };
      // data-field follows the row's index, so an error on caps.1.limit lands on the second row's input.
      const renumber = () => {
        [...capsBody.rows].forEach((row, i) => {
          row.querySelectorAll(".field").forEach((field) => {
            const input = field.querySelector("input, select");
            field.dataset.field = `caps.${i}.${input.name}`;
            field.querySelector("label").textContent = `${{ channel: "渠道", purpose: "用途", limit: "上限（条）", window: "时间窗口" }[input.name]}（第 ${i + 1} 条）`;
          });
        });
      };
      policy.caps.forEach((cap) => capsBody.append(capRow(cap)));
      renumber();
      const q = policy.quiet_hours; const r = policy.retry;
      const num = (name, value, attrs) => ui.input(name, value, { type: "number", ...attrs });
      const form = ui.form([
        el("fieldset", { "data-field": "caps" }, el("legend", {}, "频控规则（每个渠道、用途和时间窗口一条；上限至少为 1，0 会拦下全部消息）"),
          el("p", { class: "field-error", hidden: true }),
          el("div", { class: "table-wrap" }, el("table", { class: "grid msg-caps" }, capsBody)),
          ui.button("添加频控", () => { capsBody.append(capRow({ channel: "sms", purpose: "marketing", limit: 1, window: "day" })); renumber(); })),
        el("fieldset", { "data-field": "quiet_hours" }, el("legend", {}, "免打扰时段（营销消息推迟到结束时发送）"),
          ui.field("启用免打扰", el("input", { type: "checkbox", name: "quiet_hours.enabled", checked: q.enabled })),
          el("div", { class: "form-row" },
            ui.field("开始", ui.input("quiet_hours.start", q.start, { type: "time" })),
            ui.field("结束", ui.input("quiet_hours.end", q.end, { type: "time" })),
            ui.field("推迟后分散发送（秒）", num("quiet_hours.jitter_s", q.jitter_s, { min: 0, max: 7200 }))),
          el("p", { class: "hint" }, "运营商 22:00–08:00 限制营销短信，建议营销短信只在 08:00–21:00 发送。")),
        el("fieldset", { "data-field": "retry" }, el("legend", {}, "重试"),
          el("div", { class: "form-row" },
            ui.field("最多尝试次数", num("retry.max_attempts", r.max_attempts, { min: 1, max: 20 })),
            ui.field("首次重试间隔（秒，之后翻倍）", num("retry.base_s", r.base_s, { min: 1, max: 3600 })),
            ui.field("最长重试间隔（秒）", num("retry.max_s", r.max_s, { min: 1, max: 86400 })),
            ui.field("服务商限额后等待（秒）", num("retry.provider_defer_s", r.provider_defer_s, { min: 60, max: 86400 })))),
        el("div", { class: "form-row" },
          ui.field("短信退订关键词（逗号分隔，整条回复匹配，不分大小写）", ui.input("reply_keywords", policy.reply_keywords.join("，"))),
          ui.field("认领超时（秒）", num("lease_s", policy.lease_s, { min: 10, max: 3600 }))),
      ], async (f) => {
        const v = (name) => f.querySelector(`[name="${name}"]`).value;
        const n = (name) => (v(name).trim() === "" ? null : Number(v(name)));
        const body = {
          caps: [...capsBody.rows].map((row) => {
            const g = (name) => row.querySelector(`[name="${name}"]`).value;
            return { channel: g("channel"), purpose: g("purpose"), limit: g("limit").trim() === "" ? null : Number(g("limit")), window: g("window") };
          }),
          quiet_hours: { enabled: f.querySelector('[name="quiet_hours.enabled"]').checked, start: v("quiet_hours.start"),
            end: v("quiet_hours.end"), jitter_s: n("quiet_hours.jitter_s") },
          retry: { max_attempts: n("retry.max_attempts"), base_s: n("retry.base_s"), max_s: n("retry.max_s"),
            provider_defer_s: n("retry.provider_defer_s") },
          reply_keywords: v("reply_keywords").split(/[,，\s]+/).filter(Boolean),
          lease_s: n("lease_s"),
        };
        await api.put("/admin/caps", body);
        ui.toast("发送策略已保存");
      }, { submit: "保存发送策略" });
      view.append(ui.section(null, form));
    },
  });
})();
