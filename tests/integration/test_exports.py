"""Exports: members (personal data for admins only, audited), balances at a date from the ledgers with a totals
row, ledgers over merchant-time days, coupons; CSV with a BOM and Chinese headings, XLSX with the same rows."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import openpyxl

from backend import audit
from backend.exports import members as member_export
from backend.exports import service as exports
from backend.loyalty.models import PointsEntry, WalletEntry
from backend.members import service as members
from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff, member_token, scan_token, unique, unique_phone
from tests.loyalty_helpers import order, topup

EXPORTS = "/api/v1/admin/exports"
MEMBER_HEADINGS = ["会员号", "状态", "注册时间", "注册渠道", "注册门店", "等级", "积分", "积分欠款", "储值本金", "储值赠送",
                   "短信营销授权", "短信服务授权", "邮件营销授权", "邮件服务授权", "微信营销授权", "微信服务授权", "标签"]
PII_HEADINGS = ["手机号", "姓名", "性别", "生日", "邮箱"]
BALANCE_HEADINGS = ["会员号", "状态", "积分", "积分欠款", "储值本金", "储值赠送", "储值合计"]
POINTS_HEADINGS = ["流水号", "会员号", "类型", "积分变动", "变动后积分", "欠款变动", "来源", "原因", "渠道", "门店", "订单号",
                   "关联号", "时间"]
WALLET_HEADINGS = ["流水号", "会员号", "类型", "本金变动", "赠送变动", "变动后本金", "变动后赠送", "原因", "渠道", "门店",
                   "订单号", "支付流水号", "关联号", "时间"]
COUPON_HEADINGS = ["券ID", "券模板ID", "券模板", "券名称", "会员号", "状态", "发放方式", "发放来源", "发放时间", "生效时间",
                   "到期时间", "核销时间", "核销门店"]
MONEY = {"储值本金", "储值赠送", "储值合计", "本金变动", "赠送变动", "变动后本金", "变动后赠送"}


class Shop:
    """A clerk at a store, an admin and a marketer, and a member scanned at the counter."""

    clerk: str
    admin: str
    marketer: str
    admin_id: int
    marketer_id: int
    member_id: int
    token: str
    scan: str
    phone: str


async def _shop(stack: Any, **fields: Any) -> Shop:
    shop = Shop()
    _, shop.clerk = await make_staff(stack)
    admin, shop.admin = await make_staff(stack, role="admin")
    marketer, shop.marketer = await make_staff(stack, role="marketer")
    shop.admin_id, shop.marketer_id = admin.id, marketer.id
    shop.phone = unique_phone()
    shop.member_id, shop.token = await member_token(stack, shop.phone, **fields)
    shop.scan = await scan_token(stack, shop.clerk, shop.token)
    return shop


async def _export(stack: Any, token: str, what: str, expect: int = 200, **params: Any) -> Any:
    response = await stack.http.get(f"{EXPORTS}/{what}", params=params, headers=bearer(token))
    assert response.status_code == expect, response.text
    return response


def _csv(response: Any) -> list[list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def _xlsx(response: Any) -> list[list[str]]:
    """The sheet's rows as the CSV writes them: times in merchant time, yuan with two decimals, text as is."""
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    headings = rows[0]
    out = [list(headings)]
    for row in rows[1:]:
        cells = []
        row += [None] * (len(headings) - len(row))  # a read-only sheet leaves trailing empty cells out
        for heading, value in zip(headings, row, strict=True):
            if value is None:
                cells.append("")
            elif heading in MONEY:
                cells.append(f"{Decimal(str(value)):.2f}")
            elif heading == "生日":
                cells.append(value.date().isoformat())
            elif isinstance(value, datetime):
                cells.append(value.strftime("%Y-%m-%d %H:%M:%S"))
            else:
                cells.append(str(value))
        out.append(cells)
    return out


