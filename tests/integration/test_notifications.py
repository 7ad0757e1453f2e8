"""Notifications end to end: domain events and marketers queue messages; the worker passes each through
consent, channel choice, quiet hours and caps, and sends through the real clients to the loopback
fakes (Tencent SMS with signature checks, aiosmtpd, WeChat). Every message ends in a recorded state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.members.models import ConsentRecord, Member, MemberConsent, MemberEvent
from notifications.models import Message, SubscribeGrant
from tests.factories import bearer, make_staff, register_mp, unique_phone, wechat_login
from tests.notify_helpers import (
    add_promo,
    admin_token,
    messages,
    one,
    queue,
    set_template_ids,
    shopper,
)

pytestmark = pytest.mark.usefixtures("every_message_ends_final")

NIGHT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 22:00 in Asia/Shanghai


async def consent(member_id: int, channel: str, purpose: str = "marketing") -> bool | None:
    state = await MemberConsent.get_or_none(member_id=member_id, channel=channel, purpose=purpose)
    return state.granted if state else None


# -- service messages from domain events --------------------------------------------------------------

async def test_welcome_sms_reaches_the_provider_and_its_report_marks_it_delivered(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, phone = await shopper(stack)
    welcome = await one(member_id, "welcome")
    assert welcome.status == "queued" and welcome.purpose == "service"

    assert await stack.dispatcher.drain() == 1
    welcome = await one(member_id, "welcome")
    assert (welcome.status, welcome.channel, welcome.provider) == ("sent", "sms", "tencent")
    assert welcome.recipient == phone[:3] + "****" + phone[-4:]
    [sent] = stack.sms.sent
    assert sent["phone"] == "+86" + phone and sent["template_id"] == "200001"
    assert sent["session_context"] == str(welcome.id) and sent["sign_name"] == "测试商城"
    assert sent["params"] == [(await Member.get(id=member_id)).member_no] == welcome.rendered["params"]
    assert sent["serial_no"] == welcome.provider_message_id
    [timeline] = await MemberEvent.filter(member_id=member_id, type="message_sent")
    assert timeline.payload == {"message_id": welcome.id, "template_key": "welcome", "channel": "sms",
                                "touch_id": None}

    token = stack.settings.sms_callback_token
    report = stack.sms.status_report(phone, sent["serial_no"])
    first = await stack.http.post(f"/api/v1/callbacks/sms/status?token={token}", json=report)
    again = await stack.http.post(f"/api/v1/callbacks/sms/status?token={token}", json=report)
    assert first.status_code == again.status_code == 200
    assert first.json()["result"] == 0 and first.json()["counts"]["delivered"] == 1
    assert again.json()["counts"]["delivered"] == 0  # a pushed-again report changes nothing
    assert (await one(member_id, "welcome")).status == "delivered"


async def test_a_status_report_holding_a_nul_is_refused_before_it_reaches_the_database(stack):
    member_id, _, phone = await shopper(stack)
    token = stack.settings.sms_callback_token
    report = stack.sms.status_report(phone, "serial\x00no")

    refused = await stack.http.post(f"/api/v1/callbacks/sms/status?token={token}", json=report)

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "VALIDATION_FAILED", refused.text
    assert not await Message.filter(member_id=member_id, status__in=["delivered", "failed"]).exists()


async def test_forged_callbacks_are_refused(stack):
    member_id, _, phone = await shopper(stack, sms_marketing=True)
    for path, body in (("status", stack.sms.status_report(phone, "x")), ("reply", stack.sms.reply(phone, "TD", sign="s"))):
        for query in ("", "?token=wrong"):
            response = await stack.http.post(f"/api/v1/callbacks/sms/{path}{query}", json=body)
            assert response.status_code == 403 and response.json()["error"]["code"] == "CALLBACK_FORBIDDEN"
    assert await consent(member_id, "sms") is True


async def test_registration_redemption_and_tier_upgrade_queue_receipts_once(stack):
    admin = await admin_token(stack)
    member_id, _, _ = await shopper(stack)
    # A second registration of the same phone joins the member: no second welcome.
    assert len(await messages(member_id, "welcome")) == 1
    switched = await stack.http.patch("/api/v1/admin/message-templates/welcome", json={"enabled": False},
                                      headers=bearer(admin))
    assert switched.status_code == 200 and switched.json()["enabled"] is False
    from backend.audit import AuditLog

    [change] = await AuditLog.filter(action="message_template.update")
    assert change.target_id == "welcome" and change.before["enabled"] is True and change.after["enabled"] is False
    other, _, _ = await shopper(stack)
    assert await messages(other, "welcome") == []  # switched off: nothing queued


async def test_a_template_switched_off_queues_nothing_and_a_duplicate_dedupe_key_writes_nothing(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    assert await queue(member_id, dedupe="promo:once") is not None
    assert await queue(member_id, dedupe="promo:once") is None
    assert len(await messages(member_id, "promo")) == 1


# -- consent ------------------------------------------------------------------------------------------

async def test_marketing_needs_an_opt_in_and_a_withdrawal_after_enqueue_stops_the_send(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    opted_in, token, _ = await shopper(stack, sms_marketing=True)
    never, _, _ = await shopper(stack)
    await queue(opted_in)
    await queue(never)
    withdrawn = await stack.http.put("/api/v1/mp/me/consents", json={"consents": {"sms_marketing": False}},
                                     headers=bearer(token))
    assert withdrawn.status_code == 200

    await stack.dispatcher.drain()
    for member_id in (opted_in, never):
        promo = await one(member_id, "promo")
        assert promo.status == "no_consent" and "sms: no_consent" in promo.reason
        assert promo.finished_at is not None
    assert stack.sms.sent == []


async def test_service_messages_go_unless_that_channel_service_was_withdrawn(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, _ = await shopper(stack, sms_service=False)
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    # sms withdrawn, no e-mail address, no WeChat grant: nothing can carry it.
    assert welcome.status == "no_consent" and "sms: no_consent" in welcome.reason
    assert stack.sms.sent == []


async def test_the_first_channel_the_member_can_receive_on_is_used(stack, fake_smtp):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    member_id, token, _ = await shopper(stack, email_marketing=True)
    await stack.http.patch("/api/v1/mp/me", json={"email": "li.lei@example.test"}, headers=bearer(token))
    await queue(member_id)
    await stack.dispatcher.drain()
    promo = await one(member_id, "promo")
    assert (promo.status, promo.channel, promo.provider) == ("sent", "email", "smtp")
    assert stack.sms.sent == []
    [mail] = [m for m in stack.smtp.messages if m.message["Subject"] == "周末促销"]
    assert list(mail.rcpt_tos) == ["li.lei@example.test"]
    unsubscribe = mail.message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{stack.settings.public_base_url}/u/")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.message["Subject"] == "周末促销"


async def test_one_click_unsubscribe_withdraws_email_marketing_and_a_get_never_does(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["email"])
    member_id, token, _ = await shopper(stack, email_marketing=True)
    await stack.http.patch("/api/v1/mp/me", json={"email": "han.meimei@example.test"}, headers=bearer(token))
    await queue(member_id)
    await stack.dispatcher.drain()
    [mail] = [m for m in stack.smtp.messages if m.message["Subject"] == "周末促销"]
    link = mail.message["List-Unsubscribe"].strip("<>")
    path = link[len(stack.settings.public_base_url):]

    page = await stack.http.get(path)
    assert page.status_code == 200 and "确认退订" in page.text
    assert await consent(member_id, "email") is True  # a link scanner's GET changes nothing
    for _ in range(2):  # the mail client's one-click POST, then the member's click: idempotent
        done = await stack.http.post(path, content=b"List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 200 and "已退订" in done.text
    assert await consent(member_id, "email") is False
    records = await ConsentRecord.filter(member_id=member_id, channel="email", purpose="marketing").order_by("id")
    assert [(r.granted, r.source) for r in records] == [(True, "miniprogram"), (False, "unsubscribe_link")]

    forged = await stack.http.post(path[:-3] + "AAA")
    assert forged.status_code == 404 and "链接无效" in forged.text
    assert (await stack.http.get("/u/e1.notasignature")).status_code == 404


async def test_an_sms_reply_of_td_withdraws_sms_marketing_at_once(stack):
    member_id, _, phone = await shopper(stack, sms_marketing=True)
    token = stack.settings.sms_callback_token
    chatty = await stack.http.post(f"/api/v1/callbacks/sms/reply?token={token}",
                                   json=stack.sms.reply(phone, "请问几点开门", sign="测试商城"))
    assert chatty.json()["withdrawn"] is False and await consent(member_id, "sms") is True
    for text in (" td ", "TD"):  # any case, surrounding spaces; the provider's retry is harmless
        reply = await stack.http.post(f"/api/v1/callbacks/sms/reply?token={token}",
                                      json=stack.sms.reply(phone, text, sign="测试商城"))
        assert reply.status_code == 200 and reply.json()["result"] == 0
    assert await consent(member_id, "sms") is False
    assert await ConsentRecord.filter(member_id=member_id, channel="sms", granted=False).count() == 1
    record = await ConsentRecord.get(member_id=member_id, channel="sms", granted=False)
    assert record.source == "sms_reply"


async def test_a_blacklisted_number_ends_no_consent_and_withdraws_sms_marketing(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    member_id, _, phone = await shopper(stack, sms_marketing=True)
    stack.sms.fail_number(phone, "FailedOperation.PhoneNumberInBlacklist")
    await queue(member_id)
    await stack.dispatcher.drain()
    promo = await one(member_id, "promo")
    assert promo.status == "no_consent" and "PhoneNumberInBlacklist" in promo.reason
    assert await consent(member_id, "sms") is False


# -- quiet hours and caps ---------------------------------------------------------------------------------

async def test_marketing_waits_out_quiet_hours_and_expires_if_the_window_outlasts_it(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    other, _, _ = await shopper(stack, sms_marketing=True)
    stack.clock.set(NIGHT)
    await queue(member_id)
    await queue(other, expires_at=NIGHT + timedelta(hours=6))  # 04:00 local: before the window ends
    await stack.dispatcher.drain()

    promo = await one(member_id, "promo")
    assert promo.status == "deferred" and promo.reason == "quiet_hours"
    morning = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 local
    assert morning <= promo.due_at <= morning + timedelta(minutes=15)
    assert (await one(other, "promo")).status == "expired"
    assert stack.sms.sent == []

    stack.clock.set(morning - timedelta(minutes=1))
    assert await stack.dispatcher.drain() == 0  # not due yet
    stack.clock.set(morning + timedelta(minutes=16))
    await stack.dispatcher.drain()
    assert (await one(member_id, "promo")).status == "sent"
    assert len(stack.sms.sent) == 1


async def test_service_messages_are_not_held_by_quiet_hours_or_marketing_caps(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    stack.clock.set(NIGHT)
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    await stack.dispatcher.drain()
    assert (await one(member_id, "welcome")).status == "sent"


async def test_caps_drop_or_defer_as_the_message_says(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"])
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    first = await queue(member_id)
    dropped = await queue(member_id)
    deferred = await queue(member_id, cap_behaviour="defer")
    await stack.dispatcher.drain()
    rows = {m.id: m for m in await messages(member_id, "promo")}
    assert rows[first].status == "sent"
    assert rows[dropped].status == "capped" and rows[dropped].reason == "frequency_cap"
    assert rows[deferred].status == "deferred" and rows[deferred].reason == "frequency_cap"
    midnight = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # the next calendar day, merchant time
    assert midnight < rows[deferred].due_at <= midnight + timedelta(minutes=11)

    stack.clock.set(midnight + timedelta(hours=1, minutes=11))  # 01:11 local: quiet hours until 09:00
    await stack.dispatcher.drain()
    assert (await Message.get(id=deferred)).reason == "quiet_hours"
    stack.clock.set(midnight + timedelta(hours=9, minutes=20))
    await stack.dispatcher.drain()
    assert (await Message.get(id=deferred)).status == "sent"
    assert len(stack.sms.sent) == 2


async def test_the_cross_channel_marketing_cap_counts_every_channel(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["email"])
    member_id, token, _ = await shopper(stack, email_marketing=True)
    await stack.http.patch("/api/v1/mp/me", json={"email": "cap@example.test"}, headers=bearer(token))
    ids = [await queue(member_id) for _ in range(3)]
    await stack.dispatcher.drain()
    statuses = [(await Message.get(id=i)).status for i in ids]
    assert sorted(statuses) == ["capped", "sent", "sent"]  # any marketing ≤ 2 a day
    assert len([m for m in stack.smtp.messages if m.message["Subject"] == "周末促销"]) == 2


async def test_a_cap_of_zero_is_refused(stack):
    admin = await admin_token(stack)
    current = (await stack.http.get("/api/v1/admin/caps", headers=bearer(admin))).json()
    current["caps"][0]["limit"] = 0
    response = await stack.http.put("/api/v1/admin/caps", json=current, headers=bearer(admin))
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_FAILED"
    assert "caps.0.limit" in response.json()["error"]["details"]["fields"]


# -- retries and failures -----------------------------------------------------------------------------

async def test_a_provider_outage_is_retried_with_backoff_and_recovers(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, _ = await shopper(stack)
    stack.sms.script("http500", "rate_limit")
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    assert welcome.status == "queued" and welcome.attempts == 1 and welcome.reason.startswith("retrying")
    first_wait = welcome.due_at - stack.clock.now()
    assert timedelta(seconds=15) <= first_wait <= timedelta(seconds=30)
    stack.clock.set(welcome.due_at)
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    assert welcome.status == "queued" and welcome.attempts == 2 and "RequestLimitExceeded" in welcome.reason
    assert welcome.due_at - stack.clock.now() >= timedelta(seconds=30)  # doubled
    stack.clock.set(welcome.due_at)
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    assert (welcome.status, welcome.attempts) == ("sent", 3)
    assert len(stack.sms.sent) == 1


async def test_a_provider_that_stays_down_ends_failed_after_the_last_attempt(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, _ = await shopper(stack)
    stack.sms.mode = "http500"
    for _ in range(5):
        await stack.dispatcher.drain()
        stack.clock.advance(hours=2)
    welcome = await one(member_id, "welcome")
    assert welcome.status == "failed" and welcome.attempts == 5
    assert welcome.reason.startswith("gave_up_after_5_attempts")


async def test_a_permanent_error_is_not_retried(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, phone = await shopper(stack)
    stack.sms.fail_number(phone, "InvalidParameterValue.IncorrectPhoneNumber")
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    assert welcome.status == "failed" and welcome.attempts == 1 and "IncorrectPhoneNumber" in welcome.reason


async def test_the_providers_own_frequency_limit_defers(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, phone = await shopper(stack)
    stack.sms.fail_number(phone, "LimitExceeded.PhoneNumberDailyLimit")
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    assert welcome.status == "deferred" and welcome.attempts == 0 and "provider_quota" in welcome.reason
    stack.clock.set(welcome.due_at)
    await stack.dispatcher.drain()
    assert (await one(member_id, "welcome")).status == "sent"


async def test_an_smtp_451_is_retried(stack):
    admin = await admin_token(stack)
    await stack.http.patch("/api/v1/admin/message-templates/welcome", json={"enabled": False}, headers=bearer(admin))
    await add_promo(stack, admin, channels=["email"])
    member_id, token, _ = await shopper(stack, email_marketing=True)
    await stack.http.patch("/api/v1/mp/me", json={"email": "retry@example.test"}, headers=bearer(token))
    stack.smtp.fail_next("rcpt", 451, "try again later")
    await queue(member_id)
    await stack.dispatcher.drain()
    promo = await one(member_id, "promo")
    assert promo.status == "queued" and "451" in promo.reason
    stack.clock.set(promo.due_at)
    await stack.dispatcher.drain()
    assert (await one(member_id, "promo")).status == "sent"


async def test_a_template_that_cannot_render_for_this_member_fails_with_the_reason(stack):
    admin = await admin_token(stack)
    await add_promo(stack, admin, channels=["sms"], content={
        "sms": {"template_id": "300002", "params": ["{{ event.missing }}"], "text": "活动，拒收请回复R"}})
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    await queue(member_id)
    await stack.dispatcher.drain()
    promo = await one(member_id, "promo")
    assert promo.status == "failed" and promo.reason.startswith("render_error")


# -- WeChat subscribe messages ---------------------------------------------------------------------------

async def wechat_member(stack, **consents):
    """A member registered through WeChat login: (member id, member token)."""
    session = await wechat_login(stack)
    response = await register_mp(stack, unique_phone(), token=session["token"], consents=consents, expect=201)
    return response.json()["member_id"], response.json()["token"]


async def test_a_subscribe_grant_is_one_send_and_43101_clears_it(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "tier_upgraded", wechat="TPL_TIER")
    await set_template_ids(stack, admin, "welcome", wechat="TPL_WELCOME")
    member_id, token = await wechat_member(stack)
    await stack.dispatcher.drain()
    welcome = await one(member_id, "welcome")
    assert welcome.status == "no_consent" and "wechat: no_grant" in welcome.reason  # no accept yet

    granted = await stack.http.post("/api/v1/mp/me/subscriptions",
                                    json={"accepted": ["TPL_TIER", "TPL_TIER"], "rejected": ["TPL_OTHER"]},
                                    headers=bearer(token) | {"Idempotency-Key": "sub-1"})
    assert granted.status_code == 200
    assert granted.json()["items"] == [{"template_id": "TPL_TIER", "credits": 2}]
    replay = await stack.http.post("/api/v1/mp/me/subscriptions",
                                   json={"accepted": ["TPL_TIER", "TPL_TIER"], "rejected": ["TPL_OTHER"]},
                                   headers=bearer(token) | {"Idempotency-Key": "sub-1"})
    assert replay.json() == granted.json()  # a retried request grants nothing more

    context = {"tier_name": "金卡", "tier_code": "gold", "from_tier_name": "银卡"}
    first = await queue(member_id, "tier_upgraded", context=context)
    await stack.dispatcher.drain()
    sent = await Message.get(id=first)
    assert (sent.status, sent.channel) == ("sent", "wechat")
    [wx] = [c for c in stack.wechat.sent if c.get("template_id") == "TPL_TIER"]
    assert wx["data"]["thing1"] == {"value": "金卡"} and wx["miniprogram_state"] == "formal"
    assert (await SubscribeGrant.get(member_id=member_id, template_id="TPL_TIER")).credits == 1

    stack.wechat.refuse(wx["touser"])
    second = await queue(member_id, "tier_upgraded", context=context)
    await stack.dispatcher.drain()
    refused = await Message.get(id=second)
    assert refused.status == "no_consent" and "43101" in refused.reason
    assert (await SubscribeGrant.get(member_id=member_id, template_id="TPL_TIER")).credits == 0


# -- admin ------------------------------------------------------------------------------------------

async def test_template_validation_names_each_problem(stack):
    admin = await admin_token(stack)
    no_opt_out = await stack.http.post("/api/v1/admin/message-templates", headers=bearer(admin), json={
        "key": "promo2", "name": "促销", "purpose": "marketing", "channels": ["sms"],
        "content": {"sms": {"template_id": "1", "text": "全场 8 折"}}})
    assert no_opt_out.status_code == 400 and "拒收请回复R" in no_opt_out.text
    long_thing = await stack.http.post("/api/v1/admin/message-templates", headers=bearer(admin), json={
        "key": "notice", "name": "通知", "purpose": "service", "channels": ["wechat"],
        "content": {"wechat": {"template_id": "T", "fields": {"thing1": "这是一段远远超过二十个字的服务通知内容文字"}}}})
    assert long_thing.status_code == 422 and long_thing.json()["error"]["code"] == "MESSAGE_TEMPLATE_INVALID"
    assert "wechat.fields.thing1" in long_thing.json()["error"]["details"]["problems"]
    bad_syntax = await stack.http.post("/api/v1/admin/message-templates", headers=bearer(admin), json={
        "key": "notice", "name": "通知", "purpose": "service", "channels": ["email"],
        "content": {"email": {"subject": "{{ member.name ", "text": "x"}}})
    assert bad_syntax.status_code == 422
    assert "email.subject" in bad_syntax.json()["error"]["details"]["problems"]
    builtin_key = await stack.http.post("/api/v1/admin/message-templates", headers=bearer(admin), json={
        "key": "welcome", "name": "x", "purpose": "service", "channels": ["email"],
        "content": {"email": {"subject": "x", "text": "x"}}})
    assert builtin_key.status_code == 409
    missing = await stack.http.get("/api/v1/admin/message-templates/nope", headers=bearer(admin))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "MESSAGE_TEMPLATE_NOT_FOUND"
    clerk = (await make_staff(stack, role="clerk"))[1]
    assert (await stack.http.get("/api/v1/admin/message-templates", headers=bearer(clerk))).status_code == 403


async def test_preview_renders_each_channel_for_a_member_and_fits_wechat_fields(stack):
    admin = await admin_token(stack)
    listed = (await stack.http.get("/api/v1/admin/message-templates", headers=bearer(admin))).json()["items"]
    assert [t["key"] for t in listed][:4] == ["welcome", "coupon_redeemed", "tier_upgraded", "points_expiring"]
    member_id, _, _ = await shopper(stack)
    response = await stack.http.post("/api/v1/admin/message-templates/coupon_redeemed/preview",
                                     json={"member_id": member_id,
                                           "event": {"coupon_name": "超长的优惠券名称用来测试微信字段截断是否安全可靠",
                                                     "redeemed_at": "2026-03-02T02:00:00+00:00",
                                                     "store_name": "南京西路店", "discount_cents": 1250}},
                                     headers=bearer(admin))
    assert response.status_code == 200, response.text
    channels = response.json()["channels"]
    assert channels["email"]["rendered"]["text"].endswith("优惠 12.50 元。")
    assert "2026-03-02 10:00" in channels["sms"]["rendered"]["text"]
    thing = channels["wechat"]["rendered"]["fields"]["thing1"]
    assert len(thing) == 20 and thing.endswith("…")
    sample = await stack.http.post("/api/v1/admin/message-templates/welcome/preview", json={}, headers=bearer(admin))
    assert sample.json()["channels"]["email"]["rendered"]["text"].startswith("张三")


async def test_the_delivery_log_shows_each_message_with_its_state(stack):
    admin = await admin_token(stack)
    await set_template_ids(stack, admin, "welcome", sms="200001")
    member_id, _, _ = await shopper(stack)
    await stack.dispatcher.drain()
    log = await stack.http.get(f"/api/v1/admin/members/{member_id}/messages", headers=bearer(admin))
    assert log.status_code == 200
    [item] = log.json()["items"]
    assert (item["template_key"], item["status"], item["channel"], item["attempts"]) == ("welcome", "sent", "sms", 1)
    assert "****" in item["recipient"]
    by_status = await stack.http.get("/api/v1/admin/messages?status=sent", headers=bearer(admin))
    assert [m["id"] for m in by_status.json()["items"]] == [item["id"]]


@pytest.mark.parametrize("bad", ["²", "٣", "1e3", "0", "-4", str(2**63)])
async def test_the_messages_list_filters_by_touch_and_refuses_a_touch_id_that_is_no_id(stack, bad):
    admin = await admin_token(stack)
    await add_promo(stack, admin)
    member_id, _, _ = await shopper(stack, sms_marketing=True)
    touched = await queue(member_id, touch_id=7)
    await queue(member_id, dedupe="not-a-touch")

    listed = await stack.http.get("/api/v1/admin/messages", params={"touch_id": "7"}, headers=bearer(admin))
    refused = await stack.http.get("/api/v1/admin/messages", params={"touch_id": bad}, headers=bearer(admin))

    assert [m["id"] for m in listed.json()["items"]] == [touched]
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "VALIDATION_FAILED", refused.text
    assert "touch_id" in refused.json()["error"]["details"]["fields"]
    assert await Message.filter(member_id=member_id, template_key="promo").count() == 2


async def test_the_messages_list_refuses_an_unknown_state_rather_than_matching_nothing(stack):
    admin = await admin_token(stack)

    refused = await stack.http.get("/api/v1/admin/messages", params={"status": "lost"}, headers=bearer(admin))

    assert refused.status_code == 400 and "status" in refused.json()["error"]["details"]["fields"]


def _push_query(token: str, timestamp: str = "1700000000", nonce: str = "n0nce") -> str:
    import hashlib

    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return f"signature={signature}&timestamp={timestamp}&nonce={nonce}"


async def test_a_subscribe_rejection_pushed_by_wechat_clears_the_templates_sends(stack):
    member_id, token = await wechat_member(stack)
    await stack.http.post("/api/v1/mp/me/subscriptions", json={"accepted": ["TPL_A", "TPL_A", "TPL_B"]},
                          headers=bearer(token))
    from backend.members.models import WeChatAccount

    openid = (await WeChatAccount.get(member_id=member_id)).openid
    query = _push_query(stack.settings.wechat_push_token)
    check = await stack.http.get(f"/api/v1/callbacks/wechat?{query}&echostr=hello")
    assert check.status_code == 200 and check.text == "hello"
    event = {"ToUserName": "gh_x", "FromUserName": openid, "CreateTime": 1700000000, "MsgType": "event",
             "Event": "subscribe_msg_popup_event",
             "List": [{"TemplateId": "TPL_A", "SubscribeStatusString": "reject", "PopupScene": "0"},
                      {"TemplateId": "TPL_B", "SubscribeStatusString": "accept", "PopupScene": "0"}]}
    for _ in range(2):  # WeChat pushes again when it does not hear back in time
        pushed = await stack.http.post(f"/api/v1/callbacks/wechat?{query}", json=event)
        assert pushed.status_code == 200 and pushed.text == "success"
    credits = {g.template_id: g.credits for g in await SubscribeGrant.filter(member_id=member_id)}
    assert credits == {"TPL_A": 0, "TPL_B": 1}  # the accept was already counted by the mini-program
    forged = await stack.http.post(f"/api/v1/callbacks/wechat?{_push_query('wrong-token')}", json=event)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "CALLBACK_FORBIDDEN"


async def test_a_wechat_push_naming_a_template_with_a_nul_is_refused_and_clears_nothing(stack):
    from backend.members.models import WeChatAccount

    member_id, token = await wechat_member(stack)
    await stack.http.post("/api/v1/mp/me/subscriptions", json={"accepted": ["TPL_A"]}, headers=bearer(token))
    openid = (await WeChatAccount.get(member_id=member_id)).openid
    event = {"ToUserName": "gh_x", "FromUserName": openid, "CreateTime": 1700000000, "MsgType": "event",
             "Event": "subscribe_msg_popup_event",
             "List": [{"TemplateId": "TPL_A\x00", "SubscribeStatusString": "reject", "PopupScene": "0"}]}

    pushed = await stack.http.post(f"/api/v1/callbacks/wechat?{_push_query(stack.settings.wechat_push_token)}",
                                   json=event)

    assert pushed.status_code == 400 and pushed.json()["error"]["code"] == "VALIDATION_FAILED", pushed.text
    assert {g.template_id: g.credits for g in await SubscribeGrant.filter(member_id=member_id)} == {"TPL_A": 1}
