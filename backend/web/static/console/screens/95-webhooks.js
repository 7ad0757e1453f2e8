// Webhooks (系统管理, admins only): endpoints with their status and disabled reason, the create / edit form
// (URL, event types, enabled), the secret shown once after create or rotate, a test event, and the
// delivery log of an endpoint with status codes and a re-send button.
(() => {
  "use strict";
  const C = window.Console;
  const { el, ui, fmt, api } = C;
  const ADMIN = ["admin"];
  const GROUP = "系统管理";

  const DELIVERY = { pending: ["待投递", ""], failed: ["失败重试中", "inactive"], succeeded: ["成功", "active"],
    dead: ["已放弃", "inactive"] };
  const statusBadge = (e) => (e.enabled ? ui.badge("启用", "active") : ui.badge("已停用", "inactive"));
  const deliveryBadge = (d) => ui.badge(...(DELIVERY[d.status] || [d.status, ""]));

  function typeBoxes(types, checked = []) {
    const boxes = types.map((t) => ui.field(`${t.type}（${t.description}）`,
      el("input", { type: "checkbox", value: t.type, checked: checked.includes(t.type),
        defaultChecked: checked.includes(t.type), "data-group": "event_types" })));
    return el("fieldset", { class: "field", "data-field": "event_types" },
      el("legend", { text: "订阅的事件（不选为全部事件）" }), ...boxes, el("p", { class: "field-error", hidden: true }));
  }
  const checkedTypes = (form) => Array.from(form.querySelectorAll('input[data-group="event_types"]:checked'), (b) => b.value);

  function endpointFields(types, e = { url: "", description: "", event_types: [], enabled: true }) {
    return [
      ui.field("URL", ui.input("url", e.url, { required: true, maxlength: 2000, type: "url" }),
        { hint: "生产环境仅允许公网 https 地址" }),
      ui.field("说明", ui.input("description", e.description, { maxlength: 200 })),
      typeBoxes(types, e.event_types),
      ui.field("启用", el("input", { type: "checkbox", name: "enabled", checked: e.enabled, defaultChecked: e.enabled })),
    ];
  }
  const bodyOf = (form) => ({ url: form.elements.url.value.trim(), description: form.elements.description.value.trim(),
    event_types: checkedTypes(form), enabled: form.elements.enabled.checked });

  function secretPanel(slot, endpoint) {
    const input = ui.input("secret", endpoint.secret, { readonly: true, class: "secret" });
    const copy = ui.button("复制密钥", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(endpoint.secret);
        ui.toast("已复制到剪贴板");
      } catch (_) {
        ui.toast("无法自动复制，请手动选中后复制（Ctrl+C）", "error");
      }
    });
    C.clear(slot).append(ui.section(`端点 #${endpoint.id} 的签名密钥`,
      ui.notice("密钥只显示这一次，关闭后无法再查看。请立即复制，并用它校验 webhook-signature。", "warn"),
      ui.field("签名密钥", input, { hint: "Standard Webhooks 格式（whsec_…）" }),
      el("div", { class: "actions" }, copy, ui.button("我已保存，关闭", () => C.clear(slot)))));
    input.focus();
    input.select();
  }

  function deliveryLog(slot, endpoint) {
    const list = ui.pager({
      load: (cursor) => api.get(`/admin/webhook-endpoints/${endpoint.id}/deliveries`, { cursor, limit: 20 }),
      caption: `端点 #${endpoint.id} 的投递记录（最新在前）`,
      empty: "还没有投递记录",
      columns: [
        { label: "事件", render: (d) => [el("code", {}, d.event_type), el("br"), el("small", { class: "muted" }, d.event_id)] },
        { label: "状态", render: deliveryBadge },
        { label: "尝试", render: (d) => String(d.attempts) },
        { label: "状态码", render: (d) => (d.last_status_code === null ? "—" : String(d.last_status_code)) },
        { label: "耗时", render: (d) => (d.last_response_ms === null ? "—" : `${d.last_response_ms} ms`) },
        { label: "错误", render: (d) => d.last_error || "—" },
        { label: "下次尝试", render: (d) => (d.next_attempt_at ? fmt.dateTime(d.next_attempt_at) : "—") },
        { label: "操作", render: (d) => {
          const button = ui.button("重新发送", () => ui.busy(button, async () => {
            await api.post(`/admin/webhook-deliveries/${d.id}/resend`, {});
            ui.toast("已重新加入投递队列");
            list.reload();
          }), { kind: "small", "aria-label": `重新发送 ${d.event_id}` });
          return button;
        } },
      ],
    });
    C.clear(slot).append(ui.section(`投递记录：${endpoint.url}`,
      el("div", { class: "actions" }, ui.button("刷新", () => list.reload()), ui.button("关闭", () => C.clear(slot))), list));
    return list.ready;
  }

  C.register({
    path: "/admin/webhooks", title: "Webhooks", roles: ADMIN, nav: { group: GROUP, label: "Webhooks", order: 35 },
    async render(view) {
      const types = (await api.get("/admin/webhook-event-types")).items;
      const secret = el("div", { class: "admin-secret" });
      const editor = el("div", { class: "admin-editor" });
      const log = el("div", { class: "webhook-log" });
      let list;

      const create = ui.form(endpointFields(types), async (form) => {
        const endpoint = await api.post("/admin/webhook-endpoints", bodyOf(form));
        form.reset();
        secretPanel(secret, endpoint);
        list.reload();
      }, { submit: "创建端点" });

      const edit = (e) => {
        const form = ui.form(endpointFields(types, e), async (f) => {
          await api.patch(`/admin/webhook-endpoints/${e.id}`, bodyOf(f));
          ui.toast("已保存");
          C.clear(editor);
          list.reload();
        }, { extra: [ui.button("取消", () => C.clear(editor))] });
        C.clear(editor).append(ui.section(`编辑端点 #${e.id}`, form));
        form.querySelector("input").focus();
      };
      const rotate = (e, button) => ui.confirm({
        title: "轮换签名密钥", ok: "轮换",
        body: "新密钥立即生效；旧密钥在 24 小时内继续签名（两个签名同时发送），之后失效。",
      }).then((yes) => yes && ui.busy(button, async () => {
        secretPanel(secret, await api.post(`/admin/webhook-endpoints/${e.id}/rotate-secret`, { overlap_s: 86400 }));
        list.reload();
      }));
      const test = (e, button) => ui.busy(button, async () => {
        const event = await api.post(`/admin/webhook-endpoints/${e.id}/test`, {});
        ui.toast(`测试事件 ${event.id} 已加入投递队列`);
        await deliveryLog(log, e);
      });
      const remove = (e, button) => ui.confirm({
        title: "删除端点", danger: true, ok: "删除", body: `删除 ${e.url} 及其投递记录？此操作无法恢复。`,
      }).then((yes) => yes && ui.busy(button, async () => {
        await api.del(`/admin/webhook-endpoints/${e.id}`);
        ui.toast("端点已删除");
        C.clear(log);
        list.reload();
      }));

      list = ui.pager({
        load: (cursor) => api.get("/admin/webhook-endpoints", { cursor, limit: 20 }),
        caption: "Webhook 端点",
        empty: "还没有 Webhook 端点",
        columns: [
          { label: "URL", render: (e) => [el("code", {}, e.url), e.description ? [el("br"), e.description] : null] },
          { label: "事件", render: (e) => (e.event_types.length ? e.event_types.join("、") : "全部事件") },
          { label: "状态", render: (e) => [statusBadge(e),
            e.disabled_reason ? el("p", { class: "hint" }, `停用原因：${e.disabled_reason}`) : null,
            e.failing_since ? el("p", { class: "hint" }, `自 ${fmt.dateTime(e.failing_since)} 起投递失败`) : null] },
          { label: "操作", render: (e) => {
            const testButton = ui.button("发送测试事件", () => test(e, testButton),
              { kind: "small", disabled: !e.enabled, "aria-label": `向 ${e.url} 发送测试事件` });
            const rotateButton = ui.button("轮换密钥", () => rotate(e, rotateButton),
              { kind: "small", "aria-label": `轮换 ${e.url} 的密钥` });
            const removeButton = ui.button("删除", () => remove(e, removeButton),
              { kind: "small", "aria-label": `删除 ${e.url}` });
            return el("span", { class: "row-actions" },
              ui.button("编辑", () => edit(e), { kind: "small", "aria-label": `编辑 ${e.url}` }),
              ui.button("投递记录", () => deliveryLog(log, e), { kind: "small", "aria-label": `${e.url} 的投递记录` }),
              testButton, rotateButton, removeButton);
          } },
        ],
      });
      view.append(ui.header("Webhooks"), secret, ui.section("新建端点", create), editor, list, log);
      await list.ready;
    },
  });
})();
