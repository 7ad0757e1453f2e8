"""What the console's template editor and policy screen read from the API: a preview tells the SMS as
the phone shows it (sign name, opt-out) with its billed length, each WeChat field's limit, and a draft
of a template not saved yet previews too; a cap of 0 is refused on its field."""

from __future__ import annotations

from tests.factories import bearer, make_staff

PROMO_DRAFT = {"name": "春季上新", "purpose": "marketing", "channels": ["sms", "wechat"], "content": {
    "sms": {"text": "{{ member.name }}，春季新品上市。拒收请回复R"},
    "wechat": {"fields": {"thing1": "{{ merchant }}春季上新", "time2": "{{ today }}"}}}}


async def preview(stack, token, key, body):
    return await stack.http.post(f"/api/v1/admin/message-templates/{key}/preview", json=body,
                                 headers=bearer(token))


async def test_a_preview_counts_the_sms_with_its_sign_name_and_gives_wechat_limits(stack):
    _, token = await make_staff(stack, role="marketer")
    response = await preview(stack, token, "spring_draft", {"template": PROMO_DRAFT})
    assert response.status_code == 200, response.text
    sms = response.json()["channels"]["sms"]["rendered"]
    sign = stack.settings.sms_sign_name
    assert sms["sign_name"] == sign
    assert sms["full_text"] == (f"【{sign}】" if sign else "") + "张三，春季新品上市。拒收请回复R"
    assert sms["chars"] == len(sms["full_text"]) and sms["segments"] == 1 and sms["opt_out"] is True
    wechat = response.json()["channels"]["wechat"]["rendered"]
    assert wechat["limits"] == {"thing1": 20, "time2": None}


async def test_a_long_sms_is_billed_in_parts_of_67(stack):
    _, token = await make_staff(stack, role="marketer")
    sign = stack.settings.sms_sign_name
    prefix = len(f"【{sign}】") if sign else 0
    counts = {}
    for total in (70, 71, 134, 135):
        draft = {**PROMO_DRAFT, "channels": ["sms"],
                 "content": {"sms": {"text": "拒收请回复R" + "好" * (total - prefix - 6)}}}
        response = await preview(stack, token, "long_draft", {"template": draft})
        assert response.status_code == 200, response.text
        sms = response.json()["channels"]["sms"]["rendered"]
        assert sms["chars"] == total
        counts[total] = sms["segments"]
    assert counts == {70: 1, 71: 2, 134: 2, 135: 3}


async def test_a_saved_template_previews_with_the_counts_and_an_unknown_one_needs_a_draft(stack):
    _, token = await make_staff(stack, role="marketer")
    saved = await preview(stack, token, "birthday", {})
    assert saved.status_code == 200
    assert saved.json()["channels"]["sms"]["rendered"]["segments"] == 1
    missing = await preview(stack, token, "no_such_template", {})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "MESSAGE_TEMPLATE_NOT_FOUND"
    anonymous = await stack.http.post("/api/v1/admin/message-templates/birthday/preview", json={})
    assert anonymous.status_code == 401


async def test_a_marketing_sms_draft_without_opt_out_is_refused(stack):
    _, token = await make_staff(stack, role="marketer")
    draft = {**PROMO_DRAFT, "content": {**PROMO_DRAFT["content"], "sms": {"text": "春季新品上市"}}}
    response = await preview(stack, token, "spring_draft", {"template": draft})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"template": "营销短信须包含退订说明，例如“拒收请回复R”"}


async def test_a_cap_of_zero_is_refused_on_its_field(stack):
    _, token = await make_staff(stack, role="marketer")
    current = (await stack.http.get("/api/v1/admin/caps", headers=bearer(token))).json()
    current["caps"][1]["limit"] = 0
    response = await stack.http.put("/api/v1/admin/caps", json=current, headers=bearer(token))
    assert response.status_code == 400
    assert "caps.1.limit" in response.json()["error"]["details"]["fields"]
    current["caps"][1]["limit"] = 4
    saved = await stack.http.put("/api/v1/admin/caps", json=current, headers=bearer(token))
    assert saved.status_code == 200 and saved.json()["caps"][1]["limit"] == 4


async def test_a_clerk_cannot_preview_or_change_the_policy(stack):
    _, token = await make_staff(stack, role="clerk")
    response = await preview(stack, token, "birthday", {})
    assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"
    caps = await stack.http.put("/api/v1/admin/caps", json={}, headers=bearer(token))
    assert caps.status_code == 403
