"""Notifications over HTTP: message templates, caps and delivery logs for the console; provider
callbacks; one-click unsubscribe links."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, text
from tortoise.transactions import in_transaction
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from backend import audit, clock, db
from backend.http.auth import staff_required
from backend.http.common import CONSOLE, STAFF_AUTH_ERRORS, ok, staff_actor
from backend.http.docs import HTML, TEXT, Out, endpoint
from backend.http.pagination import Page, PageQuery, page
from backend.http.validation import Body, Id, parse_body, parse_query
from backend.members.errors import MemberNotFound
from backend.members.models import Member
from backend.web.pages import SECURITY_HEADERS
from backend.web.pages import templates as pages
from notifications import inbound, lengths, links, policy, rendering, templates
from notifications.errors import CallbackForbidden, TemplateNotFound
from notifications.models import Message as MessageRow
from notifications.templates import Content, TemplateDoc

bp = Blueprint("console_notifications", url_prefix="/api/v1/admin")
callbacks = Blueprint("callbacks", url_prefix="/api/v1/callbacks")
unsubscribe = Blueprint("unsubscribe", url_prefix="/u")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
TEMPLATE_ERRORS = [*AUTH, "MESSAGE_TEMPLATE_NOT_FOUND", "MESSAGE_TEMPLATE_INVALID",
                   "MESSAGE_TEMPLATE_TOO_COSTLY"]
Channel = Literal["wechat", "sms", "email"]
Purpose = Literal["service", "marketing"]
MessageStatus = Literal["queued", "deferred", "claimed", "sending", "sent", "delivered", "failed", "capped",
                        "no_consent", "unknown", "expired", "cancelled"]
TEMPLATE_KEY = r"^[a-z][a-z0-9_]{1,39}$"


class MessageTemplateDoc(TemplateDoc):
    """A template's name, purpose, switch, channel order and wording per channel."""


class MessageTemplateCreate(MessageTemplateDoc):
    key: str = Field(pattern=TEMPLATE_KEY, description="stable code touches refer to")


class MessageTemplateSwitch(Body):
    enabled: bool


class MessageTemplatePreviewRequest(Body):
    member_id: Id | None = Field(None, description="render for this member; a sample member when omitted")
    event: dict[str, Any] | None = Field(None, max_length=50,
                                         description="event values; the template's sample when omitted")
    template: MessageTemplateDoc | None = Field(None, description="an unsaved version to try instead of the saved one")


class MessageTemplate(Out):
    key: str
    name: str
    purpose: Purpose
    enabled: bool
    builtin: bool = Field(description="sent by a domain event; can be edited or switched off, not removed")
    channels: list[Channel] = Field(description="tried in this order")
    content: Content
    version: int = Field(description="0: a built-in template as shipped, never edited")
    updated_at: datetime | None


class MessageTemplateList(Out):
    items: list[MessageTemplate]


class RenderedSms(Out):
    template_id: str
    params: list[str]
    text: str
    sign_name: str = Field(description="SMS_SIGN_NAME, shown in 【】 before the text (empty: not set)")
    full_text: str = Field(description="the text as the phone shows it, sign name included")
    chars: int = Field(description="characters of full_text; every character counts one")
    segments: int = Field(description="billed parts: 70 characters make one, a longer text is sent in parts of 67")
    opt_out: bool = Field(description="the text tells how to opt out (required for marketing SMS)")


class RenderedEmail(Out):
    subject: str
    text: str
    html: str


class RenderedWeChat(Out):
    template_id: str
    page: str
    fields: dict[str, str] = Field(description="values fitted to their WeChat field types")
    limits: dict[str, int | None] = Field(
        description="each field's length limit in characters (null: a format, not a length, e.g. time, amount)")


class SmsPreview(Out):
    ok: bool
    rendered: RenderedSms | None = None
    problem: str | None = Field(None, description="why the message would fail (ok false)")


class EmailPreview(Out):
    ok: bool
    rendered: RenderedEmail | None = None
    problem: str | None = Field(None, description="why the message would fail (ok false)")


class WeChatPreview(Out):
    ok: bool
    rendered: RenderedWeChat | None = None
    problem: str | None = Field(None, description="why the message would fail (ok false)")


class PreviewChannels(Out):
    sms: SmsPreview | None = None
    email: EmailPreview | None = None
    wechat: WeChatPreview | None = None


class MessageTemplatePreview(Out):
    key: str
    channels: PreviewChannels = Field(description="each channel the template has content for")


class SendingPolicy(policy.Policy):
    """Frequency caps, quiet hours, retries and the SMS opt-out keywords."""