def _by(rows: list[list[str]], heading: str) -> dict[str, dict[str, str]]:
    """Data rows keyed by one column, each as {heading: cell}."""
    headings = rows[0]
    return {row[headings.index(heading)]: dict(zip(headings, row, strict=True)) for row in rows[1:]}


def _yuan(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _local(text: str, stack: Any) -> str:
    return datetime.fromisoformat(text).astimezone(stack.settings.tz).strftime("%Y-%m-%d %H:%M:%S")


async def _audits(kind: str) -> list[AuditLog]:
    return await AuditLog.filter(action=f"export.{kind}").order_by("id")


async def test_a_csv_member_export_has_the_bom_the_headings_and_the_rows_the_api_shows(stack):
    # Given a member with an order, a top-up and an SMS marketing consent, and another member
    shop = await _shop(stack, nickname="小周", consents={"sms_marketing": True})
    await order(stack, shop, amount_cents=12_300)
    await topup(stack, shop, 5_000)
    other_id, _ = await member_token(stack)

    # When a marketer exports the members as CSV
    response = await _export(stack, shop.marketer, "members")

    # Then the file starts with a BOM and the documented headings, and names itself with the date
    rows = _csv(response)
    assert rows[0] == MEMBER_HEADINGS
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="members-2026-03-02.csv"')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "会员-2026-03-02.csv"
    assert response.headers["cache-control"] == "no-store"
    # and each member's row is what the console API shows
    by_no = _by(rows, "会员号")
    assert len(by_no) == 2
    for member_id in (shop.member_id, other_id):
        detail = (await stack.http.get(f"/api/v1/admin/members/{member_id}", headers=bearer(shop.marketer))).json()
        listed = (await stack.http.get("/api/v1/admin/members", params={"member_no": detail["member_no"]},
                                       headers=bearer(shop.marketer))).json()["items"][0]
        assets = (await stack.http.get(f"/api/v1/admin/members/{member_id}/assets",
                                       headers=bearer(shop.marketer))).json()
        row = by_no[detail["member_no"]]
        consents = {(c["channel"], c["purpose"]): c["granted"] for c in detail["consents"]}
        assert row == {
            "会员号": detail["member_no"], "状态": "active", "注册时间": _local(detail["registered_at"], stack),
            "注册渠道": detail["registration_channel"], "注册门店": "", "等级": listed["tier_name"],
            "积分": str(listed["points_balance"]), "积分欠款": str(assets["points"]["debt"]),
            "储值本金": _yuan(assets["principal_cents"]), "储值赠送": _yuan(assets["bonus_cents"]),
            "短信营销授权": "是" if consents["sms", "marketing"] else "否",
            "短信服务授权": "是" if consents["sms", "service"] else "否",
            "邮件营销授权": "是" if consents["email", "marketing"] else "否",
            "邮件服务授权": "是" if consents["email", "service"] else "否",
            "微信营销授权": "是" if consents["wechat", "marketing"] else "否",
            "微信服务授权": "是" if consents["wechat", "service"] else "否", "标签": ""}
    mine = by_no[(await members.get_member(member_id=shop.member_id)).member_no]
    assert (mine["积分"], mine["储值本金"], mine["短信营销授权"], mine["邮件营销授权"]) == ("123", "50.00", "是", "否")
    # and no personal data is in it
    assert shop.phone not in response.text and shop.phone[-4:] + "," not in response.text
    assert "小周" not in response.text
    # and the export is audited with the marketer, the filters and the row count
    [entry] = await _audits("members")
    assert (entry.actor_type, entry.actor_id, entry.target_type) == ("staff", str(shop.marketer_id), "export")
    assert entry.after == {"format": "csv", "rows": 2, "filters": {"pii": False, "status": "active",
                                                                    "store_id": None, "tag_id": None}}


async def test_personal_data_is_for_admins_only_and_every_such_export_is_audited(stack):
    # Given a member with a name, a birthday and an email
    shop = await _shop(stack, nickname="王小明", birthday="1990-05-01")
    await members.update_profile(member_id=shop.member_id, changes={"email": "wxm@example.cn"},
                                 actor=audit.SYSTEM, staff=True)

    # When a marketer asks for the personal data, it is refused and nothing is audited
    refused = await _export(stack, shop.marketer, "members", expect=403, pii="true")
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert await _audits("members") == []
    # and a clerk may not export at all
    clerk = await _export(stack, shop.clerk, "members", expect=403)
    assert clerk.json()["error"]["code"] == "FORBIDDEN"

    # When an admin exports with the personal data
    response = await _export(stack, shop.admin, "members", pii="true")

    # Then the phone is in full, with name, gender, birthday and email after the card number
    rows = _csv(response)
    assert rows[0] == ["会员号", *PII_HEADINGS, *MEMBER_HEADINGS[1:]]
    [row] = _by(rows, "会员号").values()
    assert (row["手机号"], row["姓名"], row["性别"], row["生日"], row["邮箱"]) == (
        shop.phone, "王小明", "未知", "1990-05-01", "wxm@example.cn")
    assert "members-pii-2026-03-02.csv" in response.headers["content-disposition"]
    # and the audit row names the admin and says it held personal data
    [entry] = await _audits("members")
    assert entry.actor_id == str(shop.admin_id)
    assert entry.after["filters"]["pii"] is True and entry.after["rows"] == 1
    listed = (await stack.http.get("/api/v1/admin/audit-log", params={"action": "export.*"},
                                   headers=bearer(shop.admin))).json()["items"]
    assert [item["id"] for item in listed] == [entry.id]


async def test_an_xlsx_export_opens_and_holds_the_same_rows_as_the_csv(stack):
    # Given members with balances, one with a formula-like name
    shop = await _shop(stack, nickname="=HYPERLINK(\"x\")", birthday="1988-12-31")
    await order(stack, shop, amount_cents=9_900)
    await topup(stack, shop, 2_050)
    await member_token(stack)

    for what, params in (("members", {"pii": "true"}), ("balances", {}), ("coupons", {}),
                         ("ledgers", {"kind": "wallet", "from": "2026-03-01", "to": "2026-03-02"})):
        # When the same export is taken as CSV and as XLSX
        as_csv = _csv(await _export(stack, shop.admin, what, **params))
        response = await _export(stack, shop.admin, what, format="xlsx", **params)
        # Then the workbook opens and holds the same rows
        assert _xlsx(response) == as_csv, what
        assert response.headers["content-disposition"].split(";")[1].strip().endswith('.xlsx"')
    # and a name a spreadsheet would run as a formula is written as text
    member_rows = _csv(await _export(stack, shop.admin, "members", pii="true"))
    assert "'=HYPERLINK(\"x\")" in [row[2] for row in member_rows]
    book = openpyxl.load_workbook(io.BytesIO((await _export(stack, shop.admin, "members", pii="true",
                                                            format="xlsx")).content))
    assert all(cell.data_type != "f" for row in book.worksheets[0].iter_rows() for cell in row)
    assert [e.after["format"] for e in await _audits("members")] == ["csv", "xlsx", "csv", "xlsx"]


async def test_balances_at_a_past_day_come_from_the_ledgers_and_the_totals_are_their_sums(stack):
    # Given, late on 2 March (merchant time), an order and a top-up by one member and an order by another
    stack.clock.set(datetime(2026, 3, 2, 15, 55, tzinfo=UTC))  # 23:55 in Shanghai
    shop = await _shop(stack)
    await order(stack, shop, amount_cents=20_000)
    await topup(stack, shop, 10_000)
    other = await _shop(stack)
    await order(stack, other, amount_cents=5_000)
    # and on 3 March, a later order paid partly with stored value
    stack.clock.set(datetime(2026, 3, 2, 16, 5, tzinfo=UTC))
    shop.scan = await scan_token(stack, shop.clerk, shop.token)
    await order(stack, shop, amount_cents=30_000, balance_to_spend_cents=4_000)

    # When the balances are exported at the end of 2 March and for today
    past = _csv(await _export(stack, shop.marketer, "balances", at="2026-03-02"))
    now = _csv(await _export(stack, shop.marketer, "balances"))

    # Then both have the documented headings and a last row of totals
    assert past[0] == now[0] == BALANCE_HEADINGS
    assert past[-1][0] == now[-1][0] == "合计" and past[-1][1] == "2 位会员"
    # and the past balances are what the ledgers held then, which the later order changed
    cutoff = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 3 March 00:00 in Shanghai
    for label, rows, before in (("past", past, cutoff), ("now", now, stack.clock.now() + timedelta(seconds=1))):
        points = await PointsEntry.filter(created_at__lt=before).values_list("member_id", "points", "debt_delta",
                                                                            "balance_after")
        wallet = await WalletEntry.filter(created_at__lt=before).values_list("member_id", "principal_cents",
                                                                            "bonus_cents")
        for member_id in (shop.member_id, other.member_id):
            member_no = (await members.get_member(member_id=member_id)).member_no
            row = dict(zip(rows[0], _by(rows, "会员号")[member_no].values(), strict=True))
            mine = [p for p in points if p[0] == member_id]
            principal = sum(w[1] for w in wallet if w[0] == member_id)
            bonus = sum(w[2] for w in wallet if w[0] == member_id)
            assert row["积分"] == str(sum(p[1] for p in mine)) == str(mine[-1][3]), label
            assert row["积分欠款"] == str(sum(p[2] for p in mine))
            assert (row["储值本金"], row["储值赠送"], row["储值合计"]) == (
                _yuan(principal), _yuan(bonus), _yuan(principal + bonus)), label
        # and the totals row is the sum of every ledger's deltas up to that moment
        assert rows[-1][2:] == [str(sum(p[1] for p in points)), str(sum(p[2] for p in points)),
                                _yuan(sum(w[1] for w in wallet)), _yuan(sum(w[2] for w in wallet)),
                                _yuan(sum(w[1] + w[2] for w in wallet))], label
    mine_then = _by(past, "会员号")[(await members.get_member(member_id=shop.member_id)).member_no]
    mine_now = _by(now, "会员号")[(await members.get_member(member_id=shop.member_id)).member_no]
    assert (mine_then["积分"], mine_then["储值本金"]) == ("200", "100.00")
    assert mine_now["积分"] != mine_then["积分"] and mine_now["储值本金"] == "60.00"
    # and today's balances are the member's assets
    assets = (await stack.http.get(f"/api/v1/admin/members/{shop.member_id}/assets",
                                   headers=bearer(shop.marketer))).json()
    assert mine_now["积分"] == str(assets["points"]["balance"])
    assert mine_now["储值合计"] == _yuan(assets["balance_cents"])
    # and a day before anything happened has only the totals row, of zeros
    empty = _csv(await _export(stack, shop.marketer, "balances", at="2026-03-01"))
    assert empty[1:] == [["合计", "0 位会员", "0", "0", "0.00", "0.00", "0.00"]]
    [first, *_] = await _audits("balances")
    assert first.after["filters"]["at"] == "2026-03-02" and first.after["rows"] == 3


async def test_ledgers_cover_whole_merchant_days_inclusive(stack):
    # Given a top-up and an order at 23:59 on 2 March and another at 00:01 on 3 March, merchant time
    stack.clock.set(datetime(2026, 3, 2, 15, 59, tzinfo=UTC))
    shop = await _shop(stack)
    await topup(stack, shop, 1_000)
    late = await order(stack, shop, amount_cents=1_000, order_no=unique("LATE"))
    stack.clock.set(datetime(2026, 3, 2, 16, 1, tzinfo=UTC))
    shop.scan = await scan_token(stack, shop.clerk, shop.token)
    await topup(stack, shop, 2_000)
    await order(stack, shop, amount_cents=3_000)
    member_no = (await members.get_member(member_id=shop.member_id)).member_no

    # When the points ledger of 2 March alone is exported
    second = _csv(await _export(stack, shop.marketer, "ledgers", kind="points", **{"from": "2026-03-02",
                                                                                   "to": "2026-03-02"}))
    # Then it has the documented headings and only that day's entry, in merchant time
    assert second[0] == POINTS_HEADINGS
    entry = await PointsEntry.get(member_id=shop.member_id, order_id__isnull=False, created_at__lt=datetime(
        2026, 3, 2, 16, 0, tzinfo=UTC))
    assert second[1:] == [[str(entry.id), member_no, "earn", "10", "10", "0", entry.source, entry.reason,
                           entry.channel or "", shop_store(second), late["order_no"], entry.ref or "",
                           "2026-03-02 23:59:00"]]
    # and 3 March alone has the other, 2–3 March both
    third = _csv(await _export(stack, shop.marketer, "ledgers", kind="points", **{"from": "2026-03-03",
                                                                                  "to": "2026-03-03"}))
    assert [row[-1] for row in third[1:]] == ["2026-03-03 00:01:00"]
    both = _csv(await _export(stack, shop.marketer, "ledgers", kind="points", **{"from": "2026-03-02",
                                                                                 "to": "2026-03-03"}))
    assert len(both) == 3
    # and the stored-value ledger the same way, in yuan
    wallet = _csv(await _export(stack, shop.marketer, "ledgers", kind="wallet", **{"from": "2026-03-03",
                                                                                   "to": "2026-03-03"}))
    assert wallet[0] == WALLET_HEADINGS
    assert [(row[2], row[3], row[5], row[-1]) for row in wallet[1:]] == [("topup", "20.00", "30.00",
                                                                          "2026-03-03 00:01:00")]
    response = await _export(stack, shop.marketer, "ledgers", kind="wallet", **{"from": "2026-03-02",
                                                                                "to": "2026-03-03"})
    assert "wallet-ledger-2026-03-02_2026-03-03.csv" in response.headers["content-disposition"]
    first = (await _audits("ledgers"))[0]
    assert first.after["filters"] == {"kind": "points", "from": "2026-03-02", "to": "2026-03-02"}


def shop_store(rows: list[list[str]]) -> str:
    """The store column of the first data row (the clerk's store code, made per test)."""
    return rows[1][rows[0].index("门店")]


async def test_the_coupon_export_names_the_template_the_holder_the_status_and_how_it_was_issued(stack):
    # Given two coupons issued by an admin batch, one redeemed at the counter
    shop = await _shop(stack)
    created = await stack.http.post("/api/v1/admin/coupon-templates", headers=bearer(shop.admin), json={
        "name": "到店礼", "terms": {"kind": "gift", "gift_sku": "TOTE", "valid_days": 7}})
    template = created.json()
    await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status", json={"status": "active"},
                          headers=bearer(shop.admin))
    for batch in ("spring-1", "spring-2"):
        issued = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/issue",
                                       json={"member_ids": [shop.member_id], "batch_id": batch},
                                       headers=bearer(shop.admin))
        assert issued.json()["issued"] == 1, issued.text
    listed = (await stack.http.get(f"/api/v1/admin/members/{shop.member_id}/coupons",
                                   headers=bearer(shop.marketer))).json()["items"]
    ids = sorted(c["id"] for c in listed)
    stack.clock.advance(minutes=5)
    redeemed = await stack.http.post(f"/api/v1/store/coupons/{ids[0]}/redeem", headers=bearer(shop.clerk),
                                     json={"scan_token": shop.scan})
    assert redeemed.status_code == 201, redeemed.text

    # When the coupons are exported, all of them and by status
    rows = _csv(await _export(stack, shop.marketer, "coupons", template_id=template["id"]))
    available = _csv(await _export(stack, shop.marketer, "coupons", status="available"))

    # Then each coupon's row is what the API shows, with the template and the holder's card number
    assert rows[0] == COUPON_HEADINGS
    shown = {c["id"]: c for c in (await stack.http.get(f"/api/v1/admin/members/{shop.member_id}/coupons",
                                                       headers=bearer(shop.marketer))).json()["items"]}
    member_no = (await members.get_member(member_id=shop.member_id)).member_no
    by_id = _by(rows, "券ID")
    for coupon_id, coupon in shown.items():
        row = by_id[str(coupon_id)]
        assert (row["券模板ID"], row["券模板"], row["券名称"], row["会员号"], row["状态"], row["发放方式"]) == (
            str(template["id"]), "到店礼", coupon["name"], member_no, coupon["status"], coupon["source"])
        assert row["发放时间"] == _local(coupon["issued_at"], stack)
        assert row["到期时间"] == _local(coupon["valid_until"], stack)
        assert row["核销时间"] == (_local(coupon["redeemed_at"], stack) if coupon["redeemed_at"] else "")
    assert (by_id[str(ids[0])]["状态"], by_id[str(ids[0])]["发放来源"]) == ("redeemed", "batch:spring-1")
    assert by_id[str(ids[0])]["核销门店"] and by_id[str(ids[1])]["核销门店"] == ""
    assert [row[0] for row in available[1:]] == [str(ids[1])]
    # and once the window is over, the coupon shows expired before the expiry job ran
    stack.clock.advance(days=8)
    _, marketer = await make_staff(stack, role="marketer")  # the first one's session is over by now
    expired = _csv(await _export(stack, marketer, "coupons", status="expired"))
    assert [(row[0], row[5]) for row in expired[1:]] == [(str(ids[1]), "expired")]


