// 会员导入 (系统管理, admins only): upload a member file (the dry run), read its totals and problems,
// download the error report, run it and watch the progress, undo it; the list of earlier imports.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;
  const ADMIN = ["admin"];
  const POLL_MS = 1000;

  const STATUS = {
    validated: ["已校验，待导入", ""], running: ["导入中", ""], completed: ["已完成", "active"],
    failed: ["失败（可继续）", "inactive"], undoing: ["撤销中", ""], undone: ["已撤销", "inactive"],
    discarded: ["已被重新上传替换", "inactive"],
  };
  const CHANNELS = [["pos", "门店收银（pos）"], ["online", "线上商城（online）"], ["miniprogram", "小程序（miniprogram）"],
    ["third_party", "第三方（third_party）"], ["console", "后台（console）"]];
  const badge = (imp) => ui.badge(...(STATUS[imp.status] || [imp.status, ""]));

  async function downloadErrors(imp, button) {
    await ui.busy(button, async () => {
      const response = await api.request("GET", `/admin/imports/${imp.id}/errors.csv`, { raw: true });
      const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `import-${imp.id}-errors.csv` });
      document.body.append(link);
      link.click();
      link.remove();
    });
  }

  function totalsView(imp) {
    const t = imp.totals;
    const stores = Object.entries(t.by_store || {}).map(([code, s]) => ({ code, ...s }));
    return [
      ui.dl([
        ["文件", `${imp.filename}（${imp.format}${imp.encoding ? `，${imp.encoding}` : ""}）`],
        ["状态", badge(imp)],
        ["行数", `共 ${fmt.number(imp.rows_total)} 行：通过 ${fmt.number(imp.rows_valid)}，有误 ${fmt.number(imp.rows_invalid)}`],
        ["将新建会员", fmt.number(t.create)],
        ["并入已有会员", fmt.number(t.join)],
        ["积分", fmt.number(t.points)],
        ["储值本金 / 赠送", `${fmt.yuan(t.principal_cents)} / ${fmt.yuan(t.bonus_cents)}`],
        ["授权记录", fmt.number(t.consents)],
      ]),
      ui.table({
        caption: "按注册门店", empty: "无门店数据",
        rows: stores,
        columns: [
          { label: "门店编码", render: (s) => s.code || "（未填）" },
          { label: "会员", render: (s) => fmt.number(s.members), class: "num" },
          { label: "积分", render: (s) => fmt.number(s.points), class: "num" },
          { label: "储值本金", render: (s) => fmt.yuan(s.principal_cents), class: "num" },
          { label: "储值赠送", render: (s) => fmt.yuan(s.bonus_cents), class: "num" },
        ],
      }),
    ];
  }

  function progressView(imp) {
    if (!["running", "completed", "failed"].includes(imp.status)) return null;
    const bar = el("progress", { max: Math.max(imp.rows_total, 1), value: imp.rows_done, "aria-label": "导入进度" });
    const counts = imp.counts || {};
    const rows = counts.rows || {};
    return el("div", { class: "import-progress" }, bar,
      el("p", { class: "muted", "aria-live": "polite" },
        imp.status === "running" ? `已处理 ${fmt.number(imp.rows_done)} / ${fmt.number(imp.rows_total)} 行`
          : `新建 ${fmt.number(rows.created || 0)}，并入 ${fmt.number(rows.joined || 0)}，失败 ${fmt.number(rows.failed || 0)}`),
      imp.error ? ui.notice(`出错：${imp.error}（可点击“继续导入”从中断处继续）`, "error") : null);
  }

  function report(slot, imp, onChange) {
    let timer = null;
    const draw = (current) => {
      clearTimeout(timer);
      const actions = el("div", { class: "actions" });
      if (current.rows_invalid || (current.counts.rows || {}).failed) {
        const button = ui.button("下载错误报告（CSV）", () => downloadErrors(current, button));
        actions.append(button);
      }
      if (current.status === "validated" || current.status === "failed") {
        const skip = el("input", { type: "checkbox", name: "skip_invalid", checked: current.skip_invalid });
        const run = ui.button(current.status === "failed" ? "继续导入" : "开始导入", () => ui.busy(run, async () => {
          draw(await api.post(`/admin/imports/${current.id}/run`, { skip_invalid: skip.checked }));
          onChange();
        }), { kind: "primary" });
        if (current.rows_invalid) actions.append(ui.field(`跳过 ${current.rows_invalid} 行有误的数据`, skip));
        actions.append(run);
      }
      if (current.status === "completed" || current.status === "failed") {
        const undo = ui.button("撤销本次导入", () => ui.confirm({
          title: "撤销导入", danger: true, ok: "撤销",
          body: "新建的会员将被注销，并入会员的积分、储值和资料恢复原状。任何会员在导入后有新变动时将整体拒绝撤销。",
        }).then((yes) => yes && ui.busy(undo, async () => {
          draw(await api.post(`/admin/imports/${current.id}/undo`, {}));
          ui.toast("导入已撤销");
          onChange();
        })), { kind: "danger" });
        actions.append(undo);
      }
      const problems = current.problems ? ui.table({
        caption: `问题（前 ${current.problems.length} 条；完整列表请下载错误报告）`, empty: "没有问题",
        rows: current.problems,
        columns: [
          { label: "行号", render: (p) => String(p.row_no), class: "num" },
          { label: "列", render: (p) => p.column || "—" },
          { label: "原因", render: (p) => p.reason },
        ],
      }) : null;
      C.clear(slot).append(ui.section(`导入 #${current.id}`, ...totalsView(current), progressView(current), actions,
        problems));
      if (current.status === "running" || current.status === "undoing") {
        timer = setTimeout(async () => {
          if (!slot.isConnected) return;
          const fresh = await api.get(`/admin/imports/${current.id}`);
          draw(fresh);
          if (fresh.status !== current.status) onChange();
        }, POLL_MS);
      }
    };
    draw(imp);
  }

  C.register({
    path: "/admin/imports", title: "会员导入", roles: ADMIN, nav: { group: "系统管理", label: "会员导入", order: 36 },
    async render(view) {
      const slot = el("div", { class: "import-report" });
      let list;
      const file = el("input", { type: "file", name: "file", accept: ".csv,.xlsx,.jsonl,.ndjson", required: true });
      const upload = ui.form([
        ui.field("会员文件", file, { hint: "CSV（UTF-8 或 GBK）、Excel（.xlsx）或 JSON Lines；以手机号为准，列说明见 README 与示例文件" }),
        ui.field("注册渠道", ui.select("channel", CHANNELS, "pos")),
        ui.field("允许跳过有误的行", el("input", { type: "checkbox", name: "skip_invalid" })),
      ], async (form) => {
        const chosen = file.files[0];
        if (!chosen) throw new C.ApiError("NO_FILE", "请选择要导入的文件", 0, { fields: { file: "请选择文件" } });
        const imp = await api.request("POST", "/admin/imports", { file: chosen, query: {
          filename: chosen.name, channel: form.elements.channel.value, skip_invalid: form.elements.skip_invalid.checked,
        } });
        ui.toast(`已校验 ${imp.rows_total} 行：通过 ${imp.rows_valid}，有误 ${imp.rows_invalid}`);
        report(slot, imp, () => list.reload());
        list.reload();
      }, { submit: "上传并校验" });
      list = ui.pager({
        load: (cursor) => api.get("/admin/imports", { cursor, limit: 20 }),
        caption: "导入记录（最新在前）",
        empty: "还没有导入记录",
        columns: [
          { label: "#", render: (i) => String(i.id), class: "num" },
          { label: "文件", render: (i) => i.filename },
          { label: "状态", render: badge },
          { label: "行数", render: (i) => `${fmt.number(i.rows_valid)} / ${fmt.number(i.rows_total)}`, class: "num" },
          { label: "新建 / 并入", render: (i) => `${fmt.number(i.totals.create)} / ${fmt.number(i.totals.join)}`, class: "num" },
          { label: "上传时间", render: (i) => fmt.dateTime(i.created_at) },
          { label: "操作", render: (i) => ui.button("查看", async () => report(slot, await api.get(`/admin/imports/${i.id}`),
            () => list.reload()), { kind: "small", "aria-label": `查看导入 #${i.id}` }) },
        ],
      });
      view.append(ui.header("会员导入"), ui.section("上传文件（先校验，不会立即导入）", upload), slot, list);
      await list.ready;
    },
  });
})();
