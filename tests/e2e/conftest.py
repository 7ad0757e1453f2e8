"""Browser fixtures: Debian's Chromium driven by Playwright's async API, against the test stack.

The stack's server runs in the test event loop, so the browser is driven with the async API (a
sync call would block the loop the server answers on). Without ``/usr/bin/chromium`` the tests
skip, unless ``CI=true``: then they fail, so CI never passes without having run them.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).parent / "artifacts"
COUNTER = (1024, 768)
PHONE = (390, 844)


def _chromium_problem() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    problem = _chromium_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but the browser tests cannot run: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


class Shots:
    """Numbered screenshots of one test's page states under ``tests/e2e/artifacts/``."""

    def __init__(self, page: Any, test_name: str) -> None:
        self.page = page
        self.prefix = re.sub(r"[^A-Za-z0-9_]+", "_", test_name).strip("_")
        self.count = 0

    async def __call__(self, state: str) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{state}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@asynccontextmanager
async def fresh_page(browser: Any, stack: Any, size: tuple[int, int]) -> AsyncIterator[Any]:
    """A page in a new browser context (empty sessionStorage) of ``size``, in Shanghai's time and
    zh-CN; a script error on the page fails the test."""
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN",
                                        timezone_id="Asia/Shanghai", base_url=stack.base_url)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
async def page(browser: Any, stack: Any) -> AsyncIterator[Any]:
    """The counter screen's size."""
    async with fresh_page(browser, stack, COUNTER) as page:
        yield page


@pytest.fixture
def shots(page: Any, request: pytest.FixtureRequest) -> Shots:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return Shots(page, request.node.name)


# ---- the console -----------------------------------------------------------------------------------
LAPTOP = (1366, 768)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


@pytest.fixture
async def console_page(browser: Any, stack: Any) -> AsyncIterator[Any]:
    """A 1366×768 laptop's size, for the console."""
    async with fresh_page(browser, stack, LAPTOP) as page:
        yield page


@pytest.fixture
def console_shots(console_page: Any, request: pytest.FixtureRequest) -> Shots:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return Shots(console_page, request.node.name)
