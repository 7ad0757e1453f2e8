// Home: the dashboard's headline figures, shortcuts to the daily work and what is in flight (running touches, the
// last job runs).
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;

  const SHORTCUTS = [
    ["#/members", "查找会员", "按手机号、会员号或标签"],
    ["#/segments/new", "新建人群", "点选条件圈定会员"],
    ["#/touches/new", "新建触达", "短信、邮件、微信订阅消息"],
    ["#/templates", "消息模板", "编辑并预览"],
    ["#/coupons", "优惠券", "券模板与发券"],
  ];
  const TOUCH_STATUS = { draft: "草稿", scheduled: "已排期", running: "进行中", paused: "已暂停", finished: "已结束" };
  const RUN_STATUS = { running: "运行中", done: "完成", failed: "失败" };

  C.register({
    path: "/",
    title: "首页",
    nav: { group: "首页", label: "首页", order: 0 },
    async render(view) {
      const staff = C.staff;
      view.append(ui.header("首页"),
        el("p", { class: "lead" }, `${staff.username}（${fmt.role(staff.role)}），欢迎回来。`));
      // The analytics dashboard's headline figures (数据分析 → 数据概览), the last 30 days; a failure leaves
      // the rest of the home page working.
      if (C.analytics) {
        const figures = ui.section("数据概览（近30天）");
        figures.dataset.home = "analytics";
        view.append(figures);
        C.analytics.loadDashboard({}).then((d) => figures.append(C.analytics.headline(d),
          el("p", {}, el("a", { href: "#/analytics/overview" }, "查看数据分析与趋势"))))
          .catch((error) => figures.append(ui.errorNotice(error)));
      }
      view.append(ui.section("常用操作", el("ul", { class: "shortcuts" }, SHORTCUTS.map(([href, label, hint]) =>
        el("li", {}, el("a", { href }, el("strong", {}, label), el("span", { class: "muted" }, hint)))))));
      const inFlight = ui.section("进行中的触达");
      const runs = ui.section("最近的任务运行");
      view.append(el("div", { class: "columns" }, inFlight, runs));
      const [touchPage, jobRuns] = await Promise.all([api.get("/admin/touches", { limit: 100 }), api.get("/admin/job-runs")]);
      const active = touchPage.items.filter((t) => ["scheduled", "running", "paused"].includes(t.status));
      inFlight.append(ui.table({
        columns: [
          { label: "触达", render: (t) => el("a", { href: `#/touches/${t.id}` }, t.name) },
          { label: "状态", render: (t) => ui.badge(TOUCH_STATUS[t.status] || t.status, t.status) },
          { label: "上次运行", render: (t) => t.last_period || "—" },
        ],
        rows: active, empty: "没有进行中的触达",
      }));
      runs.append(ui.table({
        columns: [
          { label: "任务", render: (r) => r.job },
          { label: "周期", render: (r) => r.period },
          { label: "状态", render: (r) => ui.badge(RUN_STATUS[r.status] || r.status, r.status) },
          { label: "开始", render: (r) => fmt.dateTime(r.started_at) },
        ],
        rows: jobRuns.items.slice(0, 8), empty: "还没有任务运行",
      }));
    },
  });
})();