async def test_bad_filters_are_refused_before_anything_is_exported(stack):
    shop = await _shop(stack)
    cases = [
        ("members", {"format": "pdf"}, 400, "format"),
        ("members", {"status": "gone"}, 400, "status"),
        ("members", {"pii": "maybe"}, 400, "pii"),
        ("members", {"colour": "red"}, 400, "colour"),
        ("balances", {"at": "2026-3-1"}, 400, "at"),
        ("balances", {"at": "2026-03-02T00:00:00Z"}, 400, "at"),
        ("balances", {"at": "2026-03-03"}, 400, "at"),  # tomorrow
        ("balances", {"at": "1999-12-31"}, 400, "at"),
        ("ledgers", {"from": "2026-03-01", "to": "2026-03-02"}, 400, "kind"),
        ("ledgers", {"kind": "points", "to": "2026-03-02"}, 400, "from"),
        ("ledgers", {"kind": "points", "from": "2026-03-02", "to": "2026-03-01"}, 400, "to"),
        ("ledgers", {"kind": "points", "from": "2026-02-30", "to": "2026-03-01"}, 400, "from"),
        ("coupons", {"status": "used"}, 400, "status"),
        ("coupons", {"template_id": "0"}, 400, "template_id"),
    ]
    for what, params, status, field in cases:
        response = await _export(stack, shop.admin, what, expect=status, **params)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_FAILED" and field in error["details"]["fields"], (what, params, error)
    # A range longer than 366 days has its own code; 366 days is fine
    too_long = await _export(stack, shop.admin, "ledgers", expect=422, kind="points",
                             **{"from": "2025-03-01", "to": "2026-03-02"})
    assert too_long.json()["error"]["code"] == "EXPORT_RANGE_TOO_LONG"
    assert too_long.json()["error"]["details"] == {"max_days": 366, "days": 367}
    await _export(stack, shop.admin, "ledgers", kind="points", **{"from": "2025-03-02", "to": "2026-03-02"})
    # Without a session: 401
    anonymous = await stack.http.get(f"{EXPORTS}/balances")
    assert anonymous.status_code == 401
    # Only the one valid export was audited
    assert len(await AuditLog.filter(action__startswith="export.")) == 1


