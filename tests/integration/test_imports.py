"""Member imports: dirty files checked row by row, the run (new members in bulk, known phones joined),
resumed after a crash without writing a row twice, and undone all or nothing."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.imports import service
from backend.imports.models import MemberImport, MemberImportRow
from backend.loyalty.models import LoyaltyAccount, PointsEntry, PointsLot, WalletEntry
from backend.members.models import ConsentRecord, Member, MemberConsent, MemberEvent, MemberIdentity
from backend.members.service import find_by_phone
from jobs import maintenance
from jobs.audience_models import MemberTag, Tag
from notifications.models import Message
from tests.factories import (
    assert_ledgers_hold,
    bearer,
    make_staff,
    make_store,
    register_mp,
    unique,
    unique_phone,
)

HEADER = "手机号,姓名,性别,生日,邮箱,原会员号,等级,积分,积分到期日,储值本金,储值赠送,注册日期,注册门店,标签"


async def _admin(stack: Any) -> str:
    return (await make_staff(stack, role="admin"))[1]


async def _upload(stack: Any, admin: str, content: bytes, *, filename: str = "会员.csv", expect: int = 201,
                  **query: Any) -> dict[str, Any]:
    response = await stack.http.post("/api/v1/admin/imports", params={"filename": filename, **query},
                                     content=content, headers={**bearer(admin), "Content-Type": "text/csv"})
    assert response.status_code == expect, response.text
    return response.json()


async def _run(stack: Any, admin: str, import_id: int, **body: Any) -> dict[str, Any]:
    response = await stack.http.post(f"/api/v1/admin/imports/{import_id}/run", json=body, headers=bearer(admin))
    assert response.status_code == 202, response.text
    for _ in range(400):
        current = (await stack.http.get(f"/api/v1/admin/imports/{import_id}", headers=bearer(admin))).json()
        if current["status"] not in ("running", "validated"):
            return current
        await asyncio.sleep(0.02)
    raise AssertionError(f"import {import_id} still {current['status']}")


def _csv(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode(encoding)


async def test_a_dirty_gbk_file_is_checked_row_by_row(stack):
    admin = await _admin(stack)
    store = await make_store(code=unique("SH"))
    taken = unique_phone()
    await register_mp(stack, taken, expect=201)
    good, dup, sci_ok = unique_phone(), unique_phone(), unique_phone()
    sci_text = f"{sci_ok[0]}.{sci_ok[1:]}E+10"  # every digit kept: accepted
    content = _csv(
        f"{good},王小明,男,1990/3/5,WXM@Example.com,A001,金卡,1200,2027-12-31,100.50,20,45000,{store.code},老客、高价值",
        f"{dup},李四,女,1985年7月1日,,A002,silver,300,,0,0,2020-01-01,{store.code},",
        f"{dup},重复,女,,,A003,,,,,,,,",
        "1.38E+10,科学计数,,,,,,,,,,,,",
        f"{sci_text},完整,,,,,,,,,,,,",
        f"{unique_phone()},负数,,,,,钻石王老五,-5,,-1,,,,",
        f"{unique_phone()},坏日期,,2024-02-30,bad-email,,,12.5,2020-01-01,1.234,,,NOPE,",
        f"{taken},已注册,,,,,,50,,,,,,",
        encoding="gb18030")
    report = await _upload(stack, admin, content)
    assert report["encoding"] == "gb18030" and report["status"] == "validated"
    assert (report["rows_total"], report["rows_valid"], report["rows_invalid"]) == (8, 4, 4)
    problems = {(p["row_no"], p["column"]): p["reason"] for p in report["problems"]}
    assert "第 3 行" in problems[(4, "phone")]  # the duplicate names the first row
    assert "科学计数法" in problems[(5, "phone")]
    assert (6, "phone") not in problems
    assert "等级" in problems[(7, "tier")] and "负数" in problems[(7, "points")]
    assert "负数" in problems[(7, "stored_principal")]
    for column in ("birthday", "email", "points", "points_expires_at", "stored_principal", "store"):
        assert (8, column) in problems, column
    assert not any(row == 9 for row, _ in problems)  # the registered phone joins: no problem
    totals = report["totals"]
    assert (totals["create"], totals["join"]) == (3, 1)
    assert totals["points"] == 1200 + 300 + 50
    assert totals["principal_cents"] == 10050 and totals["bonus_cents"] == 2000
    assert totals["by_store"][store.code] == {"members": 2, "principal_cents": 10050, "bonus_cents": 2000,
                                              "points": 1500}
    response = await stack.http.get(f"/api/v1/admin/imports/{report['id']}/errors.csv", headers=bearer(admin))
    assert response.status_code == 200 and response.content.startswith("\ufeff".encode())
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "行号,列,原因" and len(lines) - 1 == len(report["problems"])
    # Nothing is written by the dry run; the invalid rows keep it from running until skipped.
    assert await find_by_phone(phone=good, pii=stack.pii) is None
    refused = await stack.http.post(f"/api/v1/admin/imports/{report['id']}/run", json={}, headers=bearer(admin))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "IMPORT_HAS_ERRORS"
    done = await _run(stack, admin, report["id"], skip_invalid=True)
    assert done["status"] == "completed", done
    assert done["counts"]["created"] == 3 and done["counts"]["joined"] == 1
    assert done["counts"]["rows"] == {"created": 3, "joined": 1, "invalid": 4}


async def test_the_run_writes_members_balances_ledgers_consents_and_tags(stack):
    admin = await _admin(stack)
    store = await make_store(code=unique("BJ"))
    phone = unique_phone()
    header = "phone,name,tier,points,points_expires_at,stored_principal,stored_bonus,registered_at,store,tags," \
             "consent_sms_marketing,consent_sms_marketing_source,consent_sms_marketing_at,consent_email_marketing"
    row = f"{phone},张三,gold,800,2027-06-30,50,5,2019-05-01 09:30,{store.code},VIP,是,old_pos,2019-05-01,否"
    report = await _upload(stack, admin, ("\ufeff" + header + "\n" + row + "\n").encode(), filename="members.csv")
    assert report["encoding"] == "utf-8" and report["rows_valid"] == 1
    done = await _run(stack, admin, report["id"])
    assert done["status"] == "completed" and done["rows_done"] == 1
    member = await find_by_phone(phone=phone, pii=stack.pii)
    assert member is not None and member.nickname == "张三" and member.registration_store_id == store.id
    assert member.registered_at == datetime(2019, 5, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    assert member.registration_rewarded_at is not None  # no registration reward for a member brought over
    account = await LoyaltyAccount.get(member_id=member.id)
    assert (account.points_balance, account.principal_cents, account.bonus_cents, account.tier_code) == \
        (800, 5000, 500, "gold")
    entry = await PointsEntry.get(member_id=member.id)
    assert (entry.kind, entry.ref, entry.points) == ("import", f"import:{report['id']}:2", 800)
    lot = await PointsLot.get(entry_id=entry.id)
    assert lot.expires_at == datetime(2027, 6, 30, 16, 0, tzinfo=UTC)  # the end of 30 June, merchant time
    wallet = await WalletEntry.get(member_id=member.id)
    assert (wallet.kind, wallet.principal_cents, wallet.bonus_cents, wallet.store_id) == ("import", 5000, 500,
                                                                                           store.id)
    await assert_ledgers_hold(member.id)
    consents = {(c.channel, c.purpose): c for c in await MemberConsent.filter(member_id=member.id)}
    assert consents[("sms", "marketing")].granted and consents[("sms", "marketing")].source == "old_pos"
    assert consents[("sms", "marketing")].updated_at == datetime(2019, 4, 30, 16, 0, tzinfo=UTC)
    assert consents[("email", "marketing")].granted is False
    record = await ConsentRecord.get(member_id=member.id, channel="sms", purpose="marketing")
    assert record.created_at == datetime(2019, 4, 30, 16, 0, tzinfo=UTC) and record.source == "old_pos"
    tag = await Tag.get(code="VIP")
    assert await MemberTag.exists(member_id=member.id, tag_id=tag.id)
    assert not await Message.exists(member_id=member.id)  # no welcome message either
    # The member is a normal member: the console shows the imported balance.
    view = await stack.http.get(f"/api/v1/admin/members/{member.id}", headers=bearer(admin))
    assert view.status_code == 200, view.text
    # The same file again is refused, naming the import that took it.
    again = await _upload(stack, admin, ("\ufeff" + header + "\n" + row + "\n").encode(), filename="again.csv",
                          expect=409)
    assert again["error"]["code"] == "IMPORT_ALREADY_IMPORTED"
    assert again["error"]["details"]["import_id"] == report["id"]


async def test_json_lines_read_like_csv(stack):
    admin = await _admin(stack)
    phones = [unique_phone(), unique_phone()]
    lines = [json.dumps({"phone": phones[0], "name": "行一", "points": 5, "consents": {"sms_marketing": True}},
                        ensure_ascii=False),
             json.dumps({"phone": phones[1], "tier": "金卡", "stored_principal": "3.20"}, ensure_ascii=False)]
    jsonl = await _upload(stack, admin, ("\n".join(lines) + "\n").encode(), filename="m.jsonl")
    assert jsonl["format"] == "jsonl" and jsonl["rows_valid"] == 2
    assert jsonl["totals"]["points"] == 5 and jsonl["totals"]["principal_cents"] == 320
    assert jsonl["totals"]["by_tier"] == {"gold": 1} and jsonl["totals"]["consents"] == 1


async def test_xlsx_rows_with_excel_values(stack):
    from openpyxl import Workbook

    admin = await _admin(stack)
    phones = [unique_phone(), unique_phone()]
    book = Workbook()
    sheet = book.active
    sheet.append(["手机号", "姓名", "生日", "积分", "储值本金"])
    sheet.append([int(phones[0]), "表格一", datetime(1991, 2, 3), 150.0, 12.5])
    sheet.append([phones[1], "表格二", 33000, "1,000", "¥8"])
    buffer = io.BytesIO()
    book.save(buffer)
    report = await _upload(stack, admin, buffer.getvalue(), filename="会员.xlsx")
    assert report["rows_valid"] == 2, report["problems"]
    assert report["totals"]["points"] == 1150 and report["totals"]["principal_cents"] == 2050
    await _run(stack, admin, report["id"])
    second = await find_by_phone(phone=phones[1], pii=stack.pii)
    assert second is not None and second.birthday.isoformat() == "1990-05-07"


async def test_upload_refusals(stack):
    admin = await _admin(stack)
    unknown = await _upload(stack, admin, "手机号,鞋码\n13700000000,42\n".encode(), expect=422)
    assert unknown["error"]["code"] == "IMPORT_FILE_INVALID" and "鞋码" in unknown["error"]["details"]["reason"]
    no_phone = await _upload(stack, admin, "姓名\n张三\n".encode(), expect=422)
    assert "手机号" in no_phone["error"]["details"]["reason"]
    empty = await _upload(stack, admin, "手机号\n".encode(), expect=422)
    assert empty["error"]["code"] == "IMPORT_FILE_INVALID"
    garbage = await _upload(stack, admin, b"PK\x03\x04not really a workbook", filename="x.xlsx", expect=422)
    assert garbage["error"]["code"] == "IMPORT_FILE_INVALID"
    _, clerk = await make_staff(stack)
    refused = await stack.http.post("/api/v1/admin/imports", params={"filename": "a.csv"}, content=b"phone\n",
                                    headers=bearer(clerk))
    assert refused.status_code == 403
    missing = await stack.http.get("/api/v1/admin/imports/999999", headers=bearer(admin))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "IMPORT_NOT_FOUND"


async def test_a_phone_registered_in_the_mini_program_joins_that_member(stack):
    admin = await _admin(stack)
    phone = unique_phone()
    registered = (await register_mp(stack, phone, expect=201, nickname="小程序昵称",
                                    consents={"sms_marketing": False})).json()
    member_id = registered["member_id"]
    report = await _upload(stack, admin, _csv(f"{phone},旧系统名,女,1988-08-08,old@example.com,OLD9,gold,400,,30,,,,"))
    assert report["totals"]["join"] == 1 and report["totals"]["create"] == 0
    header = "phone,consent_sms_marketing,consent_wechat_marketing,consent_source"
    await _run(stack, admin, report["id"])
    member = await Member.get(id=member_id)
    assert member.nickname == "小程序昵称"  # filled only where empty: nothing overwritten
    assert member.gender == "female" and member.birthday.isoformat() == "1988-08-08"
    assert member.email == "old@example.com"
    assert await MemberIdentity.exists(member_id=member_id, kind="legacy", value="OLD9")
    assert await Member.filter(status="active").count() == 1  # one member per phone
    account = await LoyaltyAccount.get(member_id=member_id)
    assert (account.points_balance, account.principal_cents, account.tier_code) == (400, 3000, "gold")
    await assert_ledgers_hold(member_id)
    second = await _upload(stack, admin, f"{header}\n{phone},是,是,old_crm\n".encode(), filename="c.csv")
    await _run(stack, admin, second["id"])
    consents = {(c.channel, c.purpose): c for c in await MemberConsent.filter(member_id=member_id)}
    assert consents[("sms", "marketing")].granted is False  # the member's own answer wins
    assert consents[("wechat", "marketing")].granted and consents[("wechat", "marketing")].source == "old_crm"


class _Crash(BaseException):
    """The process dies: nothing after it runs (not even the job's failure bookkeeping)."""


async def test_a_run_that_crashes_resumes_from_its_cursor_without_writing_a_row_twice(stack):
    admin = await _admin(stack)
    phones = [unique_phone() for _ in range(7)]
    report = await _upload(stack, admin, _csv(*[f"{p},会员{i},,,,,,{10 + i},,{i},,,," for i, p in enumerate(phones)]))
    imp = await service.start(import_id=report["id"], actor=service.audit.Actor("staff", "1"))
    batches: list[int] = []

    def crash_on_third(last: int, counts: dict[str, int]) -> None:
        batches.append(last)
        if len(batches) == 3:
            raise _Crash()

    with pytest.raises(_Crash):
        await service.run(import_id=imp.id, pii=stack.pii, tz=stack.settings.tz, kv=stack.kv, batch=2,
                          lease_s=30, on_progress=crash_on_third)
    assert (await MemberImport.get(id=imp.id)).status == "running"
    assert await MemberImportRow.filter(import_id=imp.id, status="created").count() == 4  # two batches committed
    # A scheduler looking now leaves it alone (its runner may be alive); after the lease it takes over.
    assert await service.resume_stale(pii=stack.pii, tz=stack.settings.tz, kv=stack.kv, owner="other",
                                      lease_s=30) == []
    stack.clock.advance(seconds=stack.settings.job_lease_s + 1)
    await stack.kv.release_lease(f"job:{service.JOB}:{imp.id}", (await _owner(imp.id)))  # Redis forgets it too
    swept = await maintenance.run("imports", settings=stack.settings, kv=stack.kv, owner="scheduler")
    assert [r["outcome"] for r in swept["resumed"]] == ["resumed"]
    done = await MemberImport.get(id=imp.id)
    assert done.status == "completed"
    assert await MemberImportRow.filter(import_id=imp.id, status="created").count() == 7
    for index, phone in enumerate(phones):
        member = await find_by_phone(phone=phone, pii=stack.pii)
        assert member is not None
        assert await PointsEntry.filter(member_id=member.id, kind="import").count() == 1
        assert (await LoyaltyAccount.get(member_id=member.id)).points_balance == 10 + index
        await assert_ledgers_hold(member.id)
    assert await Member.filter(status="active").count() == 7


async def _owner(import_id: int) -> str:
    from backend import db

    row = await db.fetch_one("SELECT owner FROM job_runs WHERE job = $1 AND period = $2", service.JOB, str(import_id))
    return row["owner"]


async def test_undo_takes_everything_back_or_nothing(stack):
    from tests.factories import counter_register

    admin = await _admin(stack)
    _, clerk = await make_staff(stack)
    known = unique_phone()
    existing = (await counter_register(stack, clerk, known)).json()["member"]["id"]
    fresh = [unique_phone(), unique_phone()]
    content = _csv(f"{fresh[0]},新一,,,n1@example.com,L1,gold,100,,10,,,,标签一",
                   f"{fresh[1]},新二,,,,L2,,200,,,,,,",
                   f"{known},旧名,男,,,L3,silver,300,,20,1,,,标签一")
    report = await _upload(stack, admin, content)
    await _run(stack, admin, report["id"])
    before_events = await MemberEvent.filter(member_id=existing).count()
    undone = await stack.http.post(f"/api/v1/admin/imports/{report['id']}/undo", headers=bearer(admin))
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "undone"
    for phone in fresh:
        assert await find_by_phone(phone=phone, pii=stack.pii) is None  # erased, the phone released
    gone = await Member.filter(status="deleted").values_list("id", flat=True)
    assert len(gone) == 2
    for member_id in [*gone, existing]:
        account = await LoyaltyAccount.get(member_id=member_id)
        assert (account.points_balance, account.principal_cents, account.bonus_cents) == (0, 0, 0)
        await assert_ledgers_hold(member_id)
        assert await PointsEntry.filter(member_id=member_id, kind="import_undo").count() == 1
    kept = await Member.get(id=existing)
    assert kept.gender == "unknown" and kept.nickname is None  # what the import filled in is gone again
    assert (await LoyaltyAccount.get(member_id=existing)).tier_code in (None, "normal")
    assert not await MemberIdentity.filter(kind="legacy").exists()
    assert not await MemberTag.filter(member_id=existing).exists()
    assert await MemberEvent.filter(member_id=existing).count() == before_events + 1
    # The file may come in again now, and this time one member orders before the undo: refused, nothing changes.
    again = await _upload(stack, admin, content)
    await _run(stack, admin, again["id"])
    member = await find_by_phone(phone=fresh[0], pii=stack.pii)
    await _touch(stack, member.id)
    refused = await stack.http.post(f"/api/v1/admin/imports/{again['id']}/undo", headers=bearer(admin))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "IMPORT_MEMBERS_CHANGED"
    assert refused.json()["error"]["details"]["member_ids"] == [member.id]
    assert (await MemberImport.get(id=again["id"])).status == "completed"
    assert await find_by_phone(phone=fresh[1], pii=stack.pii) is not None
    assert (await LoyaltyAccount.get(member_id=existing)).points_balance == 300


async def _touch(stack: Any, member_id: int) -> None:
    """Any change of the member after the import (here a profile edit's timeline row) counts."""
    from tortoise.transactions import in_transaction

    from backend.members import events

    async with in_transaction() as conn:
        await events.append(member_id=member_id, type="profile_updated", payload={"fields": ["nickname"]},
                            using_db=conn)


async def test_the_cli_imports_with_a_dry_run_first(stack, tmp_path):
    import os
    import sys

    phone = unique_phone()
    path = tmp_path / "会员.csv"
    path.write_bytes(_csv(f"{phone},命令行,,,,,,70,,,,,,"))
    env = {**os.environ, **(stack.env or {})}
    dry = await asyncio.create_subprocess_exec(sys.executable, "-m", "backend", "import-members", str(path),
                                               "--dry-run", env=env, stdout=asyncio.subprocess.PIPE,
                                               stderr=asyncio.subprocess.PIPE)
    out, err = await dry.communicate()
    assert dry.returncode == 0, err.decode()
    assert "新会员 1" in out.decode() and await find_by_phone(phone=phone, pii=stack.pii) is None
    real = await asyncio.create_subprocess_exec(sys.executable, "-m", "backend", "import-members", str(path),
                                                "--yes", env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await real.communicate()
    assert real.returncode == 0, err.decode()
    member = await find_by_phone(phone=phone, pii=stack.pii)
    assert member is not None and (await LoyaltyAccount.get(member_id=member.id)).points_balance == 70
    assert "completed" in out.decode() or "完成" in out.decode()


def test_phone_and_amount_cells():
    from backend.imports import parse

    assert parse.phone_text(13800138000.0) == "13800138000"
    assert parse.phone_text("1.3800138000E+10") == "13800138000"
    with pytest.raises(ValueError, match="科学计数法"):
        parse.phone_text("1.38001E+10")
    assert parse.parse_cents("1,234.50") == 123450 and parse.parse_cents("¥8") == 800
    assert parse.parse_cents(12.3) == 1230
    with pytest.raises(ValueError):
        parse.parse_cents("1.234")
    assert parse.parse_date("45000").isoformat() == "2023-03-15"
    assert parse.parse_date("2024年3月5日").isoformat() == "2024-03-05"
    assert parse.parse_date("20240305").isoformat() == "2024-03-05"
    assert parse.parse_points("1,000") == 1000 and parse.parse_points(150.0) == 150
    with pytest.raises(ValueError):
        parse.parse_points("12.5")
    assert parse.decode_text("手机号".encode("gb18030")) == ("手机号", "gb18030")
    assert parse.decode_text("\ufeff手机号".encode()) == ("手机号", "utf-8")
