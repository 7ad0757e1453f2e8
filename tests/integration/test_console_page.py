"""The console is served by the app itself: the page, every script and style it names, no other origin."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.sqlite_only


async def test_the_console_page_and_everything_it_loads_come_from_the_app(stack):
    response = await stack.http.get("/console/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page)
    scripts = [a for a in assets if a.endswith(".js")]
    assert "/console/static/console/core.js" in scripts and scripts[-1] == "/console/static/console/boot.js"
    assert "/console/static/vendor/echarts/echarts.min.js" in scripts
    assert any("/screens/" in s for s in scripts), scripts
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page), "nothing from another origin"
    for asset in assets:
        served = await stack.http.get(asset)
        assert served.status_code == 200, asset
        kind = "javascript" if asset.endswith(".js") else "css"
        assert kind in served.headers["content-type"], (asset, served.headers["content-type"])


async def test_without_the_slash_the_console_redirects(stack):
    response = await stack.http.get("/console", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/console/"