async def test_exports_read_in_keyset_batches_and_stream_csv_batch_by_batch(stack):
    # Given five members
    ids = []
    for _ in range(5):
        result = await members.register(reg=members.Registration(phone=unique_phone(), channel="pos"), pii=stack.pii,
                                        actor=audit.SYSTEM)
        ids.append(result.member.id)
    tz = stack.settings.tz
    # When they are exported two at a time
    export = await member_export.export(pii=False, status="active", store_id=None, tag_id=None, cipher=stack.pii,
                                        period="2026-03-02", batch=2)
    chunks = [chunk async for chunk in exports.csv_chunks(export, tz)]
    # Then the heading comes with the first batch and each batch is one chunk, every member once
    assert len(chunks) == 3 and chunks[0].startswith(codecs.BOM_UTF8 + "会员号".encode())
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    numbers = [(await members.get_member(member_id=i)).member_no for i in ids]
    assert [row[0] for row in rows[1:]] == numbers and export.rows == 5
    # and a batch size that divides the members evenly ends without an empty chunk
    export = await member_export.export(pii=False, status="active", store_id=None, tag_id=None, cipher=stack.pii,
                                        period="2026-03-02", batch=5)
    assert len([chunk async for chunk in exports.csv_chunks(export, tz)]) == 1
    # and XLSX builds from the same batches
    export = await member_export.export(pii=False, status="active", store_id=None, tag_id=None, cipher=stack.pii,
                                        period="2026-03-02", batch=2)
    with await exports.build_xlsx(export, tz) as built:
        sheet = openpyxl.load_workbook(built, read_only=True).worksheets[0]
        assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == numbers


