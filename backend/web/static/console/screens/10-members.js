// Members: search (phone, member number, tag) with a paged list, and the member page: profile,
// assets, paid membership, ledgers, orders, coupons, timeline, messages, consents, tags and the admin's actions.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const STATUS = { active: ["正常", "active"], merged: ["已合并", "paused"], deleted: ["已擦除", "danger"] };
  const GENDER = { male: "男", female: "女", unknown: "未知" };
  const CHANNEL = { miniprogram: "小程序", pos: "门店", store: "门店", online: "线上商城", console: "后台", mall: "商城",
    sms: "短信", email: "邮件", wechat: "微信", default: "默认" };
  const POINTS_KIND = { earn: "消费获得", spend: "积分抵扣", expire: "过期", bonus: "奖励", adjust: "人工调整",
    debt_repay: "偿还欠分", refund_reversal: "退款扣回", refund_restore: "退款返还", transfer_in: "合并转入",
    transfer_out: "合并转出" };
  const WALLET_KIND = { topup: "充值", spend: "消费", refund: "退款", transfer_in: "合并转入", transfer_out: "合并转出" };
  const ORDER_STATUS = { placed: ["已完成", "done"], partially_refunded: ["部分退款", "paused"], refunded: ["已退款", "failed"] };
  const COUPON_STATUS = { available: ["可用", "active"], redeemed: ["已使用", "done"], expired: ["已过期", "inactive"] };
  const MESSAGE_STATUS = { queued: "排队中", deferred: "已延后", claimed: "处理中", sending: "发送中", sent: "已发送",
    delivered: "已送达", failed: "失败", capped: "频控拦截", no_consent: "未授权", unknown: "状态未知",
    expired: "已过期", cancelled: "已取消" };
  const EVENTS = { registered: "注册", order_placed: "下单", order_refunded: "退款", points_earned: "获得积分",
    points_spent: "使用积分", points_adjusted: "积分调整", points_expired: "积分过期", coupon_issued: "获得优惠券",
    coupon_redeemed: "核销优惠券", coupon_expired: "优惠券过期", tier_changed: "等级变化", consent_changed: "授权变更",
    message_sent: "发送消息", topup: "储值充值", wallet_topup: "储值充值", merged: "会员合并",
    registration_rewarded: "注册奖励", profile_updated: "资料修改", tagged: "打标签" };
  const label = (map, key) => map[key] || key || "—";
  const num = (label_, render) => ({ label: label_, render, class: "num" });
  const signed = (n) => (n > 0 ? `+${fmt.number(n)}` : fmt.number(n));

  // ---- search ---------------------------------------------------------------------------------

  C.register({
    path: "/members",
    title: "会员查询",
    nav: { group: "会员", label: "会员查询", order: 10 },
    async render(view, _params, query) {
      view.append(ui.header("会员查询"));
      const tags = await api.all("/admin/tags", {}, 500).catch(() => []);
      const phone = ui.input("phone", query.phone, { type: "tel", inputmode: "numeric", placeholder: "完整手机号" });
      const memberNo = ui.input("member_no", query.member_no, { placeholder: "会员卡号" });
      const tag = ui.select("tag_id", [["", "全部标签"], ...tags.map((t) => [t.id, `${t.name}（${t.member_count}）`])],
        query.tag_id);
      const form = ui.form([el("div", { class: "form-row" },
        ui.field("手机号", phone), ui.field("会员号", memberNo), ui.field("标签", tag))], async () => {
        C.navigate("/members", { phone: phone.value.trim(), member_no: memberNo.value.trim(), tag_id: tag.value });
      }, { submit: "查询", extra: [ui.button("清空", () => C.navigate("/members", {}))] });
      form.classList.add("members-search");
      view.append(ui.section(null, form));
      const filters = { phone: query.phone, member_no: query.member_no, tag_id: query.tag_id };
      const filtered = Object.values(filters).some(Boolean);
      const pager = ui.pager({
        load: (cursor) => api.get("/admin/members", { ...filters, cursor, limit: 20 }),
        caption: filtered ? "查询结果" : "最新注册的会员",
        empty: filtered ? "没有符合条件的会员" : "还没有会员",
        columns: [
          { label: "会员号", render: (m) => el("a", { href: `#/members/${m.id}` }, m.member_no) },
          { label: "手机号", render: (m) => m.phone || "—" },
          { label: "昵称", render: (m) => m.nickname || "—" },
          { label: "等级", render: (m) => ui.badge(m.tier_name) },
          num("积分", (m) => fmt.number(m.points_balance)),
          num("储值", (m) => fmt.yuan(m.balance_cents)),
          { label: "最近消费", render: (m) => fmt.dateTime(m.last_order_at) },
          { label: "注册", render: (m) => `${fmt.date(m.registered_at)} · ${label(CHANNEL, m.registration_channel)}` },
        ],
      });
      view.append(ui.section(null, pager));
      await pager.ready;
    },
  });

  // ---- member page ----------------------------------------------------------------------------

  function stat(title, value, detail) {
    return el("div", { class: "member-stat" }, el("span", { class: "muted" }, title),
      el("strong", {}, value), detail ? el("span", { class: "muted small" }, detail) : null);
  }

  function tabs(defs) {
    const list = el("div", { class: "tabs", role: "tablist", "aria-label": "会员记录" });
    const panel = el("div", { class: "tab-panel", role: "tabpanel", id: C.nextId("tabpanel") });
    const buttons = defs.map((def, index) => {
      const button = el("button", { type: "button", role: "tab", id: C.nextId("tab"), "aria-controls": panel.id,
        "aria-selected": index === 0 ? "true" : "false", onclick: () => show(index) }, def.label);
      return button;
    });
    list.append(...buttons);
    function show(index) {
      buttons.forEach((b, i) => b.setAttribute("aria-selected", i === index ? "true" : "false"));
      panel.setAttribute("aria-labelledby", buttons[index].id);
      const content = defs[index].render();
      C.clear(panel).append(content);
      return content.ready;
    }
    const box = el("div", { class: "member-tabs" }, list, panel);
    box.ready = show(0);
    return box;
  }

  const paged = (path, columns, empty, query = {}) => () =>
    ui.pager({ load: (cursor) => api.get(path, { ...query, cursor, limit: 20 }), columns, empty });

  function payloadText(payload) {
    const parts = Object.entries(payload || {}).filter(([, v]) => v !== null && typeof v !== "object")
      .slice(0, 4).map(([k, v]) => `${k}: ${v}`);
    return parts.join("，") || "—";
  }

  function recordTabs(id) {
    const base = `/admin/members/${id}`;
    return tabs([
      { label: "积分流水", render: paged(`${base}/points/ledger`, [
        { label: "时间", render: (e) => fmt.dateTime(e.created_at) },
        { label: "类型", render: (e) => label(POINTS_KIND, e.kind) },
        num("变动", (e) => signed(e.points)),
        num("余额", (e) => fmt.number(e.balance_after)),
        { label: "原因", render: (e) => e.reason || "—" },
        { label: "渠道", render: (e) => label(CHANNEL, e.channel) },
      ], "还没有积分记录") },
      { label: "储值流水", render: paged(`${base}/balance/ledger`, [
        { label: "时间", render: (e) => fmt.dateTime(e.created_at) },
        { label: "类型", render: (e) => label(WALLET_KIND, e.kind) },
        num("变动", (e) => fmt.yuan(e.amount_cents)),
        num("其中赠送", (e) => fmt.yuan(e.bonus_cents)),
        num("余额", (e) => fmt.yuan(e.balance_after_cents)),
        { label: "说明", render: (e) => e.reason || "—" },
      ], "还没有储值记录") },
      { label: "订单", render: paged(`${base}/orders`, [
        { label: "下单时间", render: (o) => fmt.dateTime(o.placed_at) },
        { label: "订单号", render: (o) => o.order_no },
        { label: "渠道", render: (o) => label(CHANNEL, o.channel) },
        num("金额", (o) => fmt.yuan(o.amount_cents)),
        num("已退款", (o) => fmt.yuan(o.refunded_cents)),
        num("获得积分", (o) => fmt.number(o.points_earned)),
        { label: "状态", render: (o) => ui.badge(...(ORDER_STATUS[o.status] || [o.status])) },
      ], "还没有订单") },
      { label: "优惠券", render: paged(`${base}/coupons`, [
        { label: "名称", render: (c) => c.name },
        { label: "状态", render: (c) => ui.badge(...(COUPON_STATUS[c.status] || [c.status])) },
        { label: "有效期", render: (c) => `${fmt.date(c.valid_from)} 至 ${fmt.date(c.valid_until)}` },
        { label: "来源", render: (c) => c.source },
        { label: "使用时间", render: (c) => fmt.dateTime(c.redeemed_at) },
      ], "没有优惠券") },
      { label: "时间线", render: paged(`${base}/timeline`, [
        { label: "时间", render: (e) => fmt.dateTime(e.created_at) },
        { label: "事件", render: (e) => label(EVENTS, e.type) },
        { label: "渠道", render: (e) => label(CHANNEL, e.channel) },
        { label: "详情", render: (e) => el("span", { class: "muted" }, payloadText(e.payload)) },
      ], "还没有事件") },
      { label: "消息", render: paged(`${base}/messages`, [
        { label: "创建时间", render: (m) => fmt.dateTime(m.created_at) },
        { label: "模板", render: (m) => m.template_key },
        { label: "用途", render: (m) => (m.purpose === "marketing" ? "营销" : "服务") },
        { label: "渠道", render: (m) => label(CHANNEL, m.channel) },
        { label: "最终状态", render: (m) => ui.badge(label(MESSAGE_STATUS, m.status), m.status) },
        { label: "原因", render: (m) => m.reason || "—" },
        num("尝试", (m) => fmt.number(m.attempts)),
      ], "没有消息记录") },
      { label: "授权历史", render: paged(`${base}/consents/history`, [
        { label: "时间", render: (r) => fmt.dateTime(r.created_at) },
        { label: "渠道", render: (r) => label(CHANNEL, r.channel) },
        { label: "用途", render: (r) => (r.purpose === "marketing" ? "营销" : "服务") },
        { label: "变更", render: (r) => ui.badge(r.granted ? "同意" : "撤回", r.granted ? "on" : "off") },
        { label: "来源", render: (r) => label(CHANNEL, r.source) },
        { label: "文本版本", render: (r) => r.text_version || "—" },
      ], "没有授权变更记录") },
    ]);
  }

  function consentTable(consents) {
    return ui.table({
      caption: "当前授权",
      columns: [
        { label: "渠道", render: (c) => label(CHANNEL, c.channel) },
        { label: "用途", render: (c) => (c.purpose === "marketing" ? "营销" : "服务") },
        { label: "状态", render: (c) => ui.badge(c.granted ? "已同意" : "未同意", c.granted ? "on" : "off") },
        { label: "来源", render: (c) => label(CHANNEL, c.source) },
        { label: "更新", render: (c) => fmt.dateTime(c.updated_at) },
      ],
      rows: consents,
    });
  }

  async function tagSection(member) {
    const section = ui.section("标签");
    async function draw() {
      const [mine, manual] = await Promise.all([api.get(`/admin/members/${member.id}/tags`),
        api.all("/admin/tags", { kind: "manual" }, 500)]);
      const list = el("ul", { class: "member-tags", "aria-label": "会员标签" });
      for (const tag of mine.items) {
        const remove = tag.source === "manual" ? ui.button("×", (event) => ui.busy(event.currentTarget, async () => {
          await api.del(`/admin/tags/${tag.id}/members/${member.id}`);
          ui.toast(`已移除标签「${tag.name}」`);
          await draw();
        }), { class: "link small", "aria-label": `移除标签 ${tag.name}` }) : null;
        list.append(el("li", {}, ui.badge(tag.name, tag.kind === "auto" ? "scheduled" : ""), remove));
      }
      if (!mine.items.length) list.append(el("li", { class: "muted" }, "暂无标签"));
      const carried = new Set(mine.items.map((t) => t.id));
      const choices = manual.filter((t) => !carried.has(t.id));
      const parts = [list];
      if (member.status === "active" && choices.length) {
        const picker = ui.select("tag_id", choices.map((t) => [t.id, t.name]));
        const add = ui.button("添加标签", () => ui.busy(add, async () => {
          await api.post(`/admin/tags/${picker.value}/members`, { member_ids: [member.id] });
          ui.toast("已添加标签");
          await draw();
        }));
        parts.push(el("div", { class: "toolbar member-tag-add" }, ui.field("手动标签", picker), add));
      }
      C.clear(section).append(el("h3", { text: "标签" }), ...parts);
    }
    await draw();
    return section;
  }

  // ---- paid membership (付费会员) -------------------------------------------------------------------

  const PERIOD = { month: "月卡", quarter: "季卡", year: "年卡" };
  const PERIOD_STATUS = { active: ["有效", "active"], refunded: ["已退款", "inactive"] };
  const PAY_STATUS = { pending: ["待支付", "scheduled"], paid: ["已支付", "done"], closed: ["已关闭", "inactive"] };
  const REFUND_STATUS = { processing: "退款中", succeeded: "已退款", failed: "退款失败" };
  const NOT_REFUNDABLE = { refund_window_passed: (d) => `已超过 ${d.refund_days} 天退款冷静期`,
    not_last_period: () => "只能退最后购买的一期", benefits_used: () => "该期权益已使用（已发券包或期间有消费）",
    already_refunded: () => "该期已退款" };
  // A period ends at merchant midnight: the last day it covers is the day before.
  const lastDay = (iso) => fmt.date(new Date(new Date(iso).getTime() - 1).toISOString());

  // Whether a paid membership runs and until when, the periods bought, and the membership orders; an admin may
  // refund a paid one (the server decides whether the cooling-off rule allows it and says why not).
  async function membershipSection(member) {
    const section = ui.section("付费会员");
    const admin = C.can(["admin"]);
    async function draw() {
      const [m, paid] = await Promise.all([api.get(`/admin/members/${member.id}/membership`),
        api.get(`/admin/members/${member.id}/payments`).then((p) => p.items.filter((o) => o.kind === "membership"))]);
      const summary = m.active
        ? el("p", { class: "lead", id: "membership-status" }, ui.badge("付费会员", "active"),
          ` ${m.plan_name}，有效期至 ${lastDay(m.ends_at)}`)
        : el("p", { class: "muted", id: "membership-status" }, "未开通付费会员");
      const periods = ui.table({ caption: "会员期", rows: m.periods, empty: "还没有购买记录", columns: [
        { label: "方案", render: (p) => `${p.plan_name}（${label(PERIOD, p.period)}）` },
        num("价格", (p) => fmt.yuan(p.price_cents)),
        { label: "起止", render: (p) => `${fmt.date(p.starts_at)} 至 ${lastDay(p.ends_at)}` },
        { label: "状态", render: (p) => ui.badge(...(PERIOD_STATUS[p.status] || [p.status])) },
      ] });
      const refundable = (o) => o.status === "paid" && !o.refunds.some((r) => r.status !== "failed");
      const orders = ui.table({ caption: "会员订单", rows: paid, empty: "没有会员订单", columns: [
        { label: "订单号", render: (o) => o.out_trade_no },
        num("金额", (o) => fmt.yuan(o.amount_cents)),
        { label: "支付时间", render: (o) => fmt.dateTime(o.paid_at) },
        { label: "状态", render: (o) => ui.badge(...(PAY_STATUS[o.status] || [o.status])) },
        { label: "退款", render: (o) => (o.refunds.length
          ? o.refunds.map((r) => label(REFUND_STATUS, r.status)).join("，")
          : (admin && refundable(o) ? refundButton(o) : "—")) },
      ] });
      C.clear(section).append(el("h3", { text: "付费会员" }), summary, periods, orders);
    }
    function refundButton(order) {
      const button = ui.button("退款", () => ui.busy(button, async () => {
        const reason = ui.input("reason", "", { maxlength: 80, placeholder: "如：七天无理由" });
        const body = el("div", {}, el("p", {}, `将通过微信支付原路退回 ${fmt.yuan(order.amount_cents)}，该期会员立即失效。`),
          ui.field("退款原因", reason));
        const ok = await ui.confirm({ title: `退款会员订单 ${order.out_trade_no}`, body, ok: "确认退款", danger: true });
        if (!ok) return;
        await api.post(`/admin/membership-orders/${encodeURIComponent(order.out_trade_no)}/refunds`,
          { reason: reason.value.trim() || "会员申请退款" });
        ui.toast("已提交退款，微信支付处理中");
        await draw();
      }, (error) => {
        const why = error.details && NOT_REFUNDABLE[error.details.reason];
        ui.toast(why ? `无法退款：${why(error.details)}` : error.message, "error");
      }), { class: "small", "aria-label": `退款 ${order.out_trade_no}` });
      return button;
    }
    await draw().catch((error) => section.append(ui.errorNotice(error)));
    return section;
  }

  function download(member, data) {
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    return el("a", { href: URL.createObjectURL(blob), download: `member-${member.member_no}.json`, class: "button" },
      `下载导出文件（member-${member.member_no}.json）`);
  }

  function adminSection(member) {
    const who = `${member.nickname || "会员"}（${member.member_no}）`;
    const reload = () => C.render();
    const points = ui.input("points", "", { type: "number", step: "1", inputmode: "numeric" });
    const pointsReason = ui.input("reason", "", { maxlength: 200 });
    const adjust = ui.form([el("div", { class: "form-row" },
      ui.field("调整积分数", points, { hint: "正数增加，负数扣减" }), ui.field("调整原因", pointsReason))], async (form) => {
      const value = Number(points.value);
      if (!Number.isInteger(value) || value === 0) {
        ui.showErrors(form, { message: "请检查输入", details: { fields: { points: "请输入非 0 的整数" } } });
        return;
      }
      const ok = await ui.confirm({ title: "确认调整积分",
        body: `将为 ${who}${value > 0 ? "增加" : "扣减"} ${fmt.number(Math.abs(value))} 积分，原因：${pointsReason.value || "（未填写）"}。此操作会写入积分流水和审计日志。`,
        ok: "确认调整" });
      if (!ok) return;
      const result = await api.post(`/admin/members/${member.id}/points/adjustments`,
        { points: value, reason: pointsReason.value.trim() });
      ui.toast(`积分已调整，当前余额 ${fmt.number(result.points_balance)}`);
      reload();
    }, { submit: "调整积分" });

    const other = ui.input("other_id", "", { type: "number", inputmode: "numeric" });
    const merge = ui.form([ui.field("被合并会员 ID", other, { hint: "该会员的身份、积分、储值、优惠券和历史并入本会员" })],
      async () => {
        const ok = await ui.confirm({ title: "确认合并会员", danger: true, ok: "确认合并",
          body: `会员 #${other.value || "?"} 的身份、积分、储值、优惠券和历史记录将全部并入 ${who}，会员 #${other.value || "?"} 将标记为已合并。此操作不可撤销。` });
        if (!ok) return;
        await api.post(`/admin/members/${member.id}/merge`, { other_id: Number(other.value) || other.value });
        ui.toast(`已将会员 #${other.value} 合并到本会员`);
        reload();
      }, { submit: "合并会员" });

    const exportReason = ui.input("reason", "", { maxlength: 200 });
    const exportSlot = el("div", { class: "export-slot" });
    const exporter = ui.form([ui.field("导出原因", exportReason, { hint: "例如：会员本人申请（记录在审计日志）" }), exportSlot],
      async () => {
        const ok = await ui.confirm({ title: "确认导出会员数据", ok: "确认导出",
          body: `将导出 ${who} 的全部个人数据（含完整手机号、资产、订单、消息和授权记录）为 JSON 文件，并记入审计日志。原因：${exportReason.value || "（未填写）"}。` });
        if (!ok) return;
        const data = await api.get(`/admin/members/${member.id}/export`, { reason: exportReason.value.trim() });
        C.clear(exportSlot).append(download(member, data));
        ui.toast("导出已生成，请下载");
      }, { submit: "导出数据" });

    const eraseReason = ui.input("reason", "", { maxlength: 200 });
    const confirmNo = ui.input("confirm", "", { placeholder: member.member_no });
    const eraser = ui.form([el("div", { class: "form-row" }, ui.field("擦除原因", eraseReason),
      ui.field("确认会员号", confirmNo, { hint: `输入 ${member.member_no} 以确认` }))], async () => {
      const ok = await ui.confirm({ title: "确认擦除会员", danger: true, ok: "永久擦除",
        body: `将永久擦除 ${who} 的个人信息（手机号、昵称、生日、邮箱、微信绑定、消息内容等），释放其身份标识；积分、储值、订单和优惠券记录保留但不再关联个人信息。此操作不可撤销。` });
      if (!ok) return;
      const result = await api.post(`/admin/members/${member.id}/erase`,
        { confirm: confirmNo.value.trim(), reason: eraseReason.value.trim() });
      ui.toast(`会员已擦除（${fmt.dateTime(result.erased_at)}）`);
      reload();
    }, { submit: "擦除会员" });
    eraser.querySelector("button[type=submit]").className = "danger";

    const active = member.status === "active";
    return ui.section("管理员操作",
      el("div", { class: "columns member-admin" },
        active ? el("div", {}, el("h4", {}, "积分调整"), adjust) : null,
        active ? el("div", {}, el("h4", {}, "合并会员"), merge) : null,
        el("div", {}, el("h4", {}, "导出数据（个人信息保护法）"), exporter),
        member.status !== "merged" ? el("div", {}, el("h4", {}, "擦除会员"), eraser) : null));
  }

  C.register({
    path: "/members/:id",
    title: "会员详情",
    async render(view, params) {
      const id = params.id;
      view.append(ui.header("会员详情", el("a", { href: "#/members", class: "button" }, "返回会员查询")));
      const [member, assets] = await Promise.all([api.get(`/admin/members/${id}`),
        api.get(`/admin/members/${id}/assets`).catch(() => null)]);
      const [statusText, statusKind] = STATUS[member.status] || [member.status, ""];
      view.append(el("p", { class: "lead member-title" }, el("strong", {}, member.nickname || "未填写昵称"),
        ` · 会员号 ${member.member_no} · `, ui.badge(statusText, statusKind),
        assets ? [" ", ui.badge(assets.tier.name, "scheduled")] : null));
      if (member.status === "merged") {
        view.append(ui.notice(`此会员已合并到会员 #${member.merged_into_id}。`, "warn"),
          el("p", {}, el("a", { href: `#/members/${member.merged_into_id}` }, "查看合并后的会员")));
      } else if (member.status === "deleted") view.append(ui.notice("此会员的个人信息已擦除。", "warn"));

      if (assets) {
        const next = assets.tier.next;
        view.append(el("div", { class: "member-stats", "aria-label": "会员资产" },
          stat("积分余额", fmt.number(assets.points.balance),
            assets.points.debt ? `欠分 ${fmt.number(assets.points.debt)}` :
              (assets.points.expiring.length ? `30 天内过期 ${fmt.number(assets.points.expiring.reduce((s, e) => s + e.points, 0))}` : "近期无过期")),
          stat("储值余额", fmt.yuan(assets.balance_cents), `本金 ${fmt.yuan(assets.principal_cents)} · 赠送 ${fmt.yuan(assets.bonus_cents)}`),
          stat("会员等级", assets.tier.name, next ? `距 ${next.name} 还差 ${fmt.number(next.remaining)}` : "已是最高等级"),
          stat("可用优惠券", `${fmt.number(assets.coupons.available_count)} 张`,
            assets.coupons.expiring_soon.length ? `${assets.coupons.expiring_soon.length} 张 7 天内到期` : "近期无到期")));
      }

      const phone = el("span", { class: "member-phone" }, member.phone || "—");
      const phoneCell = el("span", {}, phone);
      if (C.can(["admin"]) && member.phone) {
        const reveal = ui.button("显示完整号码", () => ui.busy(reveal, async () => {
          const answer = await api.post(`/admin/members/${member.id}/phone/reveal`);
          phone.textContent = answer.phone || "—";
          reveal.remove();
          ui.toast("已显示完整号码（已记入审计日志）");
        }), { class: "link small" });
        phoneCell.append(" ", reveal);
      }
      const custom = Object.entries(member.custom_fields || {}).map(([k, v]) => [k, String(v)]);
      const profile = ui.section("基本资料", ui.dl([
        ["手机号", phoneCell], ["昵称", member.nickname], ["性别", label(GENDER, member.gender)],
        ["生日", member.birthday ? fmt.date(member.birthday) : null], ["邮箱", member.email],
        ["注册渠道", label(CHANNEL, member.registration_channel)], ["注册时间", fmt.dateTime(member.registered_at)],
        ["推荐码", member.referral_code], ...custom,
      ]));
      const side = el("div", {}, await tagSection(member), ui.section("授权", consentTable(member.consents)));
      view.append(el("div", { class: "columns" }, profile, side));
      if (member.status !== "deleted") view.append(await membershipSection(member));
      const records = recordTabs(member.id);
      view.append(ui.section("记录", records));
      if (C.can(["admin"])) view.append(adminSection(member));
      await records.ready;
    },
  });
})();
