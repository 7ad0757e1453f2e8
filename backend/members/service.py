"""Member identity: registration from every channel, profile, consents and lookups.

One member per phone: the phone's blind index is a unique identity, so when two channels (or
twenty concurrent requests) register the same phone, one insert wins and every other request
joins that member. Registration rewards are claimed with a conditional UPDATE on the member row,
so they are granted once per member whichever channel registered first.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import notifications
from backend import audit, clock
from backend.errors import Conflict, error, field_errors
from backend.members import custom_fields, events
from backend.members.errors import (
    AlreadyRegistered,
    BirthdayLocked,
    MemberNotFound,
    PhoneBoundElsewhere,
    ReferralCodeInvalid,
    WeChatBoundElsewhere,
)
from backend.members.models import (
    CHANNELS,
    CONSENT_CHANNELS,
    CONSENT_PURPOSES,
    ConsentRecord,
    Member,
    MemberConsent,
    MemberIdentity,
    WeChatAccount,
)
from backend.security.pii import PiiCipher, mask_phone, normalize_phone

EmailBoundElsewhere = error("EMAIL_BOUND_ELSEWHERE", 409, "该邮箱已被其他会员使用")

GENDERS = ("male", "female", "unknown")
_REFERRAL_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at a counter


def new_member_no() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)  # 12 digits, the card number


def new_referral_code() -> str:
    return "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(8))


@dataclass
class Registration:
    phone: str
    channel: str
    store_id: int | None = None
    nickname: str | None = None
    gender: str | None = None
    birthday: date | None = None
    email: str | None = None
    consents: dict[str, bool] = field(default_factory=dict)  # {"sms_marketing": True, ...}
    consent_text_version: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    referrer_code: str | None = None
    wechat_account_id: int | None = None


@dataclass(frozen=True)
class RegistrationResult:
    member: Member
    created: bool


def parse_consent_flags(flags: dict[str, bool]) -> dict[tuple[str, str], bool]:
    """``{"sms_marketing": true}`` -> ``{("sms", "marketing"): True}``; unknown names are a 400."""
    parsed: dict[tuple[str, str], bool] = {}
    problems: dict[str, str] = {}
    for name, granted in (flags or {}).items():
        channel, _, purpose = name.partition("_")
        if channel not in CONSENT_CHANNELS or purpose not in CONSENT_PURPOSES:
            problems[f"consents.{name}"] = "未知的授权项"
        elif not isinstance(granted, bool):
            problems[f"consents.{name}"] = "应为布尔值"
        else:
            parsed[(channel, purpose)] = granted
    if problems:
        raise field_errors(problems)
    return parsed


def _check_profile(reg: Registration) -> None:
    problems: dict[str, str] = {}
    if reg.channel not in CHANNELS:
        problems["channel"] = "未知渠道"
    if reg.gender is not None and reg.gender not in GENDERS:
        problems["gender"] = "应为 male / female / unknown"
    if reg.birthday is not None and reg.birthday > clock.now().date():
        problems["birthday"] = "生日不能晚于今天"
    if reg.email is not None and ("@" not in reg.email or len(reg.email) > 254):
        problems["email"] = "邮箱格式不正确"
    if problems:
        raise field_errors(problems)


async def get_member(*, member_id: int, active_only: bool = True) -> Member:
    member = await Member.get_or_none(id=member_id)
    if member is None or (active_only and member.status != "active"):
        raise MemberNotFound()
    return member


async def find_by_phone(*, phone: str, pii: PiiCipher) -> Member | None:
    index = pii.blind_index("phone", normalize_phone(phone))
    identity = await MemberIdentity.get_or_none(kind="phone", app_id="", value=index)
    return await Member.get_or_none(id=identity.member_id, status="active") if identity else None


async def find_by_identity(*, kind: str, value: str, app_id: str = "") -> Member | None:
    identity = await MemberIdentity.get_or_none(kind=kind, app_id=app_id, value=value)
    return await Member.get_or_none(id=identity.member_id, status="active") if identity else None


async def register(*, reg: Registration, pii: PiiCipher, actor: audit.Actor) -> RegistrationResult:
    """Register ``reg.phone`` or join the member who already has it (never a second member)."""
    phone = normalize_phone(reg.phone)
    _check_profile(reg)
    consents = parse_consent_flags(reg.consents)
    account = await WeChatAccount.get_or_none(id=reg.wechat_account_id) if reg.wechat_account_id else None
    if account is not None and account.member_id is not None:
        if await Member.exists(id=account.member_id, status="active"):
            raise AlreadyRegistered(details={"member_id": account.member_id})
    index = pii.blind_index("phone", phone)
    for _ in range(4):
        identity = await MemberIdentity.get_or_none(kind="phone", app_id="", value=index)
        if identity is not None:
            member = await _join(member_id=identity.member_id, account=account, reg=reg, consents=consents,
                                 actor=actor)
            return RegistrationResult(member, created=False)
        values = await custom_fields.validate_values(reg.custom_fields, enforce_required=True)
        referrer = await _resolve_referrer(reg.referrer_code)
        try:
            member = await _create(phone=phone, index=index, reg=reg, consents=consents, values=values,
                                   referrer=referrer, account=account, pii=pii, actor=actor)
            return RegistrationResult(member, created=True)
        except IntegrityError:
            # Another request registered this phone (or drew the same card number) first: look again.
            continue
    raise Conflict(details={"reason": "registration_contention"})


async def _resolve_referrer(code: str | None) -> Member | None:
    if not code:
        return None
    referrer = await Member.get_or_none(referral_code=code.strip().upper(), status="active")
    if referrer is None:
        raise ReferralCodeInvalid(details={"referrer_code": code})
    return referrer


async def _create(*, phone: str, index: str, reg: Registration, consents: dict[tuple[str, str], bool],
                  values: dict[str, Any], referrer: Member | None, account: WeChatAccount | None,
                  pii: PiiCipher, actor: audit.Actor) -> Member:
    now = clock.now()
    async with in_transaction() as conn:
        member = await Member.create(
            member_no=new_member_no(), phone_enc=pii.encrypt(phone), phone_prefix3=phone[:3], phone_last4=phone[-4:],
            nickname=reg.nickname, gender=reg.gender or "unknown", birthday=reg.birthday, email=reg.email,
            custom_fields=values, referral_code=new_referral_code(), referrer_id=referrer.id if referrer else None,
            registration_channel=reg.channel, registration_store_id=reg.store_id, registered_at=now,
            updated_at=now, using_db=conn)
        await MemberIdentity.create(member_id=member.id, kind="phone", value=index, created_at=now, using_db=conn)
        await MemberIdentity.create(member_id=member.id, kind="card", value=member.member_no, created_at=now,
                                    using_db=conn)
        if reg.email:
            await MemberIdentity.create(member_id=member.id, kind="email", value=reg.email.lower(), created_at=now,
                                        using_db=conn)
        await events.append(member_id=member.id, type="registered", channel=reg.channel, store_id=reg.store_id,
                            payload={"member_no": member.member_no, "referrer_id": member.referrer_id},
                            using_db=conn)
        await notifications.enqueue(member_id=member.id, template_key="welcome", dedupe_key=f"welcome:{member.id}",
                                    context={"channel": reg.channel}, conn=conn)
        if account is not None:
            await _bind_wechat(member=member, account=account, conn=conn)
        if referrer is not None:
            await events.append(member_id=referrer.id, type="referral_joined", channel=reg.channel,
                                payload={"invitee_id": member.id}, using_db=conn)
        await set_consents(member_id=member.id, changes=consents, source=reg.channel,
                           text_version=reg.consent_text_version, conn=conn)
        await grant_registration_reward(member_id=member.id, channel=reg.channel, store_id=reg.store_id, conn=conn)
        await audit.record(actor=actor, action="member.register", member_id=member.id, target_type="member",
                           target_id=member.id, after={"channel": reg.channel, "store_id": reg.store_id},
                           using_db=conn)
    return member


async def _bind_wechat(*, member: Member, account: WeChatAccount, conn: BaseDBAsyncClient) -> None:
    """Attach a WeChat account's openid (and unionid) to ``member``; the account must be unbound."""
    now = clock.now()
    bound = await WeChatAccount.filter(id=account.id, member_id__isnull=True).using_db(conn).update(
        member_id=member.id, updated_at=now)
    if not bound:
        raise WeChatBoundElsewhere()
    await MemberIdentity.create(member_id=member.id, kind="openid", app_id=account.app_id, value=account.openid,
                                created_at=now, using_db=conn)
    if account.unionid and not await MemberIdentity.filter(member_id=member.id, kind="unionid").using_db(conn).exists():
        await MemberIdentity.create(member_id=member.id, kind="unionid", value=account.unionid, created_at=now,
                                    using_db=conn)
    await events.append(member_id=member.id, type="wechat_bound", channel="miniprogram",
                        payload={"app_id": account.app_id}, using_db=conn)


