"""``python -m backend seed-demo``: a store, staff of each role, custom fields and members with
history, so the API and pages show something real. Running it again changes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend import audit
from backend.coupons import views as coupon_views
from backend.loyalty import orders
from backend.loyalty import views as loyalty_views
from backend.members import custom_fields, service
from backend.members.models import CustomFieldDef
from backend.security.pii import PiiCipher
from backend.settings import Settings
from backend.stores import service as stores
from backend.stores.models import StaffAccount, Store

DEMO_PASSWORD = "demo-pass-2026"
STORES = [("SH001", "上海徐汇旗舰店"), ("SH002", "上海静安体验店")]
STAFF = [("admin", "admin", None), ("marketer", "marketer", None), ("clerk", "clerk", "SH001"),
         ("clerk2", "clerk", "SH002")]
MEMBERS = [
    {"phone": "13800138000", "nickname": "小林", "channel": "pos", "store": "SH001", "gender": "female",
     "birthday": date(1992, 5, 20), "consents": {"sms_marketing": True, "wechat_marketing": True},
     "topup_cents": 50000, "orders": [("SH001", "pos", 128000), ("SH001", "pos", 35900)]},
    {"phone": "13900139000", "nickname": "王先生", "channel": "online", "store": None, "gender": "male",
     "birthday": date(1985, 11, 2), "consents": {"email_marketing": True},
     "topup_cents": 0, "orders": [(None, "online", 56800), ("SH002", "pos", 620000)]},
    {"phone": "13700137000", "nickname": "陈女士", "channel": "pos", "store": "SH002", "gender": "female",
     "birthday": None, "consents": {}, "topup_cents": 100000, "orders": [("SH002", "pos", 9900)]},
]


async def seed_demo(settings: Settings) -> dict[str, Any]:
    loyalty_views.install(settings.timezone)
    coupon_views.install(settings.timezone)
    pii = PiiCipher(settings.pii_key)
    store_ids = {}
    for code, name in STORES:
        store = await Store.get_or_none(code=code) or await stores.create_store(code=code, name=name)
        store_ids[code] = store.id
    for username, role, store_code in STAFF:
        if not await StaffAccount.exists(username=username):
            await stores.create_staff(username=username, password=DEMO_PASSWORD, role=role, store_code=store_code)
    if not await CustomFieldDef.exists(key="favorite_category"):
        await custom_fields.create_definition(key="favorite_category", label="偏好品类", type="choice",
                                              choices=["服饰", "美妆", "母婴", "家居"], actor=audit.SYSTEM)
    members = []
    for spec in MEMBERS:
        result = await service.register(reg=service.Registration(
            phone=spec["phone"], channel=spec["channel"], store_id=store_ids.get(spec["store"]),
            nickname=spec["nickname"], gender=spec["gender"], birthday=spec["birthday"], consents=spec["consents"],
            consent_text_version="2026-01", custom_fields={"favorite_category": "服饰"},
        ), pii=pii, actor=audit.SYSTEM)
        member_id = result.member.id
        if spec["topup_cents"]:
            await orders.topup(member_id=member_id, amount_cents=spec["topup_cents"], store_id=store_ids[spec["store"]],
                               payment_ref=f"DEMO-TOPUP-{result.member.member_no}", channel="pos",
                               tz=settings.timezone)
        for number, (store, channel, amount) in enumerate(spec["orders"], 1):
            # Fixed order numbers: a second run finds them and changes nothing.
            await orders.place_order(orders.OrderInput(
                channel=channel, order_no=f"DEMO-{result.member.member_no}-{number}", amount_cents=amount,
                member_id=member_id, store_id=store_ids.get(store) if store else None), tz=settings.timezone)
        members.append({"id": member_id, "member_no": result.member.member_no,
                        "phone": service.masked_phone(result.member), "created": result.created})
    return {
        "stores": [{"code": code, "name": name} for code, name in STORES],
        "staff": [{"username": u, "role": r, "store": s, "password": DEMO_PASSWORD} for u, r, s in STAFF],
        "members": members,
    }