class Message(Out):
    id: int
    member_id: int
    template_key: str
    purpose: Purpose
    status: MessageStatus
    channel: Channel | None = Field(description="the channel chosen when it was sent")
    provider: str | None
    recipient: str | None = Field(description="masked")
    attempts: int
    reason: str | None
    touch_id: int | None
    rendered: dict[str, Any] | None = Field(description="what was sent, as rendered for the channel")
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None


class MessagePage(Page[Message]):
    pass


class MessageQuery(PageQuery):
    status: MessageStatus | None = None
    template_key: str | None = Field(None, pattern=TEMPLATE_KEY)
    touch_id: Id | None = None


class CallbackQuery(BaseModel):
    token: str = Field("", max_length=200, description="SMS_CALLBACK_TOKEN, as set in the provider's console")


class Provider(BaseModel):
    """A provider's push: the fields read here, others ignored (providers add fields)."""

    model_config = ConfigDict(extra="ignore")


class SmsStatusReport(Provider):
    sid: str = Field("", max_length=128, description="the provider's message id")
    report_status: str = Field("", max_length=16, description="SUCCESS or FAIL")
    errmsg: str = Field("", max_length=200)
    description: str = Field("", max_length=500)
    mobile: str = Field("", max_length=20)
    nationcode: str = Field("", max_length=8)
    user_receive_time: str = Field("", max_length=32)


class SmsStatusReports(RootModel[list[SmsStatusReport] | SmsStatusReport]):
    """Tencent pushes a list of reports; one report alone is taken too."""


class SmsReply(Provider):
    mobile: str = Field(min_length=1, max_length=20)
    text: str = Field(max_length=1000, description="what the member texted back")
    nationcode: str = Field("", max_length=8)
    sign: str = Field("", max_length=64)
    extend: str = Field("", max_length=32)
    time: int | None = Field(None, ge=0, le=2**40)


class SmsStatusCounts(Out):
    delivered: int
    failed: int
    unmatched: int = Field(description="reports of no message sent through this provider")


class SmsStatusAck(Out):
    result: int = Field(description="0: received")
    errmsg: str
    counts: SmsStatusCounts


class SmsReplyAck(Out):
    result: int = Field(description="0: received")
    errmsg: str
    withdrawn: bool = Field(description="the reply withdrew SMS marketing consent")


class WeChatSignature(BaseModel):
    signature: str = Field("", max_length=64)
    timestamp: str = Field("", max_length=16)
    nonce: str = Field("", max_length=64)


class WeChatServerCheck(WeChatSignature):
    echostr: str = Field("", max_length=256, description="echoed back when the signature holds")


class WeChatSubscribeChange(Provider):
    TemplateId: str | None = Field(None, max_length=128)
    SubscribeStatusString: str | None = Field(None, max_length=16, description="accept, reject, …")


class WeChatPush(Provider):
    """A message push in JSON (plain-text mode); subscribe events carry List."""

    FromUserName: str | None = Field(None, max_length=128, description="the openid")
    Event: str | None = Field(None, max_length=64)
    List: list[WeChatSubscribeChange] | WeChatSubscribeChange | None = None


def message_view(m: MessageRow | dict[str, Any]) -> dict[str, Any]:
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
@endpoint(summary="Message templates: the built-in service ones, then the marketers'", tag=TAG,
          response=MessageTemplateList, errors=AUTH)
@staff_required(*CONSOLE)
async def list_message_templates(request: Request) -> HTTPResponse:
    return ok({"items": [templates.as_json(row) for row in await templates.list_all()]})


@bp.post("/message-templates")
@endpoint(summary="Create a message template (Jinja2 variables: member, event, merchant, today)", tag=TAG,
          body=MessageTemplateCreate, response=MessageTemplate, status=201,
          errors=[*AUTH, "MESSAGE_TEMPLATE_INVALID", "MESSAGE_TEMPLATE_TOO_COSTLY", "MESSAGE_TEMPLATE_KEY_TAKEN"])
@staff_required(*CONSOLE)
async def create_message_template(request: Request) -> HTTPResponse:
    body = parse_body(request, MessageTemplateCreate)
    doc = TemplateDoc.model_validate(body.model_dump(exclude={"key"}))
    await templates.create(body.key, doc, actor=staff_actor(request))
    return ok(templates.as_json(await _template(body.key)), status=201)


@bp.get("/message-templates/<key:key>")
@endpoint(summary="One message template", tag=TAG, response=MessageTemplate,
          errors=[*AUTH, "MESSAGE_TEMPLATE_NOT_FOUND"])
@staff_required(*CONSOLE)
async def get_message_template(request: Request, key: str) -> HTTPResponse:
    return ok(templates.as_json(await _template(key)))


@bp.put("/message-templates/<key:key>")
@endpoint(summary="Replace a template's wording, channels and switch (audited)", tag=TAG,
          body=MessageTemplateDoc, response=MessageTemplate, errors=TEMPLATE_ERRORS)
