"""Endpoints (create, update, delete, rotate the secret), the test event and manual re-sends; every
change audited and the subscription cache of this process refreshed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from backend import audit, clock
from backend.errors import error
from backend.security.pii import PiiCipher
from backend.settings import Settings
from backend.webhooks import catalog, outbox, signing, urls
from backend.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

WebhookEndpointNotFound = error("WEBHOOK_ENDPOINT_NOT_FOUND", 404, "Webhook 端点不存在")
WebhookDeliveryNotFound = error("WEBHOOK_DELIVERY_NOT_FOUND", 404, "Webhook 投递记录不存在")
WebhookEventNotFound = error("WEBHOOK_EVENT_NOT_FOUND", 404, "Webhook 事件不存在")
WebhookEndpointDisabled = error("WEBHOOK_ENDPOINT_DISABLED", 409, "Webhook 端点已停用，请先启用")

DEFAULT_OVERLAP_S = 86400
MAX_OVERLAP_S = 7 * 86400


@dataclass
class WithSecret:
    endpoint: WebhookEndpoint
    secret: str


def _audit_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
            "enabled": endpoint.enabled}


async def get_endpoint(*, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint, or WEBHOOK_ENDPOINT_NOT_FOUND."""
    endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound(details={"endpoint_id": endpoint_id})
    return endpoint


async def check_url(url: str, settings: Settings) -> None:
    """WEBHOOK_URL_NOT_ALLOWED for a target this deployment must not call."""
    await urls.check(url, app_env=settings.app_env, allow_hosts=settings.webhook_allow_hosts)


async def create_endpoint(*, url: str, description: str, event_types: list[str], enabled: bool,
                          settings: Settings, pii: PiiCipher, actor: audit.Actor) -> WithSecret:
    """A new endpoint with a new secret (answered once)."""
    await check_url(url, settings)
    secret = signing.new_secret()
    now = clock.now()
    async with in_transaction() as conn:
        endpoint = await WebhookEndpoint.create(
            url=url, description=description, event_types=sorted(set(event_types)), enabled=enabled,
            secret_enc=pii.encrypt(secret), created_at=now, updated_at=now, using_db=conn)
        await audit.record(actor=actor, action="webhook_endpoint.create", target_type="webhook_endpoint",
                           target_id=endpoint.id, after=_audit_view(endpoint), using_db=conn)
    outbox.forget()
    return WithSecret(endpoint, secret)


async def update_endpoint(*, endpoint_id: int, changes: dict[str, Any], settings: Settings,
                          actor: audit.Actor) -> WebhookEndpoint:
    """Change URL, description, event types or enabled; enabling again clears the disabled reason."""
    if "url" in changes:
        await check_url(changes["url"], settings)
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    async with in_transaction() as conn:
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).select_for_update().first()
        if endpoint is None:
            raise WebhookEndpointNotFound(details={"endpoint_id": endpoint_id})
        before = _audit_view(endpoint)
        if changes.get("enabled") is True and not endpoint.enabled:
            changes.update(disabled_reason=None, disabled_at=None, failing_since=None)
        if changes.get("enabled") is False and endpoint.enabled:
            changes.update(disabled_reason="管理员停用", disabled_at=clock.now())
        if changes:
            await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).update(**changes, updated_at=clock.now())
            for name, value in changes.items():
                setattr(endpoint, name, value)
            await audit.record(actor=actor, action="webhook_endpoint.update", target_type="webhook_endpoint",
                               target_id=endpoint_id, before=before, after=_audit_view(endpoint), using_db=conn)
    outbox.forget()
    return endpoint


