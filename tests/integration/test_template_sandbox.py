"""Hostile message templates over HTTP: refused at save and at preview with the bound they break, rendered
beside the event loop (``/healthz`` answers while one runs), and a template that only some member's data
makes too costly fails that member's message with the reason while the others are sent."""

from __future__ import annotations

import asyncio
import time

import pytest

from backend import clock
from backend.members.models import MemberEvent
from backend.stores.models import AuditLog
from notifications.models import MessageTemplate
from tests.factories import bearer, member_token
from tests.notify_helpers import add_promo, admin_token, one, queue

pytestmark = pytest.mark.usefixtures("every_message_ends_final")

TEMPLATES = "/api/v1/admin/message-templates"
HOSTILE = {
    "nested_ranges": ("{% for i in range(8000) %}{% for j in range(8000) %}{% endfor %}{% endfor %}",
                      "loop_iterations"),
    "ten_megabytes": ("{{ 'x' * 10000000 }}", "value_chars"),
    "a_million_range": ("{% for i in range(10 ** 6) %}{% endfor %}", "range_items"),
}
SLOW = "{% for i in range(10000) %}{% if ('x' * 4000) | unique | list | length > 99999 %}{% endif %}{% endfor %}"


def notice(text: str) -> dict:
    return {"name": "服务通知", "purpose": "service", "enabled": True, "channels": ["sms"],
            "content": {"sms": {"template_id": "300009", "params": [], "text": text}}}


def assert_too_costly(response, bound: str, where: str = "sms.text") -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "MESSAGE_TEMPLATE_TOO_COSTLY"
    assert (error["details"]["bound"], list(error["details"]["problems"])) == (bound, [where])
    assert where in error["message"] and error["details"]["problems"][where] in error["message"]


@pytest.mark.parametrize(("text", "bound"), HOSTILE.values(), ids=HOSTILE)
async def test_a_hostile_template_is_refused_at_save_naming_the_bound_and_nothing_is_kept(stack, text, bound):
    admin = await admin_token(stack)
    started = time.monotonic()
    created = await stack.http.post(TEMPLATES, json={"key": "hostile", **notice(text)}, headers=bearer(admin))
    assert_too_costly(created, bound)
    assert (await stack.http.get(f"{TEMPLATES}/hostile", headers=bearer(admin))).status_code == 404

    welcome = (await stack.http.get(f"{TEMPLATES}/welcome", headers=bearer(admin))).json()
    edit = {k: welcome[k] for k in ("name", "purpose", "enabled", "channels")} | {
        "content": {**welcome["content"], "email": {"subject": "欢迎", "text": text}}}
    edited = await stack.http.put(f"{TEMPLATES}/welcome", json=edit, headers=bearer(admin))
    assert_too_costly(edited, bound, "email.text")
    assert time.monotonic() - started < 3
    assert (await stack.http.get(f"{TEMPLATES}/welcome", headers=bearer(admin))).json() == welcome
    assert not await AuditLog.filter(target_type="message_template").exists()


@pytest.mark.parametrize(("text", "bound"), HOSTILE.values(), ids=HOSTILE)
async def test_a_hostile_template_is_refused_at_preview_naming_the_bound(stack, text, bound):
    admin = await admin_token(stack)
    response = await stack.http.post(f"{TEMPLATES}/welcome/preview", json={"template": notice(text)},
                                     headers=bearer(admin))
    assert_too_costly(response, bound)


async def test_healthz_answers_at_once_while_a_hostile_preview_is_rendering(stack):
    admin = await admin_token(stack)
    started = time.monotonic()
    preview = asyncio.create_task(stack.http.post(f"{TEMPLATES}/welcome/preview", json={"template": notice(SLOW)},
                                                  headers=bearer(admin)))
    await asyncio.sleep(0.15)
    asked = time.monotonic()
    health = await stack.http.get("/healthz")
    answered_in = time.monotonic() - asked
    assert not preview.done()  # the render was still going when /healthz answered
    rendered = await preview
    assert health.status_code == 200 and answered_in < 0.15, answered_in
    assert_too_costly(rendered, "time_s")
    assert time.monotonic() - started >= stack.settings.template_render_timeout_s


async def test_a_template_costly_only_with_this_members_data_fails_that_message_with_the_reason(stack):
    admin = await admin_token(stack)
    # The sample member's two-character nickname makes 400 characters: the save passes.
    await add_promo(stack, admin, key="shout", **notice("{{ member.nickname * 200 }}"))
    long_name, _ = await member_token(stack, nickname="长" * 64)
    short_name, _ = await member_token(stack, nickname="李四")
    await queue(long_name, "shout")
    await queue(short_name, "shout")

    await stack.dispatcher.drain()  # the same batch carries both, and each one's welcome message
    failed, sent = await one(long_name, "shout"), await one(short_name, "shout")
    assert (failed.status, failed.reason) == ("failed", "template_too_costly: sms.text: value_chars > 8192")
    assert failed.rendered is None and failed.finished_at is not None
    assert sent.status == "sent" and sent.rendered["text"] == "李四" * 200
    timeline = await MemberEvent.filter(type="message_sent").values_list("member_id", "payload")
    assert [m for m, payload in timeline if payload["template_key"] == "shout"] == [short_name]

    preview = await stack.http.post(f"{TEMPLATES}/shout/preview", json={"member_id": long_name},
                                    headers=bearer(admin))
    assert_too_costly(preview, "value_chars")


async def test_a_template_too_deep_to_compile_is_invalid_at_save_and_preview_never_a_500(stack):
    admin = await admin_token(stack)
    deep = {"name": "深", "purpose": "service", "channels": ["email"],
            "content": {"email": {"subject": "通知", "text": "{% if 1 %}" * 400 + "x" + "{% endif %}" * 400}}}
    for response in (await stack.http.post(TEMPLATES, json={"key": "deep", **deep}, headers=bearer(admin)),
                     await stack.http.post(f"{TEMPLATES}/welcome/preview", json={"template": deep},
                                           headers=bearer(admin))):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "MESSAGE_TEMPLATE_INVALID"
        assert response.json()["error"]["details"]["problems"] == {"email.text": "模板嵌套过深或数字过长，无法编译"}
    assert not await AuditLog.filter(target_type="message_template").exists()


async def test_a_costly_template_saved_before_the_limits_can_still_be_switched_off_and_fails_at_send(stack):
    admin = await admin_token(stack)
    legacy = notice("{% for i in range(8000) %}{% for j in range(8000) %}{% endfor %}{% endfor %}")
    await MessageTemplate.create(key="legacy", name=legacy["name"], purpose="service", enabled=True,
                                 channels=legacy["channels"], content=legacy["content"], updated_at=clock.now())
    member_id, _ = await member_token(stack)
    await queue(member_id, "legacy")
    await stack.dispatcher.drain()
    failed = await one(member_id, "legacy")
    assert (failed.status, failed.reason) == ("failed", "template_too_costly: sms.text: loop_iterations > 10000")

    switched = await stack.http.patch(f"{TEMPLATES}/legacy", json={"enabled": False}, headers=bearer(admin))
    assert switched.status_code == 200, switched.text
    assert switched.json()["enabled"] is False
    [audited] = await AuditLog.filter(action="message_template.update", target_id="legacy")
    assert audited.after["enabled"] is False
