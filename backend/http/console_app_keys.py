"""Console API for integration app keys under /api/v1/admin/app-keys: admins only, every change audited.

A secret is answered once, when the key is created or rotated; it is stored encrypted and never shown again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from backend.http.auth import staff_required
from backend.http.common import ADMIN, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.validation import Body, Id32, parse_body
from backend.stores import service
from backend.stores.models import AppKey

bp = Blueprint("console_app_keys", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
ONE = [*AUTH, "APP_KEY_NOT_FOUND"]

Channel = Literal["online", "pos", "miniprogram", "third_party"]
Action = Literal["orders", "refunds", "members.lookup", "members.write"]


class Scopes(Body):
    """What the key may do: ``actions`` for orders of ``channels`` at ``store_ids`` (null: every store)."""

    channels: list[Channel] = Field(min_length=1, max_length=4)
    store_ids: list[Id32] | None = Field(None, min_length=1, max_length=200,
                                         description="the stores it may write orders and refunds for; "
                                                     "null for every store")
    actions: list[Action] = Field(min_length=1, max_length=4)


class ScopesOut(Out):
    channels: list[str]
    store_ids: list[int] | None
    actions: list[str]


class AppKeyCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: Scopes


class AppKeyPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=100)
    scopes: Scopes | None = None

    @model_validator(mode="after")
    def name_or_scopes(self) -> AppKeyPatch:
        if self.name is None and self.scopes is None:
            raise ValueError("请提供 name 或 scopes")
        return self


class AppKeyRotate(Body):
    overlap_s: int = Field(service.DEFAULT_OVERLAP_S, ge=0, le=service.MAX_OVERLAP_S,
                           description="how long the replaced secret keeps working (seconds; 0 stops it now)")


class AppKeyRevoke(Body):
    reason: str | None = Field(None, min_length=1, max_length=200, description="kept in the audit log")


class AppKeyView(Out):
    id: int
    key_id: str = Field(description="sent as X-App-Key")
    name: str
    status: Literal["active", "revoked"]
    scopes: ScopesOut
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        description="until when the secret replaced by the last rotation still signs (null: it does not)")
    revoked_at: datetime | None


class AppKeyWithSecret(AppKeyView):
    secret: str = Field(description="shown only in this answer: store it now")


def _view(key: AppKey) -> dict[str, object]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": key.id, "key_id": key.key_id, "name": key.name, "status": service.app_key_status(key),
            "scopes": key.scopes, "created_at": key.created_at.isoformat(), "rotated_at": iso(key.rotated_at),
            "previous_secret_valid_until": iso(key.previous_secret_until), "revoked_at": iso(key.revoked_at)}


@bp.get("/app-keys")
@endpoint(summary="App keys, newest first (no secrets)", tag=TAG, query=PageQuery, response=Page[AppKeyView],
          errors=AUTH)
@staff_required(*ADMIN)
async def list_app_keys(request: Request) -> HTTPResponse:
    return ok(await page(request, AppKey.all(), _view))


@bp.post("/app-keys")
@endpoint(summary="Create an app key with its scopes; the answer holds the secret, shown this once", tag=TAG,
          body=AppKeyCreate, response=AppKeyWithSecret, status=201, errors=AUTH,
          links={op: {"app_key_id": "$response.body#/id"}
                 for op in ("getAppKey", "patchAppKey", "rotateAppKey", "revokeAppKey")})
@staff_required(*ADMIN)
async def create_app_key(request: Request) -> HTTPResponse:
    body = parse_body(request, AppKeyCreate)
    created = await service.create_app_key(name=body.name, scopes=body.scopes.model_dump(), pii=request.app.ctx.pii,
                                           actor=staff_actor(request))
    return ok({**_view(created.key), "secret": created.secret}, status=201)


@bp.get("/app-keys/<app_key_id:id32>")
@endpoint(summary="One app key (no secret)", tag=TAG, response=AppKeyView, errors=ONE)
@staff_required(*ADMIN)
async def get_app_key(request: Request, app_key_id: int) -> HTTPResponse:
    return ok(_view(await service.get_app_key(app_key_id=app_key_id)))


@bp.patch("/app-keys/<app_key_id:id32>")
@endpoint(summary="Rename a key or change its scopes (the next request it signs is judged by them)", tag=TAG,
          body=AppKeyPatch, response=AppKeyView, errors=[*ONE, "APP_KEY_REVOKED"])
@staff_required(*ADMIN)
async def patch_app_key(request: Request, app_key_id: int) -> HTTPResponse:
    body = parse_body(request, AppKeyPatch)
    key = await service.update_app_key(app_key_id=app_key_id, name=body.name, actor=staff_actor(request),
                                       scopes=body.scopes.model_dump() if body.scopes else None)
    return ok(_view(key))


@bp.post("/app-keys/<app_key_id:id32>/rotate")
@endpoint(summary="A new secret that works at once; the old one keeps working for overlap_s (default 24 h)",
          tag=TAG, body=AppKeyRotate, response=AppKeyWithSecret, errors=[*ONE, "APP_KEY_REVOKED"])
@staff_required(*ADMIN)
async def rotate_app_key(request: Request, app_key_id: int) -> HTTPResponse:
    body = parse_body(request, AppKeyRotate)
    rotated = await service.rotate_app_key(app_key_id=app_key_id, overlap_s=body.overlap_s,
                                           pii=request.app.ctx.pii, actor=staff_actor(request))
    return ok({**_view(rotated.key), "secret": rotated.secret})


@bp.post("/app-keys/<app_key_id:id32>/revoke")
@endpoint(summary="Revoke a key at once: every secret of it stops signing (revoking again changes nothing)",
          tag=TAG, body=AppKeyRevoke, response=AppKeyView, errors=ONE)
@staff_required(*ADMIN)
async def revoke_app_key(request: Request, app_key_id: int) -> HTTPResponse:
    body = parse_body(request, AppKeyRevoke)
    key = await service.revoke_app_key(app_key_id=app_key_id, reason=body.reason, actor=staff_actor(request))
    return ok(_view(key))
