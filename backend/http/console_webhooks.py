"""Console API for outgoing webhooks under /api/v1/admin: endpoints, secrets, the delivery log, re-sends
and the test event. Admins only; every change audited. A secret is answered once (create, rotate)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend import db
from backend.http.auth import staff_required
from backend.http.common import ADMIN, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.validation import Body, Id32, parse_body, parse_query
from backend.webhooks import catalog, service
from backend.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

bp = Blueprint("console_webhooks", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
ONE = [*AUTH, "WEBHOOK_ENDPOINT_NOT_FOUND"]
EventType = Literal[tuple(catalog.EVENT_TYPES)]  # type: ignore[valid-type]
URL_RULES: dict[str, Any] = {
    "min_length": 8, "max_length": 2000, "pattern": r"^https?://[^\s]+$",
    "description": "https outside dev and test; private, loopback and link-local targets are refused unless "
                   "WEBHOOK_ALLOW_HOSTS names the host (WEBHOOK_URL_NOT_ALLOWED)"}


class WebhookEndpointCreate(Body):
    url: str = Field(**URL_RULES)
    description: str = Field("", max_length=200)
    event_types: list[EventType] = Field(default_factory=list, max_length=len(catalog.EVENT_TYPES),
                                         description="the event types it receives; empty: every type")
    enabled: bool = True


class WebhookEndpointPatch(Body):
    """Only the fields sent change; enabling a disabled endpoint clears its disabled reason."""

    url: str | None = Field(None, **URL_RULES)
    description: str | None = Field(None, max_length=200)
    event_types: list[EventType] | None = Field(None, max_length=len(catalog.EVENT_TYPES))
    enabled: bool | None = None

    @model_validator(mode="after")
    def something(self) -> WebhookEndpointPatch:
        if not any(getattr(self, name) is not None for name in ("url", "description", "event_types", "enabled")):
            raise ValueError("请至少提供一个要修改的字段")
        return self


class WebhookSecretRotate(Body):
    overlap_s: int = Field(service.DEFAULT_OVERLAP_S, ge=0, le=service.MAX_OVERLAP_S,
                           description="how long the replaced secret signs too (both signatures are sent); 0: "
                                       "it stops now")


class WebhookEndpointView(Out):
    id: int
    url: str
    description: str
    event_types: list[str] = Field(description="empty: every type")
    enabled: bool
    disabled_reason: str | None = Field(description="why it was disabled (410 Gone, 5 days of failures, an admin)")
    disabled_at: datetime | None
    failing_since: datetime | None = Field(description="first failure since the last success (null: healthy)")
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointView):
    secret: str = Field(description="whsec_…: shown only in this answer, store it now")


class WebhookEndpointDeleted(Out):
    deleted: bool


class WebhookEventType(Out):
    type: str
    description: str


class WebhookEventTypes(Out):
    items: list[WebhookEventType]


class WebhookDeliveryView(Out):
    id: int
    endpoint_id: int
    event_id: str = Field(description="the webhook-id header: receivers dedupe on it")
    event_type: str
    member_id: int | None
    status: Literal["pending", "failed", "succeeded", "dead"] = Field(
        description="pending: not tried yet; failed: the last attempt failed, another is scheduled; succeeded; "
                    "dead: no more attempts")
    attempts: int
    next_attempt_at: datetime | None = Field(description="when it is tried next (null once it ended)")
    last_status_code: int | None
    last_error: str | None
    last_response_ms: int | None
    last_attempt_at: datetime | None
    created_at: datetime


class WebhookEventView(Out):
    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class DeliveryQuery(PageQuery):
    event_id: str | None = Field(None, max_length=40, pattern=r"^evt_[0-9a-f]{1,36}$",
                                 description="only this event's deliveries")
    endpoint_id: Id32 | None = None
    status: Literal["pending", "failed", "succeeded", "dead"] | None = None


class EndpointDeliveryQuery(PageQuery):
    status: Literal["pending", "failed", "succeeded", "dead"] | None = None


def _iso(value: Any) -> str | None:
    value = db.to_datetime(value)
    return value.isoformat() if value else None


def _view(row: WebhookEndpoint) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "description": row.description, "event_types": list(row.event_types or []),
            "enabled": row.enabled, "disabled_reason": row.disabled_reason, "disabled_at": _iso(row.disabled_at),
            "failing_since": _iso(row.failing_since),
            "previous_secret_valid_until": _iso(row.previous_secret_until) if row.previous_secret_enc else None,
            "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at)}


async def _deliveries(rows: list[WebhookDelivery]) -> list[dict[str, Any]]:
    events = {event.id: event for event in await WebhookEvent.filter(id__in={row.event_pk for row in rows})}
    out = []
    for row in rows:
        event = events.get(row.event_pk)
        out.append({"id": row.id, "endpoint_id": row.endpoint_id, "event_id": event.event_id if event else "",
                    "event_type": event.type if event else "", "member_id": row.member_id, "status": row.status,
                    "attempts": row.attempts,
                    "next_attempt_at": _iso(row.next_attempt_at) if row.status in ("pending", "failed") else None,
                    "last_status_code": row.last_status_code, "last_error": row.last_error,
                    "last_response_ms": row.last_response_ms, "last_attempt_at": _iso(row.last_attempt_at),
                    "created_at": _iso(row.created_at)})
    return out


async def _delivery_page(request: Request, query: Any, params: BaseModel) -> dict[str, Any]:
    assert isinstance(params, PageQuery)
    result = await page(request, query, lambda row: row, params)
    result["items"] = await _deliveries(result["items"])
    return result


@bp.get("/webhook-event-types")
@endpoint(summary="The event types an endpoint can subscribe to", tag=TAG, response=WebhookEventTypes, errors=AUTH,
          operation_id="listWebhookEventTypes")
@staff_required(*ADMIN)
async def list_event_types(request: Request) -> HTTPResponse:
    return ok({"items": [{"type": name, "description": text} for name, text in catalog.EVENT_TYPES.items()]})


@bp.get("/webhook-endpoints")
@endpoint(summary="Webhook endpoints, newest first (no secrets)", tag=TAG, query=PageQuery,
          response=Page[WebhookEndpointView], errors=AUTH, operation_id="listWebhookEndpoints")
@staff_required(*ADMIN)
async def list_endpoints(request: Request) -> HTTPResponse:
    return ok(await page(request, WebhookEndpoint.all(), _view))


@bp.post("/webhook-endpoints")
@endpoint(summary="Create a webhook endpoint; the answer holds its secret, shown this once", tag=TAG,
          body=WebhookEndpointCreate, response=WebhookEndpointWithSecret, status=201,
          errors=[*AUTH, "WEBHOOK_URL_NOT_ALLOWED"], operation_id="createWebhookEndpoint",
          links={op: {"endpoint_id": "$response.body#/id"} for op in (
              "getWebhookEndpoint", "updateWebhookEndpoint", "rotateWebhookSecret", "sendWebhookTest",
              "listWebhookEndpointDeliveries")})
@staff_required(*ADMIN)
async def create_endpoint(request: Request) -> HTTPResponse:
    body = parse_body(request, WebhookEndpointCreate)
    created = await service.create_endpoint(
        url=body.url, description=body.description, event_types=list(body.event_types), enabled=body.enabled,
        settings=request.app.ctx.settings, pii=request.app.ctx.pii, actor=staff_actor(request))
    return ok({**_view(created.endpoint), "secret": created.secret}, status=201)


@bp.get("/webhook-endpoints/<endpoint_id:id32>")
@endpoint(summary="One webhook endpoint (no secret)", tag=TAG, response=WebhookEndpointView, errors=ONE,
          operation_id="getWebhookEndpoint")
@staff_required(*ADMIN)
async def get_endpoint(request: Request, endpoint_id: int) -> HTTPResponse:
    return ok(_view(await service.get_endpoint(endpoint_id=endpoint_id)))


@bp.patch("/webhook-endpoints/<endpoint_id:id32>")
@endpoint(summary="Change an endpoint's URL, description, event types or enabled (audited)", tag=TAG,
          body=WebhookEndpointPatch, response=WebhookEndpointView, errors=[*ONE, "WEBHOOK_URL_NOT_ALLOWED"],
          operation_id="updateWebhookEndpoint")
@staff_required(*ADMIN)
async def patch_endpoint(request: Request, endpoint_id: int) -> HTTPResponse:
    body = parse_body(request, WebhookEndpointPatch)
    changes = {name: getattr(body, name) for name in body.model_fields_set if getattr(body, name) is not None}
    endpoint_row = await service.update_endpoint(endpoint_id=endpoint_id, changes=changes,
                                                 settings=request.app.ctx.settings, actor=staff_actor(request))
    return ok(_view(endpoint_row))


@bp.delete("/webhook-endpoints/<endpoint_id:id32>")
@endpoint(summary="Delete an endpoint and its delivery log (audited)", tag=TAG, response=WebhookEndpointDeleted,
          errors=ONE, operation_id="deleteWebhookEndpoint")
@staff_required(*ADMIN)
async def delete_endpoint(request: Request, endpoint_id: int) -> HTTPResponse:
    await service.delete_endpoint(endpoint_id=endpoint_id, actor=staff_actor(request))
    return ok({"deleted": True})


@bp.post("/webhook-endpoints/<endpoint_id:id32>/rotate-secret")
@endpoint(summary="A new secret that signs at once; the old one signs too for overlap_s (default 24 h)", tag=TAG,
          body=WebhookSecretRotate, response=WebhookEndpointWithSecret, errors=ONE,
          operation_id="rotateWebhookSecret")
@staff_required(*ADMIN)
async def rotate_secret(request: Request, endpoint_id: int) -> HTTPResponse:
    body = parse_body(request, WebhookSecretRotate)
    rotated = await service.rotate_secret(endpoint_id=endpoint_id, overlap_s=body.overlap_s,
                                          pii=request.app.ctx.pii, actor=staff_actor(request))
    return ok({**_view(rotated.endpoint), "secret": rotated.secret})


@bp.post("/webhook-endpoints/<endpoint_id:id32>/test")
@endpoint(summary="Send a webhook.tested event to this endpoint (queued; see its deliveries)", tag=TAG,
          response=WebhookEventView, status=201, errors=[*ONE, "WEBHOOK_ENDPOINT_DISABLED"],
          operation_id="sendWebhookTest")
@staff_required(*ADMIN)
async def send_test(request: Request, endpoint_id: int) -> HTTPResponse:
    event = await service.send_test(endpoint_id=endpoint_id, actor=staff_actor(request))
    return ok({"id": event.event_id, "type": event.type, "occurred_at": _iso(event.occurred_at), "data": event.data},
              status=201)


@bp.get("/webhook-endpoints/<endpoint_id:id32>/deliveries")
@endpoint(summary="An endpoint's delivery log, newest first", tag=TAG, query=EndpointDeliveryQuery,
          response=Page[WebhookDeliveryView], errors=ONE, operation_id="listWebhookEndpointDeliveries")
@staff_required(*ADMIN)
async def list_endpoint_deliveries(request: Request, endpoint_id: int) -> HTTPResponse:
    params = parse_query(request, EndpointDeliveryQuery)
    await service.get_endpoint(endpoint_id=endpoint_id)
    query = WebhookDelivery.filter(endpoint_id=endpoint_id)
    if params.status:
        query = query.filter(status=params.status)
    return ok(await _delivery_page(request, query, params))


@bp.get("/webhook-deliveries")
@endpoint(summary="Webhook deliveries, newest first: of one event (event_id), one endpoint or all", tag=TAG,
          query=DeliveryQuery, response=Page[WebhookDeliveryView], errors=[*AUTH, "WEBHOOK_EVENT_NOT_FOUND"],
          operation_id="listWebhookDeliveries")
@staff_required(*ADMIN)
async def list_deliveries(request: Request) -> HTTPResponse:
    params = parse_query(request, DeliveryQuery)
    query = WebhookDelivery.all()
    if params.event_id:
        event = await WebhookEvent.get_or_none(event_id=params.event_id)
        if event is None:
            raise service.WebhookEventNotFound(details={"event_id": params.event_id})
        query = query.filter(event_pk=event.id)
    if params.endpoint_id:
        query = query.filter(endpoint_id=params.endpoint_id)
    if params.status:
        query = query.filter(status=params.status)
    return ok(await _delivery_page(request, query, params))


@bp.post("/webhook-deliveries/<delivery_id:id>/resend")
@endpoint(summary="Send a delivery again now (same webhook-id; attempts start over)", tag=TAG,
          response=WebhookDeliveryView, errors=[*AUTH, "WEBHOOK_DELIVERY_NOT_FOUND", "WEBHOOK_ENDPOINT_NOT_FOUND",
                                                "WEBHOOK_ENDPOINT_DISABLED"],
          operation_id="resendWebhookDelivery")
@staff_required(*ADMIN)
async def resend(request: Request, delivery_id: int) -> HTTPResponse:
    delivery = await service.resend(delivery_id=delivery_id, actor=staff_actor(request))
    return ok((await _deliveries([delivery]))[0])

