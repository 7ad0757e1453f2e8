"""The member export: card number, registration, tier, balances, consents and tags; with ``pii`` also the phone
(decrypted), name, gender, birthday, email and custom fields.

The headings that the member import knows (手机号, 姓名, 性别, 生日, 邮箱, 等级, 积分, 储值本金, 储值赠送, 注册时间,
注册门店, 标签, the consent columns) carry the same names and value formats here (yuan, 是/否, store codes,
tier names).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from tortoise.expressions import Subquery

from backend.exports.service import BATCH, Export
from backend.exports.writers import Column
from backend.loyalty import program as programs
from backend.loyalty.models import LoyaltyAccount
from backend.members.models import CONSENT_CHANNELS, CONSENT_PURPOSES, CustomFieldDef, Member, MemberConsent
from backend.security.pii import PiiCipher
from backend.stores.models import Store
from jobs.audience_models import MemberTag, Tag

STATUSES = ("active", "merged", "deleted")
GENDERS = {"male": "男", "female": "女", "unknown": "未知"}
_CHANNEL_NAMES = {"sms": "短信", "email": "邮件", "wechat": "微信"}
_PURPOSE_NAMES = {"marketing": "营销", "service": "服务"}
CONSENTS = [(channel, purpose) for channel in CONSENT_CHANNELS for purpose in CONSENT_PURPOSES]

PII_COLUMNS = [Column("手机号", width=14), Column("姓名"), Column("性别", width=6), Column("生日", "date"),
               Column("邮箱", width=24)]


def columns(*, pii: bool, custom: list[CustomFieldDef]) -> list[Column]:
    """The headings, in order: 会员号, the personal ones with ``pii``, then the rest."""
    out = [Column("会员号", width=14)]
    if pii:
        out += PII_COLUMNS
    out += [Column("状态", width=8), Column("注册时间", "time"), Column("注册渠道", width=12), Column("注册门店"),
            Column("等级", width=10), Column("积分", "int"), Column("积分欠款", "int"), Column("储值本金", "money"),
            Column("储值赠送", "money")]
    out += [Column(f"{_CHANNEL_NAMES[c]}{_PURPOSE_NAMES[p]}授权", "flag", width=12) for c, p in CONSENTS]
    out.append(Column("标签", width=30))
    if pii:
        out += [Column(f"自定义:{definition.key}") for definition in custom]
    return out


async def export(*, pii: bool, status: str, store_id: int | None, tag_id: int | None, cipher: PiiCipher,
                 period: str, batch: int = BATCH) -> Export:
    """Members by id, in batches; ``status`` one of STATUSES or ``all``."""
    custom = await CustomFieldDef.filter(active=True).order_by("id") if pii else []
    filters: dict[str, Any] = {"pii": pii, "status": status, "store_id": store_id, "tag_id": tag_id}
    return Export(kind="members", title="会员-含个人信息" if pii else "会员", slug="members-pii" if pii else "members",
                  period=period, columns=columns(pii=pii, custom=custom), filters=filters,
                  batches=_batches(pii=pii, status=status, store_id=store_id, tag_id=tag_id, cipher=cipher,
                                   custom=[d.key for d in custom], batch=batch))


async def _batches(*, pii: bool, status: str, store_id: int | None, tag_id: int | None, cipher: PiiCipher,
                   custom: list[str], batch: int) -> AsyncIterator[list[list[Any]]]:
    program = await programs.load()
    stores = dict(await Store.all().values_list("id", "code"))
    tag_names = dict(await Tag.all().values_list("id", "name"))
    query = Member.all()
    if status != "all":
        query = query.filter(status=status)
    if store_id is not None:
        query = query.filter(registration_store_id=store_id)
    if tag_id is not None:
        query = query.filter(id__in=Subquery(MemberTag.filter(tag_id=tag_id).values("member_id")))
    last = 0
    while True:
        members = await query.filter(id__gt=last).order_by("id").limit(batch)
        if not members:
            return
        ids = [member.id for member in members]
        accounts = {a.member_id: a for a in await LoyaltyAccount.filter(member_id__in=ids)}
        consents = {(member_id, channel, purpose): granted for member_id, channel, purpose, granted in
                    await MemberConsent.filter(member_id__in=ids).values_list("member_id", "channel", "purpose",
                                                                               "granted")}
        tags: dict[int, list[str]] = defaultdict(list)
        for member_id, tag in await MemberTag.filter(member_id__in=ids).order_by("tag_id").values_list(
                "member_id", "tag_id"):
            if tag in tag_names:
                tags[member_id].append(tag_names[tag])
        rows = []
        for member in members:
            account = accounts.get(member.id)
            row: list[Any] = [member.member_no]
            if pii:
                row += [cipher.decrypt(member.phone_enc) if member.phone_enc else None, member.nickname,
                        GENDERS.get(member.gender, member.gender), member.birthday, member.email]
            row += [member.status, member.registered_at, member.registration_channel,
                    stores.get(member.registration_store_id), program.tier(account.tier_code if account else None).name,
                    account.points_balance if account else 0, account.points_debt if account else 0,
                    account.principal_cents if account else 0, account.bonus_cents if account else 0]
            # As the member's consent view: marketing is off and service on until the member says otherwise.
            row += [consents.get((member.id, c, p), p == "service") for c, p in CONSENTS]
            row.append("、".join(tags.get(member.id, [])))
            if pii:
                fields = member.custom_fields or {}
                row += [_custom(fields.get(key)) for key in custom]
            rows.append(row)
        yield rows
        if len(members) < batch:
            return
        last = ids[-1]


def _custom(value: Any) -> Any:
    """A custom field's value as a cell: numbers stay numbers, a choice list is joined."""
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return value if isinstance(value, int | str) or value is None else str(value)
