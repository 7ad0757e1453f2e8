"""Playwright's ``expect`` for the browser tests, imported from here by each of them.

Without Playwright a test module importing this is skipped, unless ``CI=true``: then it fails, so CI
never passes without having run the browser tests (the ``browser`` fixture says the same of Chromium).
"""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI

try:
    from playwright.async_api import expect
except ImportError:
    if IN_CI:
        raise RuntimeError("CI=true but playwright is not installed: pip install -e '.[test]'") from None
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

__all__ = ["expect"]
