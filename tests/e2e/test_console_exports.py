"""The console's exports in a real browser: an admin downloads the members with their personal data as CSV and
the balances as Excel (the totals row equals the points earned), sees a date refused on its field and a ledger
range over 366 days refused in words; a marketer cannot ask for personal data but exports the members without it."""

from __future__ import annotations

import codecs
import csv
import io

import openpyxl
import pytest

from backend.members.models import Member
from backend.stores.models import AuditLog
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import bearer, make_staff, member_token, scan_token, unique, unique_phone

pytestmark = pytest.mark.sqlite_only

# The stack's clock starts on Monday 2026-03-02, 10:00 in Shanghai; the browser is given the same moment, so its
# "today" (the screen's default dates) is the merchant's.
TODAY = "2026-03-02"
PURCHASES = (268, 99)  # yuan, one point per yuan


async def seed_members(stack) -> list[tuple[int, str]]:
    """Members who each bought once at the counter, through the API: [(member id, phone)]."""
    _, clerk = await make_staff(stack)
    seeded = []
    for amount in PURCHASES:
        phone = unique_phone()
        member_id, token = await member_token(stack, phone, nickname="林小满")
        scanned = await scan_token(stack, clerk, token)
        response = await stack.http.post("/api/v1/store/orders", headers=bearer(clerk), json={
            "scan_token": scanned, "order_no": unique("ORD"), "amount_cents": amount * 100})
        assert response.status_code == 201, response.text
        stack.clock.advance(seconds=30)
        seeded.append((member_id, phone))
    return seeded


def panel(page, kind: str):
    return page.locator(f'[data-export="{kind}"]')


async def download(page, form, button: str = "下载"):
    async with page.expect_download() as info:
        await form.get_by_role("button", name=button).click()
    return await info.value


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_an_admin_downloads_members_with_personal_data_and_balances_as_excel(stack, console_page,
                                                                                   console_shots, tmp_path):
    page = console_page
    await page.clock.set_fixed_time(stack.clock.now())
    seeded = await seed_members(stack)
    await log_in(page, stack, "admin")
    await open_screen(page, "/admin/exports", "数据导出")
    await expect(page.get_by_role("link", name="数据导出")).to_have_attribute("aria-current", "page")
    members = panel(page, "members")
    await expect(members.get_by_label("会员状态")).to_have_value("active")
    await expect(members).to_contain_text("审计")
    await expect(panel(page, "balances").get_by_label("截至日期")).to_have_value(TODAY)
    await expect(panel(page, "ledgers").get_by_label("开始日期")).to_have_value("2026-03-01")
    await expect(panel(page, "ledgers").get_by_label("结束日期")).to_have_value(TODAY)
    assert not await axe_violations(page)
    await console_shots("exports")

    # The members with their personal data, as CSV: a BOM, the Chinese headings, the phones in full.
    await members.get_by_label("包含个人信息").check()
    file = await download(page, members)
    assert file.suggested_filename == f"会员-含个人信息-{TODAY}.csv"
    rows = csv_rows((await file.path()).read_bytes())
    assert rows[0][:2] == ["会员号", "手机号"] and "积分" in rows[0] and "姓名" in rows[0]
    by_phone = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    for (member_id, phone), points in zip(seeded, PURCHASES, strict=True):
        member = await Member.get(id=member_id)
        assert by_phone[phone]["会员号"] == member.member_no and by_phone[phone]["积分"] == str(points)
    assert await AuditLog.filter(action="export.members").count() == 1
    await expect(members.get_by_role("button", name="下载")).to_be_enabled()

    # The balances as Excel: the last row 合计 holds the points earned.
    balances = panel(page, "balances")
    await balances.get_by_label("文件格式").select_option("xlsx")
    file = await download(page, balances)
    assert file.suggested_filename == f"资产余额-{TODAY}.xlsx"
    saved = tmp_path / file.suggested_filename
    await file.save_as(saved)
    book = openpyxl.load_workbook(saved, read_only=True)
    sheet = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    headings, total = sheet[0], sheet[-1]
    assert headings[:3] == ["会员号", "状态", "积分"]
    assert total[0] == "合计" and total[headings.index("积分")] == sum(PURCHASES)
    assert len(sheet) == 2 + len(seeded)

    # A day after today is refused on its field; the form says nothing was downloaded.
    await balances.get_by_label("截至日期").fill("2026-03-05")
    await balances.get_by_role("button", name="下载").click()
    await expect(balances.locator('[data-field="at"] .field-error')).to_contain_text("不能晚于今天")
    await expect(balances.get_by_label("截至日期")).to_have_attribute("aria-invalid", "true")

    # A ledger range over 366 days is refused in words, on the ledger form.
    ledgers = panel(page, "ledgers")
    await ledgers.get_by_label("开始日期").fill("2025-01-01")
    await ledgers.get_by_role("button", name="下载").click()
    notice = ledgers.locator(".form-error")
    await expect(notice).to_contain_text("导出的日期范围过长：最多 366 天")
    await expect(notice).to_have_attribute("data-code", "EXPORT_RANGE_TOO_LONG")
    assert not await axe_violations(page)
    await console_shots("range-refused")

    # Within the range, the points ledger of this month downloads (the two earns).
    await ledgers.get_by_label("开始日期").fill("2026-03-01")
    file = await download(page, ledgers)
    await expect(notice).to_be_hidden()
    assert file.suggested_filename == f"积分流水-2026-03-01_{TODAY}.csv"
    rows = csv_rows((await file.path()).read_bytes())
    assert rows[0][:3] == ["流水号", "会员号", "类型"] and len(rows) == 1 + len(seeded)


async def test_a_marketer_cannot_ask_for_personal_data_but_exports_the_members(stack, console_page, console_shots):
    page = console_page
    await page.clock.set_fixed_time(stack.clock.now())
    seeded = await seed_members(stack)
    _, token = await log_in(page, stack, "marketer")
    await open_screen(page, "/admin/exports", "数据导出")
    members = panel(page, "members")
    pii = members.get_by_label("包含个人信息")
    await expect(pii).to_be_disabled()
    await expect(pii).not_to_be_checked()
    await expect(members).to_contain_text("仅管理员可导出个人信息")
    assert not await axe_violations(page)
    await console_shots("marketer")

    file = await download(page, members)
    assert file.suggested_filename == f"会员-{TODAY}.csv"
    rows = csv_rows((await file.path()).read_bytes())
    assert rows[0][0] == "会员号" and "手机号" not in rows[0] and "姓名" not in rows[0]
    numbers = {(await Member.get(id=member_id)).member_no for member_id, _ in seeded}
    assert {row[0] for row in rows[1:]} == numbers
    text = "\n".join(",".join(row) for row in rows)
    assert all(phone not in text for _, phone in seeded)
    # The API refuses what the page does not offer.
    refused = await stack.http.get("/api/v1/admin/exports/members", params={"pii": "true"}, headers=bearer(token))
    assert refused.status_code == 403
