// 数据导出 (系统管理, marketers and admins): members (personal data for admins only), balances at the end of a
// day, the points or stored-value ledger of a date range, coupons; each as CSV or Excel, saved under the file
// name the server gives. Every export is audited by the server.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, api } = C;
  const ROLES = ["admin", "marketer"];
  const GROUP = "会员"; // marketers use it too: 系统管理 is for admins
  const BASE = "/admin/exports";

  const FORMATS = [["csv", "CSV（UTF-8，Excel 可直接打开）"], ["xlsx", "Excel（.xlsx）"]];
  const MEMBER_STATUS = [["active", "正常"], ["merged", "已合并"], ["deleted", "已擦除"], ["all", "全部"]];
  const LEDGER_KINDS = [["points", "积分流水"], ["wallet", "储值流水"]];
  const COUPON_STATUS = [["", "全部状态"], ["available", "可用"], ["redeemed", "已使用"], ["expired", "已过期"]];

  // Merchant days are the browser's calendar days (the console is used in the merchant's zone).
  const pad = (n) => String(n).padStart(2, "0");
  const dayText = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const today = () => dayText(new Date());
  const firstOfMonth = () => {
    const now = new Date();
    return dayText(new Date(now.getFullYear(), now.getMonth(), 1));
  };

  // The name from Content-Disposition: filename* (RFC 5987, UTF-8) first, then the plain filename.
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

  async function download(what, query, fallback) {
    const response = await api.request("GET", `${BASE}/${what}`, { query, raw: true });
    let blob;
    try {
      blob = await response.blob();
    } catch (_) {
      // The file is streamed: a connection cut after the first bytes leaves no error body, only this.
      throw new C.ApiError("DOWNLOAD_INTERRUPTED", "文件下载中断，请重试", 0, {});
    }
    const name = fileName(response, fallback);
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return name;
  }

  // A choice list when the list could be read, else a numeric id box (the API checks the id).
  function picker(name, items, allLabel, label) {
    if (items) return ui.select(name, [["", allLabel], ...items.map((item) => [item.id, label(item)])], "");
    return ui.input(name, "", { inputmode: "numeric", placeholder: "ID，留空为全部" });
  }

  const formatField = () => ui.field("文件格式", ui.select("format", FORMATS, "csv"));
  const value = (form, name) => form.elements[name].value.trim();

  // An export form: onSubmit downloads; the button shows the work in progress, errors land on the fields.
  function exportForm(children, build) {
    const form = ui.form(children, async (node) => {
      const button = node.querySelector("button[type=submit]");
      const label = button.textContent;
      button.textContent = "正在生成…";
      node.setAttribute("aria-busy", "true");
      try {
        const { what, query, fallback } = build(node);
        const name = await download(what, query, fallback);
        ui.toast(`已下载 ${name}`);
      } catch (error) {
        if (error instanceof C.ApiError && error.code === "EXPORT_RANGE_TOO_LONG") {
          const days = error.details && error.details.days;
          throw new C.ApiError(error.code, days ? `${error.message}（所选范围 ${days} 天）` : error.message,
            error.status, error.details);
        }
        throw error;
      } finally {
        button.textContent = label;
        node.removeAttribute("aria-busy");
      }
    }, { submit: "下载" });
    return form;
  }

  function membersForm(pickers) {
    const admin = C.can(["admin"]);
    const pii = el("input", { type: "checkbox", name: "pii", disabled: !admin });
    const piiHint = admin
      ? "含手机号（完整）、姓名、性别、生日、邮箱和自定义字段。此类导出会记入审计日志（操作人、时间、筛选条件与行数），请妥善保管文件。"
      : "仅管理员可导出个人信息（手机号、姓名等）；此类导出会记入审计日志。";
    return exportForm([
      ui.field("包含个人信息", pii, { hint: piiHint }),
      el("div", { class: "form-row" },
        ui.field("会员状态", ui.select("status", MEMBER_STATUS, "active")),
        ui.field("注册门店", picker("store_id", pickers.stores, "全部门店",
          (s) => `${s.name}（${s.code}）${s.active === false ? "（已停用）" : ""}`)),
        ui.field("标签", picker("tag_id", pickers.tags, "全部标签", (t) => t.name)),
        formatField()),
    ], (form) => ({
      what: "members",
      query: { format: value(form, "format"), pii: form.elements.pii.checked ? "true" : null,
        status: value(form, "status"), store_id: value(form, "store_id"), tag_id: value(form, "tag_id") },
      fallback: `members.${value(form, "format")}`,
    }));
  }

  function balancesForm() {
    const at = ui.input("at", today(), { type: "date", max: today(), required: true });
    return exportForm([
      el("div", { class: "form-row" },
        ui.field("截至日期", at, { hint: "该日营业结束时的余额；今天为当前余额。最后一行为合计。" }),
        formatField()),
    ], (form) => ({
      what: "balances", query: { format: value(form, "format"), at: value(form, "at") },
      fallback: `balances.${value(form, "format")}`,
    }));
  }

  function ledgersForm() {
    return exportForm([
      el("div", { class: "form-row" },
        ui.field("流水类型", ui.select("kind", LEDGER_KINDS, "points")),
        ui.field("开始日期", ui.input("from", firstOfMonth(), { type: "date", required: true })),
        ui.field("结束日期", ui.input("to", today(), { type: "date", required: true }),
          { hint: "含首尾两天，最多 366 天" }),
        formatField()),
    ], (form) => ({
      what: "ledgers",
      query: { format: value(form, "format"), kind: value(form, "kind"), from: value(form, "from"),
        to: value(form, "to") },
      fallback: `${value(form, "kind")}-ledger.${value(form, "format")}`,
    }));
  }

  function couponsForm(pickers) {
    return exportForm([
      el("div", { class: "form-row" },
        ui.field("券状态", ui.select("status", COUPON_STATUS, "")),
        ui.field("券模板", picker("template_id", pickers.templates, "全部模板", (t) => `${t.name}（#${t.id}）`)),
        formatField()),
    ], (form) => ({
      what: "coupons",
      query: { format: value(form, "format"), status: value(form, "status"), template_id: value(form, "template_id") },
      fallback: `coupons.${value(form, "format")}`,
    }));
  }

  function panel(title, kind, form) {
    const section = ui.section(title, form);
    section.classList.add("export-panel");
    section.dataset.export = kind;
    return section;
  }

  C.register({
    path: "/admin/exports", title: "数据导出", roles: ROLES, nav: { group: GROUP, label: "数据导出", order: 20 },
    async render(view) {
      // A list that cannot be read leaves an id box instead of the picker, not the screen unusable.
      const [stores, tags, templates] = await Promise.all([
        api.all("/admin/stores").catch(() => null),
        api.all("/admin/tags", {}, 500).catch(() => null),
        api.all("/admin/coupon-templates").catch(() => null),
      ]);
      const pickers = { stores, tags, templates };
      view.append(ui.header("数据导出"),
        el("p", { class: "lead" }, "导出文件为 CSV（UTF-8，带 BOM）或 Excel；时间为商户时间，金额单位为元。每次导出都会记入审计日志。"),
        el("div", { class: "columns" },
          panel("会员", "members", membersForm(pickers)),
          panel("资产余额", "balances", balancesForm()),
          panel("积分/储值流水", "ledgers", ledgersForm()),
          panel("优惠券", "coupons", couponsForm(pickers))));
    },
  });
})();
