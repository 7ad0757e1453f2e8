"""Notifications over HTTP: message templates, caps and delivery logs for the console; provider
callbacks; one-click unsubscribe links."""

from __future__ import annotations

import hmac
from typing import Any

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, text
from tortoise.transactions import in_transaction
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from backend import audit, clock, db
from backend.errors import field_errors
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import endpoint
from backend.http.pagination import PageQuery, page
from backend.http.validation import Body, parse_body
from backend.members.errors import MemberNotFound
from backend.members.models import Member
from backend.web.pages import SECURITY_HEADERS
from backend.web.pages import templates as pages
from notifications import inbound, links, policy, rendering, templates
from notifications.errors import CallbackForbidden, TemplateNotFound
from notifications.models import Message
from notifications.templates import TemplateDoc

bp = Blueprint("console_notifications", url_prefix="/api/v1/admin")
callbacks = Blueprint("callbacks", url_prefix="/api/v1/callbacks")
unsubscribe = Blueprint("unsubscribe", url_prefix="/u")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
TEMPLATE_ERRORS = [*AUTH, "MESSAGE_TEMPLATE_NOT_FOUND", "MESSAGE_TEMPLATE_INVALID", "MESSAGE_TEMPLATE_TOO_COSTLY"]


class TemplateCreate(TemplateDoc):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="stable code touches refer to")


class TemplateSwitch(Body):
    enabled: bool


class PreviewRequest(Body):
    member_id: int | None = Field(None, description="render for this member; a sample member when omitted")
    event: dict[str, Any] | None = Field(None, description="event values; the template's sample when omitted")
    template: TemplateDoc | None = Field(None, description="an unsaved version to try instead of the saved one")


def message_view(m: Message | dict[str, Any]) -> dict[str, Any]:
    get = m.get if isinstance(m, dict) else lambda name: getattr(m, name)

    def when(name: str) -> str | None:
        value = db.to_datetime(get(name))
        return value.isoformat() if value else None

    return {"id": get("id"), "member_id": get("member_id"), "template_key": get("template_key"),
            "purpose": get("purpose"), "status": get("status"), "channel": get("channel"),
            "provider": get("provider"), "recipient": get("recipient"), "attempts": get("attempts"),
            "reason": get("reason"), "touch_id": get("touch_id"), "rendered": get("rendered"),
            "created_at": when("created_at"), "due_at": when("due_at"), "sent_at": when("sent_at"),
            "finished_at": when("finished_at")}


# -- templates -----------------------------------------------------------------------------------------

async def _template(key: str) -> dict[str, Any]:
    row = await templates.get(key, fresh=True)
    if row is None:
        raise TemplateNotFound(details={"key": key})
    return row


