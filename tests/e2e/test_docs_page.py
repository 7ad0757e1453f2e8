"""``/api/docs`` renders the served contract in Chromium with nothing fetched from another origin."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sqlite_only


async def test_the_api_docs_render_every_tag_from_files_this_server_serves(stack, page, shots):
    # Given a browser that records every request the page makes
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    await page.set_viewport_size({"width": 1280, "height": 900})
    # When the docs page is opened
    await page.goto("/api/docs")
    await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)  # a 1.5 MB bundle on a busy machine
    await page.wait_for_selector(".opblock-tag")
    # Then it shows the title, the version and the operations of each tag
    title = await page.inner_text(".info .title")
    assert "Member platform API" in title and "OAS 3.1" in title
    document = (await stack.http.get("/api/v1/openapi.json")).json()
    assets = document["paths"]["/api/v1/mp/me/assets"]["get"]["operationId"]
    tags = {tag["name"] for tag in document["tags"]}
    shown = {(await element.get_attribute("data-tag")) for element in await page.query_selector_all(".opblock-tag")}
    assert tags <= shown, tags - shown
    # And an operation opens with its parameters and responses
    await page.click('.opblock-tag[data-tag="shopper"]', no_wait_after=True)
    await page.click(f"#operations-shopper-{assets} .opblock-summary-control", no_wait_after=True)
    await page.wait_for_selector(f"#operations-shopper-{assets} .responses-wrapper", timeout=30_000)
    await shots("docs")
    # And nothing came from another origin (works on a network without internet)
    assert requested and all(url.startswith(stack.base_url) for url in requested), requested