async def test_the_cli_writes_the_same_file_and_is_audited(stack, tmp_path):
    shop = await _shop(stack)
    await topup(stack, shop, 1_500)
    env = {**os.environ, **(stack.env or {})}
    out = tmp_path / "储值流水.xlsx"
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "export", "ledgers", "--kind", "wallet", "--from", "2026-03-01",
        "--to", "2026-03-02", "--format", "xlsx", "--out", str(out), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await run.communicate()
    assert run.returncode == 0, stderr.decode()
    assert '"rows": 1' in stdout.decode()
    response = await _export(stack, shop.admin, "ledgers", kind="wallet", format="xlsx",
                             **{"from": "2026-03-01", "to": "2026-03-02"})

    class File:
        headers = response.headers
        content = out.read_bytes()

    assert _xlsx(File) == _xlsx(response)
    [cli, http] = await _audits("ledgers")
    assert (cli.actor_type, cli.actor_id, cli.after["rows"]) == ("system", "cli", 1)
    assert http.actor_type == "staff"
    bad = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend", "export", "ledgers", "--kind", "points", "--from", "2025-01-01",
        "--to", "2026-03-02", "--out", str(tmp_path / "x.csv"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await bad.communicate()
    assert bad.returncode == 1 and "EXPORT_RANGE_TOO_LONG" in stderr.decode()


def test_money_is_exact_and_filenames_are_encoded():
    from backend.exports.writers import disposition, yuan

    assert [str(yuan(c)) for c in (0, 5, -150, 12_345, 10**12 + 1)] == [
        "0.00", "0.05", "-1.50", "123.45", "10000000000.01"]
    assert disposition("会员-2026-03-02.csv", "members-2026-03-02.csv") == (
        "attachment; filename=\"members-2026-03-02.csv\"; "
        "filename*=UTF-8''%E4%BC%9A%E5%91%98-2026-03-02.csv")
