// Segments: the list (with member counts) and a visual rule builder driven by GET /admin/segment-fields,
// with a live, debounced count and sample (POST /admin/segments/preview).
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api, clear } = C;

  const GROUP_LABELS = { all: "满足全部", any: "满足任一", not: "不满足" };

  // ---- the list ------------------------------------------------------------------------------

  C.register({
    path: "/segments",
    title: "人群",
    nav: { group: "营销", label: "人群", order: 10 },
    async render(view) {
      view.append(ui.header("人群", el("a", { href: "#/segments/new", class: "button primary" }, "新建人群")));
      const count = (s) => {
        const cell = el("span", { class: "muted" }, "计算中…");
        api.post(`/admin/segments/${s.id}/preview`).then((p) => { cell.textContent = fmt.number(p.count); cell.className = ""; },
          (e) => { cell.textContent = e.code === "SEGMENT_RULE_INVALID" ? "规则需重新保存" : "—"; });
        return cell;
      };
      const pager = ui.pager({
        load: (cursor) => api.get("/admin/segments", { cursor, limit: 20 }),
        columns: [
          { label: "名称", render: (s) => el("a", { href: `#/segments/${s.id}` }, s.name) },
          { label: "说明", render: (s) => s.description || "—" },
          { label: "会员数", render: count, class: "num" },
          { label: "更新时间", render: (s) => fmt.dateTime(s.updated_at) },
        ],
        empty: "还没有人群，点击“新建人群”开始",
        caption: "已保存的人群",
      });
      view.append(ui.section(null, pager));
      await pager.ready;
    },
  });

  // ---- the builder ---------------------------------------------------------------------------

  async function loadPickers() {
    const [described, tiers, stores, tags, custom] = await Promise.all([
      api.get("/admin/segment-fields"), api.get("/admin/tiers"), api.all("/admin/stores"),
      api.all("/admin/tags"), api.get("/admin/custom-fields").catch(() => ({ items: [] })),
    ]);
    return {
      described,
      fields: Object.fromEntries(described.fields.map((f) => [f.field, f])),
      tier: tiers.tiers.map((t) => [t.code, t.name]),
      store: stores.map((s) => [s.id, `${s.name}（${s.code}）`]),
      tag: tags.map((t) => [t.id, t.name]),
      custom: custom.items.map((f) => [f.key, f.label || f.key]),
    };
  }

  const fieldKey = (name) => (name.startsWith("custom.") ? "custom.<key>" : name);
  const isGroup = (node) => node && ("all" in node || "any" in node || "not" in node);

  // A default value for a value spec.
  function blank(spec, field, ctx) {
    switch (spec.type) {
      case "list": return [];
      case "range": return [blank(spec.item, field, ctx), blank(spec.item, field, ctx)];
      case "boolean": return true;
      case "choice": return spec.choices[0].value;
      case "tier": return (ctx.tier[0] || [""])[0];
      case "integer": return spec.min > 0 ? spec.min : (field.unit === "days" ? 30 : 0);
      case "date": return fmt.date(new Date().toISOString());
      default: return null;
    }
  }

  function newCondition(ctx, name = ctx.described.fields[0].field) {
    const field = ctx.fields[fieldKey(name)];
    const op = field.ops[0];
    const key = name === "custom.<key>" ? `custom.${(ctx.custom[0] || ["key"])[0]}` : name;
    return { field: key, op: op.op, value: blank(op.value, field, ctx) };
  }

  // The editor of one value: writes through set(value). Amounts of "cents" fields are typed in yuan.
  function valueInput(spec, field, value, set, ctx, label) {
    const pick = { tier: ctx.tier, store: ctx.store, tag: ctx.tag }[spec.type]
      || (spec.type === "choice" ? spec.choices.map((c) => [c.value, c.label]) : null);
    if (spec.type === "list") {
      const itemPick = { tier: ctx.tier, store: ctx.store, tag: ctx.tag }[spec.item.type]
        || (spec.item.type === "choice" ? spec.item.choices.map((c) => [c.value, c.label]) : null);
      if (itemPick) {
        const chosen = new Set((value || []).map(String));
        const box = el("fieldset", { class: "seg-checks" }, el("legend", {}, label));
        for (const [v, text] of itemPick) {
          const id = C.nextId("seg");
          const input = el("input", { type: "checkbox", id, value: String(v), checked: chosen.has(String(v)),
            onchange: () => {
              const picked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
              set(picked.map((p) => (typeof itemPick[0][0] === "number" ? Number(p) : p)));
            } });
          box.append(el("span", { class: "seg-check" }, input, el("label", { for: id }, text)));
        }
        if (!itemPick.length) box.append(el("span", { class: "muted" }, "无可选项"));
        return box;
      }
      const text = el("input", { type: "text", "aria-label": `${label}（逗号分隔）`, value: (value || []).join(", "),
        oninput: () => set(text.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean)
          .map((s) => (spec.item.type === "integer" ? Number(s) : s))) });
      return text;
    }
    if (spec.type === "range") {
      return el("span", { class: "seg-range" },
        valueInput(spec.item, field, value[0], (v) => set([v, value[1]]), ctx, `${label}（最小）`), "至",
        valueInput(spec.item, field, value[1], (v) => set([value[0], v]), ctx, `${label}（最大）`));
    }
    if (pick) {
      const select = ui.select("", pick, value, { "aria-label": label,
        onchange: () => set(typeof pick[0][0] === "number" ? Number(select.value) : select.value) });
      return select;
    }
    if (spec.type === "boolean") {
      const select = ui.select("", [["true", "是"], ["false", "否"]], String(value), { "aria-label": label,
        onchange: () => set(select.value === "true") });
      return select;
    }
    if (spec.type === "date") {
      const input = el("input", { type: "date", "aria-label": label, value: value || "", min: spec.min, max: spec.max,
        onchange: () => set(input.value || null) });
      return input;
    }
    if (spec.type === "integer" && field.unit === "cents") {
      const input = el("input", { type: "text", inputmode: "decimal", "aria-label": `${label}（元）`, class: "seg-num",
        value: fmt.centsToYuanText(value), oninput: () => set(fmt.parseYuan(input.value)) });
      return el("span", { class: "seg-unit" }, "¥", input);
    }
    if (spec.type === "integer") {
      const input = el("input", { type: "number", "aria-label": label, class: "seg-num", value: value ?? "",
        min: spec.min, max: spec.max, step: 1, oninput: () => set(input.value === "" ? null : Number(input.value)) });
      const unit = { days: "天", points: "分", orders: "单" }[field.unit];
      return unit ? el("span", { class: "seg-unit" }, input, unit) : input;
    }
    const input = el("input", { type: "text", "aria-label": label, value: value ?? "",
      oninput: () => {
        const raw = input.value.trim();
        set(spec.type !== "text" && raw !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw);
      } });
    return input;
  }

  // The builder: edits `root` in place and calls changed() after every edit.
  function builder(root, ctx, changed) {
    const box = el("div", { class: "seg-builder" });
    const fieldOptions = ctx.described.fields.map((f) => [f.field, `${f.group} · ${f.label}`]);

    function groupKind(node) { return "all" in node ? "all" : "any" in node ? "any" : "not"; }
    function children(node) {
      const kind = groupKind(node);
      return kind === "not" ? (isGroup(node.not) ? node.not[groupKind(node.not)] : [node.not]) : node[kind];
    }

    function groupView(node, path, depth, remove) {
      const kind = groupKind(node);
      // A "not" group holds one all-group of its children, so it can hold several conditions.
      if (kind === "not" && !isGroup(node.not)) node.not = { all: [node.not] };
      const list = kind === "not" ? node.not[groupKind(node.not)] : node[kind];
      const kindSelect = ui.select("", Object.entries(GROUP_LABELS), kind, { "aria-label": `第 ${depth} 层条件组的关系`,
        onchange: () => {
          const items = list.splice(0);
          delete node[kind];
          if (kindSelect.value === "not") node.not = { all: items };
          else node[kindSelect.value] = items;
          redraw();
        } });
      const rows = el("ol", { class: "seg-rows" });
      // The API's error paths: rule.all[1].any[0].value; a "not" group's children sit in rule.not.all[i].
      const base = kind === "not" ? `${path}.not.${groupKind(node.not)}` : `${path}.${kind}`;
      list.forEach((child, index) => {
        const drop = () => { list.splice(index, 1); redraw(); };
        rows.append(el("li", {}, isGroup(child) ? groupView(child, `${base}[${index}]`, depth + 1, drop)
          : conditionView(child, list, index, drop, `${base}[${index}]`)));
      });
      if (!list.length) rows.append(el("li", { class: "muted" }, kind === "all" ? "（空：全部会员）" : "请添加条件"));
      const actions = el("div", { class: "seg-actions" },
        ui.button("添加条件", () => { list.push(newCondition(ctx)); redraw(); }, { "data-act": "add-condition" }),
        depth < ctx.described.max_depth - 1
          ? ui.button("添加条件组", () => { list.push({ any: [newCondition(ctx)] }); redraw(); }, { "data-act": "add-group" })
          : null,
        remove ? ui.button("删除此组", remove, { kind: "danger", "data-act": "remove-group" }) : null);
      return el("div", { class: `seg-group depth-${depth}`, role: "group", "aria-label": `第 ${depth} 层条件组` },
        el("div", { class: "seg-group-head" }, kindSelect, el("span", { class: "muted" }, "以下条件")), rows, actions);
    }

    function conditionView(cond, list, index, drop, path) {
      const key = fieldKey(cond.field);
      const field = ctx.fields[key];
      const op = field.ops.find((o) => o.op === cond.op) || field.ops[0];
      const n = index + 1;
      const fieldSelect = ui.select("", fieldOptions, key, { "aria-label": `条件 ${n} 的字段`,
        onchange: () => { list[index] = newCondition(ctx, fieldSelect.value); redraw(); } });
      const opSelect = ui.select("", field.ops.map((o) => [o.op, o.label]), op.op, { "aria-label": `条件 ${n} 的运算`,
        onchange: () => {
          const next = field.ops.find((o) => o.op === opSelect.value);
          cond.op = next.op;
          cond.value = blank(next.value, field, ctx);
          redraw();
        } });
      const parts = [fieldSelect];
      if (key === "custom.<key>") {
        const options = ctx.custom.length ? ctx.custom : [[cond.field.slice(7), cond.field.slice(7)]];
        const customSelect = ui.select("", options, cond.field.slice(7), { "aria-label": `条件 ${n} 的自定义字段`,
          onchange: () => { cond.field = `custom.${customSelect.value}`; changed(); } });
        parts.push(customSelect);
      }
      parts.push(opSelect, valueInput(op.value, field, cond.value, (v) => { cond.value = v; changed(); }, ctx,
        `条件 ${n} 的值`));
      if (field.within_days) {
        const days = el("input", { type: "number", min: 1, max: ctx.described.max_days, class: "seg-num",
          "aria-label": `条件 ${n} 的时间范围（最近几天，留空为不限）`, value: cond.within_days ?? "",
          oninput: () => {
            if (days.value === "") delete cond.within_days;
            else cond.within_days = Number(days.value);
            changed();
          } });
        parts.push(el("span", { class: "seg-unit" }, "最近", days, "天内"));
      }
      parts.push(ui.button("删除", drop, { "aria-label": `删除条件 ${n}`, "data-act": "remove-condition" }));
      return el("div", { class: "seg-cond-wrap", "data-field": path, "data-cond": cond.field },
        el("div", { class: "seg-cond" }, ...parts), el("p", { class: "field-error", hidden: true }));
    }

    function redraw() {
      clear(box).append(groupView(root, "rule", 1, null));
      changed();
    }
    box.redraw = redraw;
    redraw();
    return box;
  }

  // The preview panel: count and sample, refreshed debounced.
  function previewPanel(getRule) {
    const count = el("strong", { class: "seg-count", "data-testid": "segment-count" }, "—");
    const status = el("span", { class: "muted", "aria-live": "polite" });
    const slot = el("div");
    const panel = ui.section("预估人数", el("p", {}, "符合条件的会员：", count, " 人 ", status), slot);
    let timer = null;
    let seq = 0;
    panel.refresh = () => {
      clearTimeout(timer);
      status.textContent = "更新中…";
      timer = setTimeout(async () => {
        const mine = ++seq;
        try {
          const answer = await api.post("/admin/segments/preview", { rule: getRule() });
          if (mine !== seq) return;
          count.textContent = fmt.number(answer.count);
          count.dataset.count = String(answer.count);
          status.textContent = "";
          clear(slot).append(ui.table({
            caption: "部分会员（最新 20 位）",
            columns: [
              { label: "会员号", render: (m) => el("a", { href: `#/members/${m.id}` }, m.member_no) },
              { label: "昵称", render: (m) => m.nickname || "—" },
              { label: "手机号", render: (m) => m.phone || "—" },
              { label: "等级", render: (m) => m.tier_name },
            ],
            rows: answer.sample, empty: "没有符合条件的会员",
          }));
        } catch (error) {
          if (mine !== seq) return;
          count.textContent = "—";
          delete count.dataset.count;
          status.textContent = "";
          const fields = (error.details && error.details.fields) || {};
          clear(slot).append(ui.errorNotice(error),
            Object.keys(fields).length
              ? el("ul", { class: "seg-problems" }, Object.entries(fields).map(([p, m]) => el("li", {}, `${p}：${m}`)))
              : null);
        }
      }, 400);
    };
    return panel;
  }

  async function editor(view, id) {
    const ctx = await loadPickers();
    const saved = id ? await api.get(`/admin/segments/${id}`) : null;
    let rule = saved ? structuredClone(saved.rule) : { all: [] };
    if (!isGroup(rule)) rule = { all: [rule] };
    const title = saved ? "编辑人群" : "新建人群";
    const name = ui.input("name", saved ? saved.name : "", { maxlength: 64, required: true });
    const description = ui.input("description", saved ? saved.description : "", { maxlength: 200 });
    const preview = previewPanel(() => rule);
    const form = ui.form([
      ui.field("人群名称", name),
      ui.field("说明", description, { hint: "可选，200 字以内" }),
      el("div", { "data-field": "rule", class: "field" }, el("h3", {}, "圈选条件"),
        builder(rule, ctx, () => preview.refresh()), el("p", { class: "field-error", hidden: true })),
    ], async () => {
      const body = { name: name.value.trim(), description: description.value.trim(), rule };
      if (saved) {
        await api.put(`/admin/segments/${saved.id}`, body);
        ui.toast("已保存");
        C.render();
      } else {
        const created = await api.post("/admin/segments", body);
        ui.toast("人群已创建");
        C.navigate(`/segments/${created.id}`);
      }
    }, { submit: "保存人群", extra: [el("a", { href: "#/segments", class: "button" }, "返回列表")] });

    const actions = [];
    if (saved) {
      actions.push(ui.button("重命名", async (event) => {
        const input = ui.input("rename", saved.name, { maxlength: 64 });
        const body = el("div", {}, ui.field("新名称", input));
        const confirmed = await ui.confirm({ title: "重命名人群", body, ok: "确定" });
        if (!confirmed || !input.value.trim()) return;
        await ui.busy(event.currentTarget || event.target, async () => {
          await api.put(`/admin/segments/${saved.id}`, { name: input.value.trim() });
          ui.toast("已重命名");
          C.render();
        });
      }));
      const del = ui.button("删除", async () => {
        if (!await ui.confirm({ title: "删除人群", body: `确定删除人群“${saved.name}”？`, ok: "删除", danger: true })) return;
        await ui.busy(del, async () => {
          await api.del(`/admin/segments/${saved.id}`);
          ui.toast("人群已删除");
          C.navigate("/segments");
        }, (error) => {
          const touches = (error.details && error.details.touch_ids) || [];
          const text = error.code === "SEGMENT_IN_USE"
            ? `无法删除：有未结束的触达正在使用此人群（${touches.map((t) => `#${t}`).join("、")}）。请先结束或改用其他人群。`
            : `${error.message}（${error.code}）`;
          const notice = ui.notice(text, "error");
          notice.dataset.code = error.code;
          notice.append(" ", ...touches.map((t) => el("a", { href: `#/touches/${t}` }, `查看触达 #${t} `)));
          view.querySelector(".seg-delete-error")?.remove();
          notice.classList.add("seg-delete-error");
          view.querySelector(".screen-header").after(notice);
        });
      }, { kind: "danger" });
      actions.push(del);
    }
    view.append(ui.header(saved ? `${title}：${saved.name}` : title, ...actions),
      el("div", { class: "seg-layout" }, ui.section(null, form), preview));
  }

  C.register({ path: "/segments/new", title: "新建人群", async render(view) { await editor(view, null); } });
  C.register({ path: "/segments/:id", title: "编辑人群", async render(view, params) { await editor(view, params.id); } });
})();