@staff_required(*CONSOLE)
async def put_message_template(request: Request, key: str) -> HTTPResponse:
    doc = parse_body(request, MessageTemplateDoc)
    await templates.save(key, doc, actor=staff_actor(request))
    return ok(templates.as_json(await _template(key)))


@bp.patch("/message-templates/<key:key>")
@endpoint(summary="Switch a template on or off (a switched-off template queues nothing)", tag=TAG,
          body=MessageTemplateSwitch, response=MessageTemplate, errors=TEMPLATE_ERRORS,
          operation_id="switchMessageTemplate")
@staff_required(*CONSOLE)
async def switch_message_template(request: Request, key: str) -> HTTPResponse:
    body = parse_body(request, MessageTemplateSwitch)
    before = await _template(key)
    doc = TemplateDoc.model_validate({**{k: before[k] for k in ("name", "purpose", "channels", "content")},
                                      "enabled": body.enabled})
    await templates.save(key, doc, actor=staff_actor(request))
    return ok(templates.as_json(await _template(key)))


@bp.post("/message-templates/<key:key>/preview")
@endpoint(summary="Render a template for a member (or a sample member) without sending", tag=TAG,
          body=MessageTemplatePreviewRequest, response=MessageTemplatePreview,
          errors=[*TEMPLATE_ERRORS, "MEMBER_NOT_FOUND"])
@staff_required(*CONSOLE)
async def preview_message_template(request: Request, key: str) -> HTTPResponse:
    body = parse_body(request, MessageTemplatePreviewRequest)
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
    channels = await rendering.preview(content, variables)
    _annotate(channels, settings.sms_sign_name)
    return ok({"key": key, "channels": channels})


def _annotate(channels: dict[str, Any], sign_name: str) -> None:
    """What the editor shows beside a rendered preview: the SMS as the phone shows it with its length and
    billed parts, and each WeChat field's limit."""
    sms = (channels.get("sms") or {}).get("rendered")
    if sms is not None:
        full = lengths.with_sign(sms["text"], sign_name)
        sms.update(sign_name=sign_name, full_text=full, chars=len(full), segments=lengths.segments(full),
                   opt_out=bool(templates.OPT_OUT_PHRASE.search(sms["text"])))
    wechat = (channels.get("wechat") or {}).get("rendered")
    if wechat is not None:
        wechat["limits"] = {key: lengths.wechat_limit(key) for key in wechat["fields"]}


# -- caps, quiet hours, retries --------------------------------------------------------------------------

@bp.get("/caps")
@endpoint(summary="Frequency caps, quiet hours, retries and SMS opt-out keywords", tag=TAG, response=SendingPolicy,
          errors=AUTH, operation_id="getSendingPolicy")
@staff_required(*CONSOLE)
async def get_caps(request: Request) -> HTTPResponse:
    return ok((await policy.load(fresh=True)).model_dump(mode="json"))


@bp.put("/caps")
@endpoint(summary="Replace the sending policy (validated: a cap is at least 1; audited)", tag=TAG,
          body=SendingPolicy, response=SendingPolicy, errors=AUTH, operation_id="putSendingPolicy")
@staff_required(*CONSOLE)
async def put_caps(request: Request) -> HTTPResponse:
    doc = parse_body(request, SendingPolicy)
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
          response=MessagePage, errors=[*AUTH, "MEMBER_NOT_FOUND"], operation_id="listMemberMessages")
@staff_required(*CONSOLE)
async def member_messages(request: Request, member_id: int) -> HTTPResponse:
    if not await Member.exists(id=member_id):
        raise MemberNotFound()
    return ok(await page(request, MessageRow.filter(member_id=member_id), message_view))


@bp.get("/messages")
@endpoint(query=MessageQuery, summary="Messages, newest first; filter by status, template_key or touch_id", tag=TAG,
          response=MessagePage, errors=AUTH)
@staff_required(*CONSOLE)
async def list_messages(request: Request) -> HTTPResponse:
    params = parse_query(request, MessageQuery)
    query = MessageRow.all()
    if params.status:
        query = query.filter(status=params.status)
    if params.template_key:
        query = query.filter(template_key=params.template_key)
    if params.touch_id is not None:
        query = query.filter(touch_id=params.touch_id)
    return ok(await page(request, query, message_view, params))


# -- provider callbacks ------------------------------------------------------------------------------

def _check_callback(request: Request) -> None:
    given = parse_query(request, CallbackQuery).token
    if not hmac.compare_digest(given.encode(), request.app.ctx.settings.sms_callback_token.encode()):
        raise CallbackForbidden()


PROVIDER_OK = {"result": 0, "errmsg": "OK"}