async def delete_endpoint(*, endpoint_id: int, actor: audit.Actor) -> None:
    """The endpoint and its deliveries (the events stay for other endpoints)."""
    async with in_transaction() as conn:
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).select_for_update().first()
        if endpoint is None:
            raise WebhookEndpointNotFound(details={"endpoint_id": endpoint_id})
        await WebhookDelivery.filter(endpoint_id=endpoint_id).using_db(conn).delete()
        await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).delete()
        await audit.record(actor=actor, action="webhook_endpoint.delete", target_type="webhook_endpoint",
                           target_id=endpoint_id, before=_audit_view(endpoint), using_db=conn)
    outbox.forget()


async def rotate_secret(*, endpoint_id: int, overlap_s: int, pii: PiiCipher, actor: audit.Actor) -> WithSecret:
    """A new secret that signs at once; the replaced one signs too for ``overlap_s`` (both signatures sent)."""
    secret = signing.new_secret()
    now = clock.now()
    async with in_transaction() as conn:
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).select_for_update().first()
        if endpoint is None:
            raise WebhookEndpointNotFound(details={"endpoint_id": endpoint_id})
        until = now + timedelta(seconds=overlap_s) if overlap_s else None
        await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).update(
            secret_enc=pii.encrypt(secret), previous_secret_enc=endpoint.secret_enc if overlap_s else None,
            previous_secret_until=until, updated_at=now)
        await audit.record(actor=actor, action="webhook_endpoint.rotate_secret", target_type="webhook_endpoint",
                           target_id=endpoint_id, after={"previous_secret_until": until.isoformat() if until else None},
                           using_db=conn)
    return WithSecret(await get_endpoint(endpoint_id=endpoint_id), secret)


def signing_secrets(endpoint: WebhookEndpoint | dict[str, Any], pii: PiiCipher) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one in its overlap."""
    get = endpoint.get if isinstance(endpoint, dict) else lambda name: getattr(endpoint, name)
    out = [pii.decrypt(get("secret_enc"))]
    until = get("previous_secret_until")
    if get("previous_secret_enc") and until is not None:
        from backend import db

        if db.to_datetime(until) > clock.now():
            out.append(pii.decrypt(get("previous_secret_enc")))
    return out


async def send_test(*, endpoint_id: int, actor: audit.Actor) -> WebhookEvent:
    """A ``webhook.tested`` event delivered to this endpoint only, whatever it subscribes to."""
    endpoint = await get_endpoint(endpoint_id=endpoint_id)
    if not endpoint.enabled:
        raise WebhookEndpointDisabled(details={"endpoint_id": endpoint_id})
    async with in_transaction() as conn:
        rows = await outbox.write([(catalog.TEST_TYPE, None, {"endpoint_id": endpoint_id, "test": True},
                                    (endpoint_id,))], using_db=conn)
        await audit.record(actor=actor, action="webhook_endpoint.test", target_type="webhook_endpoint",
                           target_id=endpoint_id, after={"event_id": rows[0]["event_id"]}, using_db=conn)
    return await WebhookEvent.get(id=int(rows[0]["id"]))


async def resend(*, delivery_id: int, actor: audit.Actor) -> WebhookDelivery:
    """Queue a delivery again now (same event id, so a receiver that got it dedupes), attempts from zero."""
    delivery = await WebhookDelivery.get_or_none(id=delivery_id)
    if delivery is None:
        raise WebhookDeliveryNotFound(details={"delivery_id": delivery_id})
    endpoint = await get_endpoint(endpoint_id=delivery.endpoint_id)
    if not endpoint.enabled:
        raise WebhookEndpointDisabled(details={"endpoint_id": endpoint.id})
    now = clock.now()
    async with in_transaction() as conn:
        await WebhookDelivery.filter(id=delivery_id).using_db(conn).update(
            status="pending", attempts=0, next_attempt_at=now, lease_until=None, lease_token=None, updated_at=now)
        await audit.record(actor=actor, action="webhook_delivery.resend", target_type="webhook_delivery",
                           target_id=delivery_id, before={"status": delivery.status, "attempts": delivery.attempts},
                           after={"status": "pending"}, using_db=conn)
    return await WebhookDelivery.get(id=delivery_id)
