// 系统管理: stores, staff accounts, app keys, custom profile fields and the audit log (admins only).
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;
  const ADMIN = ["admin"];
  const GROUP = "系统管理";

  const ROLE_OPTIONS = [["admin", "管理员"], ["marketer", "营销"], ["clerk", "店员"]];
  const CHANNELS = [["online", "线上商城"], ["pos", "门店 POS"], ["miniprogram", "小程序"], ["third_party", "第三方"]];
  const ACTIONS = [["orders", "订单"], ["refunds", "退款"], ["members.lookup", "查询会员"], ["members.write", "写入会员"]];
  const FIELD_TYPES = [["text", "文本"], ["number", "数字"], ["date", "日期"], ["choice", "单选"]];
  const ACTOR_TYPES = [["", "全部"], ["staff", "员工"], ["member", "会员"], ["app", "应用"], ["system", "系统"]];

  const activeBadge = (active, on = "启用", off = "已停用") => ui.badge(active ? on : off, active ? "active" : "inactive");

  // A panel that holds one editor at a time (opened from a row's button), closed after saving.
  function editorSlot() {
    const slot = el("div", { class: "admin-editor" });
    slot.open = (title, children, onSubmit, submit = "保存") => {
      const cancel = ui.button("取消", () => C.clear(slot));
      const form = ui.form(children, async (f) => { await onSubmit(f); C.clear(slot); }, { submit, extra: [cancel] });
      C.clear(slot).append(ui.section(title, form));
      const first = form.querySelector("input, select, textarea");
      if (first) first.focus();
    };
    return slot;
  }

  // A group of checkboxes named by one API field (errors on "scopes.channels" land on it).
  function checkGroup(legend, name, options, checked = []) {
    const boxes = options.map(([value, label]) => ui.field(label,
      el("input", { type: "checkbox", value, checked: checked.includes(value), defaultChecked: checked.includes(value),
        "data-group": name })));
    const error = el("p", { class: "field-error", hidden: true });
    return el("fieldset", { class: "field", "data-field": name }, el("legend", { text: legend }), ...boxes, error);
  }
  const checkedIn = (form, name) => Array.from(form.querySelectorAll(`input[data-group="${name}"]:checked`), (b) => b.value);
  const value = (form, name) => form.elements[name].value.trim();

  async function confirmThen(options, work) {
    if (await ui.confirm(options)) await work();
  }

  // ---- stores ----------------------------------------------------------------------------------

  C.register({
    path: "/admin/stores", title: "门店管理", roles: ADMIN, nav: { group: GROUP, label: "门店", order: 10 },
    async render(view) {
      const editor = editorSlot();
      let list;
      const create = ui.form([
        el("div", { class: "form-row" },
          ui.field("门店编码", ui.input("code", "", { required: true, maxlength: 32 }), { hint: "字母、数字、- 和 _" }),
          ui.field("门店名称", ui.input("name", "", { required: true, maxlength: 100 }))),
      ], async (form) => {
        const store = await api.post("/admin/stores", { code: value(form, "code"), name: value(form, "name") });
        form.reset();
        ui.toast(`已创建门店 ${store.name}`);
        list.reload();
      }, { submit: "创建门店" });
      const edit = (store) => editor.open(`编辑门店 ${store.code}`, [
        ui.field("门店名称", ui.input("name", store.name, { required: true, maxlength: 100 })),
      ], async (form) => {
        await api.patch(`/admin/stores/${store.id}`, { name: value(form, "name") });
        ui.toast("已保存");
        list.reload();
      });
      const toggle = (store, button) => confirmThen({
        title: store.active ? "停用门店" : "启用门店", danger: store.active, ok: store.active ? "停用" : "启用",
        body: store.active ? `停用「${store.name}」后，该门店的店员将无法登录。` : `重新启用「${store.name}」？`,
      }, () => ui.busy(button, async () => {
        await api.patch(`/admin/stores/${store.id}`, { active: !store.active });
        ui.toast(store.active ? "门店已停用" : "门店已启用");
        list.reload();
      }));
      list = ui.pager({
        load: (cursor) => api.get("/admin/stores", { cursor, limit: 20 }),
        caption: "门店列表",
        columns: [
          { label: "编码", render: (s) => s.code },
          { label: "名称", render: (s) => s.name },
          { label: "状态", render: (s) => activeBadge(s.active) },
          { label: "操作", render: (s) => {
            const toggleButton = ui.button(s.active ? "停用" : "启用", () => toggle(s, toggleButton),
              { kind: "small", "aria-label": `${s.active ? "停用" : "启用"}门店 ${s.name}` });
            return el("span", { class: "row-actions" },
              ui.button("编辑", () => edit(s), { kind: "small", "aria-label": `编辑门店 ${s.name}` }), toggleButton);
          } },
        ],
      });
      view.append(ui.header("门店管理"), ui.section("新建门店", create), editor, list);
      await list.ready;
    },
  });

  // ---- staff -----------------------------------------------------------------------------------

  C.register({
    path: "/admin/staff", title: "员工账号", roles: ADMIN, nav: { group: GROUP, label: "员工账号", order: 20 },
    async render(view) {
      const stores = await api.all("/admin/stores");
      const storeById = new Map(stores.map((s) => [s.id, s]));
      const storeOptions = (by) => [["", "（不绑定）"], ...stores.filter((s) => s.active)
        .map((s) => [by === "code" ? s.code : s.id, `${s.name}（${s.code}）`])];
      const editor = editorSlot();
      const me = C.staff.id;
      let list;

      const create = ui.form([
        el("div", { class: "form-row" },
          ui.field("用户名", ui.input("username", "", { required: true, maxlength: 64 }), { hint: "3-64 位字母、数字或 _.@-" }),
          ui.field("初始密码", ui.input("password", "", { type: "password", required: true, autocomplete: "new-password" }),
            { hint: "至少 8 位" }),
          ui.field("角色", ui.select("role", ROLE_OPTIONS, "clerk")),
          ui.field("门店", ui.select("store_code", storeOptions("code"), ""), { name: "store", hint: "店员必须绑定门店" })),
      ], async (form) => {
        const body = { username: value(form, "username"), password: form.elements.password.value,
          role: form.elements.role.value, store_code: form.elements.store_code.value || null };
        const staff = await api.post("/admin/staff", body);
        // Not form.reset(): ui.select marks no default option, so the role would jump to the first one.
        form.elements.username.value = "";
        form.elements.password.value = "";
        ui.toast(`已创建账号 ${staff.username}`);
        list.reload();
      }, { submit: "创建账号" });

      const edit = (s) => editor.open(`修改 ${s.username} 的角色或门店`, [
        el("div", { class: "form-row" },
          ui.field("角色", ui.select("role", ROLE_OPTIONS, s.role)),
          ui.field("门店", ui.select("store_id", storeOptions("id"), s.store_id ?? ""), { hint: "店员必须绑定门店" })),
      ], async (form) => {
        const storeId = form.elements.store_id.value;
        await api.patch(`/admin/staff/${s.id}`, { role: form.elements.role.value, store_id: storeId ? Number(storeId) : null });
        ui.toast("已保存");
        list.reload();
      });
      const reset = (s) => editor.open(`重置 ${s.username} 的密码`, [
        ui.field("新密码", ui.input("password", "", { type: "password", required: true, autocomplete: "new-password" }),
          { hint: "至少 8 位；重置后该账号所有已登录的会话立即失效" }),
      ], async (form) => {
        await api.post(`/admin/staff/${s.id}/password`, { password: form.elements.password.value });
        ui.toast(`已重置 ${s.username} 的密码`);
      }, "重置密码");
      const toggle = (s, button) => confirmThen({
        title: s.active ? "停用账号" : "启用账号", danger: s.active, ok: s.active ? "停用" : "启用",
        body: s.active ? `停用 ${s.username} 后，该账号立即退出登录且无法再登录。` : `重新启用 ${s.username}？（需重新登录）`,
      }, () => ui.busy(button, async () => {
        await api.patch(`/admin/staff/${s.id}`, { active: !s.active });
        ui.toast(s.active ? `已停用 ${s.username}` : `已启用 ${s.username}`);
        list.reload();
      }));

      list = ui.pager({
        load: (cursor) => api.get("/admin/staff", { cursor, limit: 20 }),
        caption: "员工账号列表",
        columns: [
          { label: "用户名", render: (s) => (s.id === me ? [s.username, " ", ui.badge("我", "")] : s.username) },
          { label: "角色", render: (s) => fmt.role(s.role) },
          { label: "门店", render: (s) => (s.store_id ? (storeById.get(s.store_id)?.name ?? `#${s.store_id}`) : "—") },
          { label: "状态", render: (s) => activeBadge(s.active) },
          { label: "操作", render: (s) => {
            const buttons = [
              ui.button("修改", () => edit(s), { kind: "small", "aria-label": `修改 ${s.username} 的角色或门店` }),
              ui.button("重置密码", () => reset(s), { kind: "small", "aria-label": `重置 ${s.username} 的密码` }),
            ];
            if (s.id !== me) {
              const toggleButton = ui.button(s.active ? "停用" : "启用", () => toggle(s, toggleButton),
                { kind: "small", "aria-label": `${s.active ? "停用" : "启用"} ${s.username}` });
              buttons.push(toggleButton);
            }
            return el("span", { class: "row-actions" }, buttons);
          } },
        ],
      });
      view.append(ui.header("员工账号"), ui.section("新建账号", create), editor, list);
      await list.ready;
    },
  });

  // ---- app keys --------------------------------------------------------------------------------

  function scopesFields(scopes = { channels: ["online"], actions: ["orders"], store_ids: null }) {
    return [
      checkGroup("渠道", "scopes.channels", CHANNELS, scopes.channels),
      checkGroup("允许的操作", "scopes.actions", ACTIONS, scopes.actions),
      ui.field("限定门店 ID", ui.input("store_ids", (scopes.store_ids || []).join(", ")),
        { name: "scopes.store_ids", hint: "以逗号分隔的门店 ID；留空表示不限门店" }),
    ];
  }
  function scopesOf(form) {
    const text = value(form, "store_ids");
    const storeIds = text ? text.split(/[,，\s]+/).filter(Boolean).map((part) => (/^\d+$/.test(part) ? Number(part) : part)) : null;
    return { channels: checkedIn(form, "scopes.channels"), actions: checkedIn(form, "scopes.actions"), store_ids: storeIds };
  }
  const label = (pairs, key) => (pairs.find(([v]) => v === key) || [key, key])[1];

  function secretPanel(slot, key) {
    const input = ui.input("secret", key.secret, { readonly: true, class: "secret" });
    const copy = ui.button("复制密钥", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(key.secret);
        ui.toast("已复制到剪贴板");
      } catch (_) {
        ui.toast("无法自动复制，请手动选中后复制（Ctrl+C）", "error");
      }
    });
    C.clear(slot).append(ui.section(`应用「${key.name}」的密钥`,
      ui.notice("密钥只显示这一次，关闭后无法再查看。请立即复制并妥善保存。", "warn"),
      ui.dl([["App Key（X-App-Key）", el("code", {}, key.key_id)]]),
      ui.field("密钥", input, { hint: "点击“复制密钥”，或选中后按 Ctrl+C 复制" }),
      el("div", { class: "actions" }, copy, ui.button("我已保存，关闭", () => C.clear(slot)))));
    input.focus();
    input.select();
  }

  C.register({
    path: "/admin/app-keys", title: "应用密钥", roles: ADMIN, nav: { group: GROUP, label: "应用密钥", order: 30 },
    async render(view) {
      const editor = editorSlot();
      const secret = el("div", { class: "admin-secret" });
      let list;
      const create = ui.form([
        ui.field("应用名称", ui.input("name", "", { required: true, maxlength: 100 }), { hint: "如：线上商城、门店 POS" }),
        ...scopesFields(),
      ], async (form) => {
        const key = await api.post("/admin/app-keys", { name: value(form, "name"), scopes: scopesOf(form) });
        form.reset();
        secretPanel(secret, key);
        list.reload();
      }, { submit: "创建密钥" });
      const edit = (k) => editor.open(`编辑「${k.name}」`, [
        ui.field("应用名称", ui.input("name", k.name, { required: true, maxlength: 100 })),
        ...scopesFields(k.scopes),
      ], async (form) => {
        await api.patch(`/admin/app-keys/${k.id}`, { name: value(form, "name"), scopes: scopesOf(form) });
        ui.toast("已保存");
        list.reload();
      });
      const rotate = (k) => editor.open(`轮换「${k.name}」的密钥`, [
        ui.field("旧密钥继续有效（小时）", ui.input("overlap_h", "24", { type: "number", min: 0, max: 720, step: 1 }),
          { name: "overlap_s", hint: "0 表示旧密钥立即失效；最长 720 小时" }),
      ], async (form) => {
        const hours = Number(form.elements.overlap_h.value || 0);
        const key = await api.post(`/admin/app-keys/${k.id}/rotate`, { overlap_s: Math.round(hours * 3600) });
        secretPanel(secret, key);
        list.reload();
      }, "轮换");
      const revoke = (k, button) => confirmThen({
        title: "吊销密钥", danger: true, ok: "吊销", body: `吊销后「${k.name}」的所有请求立即被拒绝，且无法恢复。`,
      }, () => ui.busy(button, async () => {
        await api.post(`/admin/app-keys/${k.id}/revoke`, {});
        ui.toast("已吊销");
        list.reload();
      }));
      list = ui.pager({
        load: (cursor) => api.get("/admin/app-keys", { cursor, limit: 20 }),
        caption: "应用密钥列表",
        columns: [
          { label: "名称", render: (k) => k.name },
          { label: "App Key", render: (k) => el("code", {}, k.key_id) },
          { label: "状态", render: (k) => activeBadge(k.status === "active", "有效", "已吊销") },
          { label: "范围", render: (k) => [
            k.scopes.channels.map((c) => label(CHANNELS, c)).join("、"), " · ",
            k.scopes.actions.map((a) => label(ACTIONS, a)).join("、"), " · ",
            k.scopes.store_ids ? `门店 ${k.scopes.store_ids.join(", ")}` : "不限门店"] },
          { label: "创建 / 轮换", render: (k) => [fmt.dateTime(k.created_at),
            k.rotated_at ? ` / ${fmt.dateTime(k.rotated_at)}` : ""] },
          { label: "操作", render: (k) => {
            if (k.status !== "active") return "—";
            const revokeButton = ui.button("吊销", () => revoke(k, revokeButton), { kind: "small", "aria-label": `吊销 ${k.name}` });
            return el("span", { class: "row-actions" },
              ui.button("编辑范围", () => edit(k), { kind: "small", "aria-label": `编辑 ${k.name} 的范围` }),
              ui.button("轮换", () => rotate(k), { kind: "small", "aria-label": `轮换 ${k.name} 的密钥` }), revokeButton);
          } },
        ],
      });
      view.append(ui.header("应用密钥"), secret, ui.section("新建应用密钥", create), editor, list);
      await list.ready;
    },
  });

  // ---- custom fields ---------------------------------------------------------------------------

  const choicesOf = (form) => {
    const lines = form.elements.choices.value.split("\n").map((line) => line.trim()).filter(Boolean);
    return lines.length ? lines : null;
  };

  C.register({
    path: "/admin/custom-fields", title: "自定义字段", roles: ADMIN, nav: { group: GROUP, label: "自定义字段", order: 40 },
    async render(view) {
      const editor = editorSlot();
      const slot = el("div");
      async function load() {
        const answer = await api.get("/admin/custom-fields");
        C.clear(slot).append(ui.table({
          caption: "会员资料自定义字段", rows: answer.items, empty: "还没有自定义字段",
          columns: [
            { label: "键", render: (f) => el("code", {}, f.key) },
            { label: "名称", render: (f) => f.label },
            { label: "类型", render: (f) => label(FIELD_TYPES, f.type) },
            { label: "必填", render: (f) => (f.required ? "是" : "否") },
            { label: "选项", render: (f) => (f.choices || []).join("、") || "—" },
            { label: "状态", render: (f) => activeBadge(f.active) },
            { label: "操作", render: (f) => ui.button("编辑", () => edit(f), { kind: "small", "aria-label": `编辑字段 ${f.label}` }) },
          ],
        }));
      }
      const create = ui.form([
        el("div", { class: "form-row" },
          ui.field("键", ui.input("key", "", { required: true, maxlength: 40 }), { hint: "小写字母开头，可含数字和 _" }),
          ui.field("名称", ui.input("label", "", { required: true, maxlength: 64 })),
          ui.field("类型", ui.select("type", FIELD_TYPES, "text")),
          ui.field("最大长度", ui.input("max_length", "", { type: "number", min: 1, max: 2000 }), { hint: "文本类型；默认 200" })),
        ui.field("选项", el("textarea", { name: "choices", rows: 3 }), { hint: "单选类型：每行一个选项" }),
        ui.field("必填", el("input", { type: "checkbox", name: "required" })),
      ], async (form) => {
        const type = form.elements.type.value;
        const maxLength = form.elements.max_length.value;
        await api.post("/admin/custom-fields", { key: value(form, "key"), label: value(form, "label"), type,
          required: form.elements.required.checked, choices: type === "choice" ? choicesOf(form) : null,
          max_length: type === "text" && maxLength ? Number(maxLength) : null });
        form.reset();
        ui.toast("字段已创建");
        await load();
      }, { submit: "创建字段" });
      const edit = (f) => editor.open(`编辑字段 ${f.key}`, [
        ui.field("名称", ui.input("label", f.label, { required: true, maxlength: 64 })),
        f.type === "choice" ? ui.field("选项", el("textarea", { name: "choices", rows: 4 }, (f.choices || []).join("\n")),
          { hint: "每行一个选项" }) : null,
        ui.field("必填", el("input", { type: "checkbox", name: "required", checked: f.required })),
        ui.field("启用", el("input", { type: "checkbox", name: "active", checked: f.active }), { hint: "停用后会员资料中不再显示" }),
      ], async (form) => {
        const body = { label: value(form, "label"), required: form.elements.required.checked, active: form.elements.active.checked };
        if (f.type === "choice") body.choices = choicesOf(form);
        await api.patch(`/admin/custom-fields/${f.id}`, body);
        ui.toast("已保存");
        await load();
      });
      view.append(ui.header("自定义字段"), ui.section("新建字段", create), editor, slot);
      await load();
    },
  });

  // ---- audit log -------------------------------------------------------------------------------

  const short = (data) => {
    if (data === null || data === undefined) return "—";
    const text = JSON.stringify(data);
    return el("code", { class: "audit-json", title: text }, text.length > 120 ? `${text.slice(0, 120)}…` : text);
  };

  C.register({
    path: "/admin/audit", title: "审计日志", roles: ADMIN, nav: { group: GROUP, label: "审计日志", order: 50 },
    async render(view, params, query) {
      const filters = ui.form([
        el("div", { class: "form-row" },
          ui.field("操作者类型", ui.select("actor_type", ACTOR_TYPES, query.actor_type || "")),
          ui.field("操作者 ID", ui.input("actor_id", query.actor_id)),
          ui.field("动作", ui.input("action", query.action), { hint: "如 staff.update，或 staff.* 表示一类" }),
          ui.field("对象类型", ui.input("target_type", query.target_type), { hint: "如 staff、store、member" }),
          ui.field("对象 ID", ui.input("target_id", query.target_id)),
          ui.field("会员 ID", ui.input("member_id", query.member_id, { inputmode: "numeric" })),
          ui.field("开始时间", ui.input("from", query.from ? fmt.toLocalInput(query.from) : "", { type: "datetime-local" })),
          ui.field("结束时间", ui.input("to", query.to ? fmt.toLocalInput(query.to) : "", { type: "datetime-local" }))),
      ], async (form) => {
        const next = {};
        for (const name of ["actor_type", "actor_id", "action", "target_type", "target_id", "member_id"]) {
          const text = value(form, name);
          if (text) next[name] = text;
        }
        for (const name of ["from", "to"]) {
          if (form.elements[name].value) next[name] = fmt.fromLocalInput(form.elements[name].value);
        }
        C.navigate("/admin/audit", next);
      }, { submit: "筛选", extra: [ui.button("清除筛选", () => C.navigate("/admin/audit", {}))] });
      const list = ui.pager({
        load: async (cursor) => {
          try {
            return await api.get("/admin/audit-log", { ...query, cursor, limit: 20 });
          } catch (error) {
            if (error instanceof C.ApiError && error.status === 400) ui.showErrors(filters, error);
            throw error;
          }
        },
        caption: "审计记录（最新在前）",
        columns: [
          { label: "时间", render: (a) => fmt.dateTime(a.created_at) },
          { label: "操作者", render: (a) => `${label(ACTOR_TYPES, a.actor_type)}${a.actor_id ? ` #${a.actor_id}` : ""}` },
          { label: "动作", render: (a) => el("code", {}, a.action) },
          { label: "对象", render: (a) => (a.target_type ? `${a.target_type} #${a.target_id ?? ""}` : "—") },
          { label: "会员", render: (a) => (a.member_id ? el("a", { href: `#/members/${a.member_id}` }, `#${a.member_id}`) : "—") },
          { label: "修改前", render: (a) => short(a.before) },
          { label: "修改后", render: (a) => short(a.after) },
        ],
      });
      view.append(ui.header("审计日志"), ui.section("筛选", filters), list);
      await list.ready;
    },
  });
})();
