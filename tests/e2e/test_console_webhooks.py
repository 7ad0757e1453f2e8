"""The console's Webhooks screen in a real browser: an admin creates an endpoint (the secret shown once),
sends a test event, reads the delivery log with its status code, re-sends a delivery, and sees why an
endpoint was disabled."""

from __future__ import annotations

import pytest

from backend.webhooks import outbox
from backend.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.fakes.webhook_receiver import Answer, FakeWebhookReceiver

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def receiver():
    fake = FakeWebhookReceiver()
    fake.start()
    outbox.forget()
    yield fake
    fake.stop()


async def test_an_admin_creates_an_endpoint_sends_a_test_event_and_resends_it(stack, console_page, console_shots,
                                                                            receiver):
    page = console_page
    await log_in(page, stack, "admin")
    await open_screen(page, "/admin/webhooks", "Webhooks")
    await expect(page.get_by_text("还没有 Webhook 端点")).to_be_visible()
    await page.get_by_label("URL", exact=True).fill(receiver.url())
    await page.get_by_label("说明").fill("ERP 订单同步")
    await page.get_by_label("order.recorded（", exact=False).check()
    await page.get_by_role("button", name="创建端点").click()
    secret = page.locator("input.secret")
    await expect(page.get_by_text("密钥只显示这一次")).to_be_visible()
    value = await secret.input_value()
    assert value.startswith("whsec_")
    endpoint = await WebhookEndpoint.get()
    assert endpoint.event_types == ["order.recorded"] and endpoint.description == "ERP 订单同步"
    assert not await axe_violations(page)
    await console_shots("webhook-created")
    await page.get_by_role("button", name="我已保存，关闭").click()
    receiver.secrets.append(value)

    await page.get_by_role("button", name=f"向 {receiver.url()} 发送测试事件").click()
    await expect(page.get_by_text("webhook.tested")).to_be_visible()
    await expect(page.locator(".webhook-log .badge")).to_have_text("待投递")
    assert await stack.app.ctx.webhooks.drain() == 1
    assert receiver.received[0].verified_by == [value]
    await page.get_by_role("button", name="刷新").click()
    await expect(page.locator(".webhook-log .badge")).to_have_text("成功")
    await expect(page.locator(".webhook-log td").nth(3)).to_have_text("200")
    assert not await axe_violations(page)
    await console_shots("webhook-deliveries")

    receiver.mode = Answer(410)
    await page.get_by_role("button", name="重新发送").click()
    await expect(page.locator(".webhook-log .badge")).to_have_text("待投递")
    assert await stack.app.ctx.webhooks.drain() == 1
    assert (await WebhookDelivery.get()).status == "dead"
    await open_screen(page, "/admin/stores", "门店管理")
    await open_screen(page, "/admin/webhooks", "Webhooks")
    await expect(page.get_by_text("停用原因：接收方返回 410 Gone")).to_be_visible()
    await console_shots("webhook-disabled")
