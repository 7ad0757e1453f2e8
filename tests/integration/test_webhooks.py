"""Outgoing webhooks: written with the change, signed per Standard Webhooks, retried on the schedule,
per member in order, at least once across workers that die, and never to private targets in production."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from backend.members import events
from backend.settings import Settings
from backend.webhooks import outbox, service
from backend.webhooks.delivery import RETRY_SCHEDULE_S, WebhookWorker
from backend.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from backend.webhooks.urls import WebhookUrlNotAllowed
from tests.factories import bearer, make_staff, unique
from tests.fakes.webhook_receiver import Answer, FakeWebhookReceiver
from tests.loyalty_helpers import order


@pytest.fixture(scope="session")
def receiver() -> Any:
    fake = FakeWebhookReceiver()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fresh_receiver(receiver: FakeWebhookReceiver) -> None:
    receiver.reset()
    outbox.forget()  # the tables were emptied under the cache


async def _admin(stack: Any) -> str:
    _, token = await make_staff(stack, role="admin")
    return token


async def _endpoint(stack: Any, receiver: FakeWebhookReceiver, admin: str | None = None,
                    **body: Any) -> dict[str, Any]:
    admin = admin or await _admin(stack)
    response = await stack.http.post("/api/v1/admin/webhook-endpoints", headers=bearer(admin),
                                     json={"url": receiver.url(), **body})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    receiver.secrets.append(created["secret"])
    return created


async def _emit(member_id: int, type_: str = "points_adjusted", **payload: Any) -> None:
    async with in_transaction() as conn:
        await events.append(member_id=member_id, type=type_, payload=payload or {"points": 10, "reason": "补偿"},
                            using_db=conn)


async def _drain(stack: Any) -> int:
    return await stack.app.ctx.webhooks.drain()


async def test_an_order_recorded_is_delivered_once_signed_verifiable_and_in_the_documented_shape(
        stack, counter, receiver):
    endpoint = await _endpoint(stack, receiver, counter.admin, event_types=["order.recorded"])
    receipt = await order(stack, counter, amount_cents=12345)
    assert await _drain(stack) == 1
    assert await _drain(stack) == 0
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.verified_by == [endpoint["secret"]]
    body = got.json
    assert set(body) == {"type", "id", "occurred_at", "data"}
    assert body["type"] == "order.recorded" and body["id"].startswith("evt_")
    assert got.headers["webhook-id"] == body["id"]
    assert got.headers["webhook-signature"].startswith("v1,")
    assert body["data"]["member_id"] == counter.member_id and body["data"]["amount_cents"] == 12345
    assert body["data"]["points_earned"] == receipt["points_earned"] and body["data"]["channel"] == "pos"
    listed = await stack.http.get(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}/deliveries",
                                  headers=bearer(counter.admin))
    assert listed.status_code == 200, listed.text
    [delivery] = listed.json()["items"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("succeeded", 1, 200)
    assert delivery["event_id"] == body["id"] and delivery["event_type"] == "order.recorded"
    by_event = await stack.http.get("/api/v1/admin/webhook-deliveries", params={"event_id": body["id"]},
                                    headers=bearer(counter.admin))
    assert [item["id"] for item in by_event.json()["items"]] == [delivery["id"]]


async def test_the_event_commits_with_the_change_and_a_rolled_back_change_sends_nothing(stack, receiver):
    await _endpoint(stack, receiver)
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await events.append(member_id=7, type="points_adjusted", payload={"points": 5, "reason": "x"},
                                using_db=conn)
            assert await WebhookEvent.filter(member_id=7).using_db(conn).count() == 1  # in the same transaction
            raise RuntimeError("the change fails after its event")
    assert await WebhookEvent.all().count() == 0 and await WebhookDelivery.all().count() == 0
    assert await _drain(stack) == 0 and receiver.received == []
    await _emit(7)
    assert await _drain(stack) == 1
    assert receiver.received[0].json["type"] == "points.changed"
    assert receiver.received[0].json["data"]["delta"] == 10


async def test_a_counter_redemption_writes_its_timeline_row_receipt_and_webhook_event_with_it(stack, counter, receiver):
    from backend.coupons.models import Coupon, Redemption
    from backend.members.models import MemberEvent
    from backend.stores.models import Store
    from notifications.models import Message
    from tests.integration.test_coupons import give, make_template

    await _endpoint(stack, receiver, counter.admin, event_types=["coupon.redeemed"])
    template = await make_template(stack, counter.admin, name="帆布袋兑换券",
                                   terms={"kind": "gift", "gift_sku": "TOTE", "valid_days": 7})
    redeemed = []
    for attempt in range(2):
        coupon_id = await give(stack, counter.admin, template["id"], counter.member_id)
        response = await stack.http.post(f"/api/v1/store/coupons/{coupon_id}/redeem", headers=bearer(counter.clerk),
                                         json={"scan_token": counter.scan})
        assert response.status_code == 201, response.text
        redeemed.append((coupon_id, response.json()["id"]))
        if attempt == 0:  # the receipt switched off for the second one: the redemption still counts, no message
            switched = await stack.http.patch("/api/v1/admin/message-templates/coupon_redeemed",
                                              json={"enabled": False}, headers=bearer(counter.admin))
            assert switched.status_code == 200, switched.text
    (first_coupon, first_id), (second_coupon, _) = redeemed
    store = await Store.get(id=counter.store_id)
    timeline = await MemberEvent.filter(member_id=counter.member_id, type="coupon_redeemed").order_by("id")
    assert [(e.payload, e.channel, e.store_id) for e in timeline] == [
        ({"coupon_id": coupon, "redemption_id": rid, "discount_cents": 0}, "pos", counter.store_id)
        for coupon, rid in redeemed]
    receipts = await Message.filter(member_id=counter.member_id, template_key="coupon_redeemed")
    assert [(m.dedupe_key, m.status, m.purpose) for m in receipts] == [(f"coupon_redeemed:{first_id}", "queued",
                                                                        "service")]
    redemption = await Redemption.get(id=first_id)
    assert receipts[0].context == {"coupon_name": "帆布袋兑换券", "redeemed_at": redemption.created_at.isoformat(),
                                   "store_name": store.name, "discount_cents": 0, "coupon_id": first_coupon}
    assert {c.status for c in await Coupon.filter(id__in=[first_coupon, second_coupon])} == {"redeemed"}
    sent = await WebhookEvent.filter(type="coupon.redeemed").order_by("id")
    assert [(e.member_id, e.data["coupon_id"]) for e in sent] == [(counter.member_id, first_coupon),
                                                                  (counter.member_id, second_coupon)]
    assert await WebhookDelivery.filter(event_pk__in=[e.id for e in sent]).count() == 2


async def test_nothing_is_written_for_a_type_no_endpoint_subscribes_to(stack, receiver):
    await _endpoint(stack, receiver, event_types=["coupon.issued"])
    await _emit(3)
    assert await WebhookEvent.all().count() == 0


async def test_failures_are_retried_on_the_schedule_and_then_the_delivery_is_dead(stack, receiver):
    await _endpoint(stack, receiver)
    receiver.mode = Answer(500)
    await _emit(1)
    assert await _drain(stack) == 1
    for attempt, delay in enumerate(RETRY_SCHEDULE_S, start=2):
        stack.clock.advance(delay - 1)
        assert await _drain(stack) == 0, f"attempt {attempt} came early"
        stack.clock.advance(1)
        assert await _drain(stack) == 1
        assert len(receiver.received) == attempt
    delivery = await WebhookDelivery.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("dead", 8, 500)
    stack.clock.advance(days=2)
    assert await _drain(stack) == 0
    assert len({item.headers["webhook-id"] for item in receiver.received}) == 1  # the same event each time


async def test_429_and_503_are_retried_after_their_retry_after(stack, receiver):
    await _endpoint(stack, receiver)
    receiver.answer(Answer(429, {"Retry-After": "120"}), Answer(503, {"Retry-After": "600"}))
    await _emit(1)
    await _drain(stack)
    stack.clock.advance(119)
    assert await _drain(stack) == 0
    stack.clock.advance(1)
    assert await _drain(stack) == 1
    stack.clock.advance(599)
    assert await _drain(stack) == 0
    stack.clock.advance(1)
    assert await _drain(stack) == 1
    assert [item.answered for item in receiver.received] == [429, 503, 200]
    assert (await WebhookDelivery.get()).status == "succeeded"


async def test_a_410_disables_the_endpoint_with_a_reason_and_stops_new_events(stack, receiver):
    admin = await _admin(stack)
    endpoint = await _endpoint(stack, receiver, admin)
    receiver.answer(Answer(410))
    await _emit(1)
    await _drain(stack)
    shown = (await stack.http.get(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}", headers=bearer(admin))).json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert (await WebhookDelivery.get()).status == "dead"
    from backend.audit import AuditLog

    assert await AuditLog.exists(action="webhook_endpoint.disable", actor_type="system")
    await _emit(1)
    assert await WebhookEvent.all().count() == 1  # nothing subscribes any more
    again = await stack.http.patch(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}", headers=bearer(admin),
                                   json={"enabled": True})
    assert again.status_code == 200, again.text
    assert again.json()["enabled"] is True and again.json()["disabled_reason"] is None


async def test_an_endpoint_failing_for_five_days_is_disabled_and_the_admins_see_why(stack, receiver):
    admin = await _admin(stack)
    endpoint = await _endpoint(stack, receiver, admin)
    receiver.mode = Answer(500)
    await _emit(1)
    await _drain(stack)
    stack.clock.advance(days=4, hours=23)
    await _emit(2)
    await _drain(stack)
    assert (await WebhookEndpoint.get(id=endpoint["id"])).enabled is True
    stack.clock.advance(hours=1)
    await _emit(3)
    await _drain(stack)
    admin = await _admin(stack)  # five days on: a new login
    shown = (await stack.http.get(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}", headers=bearer(admin))).json()
    assert shown["enabled"] is False and "5 天" in shown["disabled_reason"] and "HTTP 500" in shown["disabled_reason"]


async def test_a_success_in_between_restarts_the_five_days(stack, receiver):
    endpoint = await _endpoint(stack, receiver)
    receiver.answer(Answer(500))
    await _emit(1)
    await _drain(stack)
    stack.clock.advance(days=3)
    await _drain(stack)  # the retry succeeds
    receiver.mode = Answer(500)
    stack.clock.advance(days=2, hours=1)
    await _emit(2)
    await _drain(stack)
    assert (await WebhookEndpoint.get(id=endpoint["id"])).enabled is True


async def test_a_members_later_event_waits_until_the_earlier_one_succeeded(stack, receiver):
    await _endpoint(stack, receiver)
    failed = []

    def first_fails_once(body: Any) -> Answer | None:
        if body["data"]["delta"] == 1 and not failed:
            failed.append(body)
            return Answer(500)
        return None

    receiver.rule = first_fails_once
    await _emit(1, points=1, reason="first")
    await _emit(1, points=2, reason="second")
    await _emit(2, points=3, reason="other member")
    await _drain(stack)
    assert sorted(item.json["data"]["delta"] for item in receiver.received) == [1, 3]
    stack.clock.advance(RETRY_SCHEDULE_S[0])
    await _drain(stack)
    mine = [item.json["data"]["delta"] for item in receiver.received if item.json["data"]["member_id"] == 1]
    assert mine == [1, 1, 2]


async def test_a_dead_earlier_event_no_longer_holds_the_later_ones(stack, receiver):
    await _endpoint(stack, receiver)
    receiver.mode = Answer(500)
    await _emit(1, points=1, reason="first")
    await _emit(1, points=2, reason="second")
    for delay in (0, *RETRY_SCHEDULE_S):
        stack.clock.advance(delay)
        await _drain(stack)
    deltas = [item.json["data"]["delta"] for item in receiver.received]
    assert deltas == [1] * 8 + [2]  # the second went out in the drain where the first died, not before


async def test_rotation_sends_both_signatures_in_the_overlap_and_only_the_new_one_after(stack, receiver):
    admin = await _admin(stack)
    endpoint = await _endpoint(stack, receiver, admin)
    old = endpoint["secret"]
    rotated = await stack.http.post(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}/rotate-secret",
                                    headers=bearer(admin), json={"overlap_s": 3600})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_valid_until"]
    receiver.secrets.append(new)
    await _emit(1)
    await _drain(stack)
    assert len(receiver.received[0].signatures) == 2 and receiver.received[0].verified_by == [old, new]
    stack.clock.advance(3601)
    await _emit(1)
    await _drain(stack)
    assert len(receiver.received[1].signatures) == 1 and receiver.received[1].verified_by == [new]
    shown = (await stack.http.get(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}", headers=bearer(admin))).json()
    assert "secret" not in shown


async def test_a_slow_receiver_times_out_and_is_retried(stack, receiver):
    await _endpoint(stack, receiver)
    receiver.answer(Answer(200, delay_s=1.0))
    await _emit(1)
    worker = WebhookWorker(stack.settings, pii=stack.pii, timeout_s=0.2)
    try:
        assert await worker.drain() == 1
    finally:
        await worker.close()
    delivery = await WebhookDelivery.get()
    assert delivery.status == "failed" and "timeout" in delivery.last_error
    stack.clock.advance(RETRY_SCHEDULE_S[0])
    await _drain(stack)
    assert (await WebhookDelivery.get()).status == "succeeded"


async def test_a_delivery_claimed_by_a_worker_that_died_is_delivered_after_the_lease(stack, receiver):
    await _endpoint(stack, receiver)
    await _emit(1)
    died = WebhookWorker(stack.settings, pii=stack.pii)
    assert len(await died.claim()) == 1  # ... and the process is gone before it sends
    assert await _drain(stack) == 0
    stack.clock.advance(died.lease_s + 1)
    assert await _drain(stack) == 1
    assert len(receiver.received) == 1 and (await WebhookDelivery.get()).status == "succeeded"


async def test_a_lease_outlasts_the_slowest_batch_whose_successes_are_written_when_it_ends(stack, receiver):
    # 50 claimed, 16 at a time, each up to the 15 s timeout: the batch can take 4 rounds, 60 s, before its
    # successes are written back. A lease shorter than that would hand them to another worker to send again.
    worker = WebhookWorker(stack.settings, pii=stack.pii, batch_size=50, concurrency=16, timeout_s=15)
    assert worker.lease_s > 4 * 15
    assert WebhookWorker(stack.settings, pii=stack.pii, batch_size=4, concurrency=4, timeout_s=15).lease_s > 2 * 15
    await _endpoint(stack, receiver)
    for member_id in range(1, 6):
        await _emit(member_id)
    slow = WebhookWorker(stack.settings, pii=stack.pii, batch_size=5, concurrency=1)
    claimed = await slow.claim()
    stack.clock.advance(slow.lease_s - 1)  # the batch is still running: nobody else may take it
    assert await _drain(stack) == 0
    assert len(claimed) == 5


@pytest.mark.postgres_only
async def test_two_workers_at_once_deliver_each_event_once(stack, receiver):
    await _endpoint(stack, receiver)
    for member_id in range(1, 11):
        for points in range(1, 4):
            await _emit(member_id, points=points, reason="r")
    workers = [WebhookWorker(stack.settings, pii=stack.pii, batch_size=4) for _ in range(2)]
    try:
        done = await asyncio.gather(*(worker.drain() for worker in workers))
    finally:
        for worker in workers:
            await worker.close()
    assert sum(done) == 30
    ids = [item.headers["webhook-id"] for item in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    for member_id in range(1, 11):
        got = [item.json["data"]["delta"] for item in receiver.received if item.json["data"]["member_id"] == member_id]
        assert got == [1, 2, 3]


@pytest.mark.postgres_only
async def test_a_worker_process_killed_mid_delivery_loses_nothing(stack, receiver):
    await _endpoint(stack, receiver)
    for member_id in range(1, 21):
        await _emit(member_id)
    receiver.mode = Answer(200, delay_s=1.5)  # every delivery is in flight for a while
    env = {**os.environ, **(stack.env or {}), "LOG_LEVEL": "ERROR"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "worker", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(receiver.received) < 5:
            if process.returncode is not None:
                raise AssertionError((await process.stderr.read()).decode()[-2000:])
            assert time.monotonic() < deadline, "the worker delivered nothing within a minute"
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert await WebhookDelivery.filter(status="succeeded").count() < 20  # killed with deliveries in flight
    receiver.mode = Answer(200)
    lease_s = WebhookWorker(stack.settings, pii=stack.pii).lease_s  # the worker process's defaults
    stack.clock.set(datetime.now(UTC) + timedelta(seconds=lease_s + 5))  # past the dead worker's leases
    await _drain(stack)
    assert await WebhookDelivery.filter(status="succeeded").count() == 20
    delivered = {item.headers["webhook-id"] for item in receiver.received}
    assert delivered == set(await WebhookEvent.all().values_list("event_id", flat=True))


async def test_erasing_a_member_scrubs_their_webhook_events(stack, receiver):
    await _endpoint(stack, receiver)
    await _emit(5, points=3, reason="顾客 张三 投诉补偿")
    async with in_transaction() as conn:
        await events.scrub(member_ids=[5], using_db=conn)
    event = await WebhookEvent.get(member_id=5)
    assert "张三" not in str(event.data) and event.data["delta"] == 3


async def test_the_console_test_event_and_a_manual_resend(stack, receiver):
    admin = await _admin(stack)
    endpoint = await _endpoint(stack, receiver, admin, event_types=["coupon.issued"])
    sent = await stack.http.post(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}/test", headers=bearer(admin))
    assert sent.status_code == 201, sent.text
    await _drain(stack)
    assert receiver.received[0].json["type"] == "webhook.tested" and receiver.received[0].json["id"] == sent.json()["id"]
    [delivery] = (await stack.http.get("/api/v1/admin/webhook-deliveries", headers=bearer(admin))).json()["items"]
    again = await stack.http.post(f"/api/v1/admin/webhook-deliveries/{delivery['id']}/resend", headers=bearer(admin))
    assert again.status_code == 200 and again.json()["status"] == "pending"
    await _drain(stack)
    assert [item.headers["webhook-id"] for item in receiver.received] == [sent.json()["id"]] * 2
    from backend.audit import AuditLog

    actions = set(await AuditLog.filter(target_type__startswith="webhook").values_list("action", flat=True))
    assert {"webhook_endpoint.create", "webhook_endpoint.test", "webhook_delivery.resend"} <= actions


async def test_only_admins_manage_webhooks(stack, receiver):
    _, marketer = await make_staff(stack, role="marketer")
    response = await stack.http.get("/api/v1/admin/webhook-endpoints", headers=bearer(marketer))
    assert response.status_code == 403


async def test_deleting_an_endpoint_stops_its_deliveries(stack, receiver):
    admin = await _admin(stack)
    endpoint = await _endpoint(stack, receiver, admin)
    await _emit(1)
    gone = await stack.http.delete(f"/api/v1/admin/webhook-endpoints/{endpoint['id']}", headers=bearer(admin))
    assert gone.status_code == 200
    assert await _drain(stack) == 0 and await WebhookDelivery.all().count() == 0


def _production(**extra: Any) -> Settings:
    return Settings(app_env="production", **extra)


@pytest.mark.parametrize("url", [
    "http://example.com/hook",  # https only
    "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://192.168.0.9/hook", "https://172.16.5.5/hook",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://100.64.0.1/hook", "https://0.0.0.0/hook", "https://localhost/hook",
    "ftp://example.com/x", "https://user:pw@example.com/hook",
])
async def test_outside_dev_and_test_private_and_plain_http_targets_are_refused(url):
    with pytest.raises(WebhookUrlNotAllowed) as refused:
        await service.check_url(url, _production())
    assert refused.value.code == "WEBHOOK_URL_NOT_ALLOWED" and refused.value.status == 422


async def test_a_public_https_target_passes_and_an_allow_listed_host_may_be_private():
    await service.check_url("https://93.184.216.34/hook", _production())
    await service.check_url("http://localhost:9000/hook", _production(webhook_allow_hosts=("localhost",)))
    await service.check_url("http://127.0.0.1:9000/hook", Settings(app_env="test"))
    with pytest.raises(WebhookUrlNotAllowed):
        await service.check_url("https://127.0.0.1/hook", _production(webhook_allow_hosts=("localhost",)))


async def test_the_api_refuses_a_private_target_outside_test_with_its_code(stack, receiver):
    admin = await _admin(stack)
    response = await stack.http.post("/api/v1/admin/webhook-endpoints", headers=bearer(admin),
                                     json={"url": "ftp://example.com/" + unique("x")})
    assert response.status_code == 400  # not an http(s) URL: the body's pattern refuses it


async def test_a_completed_checkout_a_failed_message_and_points_about_to_expire_reach_their_subscribers(
        stack, counter, receiver):
    from backend.checkout import service as checkout
    from backend.loyalty import orders as loyalty_orders
    from tests.jobs_helpers import run_program
    from tests.notify_helpers import set_template_ids, shopper

    await _endpoint(stack, receiver, counter.admin,
                    event_types=["checkout.completed", "message.failed", "points.will_expire"])
    # checkout.completed, with the session and the order it became
    await order(stack, counter, amount_cents=100000)
    session = await checkout.open_session(
        checkout.Cart(member_id=counter.member_id, channel="online", amount_cents=5000), coupon_ids=[], points=100,
        balance_cents=0, ttl_s=900, app_key_id=None, tz="Asia/Shanghai")
    await checkout.complete(session.id, app_key_id=None, order_no="WEB-1", placed_at=None, tz="Asia/Shanghai")
    # message.failed: the provider refuses the welcome SMS for good
    await set_template_ids(stack, counter.admin, "welcome", sms="200001")
    failed_id, _, phone = await shopper(stack)
    stack.sms.fail_number(phone, "InvalidParameterValue.IncorrectPhoneNumber")
    await stack.dispatcher.drain()
    # points.will_expire: the reminder program finds points expiring within its days
    expiring_id, _, _ = await shopper(stack)
    await loyalty_orders.adjust_points(member_id=expiring_id, points=300, reason="补偿", actor=audit_system(),
                                       tz="Asia/Shanghai")
    await set_expiry(expiring_id, stack.clock.now() + timedelta(days=3))
    await run_program(stack, "points_expiry_reminder")
    await run_program(stack, "points_expiry_reminder")  # a second run reminds nobody again

    await _drain(stack)

    by_type: dict[str, list[dict[str, Any]]] = {}
    for got in receiver.received:
        by_type.setdefault(got.json["type"], []).append(got.json)
    [completed] = by_type["checkout.completed"]
    assert completed["data"]["session_id"] == session.id and completed["data"]["order_no"] == "WEB-1"
    [failed] = by_type["message.failed"]
    assert failed["data"]["template_key"] == "welcome" and "IncorrectPhoneNumber" in failed["data"]["reason"]
    [expiring] = by_type["points.will_expire"]
    assert expiring["data"]["points"] == 300
    assert (failed["data"]["member_id"], expiring["data"]["member_id"]) == (failed_id, expiring_id)


def audit_system() -> Any:
    from backend import audit

    return audit.SYSTEM


async def set_expiry(member_id: int, when: datetime) -> None:
    from backend.loyalty.models import PointsLot

    await PointsLot.filter(member_id=member_id).update(expires_at=when)
