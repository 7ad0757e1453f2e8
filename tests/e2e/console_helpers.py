"""Shared steps of the console's browser tests: log in through the page, check accessibility."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import AXE
from tests.factories import make_staff

PASSWORD = "console-pass-2026"


async def log_in(page: Any, stack: Any, role: str = "marketer", *, at: str = "/console/") -> tuple[Any, str]:
    """A new staff account of ``role`` logged in through the console's login form; returns the
    account and an API token of its own (for seeding and for checking what the page did)."""
    from playwright.async_api import expect

    staff, token = await make_staff(stack, role=role, password=PASSWORD)
    await page.goto(at)
    await page.get_by_label("用户名").fill(staff.username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.locator("#who-name")).to_have_text(staff.username)
    return staff, token


async def open_screen(page: Any, hash_path: str, heading: str) -> None:
    """Go to ``#<hash_path>`` and wait for the screen's title."""
    from playwright.async_api import expect

    await page.evaluate("(target) => { location.hash = target; }", hash_path)
    await expect(page.locator(".screen-header h2")).to_have_text(heading)


async def axe_violations(page: Any, impacts: tuple[str, ...] = ("critical",)) -> list[dict[str, Any]]:
    """axe-core (vendored for tests only, tests/e2e/vendor/axe-core) over the current page: the
    WCAG 2.x A/AA violations of the given impacts, as {id, impact, help, targets}. Evaluated through
    the browser's debugging protocol, so the page's CSP (scripts from its own origin only) stays on."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    found = await page.evaluate("""async () => {
        const result = await window.axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
    }""")
    return [violation for violation in found if violation["impact"] in impacts]