@bp.get("/message-templates")
@endpoint(summary="Message templates: the built-in service ones, then the marketers'", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_message_templates(request: Request) -> HTTPResponse:
    return ok({"items": [templates.as_json(row) for row in await templates.list_all()]})


@bp.post("/message-templates")
@endpoint(summary="Create a message template (Jinja2 variables: member, event, merchant, today)", tag=TAG,
          body=TemplateCreate, errors=[*AUTH, "MESSAGE_TEMPLATE_INVALID", "MESSAGE_TEMPLATE_TOO_COSTLY",
                                         "MESSAGE_TEMPLATE_KEY_TAKEN"])
@staff_required(*CONSOLE)
async def create_message_template(request: Request) -> HTTPResponse:
    body = parse_body(request, TemplateCreate)
    doc = TemplateDoc.model_validate(body.model_dump(exclude={"key"}))
    await templates.create(body.key, doc, actor=staff_actor(request))
    return ok(templates.as_json(await _template(body.key)), status=201)


@bp.get("/message-templates/<key:key>")
@endpoint(summary="One message template", tag=TAG, errors=[*AUTH, "MESSAGE_TEMPLATE_NOT_FOUND"])
@staff_required(*CONSOLE)
async def get_message_template(request: Request, key: str) -> HTTPResponse:
    return ok(templates.as_json(await _template(key)))


@bp.put("/message-templates/<key:key>")
@endpoint(summary="Replace a template's wording, channels and switch (audited)", tag=TAG, body=TemplateDoc,
          errors=TEMPLATE_ERRORS)
@staff_required(*CONSOLE)
async def put_message_template(request: Request, key: str) -> HTTPResponse:
    doc = parse_body(request, TemplateDoc)
    await templates.save(key, doc, actor=staff_actor(request))
    return ok(templates.as_json(await _template(key)))


@bp.patch("/message-templates/<key:key>")
@endpoint(summary="Switch a template on or off (a switched-off template queues nothing)", tag=TAG,
          body=TemplateSwitch, errors=TEMPLATE_ERRORS)
@staff_required(*CONSOLE)
async def switch_message_template(request: Request, key: str) -> HTTPResponse:
    body = parse_body(request, TemplateSwitch)
    before = await _template(key)
    doc = TemplateDoc.model_validate({**{k: before[k] for k in ("name", "purpose", "channels", "content")},
                                      "enabled": body.enabled})
    await templates.save(key, doc, actor=staff_actor(request))
    return ok(templates.as_json(await _template(key)))


@bp.post("/message-templates/<key:key>/preview")
@endpoint(summary="Render a template for a member (or a sample member) without sending", tag=TAG,
          body=PreviewRequest, errors=[*TEMPLATE_ERRORS, "MEMBER_NOT_FOUND"])
@staff_required(*CONSOLE)
async def preview_message_template(request: Request, key: str) -> HTTPResponse:
    body = parse_body(request, PreviewRequest)
    row = await templates.get(key, fresh=True)
    if row is None and body.template is None:
        raise TemplateNotFound(details={"key": key})
    content = body.template.content.model_dump(mode="json", exclude_none=True) if body.template else row["content"]
    member = rendering.sample_member()
    if body.member_id is not None:
        found = await request.app.ctx.dispatcher.recipients({body.member_id})
        if body.member_id not in found:
            raise MemberNotFound()
        member = found[body.member_id].member
    settings = request.app.ctx.settings
    event = body.event if body.event is not None else rendering.SAMPLE_EVENTS.get(key, {})
    variables = rendering.variables(member=member, event=event, merchant=settings.merchant_name, now=clock.now(),
                                    tz=settings.tz)
    # Off the event loop and under the render budget: a costly template is a 422, never a stalled worker.
    return ok({"key": key, "channels": await rendering.preview(content, variables)})


# -- caps, quiet hours, retries --------------------------------------------------------------------------

@bp.get("/caps")
@endpoint(summary="Frequency caps, quiet hours, retries and SMS opt-out keywords", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def get_caps(request: Request) -> HTTPResponse:
    return ok((await policy.load(fresh=True)).model_dump(mode="json"))


@bp.put("/caps")
@endpoint(summary="Replace the sending policy (validated: a cap is at least 1; audited)", tag=TAG,
          body=policy.Policy, errors=AUTH)
@staff_required(*CONSOLE)
async def put_caps(request: Request) -> HTTPResponse:
    doc = parse_body(request, policy.Policy)
    before = await policy.load(fresh=True)
    async with in_transaction() as conn:
        await policy.save(doc, conn)
        await audit.record(actor=staff_actor(request), action="notification_policy.update",
                           target_type="notification_policy", target_id=1, before=before.model_dump(mode="json"),
                           after=doc.model_dump(mode="json"), using_db=conn)
    return ok(doc.model_dump(mode="json"))


# -- delivery logs --------------------------------------------------------------------------------------

@bp.get("/members/<member_id:id>/messages")
@endpoint(query=PageQuery, summary="A member's messages, newest first: channel, state, attempts and reason", tag=TAG,
          errors=[*AUTH, "MEMBER_NOT_FOUND"])
@staff_required(*CONSOLE)
async def member_messages(request: Request, member_id: int) -> HTTPResponse:
    if not await Member.exists(id=member_id):
        raise MemberNotFound()
    return ok(await page(request, Message.filter(member_id=member_id), message_view))


@bp.get("/messages")
@endpoint(query=PageQuery, summary="Messages, newest first; filter by status, template_key or touch_id", tag=TAG, errors=AUTH)
@staff_required(*CONSOLE)
async def list_messages(request: Request) -> HTTPResponse:
    query = Message.all()
    for name in ("status", "template_key"):
        if request.args.get(name):
            query = query.filter(**{name: request.args.get(name)})
    if request.args.get("touch_id"):
        touch = request.args.get("touch_id")
        if not touch.isdigit():
            raise field_errors({"touch_id": "应为整数"})
        query = query.filter(touch_id=int(touch))
    return ok(await page(request, query, message_view))


# -- provider callbacks ------------------------------------------------------------------------------

def _check_callback(request: Request) -> None:
    given = request.args.get("token", "")
    if not hmac.compare_digest(given.encode(), request.app.ctx.settings.sms_callback_token.encode()):
        raise CallbackForbidden()


PROVIDER_OK = {"result": 0, "errmsg": "OK"}


@callbacks.post("/sms/status")
@endpoint(summary="SMS status reports (Tencent format: a list of reports); authenticated by ?token=", tag="callbacks",
          errors=["CALLBACK_FORBIDDEN"])
async def sms_status(request: Request) -> HTTPResponse:
    _check_callback(request)
    reports = request.json
    if isinstance(reports, dict):
        reports = [reports]
    if not isinstance(reports, list) or not all(isinstance(r, dict) for r in reports):
        raise field_errors({"body": "应为状态报告数组"})
    counts = await inbound.sms_status_reports(reports)
    return ok({**PROVIDER_OK, "counts": counts})


@callbacks.post("/sms/reply")
@endpoint(summary="SMS replies; T, TD, N, R, 退订 or 拒收 withdraws SMS marketing consent; authenticated by ?token=",
          tag="callbacks", errors=["CALLBACK_FORBIDDEN"])
async def sms_reply(request: Request) -> HTTPResponse:
    _check_callback(request)
    body = request.json
    if not isinstance(body, dict) or not isinstance(body.get("mobile"), str) or not isinstance(body.get("text"), str):
        raise field_errors({"body": "应包含 mobile 与 text"})
    withdrawn = await inbound.sms_reply(mobile=body["mobile"], text=body["text"], pii=request.app.ctx.pii)
    return ok({**PROVIDER_OK, "withdrawn": withdrawn})


def _check_wechat_push(request: Request) -> None:
    token = request.app.ctx.settings.wechat_push_token
    if not token:
        raise CallbackForbidden(details={"reason": "WECHAT_PUSH_TOKEN is not set"})
    args = request.args
    try:
        check_signature(token, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
    except InvalidSignatureException:
        raise CallbackForbidden() from None


@callbacks.get("/wechat")
@endpoint(summary="WeChat message push: the server URL check (echoes echostr when the signature holds)",
          tag="callbacks", errors=["CALLBACK_FORBIDDEN"])
async def wechat_push_check(request: Request) -> HTTPResponse:
    _check_wechat_push(request)
    return text(request.args.get("echostr", ""))


@callbacks.post("/wechat")
@endpoint(summary="WeChat message push (JSON): subscribe-message rejections clear the template's remaining sends",
          tag="callbacks", errors=["CALLBACK_FORBIDDEN"])
async def wechat_push(request: Request) -> HTTPResponse:
    _check_wechat_push(request)
    try:
        event = request.json
    except Exception:
        event = None
    if not isinstance(event, dict):
        raise field_errors({"body": "消息推送请使用 JSON 数据格式（明文模式）"})
    if event.get("Event") in ("subscribe_msg_popup_event", "subscribe_msg_change_event") and event.get("FromUserName"):
        await inbound.wechat_subscribe_events(app_id=request.app.ctx.wechat.app_id,
                                              openid=str(event["FromUserName"]), event=event)
    return text("success")


# -- one-click unsubscribe (RFC 8058) -----------------------------------------------------------------

def _page(request: Request, state: str, status: int = 200) -> HTTPResponse:
    body = pages.get_template("links/unsubscribe.html").render(state=state,
                                                               merchant=request.app.ctx.settings.merchant_name)
    return html(body, status=status, headers=SECURITY_HEADERS)


@unsubscribe.get("/<token:token>")
async def unsubscribe_page(request: Request, token: str) -> HTTPResponse:
    """A GET never unsubscribes (mail scanners follow links): it asks for confirmation."""
    found = links.read_unsubscribe_token(request.app.ctx.settings.secret_key, token)
    return _page(request, "confirm" if found else "invalid", 200 if found else 404)


@unsubscribe.post("/<token:token>")
async def unsubscribe_now(request: Request, token: str) -> HTTPResponse:
    """The confirm button and mail clients' one-click POST (``List-Unsubscribe=One-Click``), no cookies."""
    found = links.read_unsubscribe_token(request.app.ctx.settings.secret_key, token)
    if found is None:
        return _page(request, "invalid", 404)
    member_id, channel, _purpose = found
    if await Member.exists(id=member_id):
        await inbound.withdraw(member_id=member_id, channel=channel, source="unsubscribe_link")
    return _page(request, "done")