async def _join(*, member_id: int, account: WeChatAccount | None, reg: Registration,
                consents: dict[tuple[str, str], bool], actor: audit.Actor) -> Member:
    """The phone is already a member: bind this WeChat account to it, nothing duplicated."""
    async with in_transaction() as conn:
        member = await Member.filter(id=member_id).using_db(conn).select_for_update().first()
        if member is None or member.status != "active":
            raise MemberNotFound()
        if account is not None:
            others = await MemberIdentity.filter(member_id=member.id, kind__in=("openid", "unionid")).using_db(conn)
            for identity in others:
                other_openid = identity.kind == "openid" and identity.app_id == account.app_id \
                    and identity.value != account.openid
                other_unionid = identity.kind == "unionid" and account.unionid and identity.value != account.unionid
                if other_openid or other_unionid:
                    raise PhoneBoundElsewhere()
            await _bind_wechat(member=member, account=account, conn=conn)
            await _fill_profile(member=member, reg=reg, conn=conn)
        # A form that leaves a box unticked does not withdraw what the member granted elsewhere.
        granted = {key: True for key, value in consents.items() if value}
        await set_consents(member_id=member.id, changes=granted, source=reg.channel,
                           text_version=reg.consent_text_version, conn=conn)
        await grant_registration_reward(member_id=member.id, channel=reg.channel, store_id=reg.store_id, conn=conn)
        await audit.record(actor=actor, action="member.join", member_id=member.id, target_type="member",
                           target_id=member.id, after={"channel": reg.channel, "wechat": account is not None},
                           using_db=conn)
    return member


