"""The console's member import in a real browser: an admin uploads a GBK file with a bad row, reads the
totals and the problem, downloads the error report, imports the valid rows with the progress shown, and
undoes the import."""

from __future__ import annotations

import pytest

from backend.loyalty.models import LoyaltyAccount
from backend.members.service import find_by_phone
from tests.e2e.browser import expect
from tests.e2e.console_helpers import axe_violations, log_in, open_screen
from tests.factories import unique_phone

pytestmark = pytest.mark.sqlite_only


async def test_an_admin_checks_imports_and_undoes_a_member_file(stack, console_page, console_shots, tmp_path):
    page = console_page
    good, other = unique_phone(), unique_phone()
    path = tmp_path / "老系统会员.csv"
    path.write_bytes((f"手机号,姓名,积分,储值本金\n{good},王五,300,88.80\n{other},赵六,50,\n1.38E+10,坏号码,,\n")
                     .encode("gb18030"))
    await log_in(page, stack, "admin")
    await open_screen(page, "/admin/imports", "会员导入")
    await expect(page.get_by_text("还没有导入记录")).to_be_visible()
    await page.get_by_label("会员文件").set_input_files(str(path))
    await page.get_by_role("button", name="上传并校验").click()
    report = page.locator(".import-report")
    await expect(report).to_contain_text("共 3 行：通过 2，有误 1")
    await expect(report).to_contain_text("将新建会员2")
    await expect(report).to_contain_text("科学计数法")
    await expect(page.locator(".pager td").nth(1)).to_have_text("老系统会员.csv")
    assert not await axe_violations(page)
    await console_shots("import-checked")

    async with page.expect_download() as info:
        await page.get_by_role("button", name="下载错误报告（CSV）").click()
    download = await info.value
    assert download.suggested_filename.endswith("-errors.csv")
    text = (await download.path()).read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0] == "行号,列,原因" and "4,phone," in text

    await page.get_by_label("跳过 1 行有误的数据").check()
    await page.get_by_role("button", name="开始导入").click()
    await expect(report).to_contain_text("已完成")
    await expect(report).to_contain_text("新建 2，并入 0，失败 0")
    member = await find_by_phone(phone=good, pii=stack.pii)
    assert member is not None
    account = await LoyaltyAccount.get(member_id=member.id)
    assert (account.points_balance, account.principal_cents) == (300, 8880)
    await console_shots("import-completed")

    await page.get_by_role("button", name="撤销本次导入").click()
    await page.locator("#confirm-dialog").get_by_role("button", name="撤销").click()
    await expect(report).to_contain_text("已撤销")
    assert await find_by_phone(phone=good, pii=stack.pii) is None
