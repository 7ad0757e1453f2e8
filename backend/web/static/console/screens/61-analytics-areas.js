// 数据分析, one page per area: 会员, 销售, 积分, 储值, 优惠券, 消息, and a touch's lift against its hold-out. Each
// draws the API's answer as charts with the same numbers in a table under them; the frame, filters, figures and
// exports are Console.analytics (60-analytics.js).
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;
  const A = C.analytics;
  const { figureCard: fig, cards, lineChart, barChart, table, block } = A;
  const ROLES = ["admin", "marketer"];
  const GROUP = "数据分析";
  const day = { label: "日期", key: "day", kind: "text" };
  const label = (name) => ({ label: name, key: "label", kind: "text" });

  function area({ path, title, nav, order, load, draw, fields, lead }) {
    C.register({
      path, title, roles: ROLES, nav: { group: GROUP, label: nav, order },
      async render(view, _params, query) {
        await A.page(view, { path, title, query, load, draw, fields, lead });
      },
    });
  }

  // ---- 会员 -------------------------------------------------------------------------------------------------
  area({
    path: "/analytics/members", title: "会员分析", nav: "会员分析", order: 10,
    load: (f) => api.get(`${A.BASE}/members`, A.apiQuery(f)),
    draw(body, d, f) {
      const q = A.apiQuery(f);
      const x = d.figures;
      const ex = { exportArea: "members", query: q };
      body.append(cards([
        fig("total", "会员总数", x.total), fig("new_members", "新会员", x.new_members),
        fig("active_30", "近30天活跃", x.active_30), fig("active_90", "近90天活跃", x.active_90),
        fig("churn_risk", "流失风险（一年内下单、近90天未下单）", x.churn_risk), fig("buyers", "购买会员", x.buyers),
        fig("repurchase_rate", "复购率", x.repurchase_rate, "rate"),
        fig("upgrades", "升级", x.upgrades), fig("downgrades", "降级", x.downgrades),
      ]),
      block("每日新会员", {
        name: "series", ...ex,
        chart: lineChart(d.series, [{ name: "新会员", key: "new_members" }, { name: "升级", key: "upgrades" },
          { name: "降级", key: "downgrades" }], "每日新会员、升级与降级"),
        tableNode: table("series", "每日新会员、升级与降级", [day, { label: "新会员", key: "new_members", kind: "count" },
          { label: "升级", key: "upgrades", kind: "count" }, { label: "降级", key: "downgrades", kind: "count" }], d.series),
      }),
      el("div", { class: "columns" },
        block("会员等级", {
          name: "by_tier", ...ex,
          chart: barChart(d.by_tier, [{ name: "当前会员", key: "members" }, { name: "期间新会员", key: "new_members" }],
            "各等级会员数"),
          tableNode: table("by_tier", "各等级会员", [label("等级"), { label: "当前会员", key: "members", kind: "count" },
            { label: "期间新会员", key: "new_members", kind: "count" }, { label: "升级", key: "upgrades", kind: "count" },
            { label: "降级", key: "downgrades", kind: "count" }], d.by_tier),
        }),
        block("转化漏斗：注册 → 首单 → 复购", {
          name: "funnel", ...ex,
          chart: ui.chart({
            tooltip: { trigger: "item" },
            series: [{ type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "10%",
              label: { show: true, formatter: (p) => `${p.name} ${p.value}` },
              data: d.funnel.map((s) => ({ name: s.label, value: s.count })) }],
          }, { height: 260, label: `漏斗：${d.funnel.map((s) => `${s.label} ${s.count}`).join("，")}` }),
          tableNode: table("funnel", "期间注册会员的转化", [{ label: "阶段", key: "label", kind: "text" },
            { label: "人数", key: "count", kind: "count" }, { label: "占注册", key: "rate", kind: "rate" },
            { label: "占上一步", key: "step_rate", kind: "rate" }], d.funnel),
        })),
      el("div", { class: "columns" },
        block("各门店新会员", { name: "by_store", ...ex, tableNode: table("by_store", "按注册门店",
          [label("门店"), { label: "新会员", key: "new_members", kind: "count" }], d.by_store) }),
        block("各渠道新会员", { name: "by_channel", ...ex, tableNode: table("by_channel", "按注册渠道",
          [label("渠道"), { label: "新会员", key: "new_members", kind: "count" }], d.by_channel) })));
    },
  });

  // ---- 销售 -------------------------------------------------------------------------------------------------
  const salesColumns = (name) => [label(name), { label: "订单数", key: "orders", kind: "count" },
    { label: "销售额", key: "gmv_cents", kind: "money" }, { label: "客单价", key: "aov_cents", kind: "money" },
    { label: "退款", key: "refund_cents", kind: "money" }, { label: "销售占比", key: "share", kind: "rate" }];

  area({
    path: "/analytics/sales", title: "销售分析", nav: "销售分析", order: 20,
    load: (f) => api.get(`${A.BASE}/sales`, A.apiQuery(f)),
    draw(body, d, f) {
      const ex = { exportArea: "sales", query: A.apiQuery(f) };
      const x = d.figures;
      body.append(cards([
        fig("orders", "会员订单", x.orders), fig("gmv", "销售额（GMV）", x.gmv_cents, "money"),
        fig("aov", "客单价", x.aov_cents, "money"), fig("buyers", "购买会员", x.buyers),
        fig("frequency", "购买频次（单/人）", x.frequency, "frequency"),
        fig("discount", "优惠金额", x.discount_cents, "money"), fig("refund", "退款", x.refund_cents, "money"),
        fig("net", "净销售额", x.net_cents, "money"), fig("points_share", "积分抵扣订单占比", x.points_share, "rate"),
        fig("balance_share", "储值支付订单占比", x.balance_share, "rate"),
        fig("coupon_share", "用券订单占比", x.coupon_share, "rate"),
      ]),
      block("每日销售额与订单", {
        name: "series", ...ex,
        chart: lineChart(d.series, [{ name: "销售额", key: "gmv_cents", kind: "money" },
          { name: "订单数", key: "orders", axis: 1 }], "每日销售额与订单数"),
        tableNode: table("series", "每日销售", [day, { label: "订单数", key: "orders", kind: "count" },
          { label: "销售额", key: "gmv_cents", kind: "money" }, { label: "优惠", key: "discount_cents", kind: "money" },
          { label: "退款", key: "refund_cents", kind: "money" }, { label: "客单价", key: "aov_cents", kind: "money" }],
        d.series),
      }),
      el("div", { class: "columns" },
        block("各等级客单价", {
          name: "by_tier", ...ex,
          chart: barChart(d.by_tier, [{ name: "客单价", key: "aov_cents", kind: "money" }], "各等级客单价"),
          tableNode: table("by_tier", "按会员等级（下单时）", salesColumns("等级"), d.by_tier),
        }),
        block("各门店客单价", {
          name: "by_store", ...ex,
          chart: barChart(d.by_store, [{ name: "客单价", key: "aov_cents", kind: "money" }], "各门店客单价"),
          tableNode: table("by_store", "按门店", salesColumns("门店"), d.by_store),
        })),
      block("各渠道销售", { name: "by_channel", ...ex,
        tableNode: table("by_channel", "按渠道", salesColumns("渠道"), d.by_channel) }));
    },
  });

  // ---- 积分 -------------------------------------------------------------------------------------------------
  area({
    path: "/analytics/points", title: "积分分析", nav: "积分分析", order: 30,
    load: (f) => api.get(`${A.BASE}/points`, A.apiQuery(f)),
    draw(body, d, f) {
      const ex = { exportArea: "points", query: A.apiQuery(f) };
      const x = d.figures;
      const l = d.liability;
      const expiring = [["30", "30 天内", l.expiring_30], ["60", "60 天内", l.expiring_60], ["90", "90 天内", l.expiring_90]]
        .map(([key, name, points]) => ({ key, label: name, points }));
      body.append(cards([
        fig("issued", "发放积分", x.issued, "points"), fig("spent", "消耗积分", x.spent, "points"),
        fig("expired", "过期积分", x.expired, "points"), fig("reversed", "退款扣回", x.reversed, "points"),
        fig("restored", "退款退回", x.restored, "points"), fig("breakage", "过期率（breakage）", x.breakage, "rate"),
        fig("balance", "积分余额", l.balance, "points"), fig("debt", "积分欠款", l.debt, "points"),
        fig("liability", "积分负债", l.liability_cents, "money", `按 ${l.points_per_yuan} 积分 = ¥1 计`),
      ]),
      block("每日积分", {
        name: "series", ...ex,
        chart: lineChart(d.series, [{ name: "发放", key: "issued" }, { name: "消耗", key: "spent" },
          { name: "过期", key: "expired" }, { name: "退款扣回", key: "reversed" }], "每日发放、消耗、过期与扣回积分"),
        tableNode: table("series", "每日积分", [day, { label: "发放", key: "issued", kind: "count" },
          { label: "消耗", key: "spent", kind: "count" }, { label: "过期", key: "expired", kind: "count" },
          { label: "退款扣回", key: "reversed", kind: "count" }], d.series),
      }),
      el("div", { class: "columns" },
        block("即将过期", {
          name: "expiring",
          chart: barChart(expiring, [{ name: "积分", key: "points" }], "即将过期的积分", { height: 240 }),
          tableNode: table("expiring", "将在以下天数内过期的积分（当前）", [label("期限"),
            { label: "积分", key: "points", kind: "count" }], expiring),
        }),
        block("各等级积分", {
          name: "by_tier", ...ex,
          chart: barChart(d.by_tier, [{ name: "发放", key: "issued" }, { name: "消耗", key: "spent" },
            { name: "过期", key: "expired" }], "各等级积分"),
          tableNode: table("by_tier", "按会员等级", [label("等级"), { label: "发放", key: "issued", kind: "count" },
            { label: "消耗", key: "spent", kind: "count" }, { label: "过期", key: "expired", kind: "count" }], d.by_tier),
        })),
      block("各门店积分", { name: "by_store", ...ex, tableNode: table("by_store", "按门店", [label("门店"),
        { label: "发放", key: "issued", kind: "count" }, { label: "消耗", key: "spent", kind: "count" },
        { label: "过期", key: "expired", kind: "count" }], d.by_store) }));
    },
  });

  // ---- 储值 -------------------------------------------------------------------------------------------------
  area({
    path: "/analytics/stored-value", title: "储值分析", nav: "储值分析", order: 40,
    load: (f) => api.get(`${A.BASE}/stored-value`, A.apiQuery(f)),
    draw(body, d, f) {
      const ex = { exportArea: "stored-value", query: A.apiQuery(f) };
      const x = d.figures;
      const r = d.reconciliation;
      const checks = [
        { key: "principal", label: "本金", balance: r.balance_principal_cents, entries: r.entries_principal_cents },
        { key: "bonus", label: "赠送", balance: r.balance_bonus_cents, entries: r.entries_bonus_cents },
      ];
      body.append(cards([
        fig("outstanding_principal", "储值余额（本金）", d.outstanding_principal_cents, "money"),
        fig("outstanding_bonus", "储值余额（赠送）", d.outstanding_bonus_cents, "money"),
        fig("topups", "充值笔数", x.topups), fig("topup_principal", "充值本金", x.topup_principal_cents, "money"),
        fig("topup_bonus", "充值赠送", x.topup_bonus_cents, "money"),
        fig("spend_principal", "消费本金", x.spend_principal_cents, "money"),
        fig("spend_bonus", "消费赠送", x.spend_bonus_cents, "money"),
        fig("refund_principal", "退回本金", x.refund_principal_cents, "money"),
        fig("refund_bonus", "退回赠送", x.refund_bonus_cents, "money"),
      ]),
      block("对账：余额合计 = 流水合计", {
        name: "reconciliation",
        chart: el("p", { class: `notice ${r.reconciled ? "ok" : "error"} reconciliation`, role: "status",
          "data-reconciled": String(r.reconciled) },
        r.reconciled ? "已对平：会员储值余额合计等于储值流水合计。"
          : `不平：余额合计与流水合计相差 ${fmt.yuan(r.difference_cents)}，请联系技术支持核查。`),
        tableNode: table("reconciliation", "对账明细（当前）", [label("项目"),
          { label: "余额合计", key: "balance", kind: "money" }, { label: "流水合计", key: "entries", kind: "money" }], checks),
      }),
      block("各门店未消费储值", {
        name: "by_store_outstanding",
        chart: barChart(d.by_store_outstanding, [{ name: "本金", key: "principal_cents", kind: "money", stack: "v" },
          { name: "赠送", key: "bonus_cents", kind: "money", stack: "v" }], "各门店未消费储值（本金与赠送）"),
        tableNode: table("by_store_outstanding", "按门店：充值 − 消费 + 退回（累计）", [label("门店"),
          { label: "本金", key: "principal_cents", kind: "money" }, { label: "赠送", key: "bonus_cents", kind: "money" }],
        d.by_store_outstanding),
      }),
      block("每日充值与消费", {
        name: "series", ...ex,
        chart: lineChart(d.series, [{ name: "充值本金", key: "topup_principal_cents", kind: "money" },
          { name: "充值赠送", key: "topup_bonus_cents", kind: "money" },
          { name: "消费本金", key: "spend_principal_cents", kind: "money" },
          { name: "消费赠送", key: "spend_bonus_cents", kind: "money" }], "每日充值与消费"),
        tableNode: table("series", "每日储值", [day,
          { label: "充值本金", key: "topup_principal_cents", kind: "money" },
          { label: "充值赠送", key: "topup_bonus_cents", kind: "money" },
          { label: "消费本金", key: "spend_principal_cents", kind: "money" },
          { label: "消费赠送", key: "spend_bonus_cents", kind: "money" }], d.series),
      }),
      block("各门店充值与消费", { name: "by_store", ...ex, tableNode: table("by_store", "按门店（期间）", [label("门店"),
        { label: "充值笔数", key: "topups", kind: "count" }, { label: "充值本金", key: "topup_principal_cents", kind: "money" },
        { label: "消费本金", key: "spend_principal_cents", kind: "money" },
        { label: "消费赠送", key: "spend_bonus_cents", kind: "money" }], d.by_store) }));
    },
  });

  // ---- 优惠券 -----------------------------------------------------------------------------------------------
  area({
    path: "/analytics/coupons", title: "优惠券分析", nav: "优惠券分析", order: 50,
    load: (f) => api.get(`${A.BASE}/coupons`, A.apiQuery(f)),
    draw(body, d, f) {
      const ex = { exportArea: "coupons", query: A.apiQuery(f) };
      const x = d.figures;
      body.append(cards([
        fig("issued", "发券", x.issued), fig("redeemed", "核销", x.redeemed), fig("expired", "过期", x.expired),
        fig("redemption_rate", "核销率", x.redemption_rate, "rate"),
        fig("discount", "优惠成本", x.discount_cents, "money"),
        fig("order_gmv", "用券订单金额", x.order_gmv_cents, "money"),
      ]),
      block("各券模板核销率", {
        name: "by_template", ...ex,
        chart: barChart(d.by_template, [{ name: "核销率", key: "redemption_rate", kind: "rate" }], "各券模板核销率",
          { horizontal: true, height: Math.max(200, 48 * d.by_template.length + 80) }),
        tableNode: table("by_template", "按券模板", [label("券模板"), { label: "发券", key: "issued", kind: "count" },
          { label: "核销", key: "redeemed", kind: "count" }, { label: "过期", key: "expired", kind: "count" },
          { label: "核销率", key: "redemption_rate", kind: "rate" },
          { label: "优惠成本", key: "discount_cents", kind: "money" },
          { label: "用券订单金额", key: "order_gmv_cents", kind: "money" }], d.by_template),
      }),
      el("div", { class: "columns" },
        block("发券方式", {
          name: "issued_by_way",
          chart: barChart(d.issued_by_way, [{ name: "发券", key: "issued" }], "各发券方式的数量", { height: 240 }),
          tableNode: table("issued_by_way", "按发券方式", [label("方式"), { label: "发券", key: "issued", kind: "count" }],
            d.issued_by_way),
        }),
        block("每日发券与核销", {
          name: "series", ...ex,
          chart: lineChart(d.series, [{ name: "发券", key: "issued" }, { name: "核销", key: "redeemed" },
            { name: "过期", key: "expired" }], "每日发券、核销与过期"),
          tableNode: table("series", "每日优惠券", [day, { label: "发券", key: "issued", kind: "count" },
            { label: "核销", key: "redeemed", kind: "count" }, { label: "过期", key: "expired", kind: "count" },
            { label: "优惠成本", key: "discount_cents", kind: "money" }], d.series),
        })));
    },
  });

  // ---- 消息 -------------------------------------------------------------------------------------------------
  const messageColumns = (name) => [label(name), { label: "排队", key: "queued", kind: "count" },
    { label: "已发送", key: "sent", kind: "count" }, { label: "已送达", key: "delivered", kind: "count" },
    { label: "失败", key: "failed", kind: "count" }, { label: "未发送", key: "not_sent", kind: "count" },
    { label: "退订", key: "unsubscribes", kind: "count" }];

  area({
    path: "/analytics/messages", title: "消息分析", nav: "消息分析", order: 60,
    fields: ["msg_channel", "purpose"],
    lead: "按排队日期统计，状态为当前状态。",
    load: (f) => api.get(`${A.BASE}/messages`, A.apiQuery(f, { only: ["from", "to"], messages: true })),
    draw(body, d, f) {
      const ex = { exportArea: "messages", query: A.apiQuery(f, { only: ["from", "to"], messages: true }) };
      const x = d.figures;
      body.append(cards([
        fig("queued", "排队", x.queued), fig("sent", "已发送", x.sent), fig("delivered", "已送达", x.delivered),
        fig("failed", "失败", x.failed), fig("not_sent", "未发送", x.not_sent), fig("unsubscribes", "退订", x.unsubscribes),
        fig("sent_rate", "发送率", x.sent_rate, "rate"), fig("delivery_rate", "送达率", x.delivery_rate, "rate"),
        fig("unsubscribe_rate", "退订率", x.unsubscribe_rate, "rate"),
      ]),
      el("div", { class: "columns" },
        block("各渠道", {
          name: "by_channel", ...ex,
          chart: barChart(d.by_channel, [{ name: "已发送", key: "sent" }, { name: "已送达", key: "delivered" },
            { name: "失败", key: "failed" }, { name: "未发送", key: "not_sent" }], "各渠道消息"),
          tableNode: table("by_channel", "按渠道", messageColumns("渠道"), d.by_channel),
        }),
        block("未发送原因", {
          name: "not_sent_by_reason",
          chart: barChart(d.not_sent_by_reason, [{ name: "条数", key: "count" }], "未发送原因", { horizontal: true }),
          tableNode: table("not_sent_by_reason", "未发送原因", [label("原因"), { label: "条数", key: "count", kind: "count" }],
            d.not_sent_by_reason),
        })),
      block("按用途", { name: "by_purpose", ...ex,
        tableNode: table("by_purpose", "按用途（营销 / 服务）", messageColumns("用途"), d.by_purpose) }),
      block("每日消息", {
        name: "series", ...ex,
        chart: lineChart(d.series, [{ name: "排队", key: "queued" }, { name: "已发送", key: "sent" },
          { name: "已送达", key: "delivered" }, { name: "失败", key: "failed" }], "每日消息"),
        tableNode: table("series", "每日消息", [day, { label: "排队", key: "queued", kind: "count" },
          { label: "已发送", key: "sent", kind: "count" }, { label: "已送达", key: "delivered", kind: "count" },
          { label: "失败", key: "failed", kind: "count" }], d.series),
      }));
    },
  });

  // ---- 触达效果 ---------------------------------------------------------------------------------------------
  const TOUCH_STATUS = { draft: "草稿", scheduled: "已排期", running: "进行中", paused: "已暂停", finished: "已结束" };

  C.register({
    path: "/analytics/touches", title: "触达效果", roles: ROLES, nav: { group: GROUP, label: "触达效果", order: 70 },
    async render(view, _params, query) {
      view.append(ui.header("触达效果"), A.areaTabs("/analytics/touches", A.filtersOf(query)), el("p", { class: "lead" },
        "选择一个触达，查看它的发送漏斗，以及触达组与对照组（未发送的留存组）的转化差异和置信区间。"));
      const touches = await api.all("/admin/touches", {}, 500);
      const body = el("div", { class: "analytics-body" }, ui.table({
        caption: "触达",
        columns: [
          { label: "触达", render: (t) => el("a", { href: `#/analytics/touches/${t.id}` }, t.name) },
          { label: "状态", render: (t) => ui.badge(TOUCH_STATUS[t.status] || t.status, t.status) },
          { label: "对照组", render: (t) => (t.holdout_pct ? `${t.holdout_pct}%` : "无"), class: "num" },
          { label: "上次运行", render: (t) => t.last_period || "—" },
        ],
        rows: touches, empty: "还没有触达",
      }));
      body.dataset.hash = location.hash;
      view.append(body);
    },
  });

  function verdict(lift, treatment, holdout) {
    if (!treatment || !holdout || lift.lift === null) {
      return { kind: "noise", text: "暂无结论：触达组或对照组还没有会员，无法比较。" };
    }
    const points = (v) => `${v < 0 ? "\u2212" : "+"}${(Math.abs(v) * 100).toFixed(1)} 个百分点`;
    const interval = `95% 置信区间 ${points(lift.ci_low)} 至 ${points(lift.ci_high)}`;
    if (lift.significant) {
      return lift.lift > 0
        ? { kind: "significant", text: `效果显著：触达组转化率比对照组高 ${points(lift.lift).slice(1)}（${interval}），不太可能是偶然。` }
        : { kind: "significant", text: `显著变差：触达组转化率比对照组低 ${points(lift.lift).slice(1)}（${interval}）。` };
    }
    return { kind: "noise", text: `差异不显著：转化率差 ${points(lift.lift)}，但${interval}包含 0，可能只是随机波动。` };
  }

  // The lift with its 95 % interval as an error bar (a custom series: the whisker from ci_low to ci_high).
  function liftChart(lift) {
    const pct = (v) => (v === null || v === undefined ? null : Math.round(v * 10000) / 100);
    const [low, mid, high] = [pct(lift.ci_low), pct(lift.lift), pct(lift.ci_high)];
    return ui.chart({
      grid: { left: 96, right: 32, top: 24, bottom: 40 },
      tooltip: { trigger: "item", formatter: () => `提升 ${mid}%（95% 置信区间 ${low}% 至 ${high}%）` },
      // The axis spans the interval and zero (ECharts sizes it from the bar alone otherwise).
      xAxis: { type: "value", axisLabel: { formatter: "{value}%" },
        min: (e) => Math.floor(Math.min(e.min, low ?? 0, 0) / 5) * 5 - 5,
        max: (e) => Math.ceil(Math.max(e.max, high ?? 0, 0) / 5) * 5 + 5 },
      yAxis: { type: "category", data: ["转化率提升"] },
      series: [
        { type: "bar", name: "提升", data: [mid], barWidth: 28, itemStyle: { color: lift.significant ? "#0b6e4f" : "#b7791f" },
          markLine: { symbol: "none", data: [{ xAxis: 0 }], lineStyle: { color: "#52606d" }, label: { formatter: "0" } } },
        { type: "custom", name: "95% 置信区间", data: [[low, high, 0]], z: 10,
          renderItem(params, api_) {
            const from = api_.coord([api_.value(0), api_.value(2)]);
            const to = api_.coord([api_.value(1), api_.value(2)]);
            const cap = 10;
            const style = { stroke: "#1f2933", lineWidth: 2 };
            return { type: "group", children: [
              { type: "line", shape: { x1: from[0], y1: from[1], x2: to[0], y2: to[1] }, style },
              { type: "line", shape: { x1: from[0], y1: from[1] - cap, x2: from[0], y2: from[1] + cap }, style },
              { type: "line", shape: { x1: to[0], y1: to[1] - cap, x2: to[0], y2: to[1] + cap }, style },
            ] };
          } },
      ],
    }, { height: 180, label: `转化率提升 ${mid ?? "—"}%，95% 置信区间 ${low ?? "—"}% 至 ${high ?? "—"}%` });
  }

  C.register({
    path: "/analytics/touches/:id", title: "触达效果", roles: ROLES,
    async render(view, params) {
      const d = await api.get(`${A.BASE}/touches/${encodeURIComponent(params.id)}`);
      view.append(ui.header("触达效果", el("a", { href: `#/touches/${d.touch_id}` }, "打开触达")),
        A.areaTabs("/analytics/touches", {}),
        el("p", { class: "lead" }, `${d.name} · 转化归因 ${d.attribution_days} 天`));
      const groups = [{ key: "treatment", label: "触达组", ...(d.treatment || {}) },
        { key: "holdout", label: "对照组", ...(d.holdout || {}) }];
      const v = verdict(d.lift, d.treatment, d.holdout);
      const body = el("div", { class: "analytics-body" },
        el("p", { class: `analytics-verdict ${v.kind}`, role: "status", "data-significant": String(d.lift.significant) },
          v.text),
        el("div", { class: "columns" },
          block("转化：触达组 vs 对照组", {
            name: "conversion",
            chart: barChart(groups, [{ name: "转化率", key: "conversion_rate", kind: "rate" }], "触达组与对照组的转化率",
              { height: 240 }),
            tableNode: table("conversion", "两组转化", [label("分组"), { label: "会员", key: "members", kind: "count" },
              { label: "转化会员", key: "converted", kind: "count" },
              { label: "转化率", key: "conversion_rate", kind: "rate" },
              { label: "订单", key: "orders", kind: "count" }, { label: "销售额", key: "revenue_cents", kind: "money" }],
            groups),
          }),
          block("发送漏斗", {
            name: "funnel",
            chart: barChart(d.funnel, [{ name: "数量", key: "count" }], "发送漏斗", { height: 240 }),
            tableNode: table("funnel", "发送漏斗", [{ label: "阶段", key: "label", kind: "text" },
              { label: "数量", key: "count", kind: "count" }, { label: "占排队", key: "rate", kind: "rate" }], d.funnel),
          })),
        block("提升与置信区间（双比例检验）", {
          name: "lift",
          chart: liftChart(d.lift),
          tableNode: table("lift", "转化率提升（触达组 − 对照组）", [
            { label: "提升", render: (r) => A.signed(r.lift, 2), kind: "rate" },
            { label: "95% 区间下限", render: (r) => A.signed(r.ci_low, 2), kind: "rate" },
            { label: "95% 区间上限", render: (r) => A.signed(r.ci_high, 2), kind: "rate" },
            { label: "p 值", render: (r) => (r.p_value === null ? "—" : r.p_value.toFixed(4)), kind: "rate" },
            { label: "结论", render: (r) => (r.significant ? "显著" : "不显著"), kind: "text" }], [d.lift]),
        }));
      body.dataset.hash = location.hash;
      view.append(body);
    },
  });
})();