async def _fill_profile(*, member: Member, reg: Registration, conn: BaseDBAsyncClient) -> None:
    changes = {}
    if reg.nickname and not member.nickname:
        changes["nickname"] = reg.nickname
    if reg.gender and member.gender == "unknown":
        changes["gender"] = reg.gender
    if reg.birthday and member.birthday is None:
        changes["birthday"] = reg.birthday
    if changes:
        await Member.filter(id=member.id).using_db(conn).update(**changes, updated_at=clock.now())
        for name, value in changes.items():
            setattr(member, name, value)


# Reward owners (loyalty points, coupons) grant what is configured: async (conn, member_id, channel, store_id).
REGISTRATION_REWARD_HOOKS: list[Any] = []


async def grant_registration_reward(*, member_id: int, channel: str, store_id: int | None,
                                    conn: BaseDBAsyncClient) -> bool:
    """Claim the member's one registration reward; True only for the first channel to ask."""
    claimed = await Member.filter(id=member_id, registration_rewarded_at__isnull=True).using_db(conn).update(
        registration_rewarded_at=clock.now())
    if claimed:
        await events.append(member_id=member_id, type="registration_rewarded", channel=channel, store_id=store_id,
                            using_db=conn)
        for hook in REGISTRATION_REWARD_HOOKS:
            await hook(conn, member_id, channel, store_id)
    return bool(claimed)


async def set_consents(*, member_id: int, changes: dict[tuple[str, str], bool], source: str,
                       text_version: str | None, conn: BaseDBAsyncClient | None = None) -> list[dict[str, Any]]:
    """Record each changed consent: an append-only history row and the current state."""
    if not changes:
        return []
    now = clock.now()
    current = {(c.channel, c.purpose): c for c in await MemberConsent.filter(member_id=member_id).using_db(conn)}
    changed: list[dict[str, Any]] = []
    for (channel, purpose), granted in sorted(changes.items()):
        state = current.get((channel, purpose))
        if state is not None and state.granted == granted:
            continue
        await ConsentRecord.create(member_id=member_id, channel=channel, purpose=purpose, granted=granted,
                                   source=source, text_version=text_version, created_at=now, using_db=conn)
        if state is None:
            await MemberConsent.create(member_id=member_id, channel=channel, purpose=purpose, granted=granted,
                                       source=source, text_version=text_version, updated_at=now, using_db=conn)
        else:
            await MemberConsent.filter(id=state.id).using_db(conn).update(
                granted=granted, source=source, text_version=text_version, updated_at=now)
        changed.append({"channel": channel, "purpose": purpose, "granted": granted})
    if changed:
        await events.append(member_id=member_id, type="consent_changed", channel=source,
                            payload={"changes": changed, "text_version": text_version}, using_db=conn)
    return changed


async def update_consents(*, member_id: int, flags: dict[str, bool], source: str,
                          text_version: str | None) -> list[dict[str, Any]]:
    """A member (or staff on their behalf) grants or withdraws consents; withdrawal is immediate."""
    changes = parse_consent_flags(flags)
    async with in_transaction() as conn:
        return await set_consents(member_id=member_id, changes=changes, source=source,
                                  text_version=text_version, conn=conn)


