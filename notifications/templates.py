"""Message templates: the built-in service templates, validation and storage.

A template says what one kind of message reads like on each channel:

- ``sms``: ``template_id`` (approved at the provider), ``params`` (positional values) and ``text``
  (the approved wording, for the log channel, the delivery log and the opt-out check);
- ``email``: ``subject``, ``text`` and ``html``;
- ``wechat``: subscribe-message ``template_id``, ``page`` and ``fields`` ``{thing1: "...", ...}``.

Every string is a Jinja2 expression rendered in a sandbox with ``member`` (profile and assets),
``event`` (the values of what caused the message), ``merchant`` and ``today``. The four built-in
templates are sent by domain events; an admin can edit or switch each off.

Rendering lives in ``notifications.rendering``. A save is refused when a string does not compile or
when a trial render with the sample member breaks a render bound.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import audit, clock, db
from notifications import rendering, wechat_fields
from notifications.errors import TemplateInvalid, TemplateKeyTaken, TemplateNotFound
from notifications.models import MessageTemplate

# An SMS promotion must tell the reader how to opt out: 拒收请回复R, 回T退订, 退订回TD ...
OPT_OUT_PHRASE = re.compile(r"(拒收|退订)[^A-Za-z]{0,4}[A-Za-z]{1,2}|回复?\s*[A-Za-z]{1,2}\s*(退订|拒收)")


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmsContent(Part):
    template_id: str = Field("", max_length=32, description="the provider's approved template id")
    params: list[str] = Field(default_factory=list, max_length=10)
    text: str = Field(min_length=1, max_length=500, description="the approved wording (the sign name is SMS_SIGN_NAME)")


class EmailContent(Part):
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    html: str = Field("", max_length=100_000)


class WeChatContent(Part):
    template_id: str = Field("", max_length=64)
    page: str = Field("", max_length=200)
    fields: dict[str, str] = Field(min_length=1, max_length=10)

    @field_validator("fields")
    @classmethod
    def known_types(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            try:
                wechat_fields.field_type(key)
            except ValueError as exc:
                raise ValueError(f"字段 {key}: {exc}") from None
        return value


class Content(Part):
    sms: SmsContent | None = None
    email: EmailContent | None = None
    wechat: WeChatContent | None = None


ChannelName = Literal["wechat", "sms", "email"]


class TemplateDoc(Part):
    name: str = Field(min_length=1, max_length=64)
    purpose: Literal["service", "marketing"]
    enabled: bool = True
    channels: list[ChannelName] = Field(min_length=1, max_length=3)
    content: Content

    @model_validator(mode="after")
    def consistent(self) -> TemplateDoc:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("渠道顺序中不能重复")
        for channel in self.channels:
            if getattr(self.content, channel) is None:
                raise ValueError(f"渠道 {channel} 没有内容")
        if self.purpose == "marketing" and self.content.sms is not None \
                and not OPT_OUT_PHRASE.search(self.content.sms.text):
            raise ValueError("营销短信须包含退订说明，例如“拒收请回复R”")
        return self


def _wechat(page: str, **fields: str) -> WeChatContent:
    return WeChatContent(template_id="", page=page, fields=fields)


BUILTIN: dict[str, TemplateDoc] = {
    "welcome": TemplateDoc(
        name="注册欢迎", purpose="service", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ member.member_no }}"],
                           text="欢迎加入{{ merchant }}会员，您的会员号 {{ member.member_no }}，积分与权益可在小程序查看。"),
            email=EmailContent(subject="欢迎加入{{ merchant }}会员",
                               text="{{ member.name }}，您好：\n欢迎加入{{ merchant }}会员，会员号 {{ member.member_no }}。",
                               html="<p>{{ member.name }}，您好：</p><p>欢迎加入{{ merchant }}会员，"
                                    "会员号 <b>{{ member.member_no }}</b>。</p>"),
            wechat=_wechat("pages/member/index", thing1="欢迎加入{{ merchant }}会员",
                           character_string2="{{ member.member_no }}", time3="{{ today }}"))),
    "coupon_redeemed": TemplateDoc(
        name="核销凭证", purpose="service", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.coupon_name }}", "{{ event.redeemed_at | local }}"],
                           text="您的优惠券“{{ event.coupon_name }}”已于 {{ event.redeemed_at | local }} 在"
                                "{{ event.store_name }}核销。"),
            email=EmailContent(subject="优惠券核销凭证",
                               text="您的优惠券“{{ event.coupon_name }}”已于 {{ event.redeemed_at | local }} 在"
                                    "{{ event.store_name }}核销，优惠 {{ event.discount_cents | yuan }} 元。"),
            wechat=_wechat("pages/coupons/index", thing1="{{ event.coupon_name }}",
                           time2="{{ event.redeemed_at | local }}", thing3="{{ event.store_name }}"))),
    "tier_upgraded": TemplateDoc(
        name="等级升级", purpose="service", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.tier_name }}"],
                           text="恭喜您升级为{{ event.tier_name }}会员，更多权益请在小程序查看。"),
            email=EmailContent(subject="恭喜升级为{{ event.tier_name }}会员",
                               text="{{ member.name }}，恭喜您升级为{{ event.tier_name }}会员。"),
            wechat=_wechat("pages/member/index", thing1="{{ event.tier_name }}", time2="{{ today }}"))),
    "points_expiring": TemplateDoc(
        name="积分到期提醒", purpose="service", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.points }}", "{{ event.expires_on }}"],
                           text="您有 {{ event.points }} 积分将于 {{ event.expires_on }} 到期，请及时使用。"),
            email=EmailContent(subject="积分即将到期",
                               text="您有 {{ event.points }} 积分将于 {{ event.expires_on }} 到期，请及时使用。"),
            wechat=_wechat("pages/points/index", number1="{{ event.points }}",
                           date2="{{ event.expires_on }}"))),
    "coupon_expiring": TemplateDoc(
        name="优惠券到期提醒", purpose="service", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.coupon_name }}", "{{ event.valid_until | local('%Y-%m-%d') }}"],
                           text="您的优惠券“{{ event.coupon_name }}”将于 {{ event.valid_until | local('%Y-%m-%d') }} "
                                "到期，请及时使用。"),
            email=EmailContent(subject="优惠券即将到期",
                               text="您的优惠券“{{ event.coupon_name }}”将于 {{ event.valid_until | local }} 到期。"),
            wechat=_wechat("pages/coupons/index", thing1="{{ event.coupon_name }}",
                           time2="{{ event.valid_until | local }}"))),
    "newbie_task": TemplateDoc(
        name="新手任务", purpose="marketing", channels=["sms", "email"], content=Content(
            sms=SmsContent(params=["{{ member.name }}"],
                           text="{{ member.name }}，新人专享券已到账，完成首单即可使用。拒收请回复R"),
            email=EmailContent(subject="新人专享券已到账",
                               text="{{ member.name }}，新人专享券已放入您的账户，完成首单即可使用。"))),
    "birthday": TemplateDoc(
        name="生日祝福", purpose="marketing", channels=["sms", "email"], content=Content(
            sms=SmsContent(params=["{{ member.name }}"],
                           text="{{ member.name }}，生日快乐！生日礼券已放入您的账户。拒收请回复R"),
            email=EmailContent(subject="生日快乐，{{ member.name }}",
                               text="{{ member.name }}，生日快乐！{{ merchant }}为您准备了生日礼券。"))),
    "winback": TemplateDoc(
        name="沉睡唤醒", purpose="marketing", channels=["sms", "email"], content=Content(
            sms=SmsContent(params=["{{ member.name }}"],
                           text="{{ member.name }}，好久不见，回归礼券已放入您的账户。拒收请回复R"),
            email=EmailContent(subject="好久不见，{{ member.name }}",
                               text="{{ member.name }}，好久不见！回归礼券已放入您的账户。"))),
    "membership_renewal": TemplateDoc(
        name="付费会员续费提醒", purpose="marketing", channels=["sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.plan_name }}", "{{ event.ends_on }}"],
                           text="您的{{ event.plan_name }}将于 {{ event.ends_on }} 到期，续费即可继续享受会员权益。"
                                "拒收请回复R"),
            email=EmailContent(subject="{{ event.plan_name }}即将到期",
                               text="{{ member.name }}，您的{{ event.plan_name }}将于 {{ event.ends_on }} 到期，"
                                    "在小程序续费即可继续享受会员权益。"))),
    "membership_expired": TemplateDoc(
        name="付费会员到期通知", purpose="service", channels=["sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.plan_name }}", "{{ event.ends_on }}"],
                           text="您的{{ event.plan_name }}已于 {{ event.ends_on }} 到期，会员权益已结束。"),
            email=EmailContent(subject="{{ event.plan_name }}已到期",
                               text="{{ member.name }}，您的{{ event.plan_name }}已于 {{ event.ends_on }} 到期，"
                                    "会员权益已结束。"))),
    "tier_downgrade_warning": TemplateDoc(
        name="保级提醒", purpose="marketing", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.tier_name }}", "{{ event.review_on }}", "{{ event.missing }}"],
                           text="您的{{ event.tier_name }}会员将于 {{ event.review_on }} 复核，再消费 {{ event.missing }}"
                                "{{ event.unit }}即可保级。拒收请回复R"),
            email=EmailContent(subject="{{ event.tier_name }}会员保级提醒",
                               text="{{ member.name }}，您的{{ event.tier_name }}会员将于 {{ event.review_on }} 复核，"
                                    "再累计 {{ event.missing }} {{ event.unit }}即可保留当前等级，否则将调整为"
                                    "{{ event.to_tier_name }}。"),
            wechat=_wechat("pages/assets/index", thing1="{{ event.tier_name }}保级提醒",
                           date2="{{ event.review_on }}", thing3="再累计{{ event.missing }}{{ event.unit }}可保级"))),
    "tier_downgraded": TemplateDoc(
        name="等级调整通知", purpose="service", channels=["wechat", "sms", "email"], content=Content(
            sms=SmsContent(params=["{{ event.from_tier_name }}", "{{ event.tier_name }}"],
                           text="您的会员等级已由{{ event.from_tier_name }}调整为{{ event.tier_name }}，"
                                "消费即可再次升级。"),
            email=EmailContent(subject="会员等级调整通知",
                               text="{{ member.name }}，您的会员等级已由{{ event.from_tier_name }}调整为"
                                    "{{ event.tier_name }}，继续消费即可再次升级。"),
            wechat=_wechat("pages/assets/index", thing1="{{ event.tier_name }}", time2="{{ today }}"))),
}


# -- storage -----------------------------------------------------------------------------------------

CACHE_TTL_S = 5.0
_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def builtin_row(key: str) -> dict[str, Any] | None:
    """A built-in template as it stands until an admin saves a change to it."""
    doc = BUILTIN.get(key)
    if doc is None:
        return None
    return {"id": None, "key": key, "name": doc.name, "purpose": doc.purpose, "enabled": doc.enabled,
            "builtin": True, "channels": list(doc.channels),
            "content": doc.content.model_dump(mode="json", exclude_none=True), "version": 0, "updated_at": None}


async def get(key: str, conn: BaseDBAsyncClient | None = None, *, fresh: bool = False) -> dict[str, Any] | None:
    """The template as a dict (``channels`` and ``content`` decoded), cached for a few seconds; a built-in
    template nobody has edited comes from the defaults above."""
    cached = _cache.get(key)
    if not fresh and cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    row = await db.fetch_one(
        "SELECT id, key, name, purpose, enabled, builtin, channels, content, version, updated_at "
        "FROM message_templates WHERE key = $1", key, conn=conn)
    row = decode(row) if row is not None else builtin_row(key)
    _cache[key] = (time.monotonic() + CACHE_TTL_S, row)
    return row


def decode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in ("channels", "content"):
        if isinstance(out[name], str | bytes):
            out[name] = json.loads(out[name])
    out["enabled"], out["builtin"] = bool(out["enabled"]), bool(out["builtin"])
    return out


def forget() -> None:
    _cache.clear()


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    updated = db.to_datetime(row["updated_at"]) if row["updated_at"] else None
    return {"key": row["key"], "name": row["name"], "purpose": row["purpose"], "enabled": row["enabled"],
            "builtin": row["builtin"], "channels": row["channels"], "content": row["content"],
            "version": row["version"], "updated_at": updated.isoformat() if updated else None}


async def save(key: str, doc: TemplateDoc, *, actor: audit.Actor) -> None:
    """Replace a template (a built-in one's first edit creates its row), audited."""
    before = await get(key, fresh=True)
    if before is None:
        raise TemplateNotFound(details={"key": key})
    content = doc.content.model_dump(mode="json", exclude_none=True)
    if content != before["content"]:  # switching a template off never depends on what its wording costs
        await rendering.check(content, rendering.sample_variables(key))
    if key in BUILTIN and doc.purpose != BUILTIN[key].purpose:
        raise TemplateInvalid("内置模板的用途不能修改", details={"purpose": BUILTIN[key].purpose})
    forget()
    async with in_transaction() as conn:
        updated = await db.fetch(
            "UPDATE message_templates SET name = $2, purpose = $3, enabled = $4, channels = $5, content = $6, "
            "version = version + 1, updated_at = $7 WHERE key = $1 RETURNING id",
            key, doc.name, doc.purpose, doc.enabled, json.dumps(doc.channels),
            json.dumps(content, ensure_ascii=False), clock.now(), conn=conn)
        if not updated:  # a built-in template nobody had edited yet
            await MessageTemplate.create(key=key, name=doc.name, purpose=doc.purpose, enabled=doc.enabled,
                                         builtin=True, channels=doc.channels, content=content, version=1,
                                         updated_at=clock.now(), using_db=conn)
        await audit.record(actor=actor, action="message_template.update", target_type="message_template",
                           target_id=key, before=as_json(before), after=doc.model_dump(mode="json"), using_db=conn)
    forget()


async def create(key: str, doc: TemplateDoc, *, actor: audit.Actor) -> None:
    """A marketer's own template under a new key, audited."""
    if key in BUILTIN:
        raise TemplateKeyTaken(details={"key": key})
    content = doc.content.model_dump(mode="json", exclude_none=True)
    await rendering.check(content, rendering.sample_variables(key))
    try:
        async with in_transaction() as conn:
            await MessageTemplate.create(key=key, name=doc.name, purpose=doc.purpose, enabled=doc.enabled,
                                         channels=doc.channels, content=content, updated_at=clock.now(),
                                         using_db=conn)
            await audit.record(actor=actor, action="message_template.create", target_type="message_template",
                               target_id=key, after=doc.model_dump(mode="json"), using_db=conn)
    except IntegrityError:
        raise TemplateKeyTaken(details={"key": key}) from None
    forget()


async def list_all() -> list[dict[str, Any]]:
    rows = {r["key"]: decode(r) for r in await db.fetch(
        "SELECT id, key, name, purpose, enabled, builtin, channels, content, version, updated_at "
        "FROM message_templates ORDER BY id")}
    out = [rows.pop(key, None) or builtin_row(key) for key in BUILTIN]
    return [r for r in out if r is not None] + list(rows.values())