@callbacks.post("/sms/status")
@endpoint(summary="SMS status reports (Tencent format: a list of reports); authenticated by ?token=", tag="callbacks",
          query=CallbackQuery, body=SmsStatusReports, response=SmsStatusAck, errors=["CALLBACK_FORBIDDEN"],
          operation_id="receiveSmsStatus")
async def sms_status(request: Request) -> HTTPResponse:
    _check_callback(request)
    reports = parse_body(request, SmsStatusReports).root
    listed = reports if isinstance(reports, list) else [reports]
    counts = await inbound.sms_status_reports([report.model_dump() for report in listed])
    return ok({**PROVIDER_OK, "counts": counts})


@callbacks.post("/sms/reply")
@endpoint(summary="SMS replies; T, TD, N, R, 退订 or 拒收 withdraws SMS marketing consent; authenticated by ?token=",
          tag="callbacks", query=CallbackQuery, body=SmsReply, response=SmsReplyAck, errors=["CALLBACK_FORBIDDEN"],
          operation_id="receiveSmsReply")
async def sms_reply(request: Request) -> HTTPResponse:
    _check_callback(request)
    body = parse_body(request, SmsReply)
    withdrawn = await inbound.sms_reply(mobile=body.mobile, text=body.text, pii=request.app.ctx.pii)
    return ok({**PROVIDER_OK, "withdrawn": withdrawn})


def _check_wechat_push(request: Request, args: WeChatSignature) -> None:
    token = request.app.ctx.settings.wechat_push_token
    if not token:
        raise CallbackForbidden(details={"reason": "WECHAT_PUSH_TOKEN is not set"})
    try:
        check_signature(token, args.signature, args.timestamp, args.nonce)
    except InvalidSignatureException:
        raise CallbackForbidden() from None


@callbacks.get("/wechat")
@endpoint(summary="WeChat message push: the server URL check (echoes echostr when the signature holds)",
          tag="callbacks", query=WeChatServerCheck, response=TEXT, errors=["CALLBACK_FORBIDDEN"],
          operation_id="checkWeChatPushServer")
async def wechat_push_check(request: Request) -> HTTPResponse:
    args = parse_query(request, WeChatServerCheck)
    _check_wechat_push(request, args)
    return text(args.echostr)


@callbacks.post("/wechat")
@endpoint(summary="WeChat message push (JSON): subscribe-message rejections clear the template's remaining sends",
          tag="callbacks", query=WeChatSignature, body=WeChatPush, response=TEXT, errors=["CALLBACK_FORBIDDEN"],
          description="Set the message push to JSON in plain-text mode; answers `success`.",
          operation_id="receiveWeChatPush")
async def wechat_push(request: Request) -> HTTPResponse:
    _check_wechat_push(request, parse_query(request, WeChatSignature))
    event = parse_body(request, WeChatPush)
    if event.Event in ("subscribe_msg_popup_event", "subscribe_msg_change_event") and event.FromUserName:
        await inbound.wechat_subscribe_events(app_id=request.app.ctx.wechat.app_id, openid=event.FromUserName,
                                              event=event.model_dump())
    return text("success")


# -- one-click unsubscribe (RFC 8058) -----------------------------------------------------------------

def _page(request: Request, state: str, status: int = 200) -> HTTPResponse:
    body = pages.get_template("links/unsubscribe.html").render(state=state,
                                                               merchant=request.app.ctx.settings.merchant_name)
    return html(body, status=status, headers=SECURITY_HEADERS)


@unsubscribe.get("/<token:token>")
@endpoint(summary="The unsubscribe link's page: asks to confirm (404 page for a link this server did not sign)",
          tag="links", responses={200: HTML, 404: HTML}, operation_id="showUnsubscribePage")
async def unsubscribe_page(request: Request, token: str) -> HTTPResponse:
    """A GET never unsubscribes (mail scanners follow links): it asks for confirmation."""
    found = links.read_unsubscribe_token(request.app.ctx.settings.secret_key, token)
    return _page(request, "confirm" if found else "invalid", 200 if found else 404)


@unsubscribe.post("/<token:token>")
@endpoint(summary="Unsubscribe: the confirm button and mail clients' one-click POST (RFC 8058), no cookies",
          tag="links", responses={200: HTML, 404: HTML}, operation_id="unsubscribe")
async def unsubscribe_now(request: Request, token: str) -> HTTPResponse:
    """The confirm button and mail clients' one-click POST (``List-Unsubscribe=One-Click``), no cookies."""
    found = links.read_unsubscribe_token(request.app.ctx.settings.secret_key, token)
    if found is None:
        return _page(request, "invalid", 404)
    member_id, channel, _purpose = found
    if await Member.exists(id=member_id):
        await inbound.withdraw(member_id=member_id, channel=channel, source="unsubscribe_link")
    return _page(request, "done")