async def consent_view(*, member_id: int) -> list[dict[str, Any]]:
    """Every channel × purpose: marketing defaults to not granted, service to allowed until withdrawn."""
    states = {(c.channel, c.purpose): c for c in await MemberConsent.filter(member_id=member_id)}
    view = []
    for channel in CONSENT_CHANNELS:
        for purpose in CONSENT_PURPOSES:
            state = states.get((channel, purpose))
            view.append({
                "channel": channel, "purpose": purpose,
                "granted": state.granted if state else purpose == "service",
                "source": state.source if state else "default",
                "text_version": state.text_version if state else None,
                "updated_at": state.updated_at.isoformat() if state else None,
            })
    return view


async def update_profile(*, member_id: int, changes: dict[str, Any], actor: audit.Actor,
                         staff: bool = False) -> Member:
    """Edit nickname, gender, birthday, email and custom fields; a set birthday is staff-only."""
    problems: dict[str, str] = {}
    if "gender" in changes and changes["gender"] not in GENDERS:
        problems["gender"] = "应为 male / female / unknown"
    if changes.get("birthday") and changes["birthday"] > clock.now().date():
        problems["birthday"] = "生日不能晚于今天"
    email = changes.get("email")
    if email is not None and email != "" and ("@" not in email or len(email) > 254):
        problems["email"] = "邮箱格式不正确"
    if problems:
        raise field_errors(problems)
    async with in_transaction() as conn:
        member = await Member.filter(id=member_id, status="active").using_db(conn).select_for_update().first()
        if member is None:
            raise MemberNotFound()
        if "birthday" in changes and not staff and member.birthday is not None \
                and changes["birthday"] != member.birthday:
            raise BirthdayLocked()
        updates: dict[str, Any] = {}
        for name in ("nickname", "gender", "birthday"):
            if name in changes and changes[name] != getattr(member, name):
                updates[name] = changes[name]
        if "email" in changes and (changes["email"] or None) != member.email:
            updates["email"] = changes["email"] or None
            await _replace_email_identity(member_id=member.id, email=updates["email"], conn=conn)
        if "custom_fields" in changes:
            merged = await custom_fields.validate_values(changes["custom_fields"], existing=member.custom_fields,
                                                         enforce_required=True)
            if merged != member.custom_fields:
                updates["custom_fields"] = merged
        if updates:
            before = {name: _jsonable(getattr(member, name)) for name in updates}
            await Member.filter(id=member.id).using_db(conn).update(**updates, updated_at=clock.now())
            after = {name: _jsonable(value) for name, value in updates.items()}
            await events.append(member_id=member.id, type="profile_updated", payload={"fields": sorted(updates)},
                                using_db=conn)
            await audit.record(actor=actor, action="member.profile_update", member_id=member.id,
                               target_type="member", target_id=member.id, before=before, after=after, using_db=conn)
            for name, value in updates.items():
                setattr(member, name, value)
    return member


async def _replace_email_identity(*, member_id: int, email: str | None, conn: BaseDBAsyncClient) -> None:
    await MemberIdentity.filter(member_id=member_id, kind="email").using_db(conn).delete()
    if email:
        try:
            async with in_transaction() as nested:  # a savepoint: a taken email must not poison the outer one
                await MemberIdentity.create(member_id=member_id, kind="email", value=email.lower(),
                                            created_at=clock.now(), using_db=nested)
        except IntegrityError:
            raise EmailBoundElsewhere() from None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def phone_of(member: Member, pii: PiiCipher) -> str | None:
    return pii.decrypt(member.phone_enc) if member.phone_enc else None


def masked_phone(member: Member) -> str | None:
    if not member.phone_last4:
        return None
    return mask_phone(f"{member.phone_prefix3}0000{member.phone_last4}")


def profile_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """``profile`` of a raw ``members`` row (a fixed-SQL read), without building the model."""
    from types import SimpleNamespace

    from backend import db

    fields = dict(row)
    fields["birthday"] = db.to_date(fields["birthday"])
    fields["registered_at"] = db.to_datetime(fields["registered_at"])
    if isinstance(fields["custom_fields"], str):
        fields["custom_fields"] = json.loads(fields["custom_fields"])
    return profile(SimpleNamespace(**fields))  # type: ignore[arg-type]


def profile(member: Member) -> dict[str, Any]:
    """The member as shown to the member and to clerks: the phone masked."""
    return {
        "id": member.id,
        "member_no": member.member_no,
        "phone": masked_phone(member),
        "nickname": member.nickname,
        "gender": member.gender,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "email": member.email,
        "custom_fields": member.custom_fields or {},
        "referral_code": member.referral_code,
        "registration_channel": member.registration_channel,
        "registration_store_id": member.registration_store_id,
        "registered_at": member.registered_at.isoformat(),
    }
