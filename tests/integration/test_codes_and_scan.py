"""Dynamic member codes at the counter: single use, 30-s steps, bound to the clerk's store."""

from tests.factories import bearer, make_staff, make_store, register_mp


async def _member_and_clerk(stack, store=None):
    me = (await register_mp(stack, "13800138000", nickname="小林", expect=201)).json()
    store = store or await make_store(name="徐汇店")
    _, clerk = await make_staff(stack, role="clerk", store=store)
    return me, clerk


async def _code(stack, me):
    response = await stack.http.get("/api/v1/mp/me/code", headers=bearer(me["token"]))
    assert response.status_code == 200
    return response.json()


async def _scan(stack, clerk, code):
    return await stack.http.post("/api/v1/store/scan", json={"code": code}, headers=bearer(clerk))


async def test_a_scanned_member_code_gives_the_masked_summary_and_a_scan_token(stack):
    me, clerk = await _member_and_clerk(stack)
    code = await _code(stack, me)
    assert code["code"].isdigit() and 13 <= len(code["code"]) <= 21
    assert 1 <= code["refresh_after_s"] <= 30
    response = await _scan(stack, clerk, code["code"])
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "member"
    assert body["member"]["id"] == me["member_id"] and body["member"]["phone"] == "138****8000"
    assert body["scan_token_expires_in"] == 600
    current = await stack.http.post("/api/v1/store/members/current", json={"scan_token": body["scan_token"]},
                                    headers=bearer(clerk))
    assert current.status_code == 200 and current.json()["member"]["nickname"] == "小林"


async def test_a_code_is_accepted_once(stack):
    me, clerk = await _member_and_clerk(stack)
    code = (await _code(stack, me))["code"]
    assert (await _scan(stack, clerk, code)).status_code == 200
    replay = await _scan(stack, clerk, code)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "CODE_ALREADY_USED"


async def test_a_code_is_accepted_in_the_next_step_but_not_after(stack):
    me, clerk = await _member_and_clerk(stack)
    code = (await _code(stack, me))["code"]
    stack.clock.advance(30)
    assert (await _scan(stack, clerk, code)).status_code == 200
    old = (await _code(stack, me))["code"]
    stack.clock.advance(60)
    expired = await _scan(stack, clerk, old)
    assert expired.status_code == 422
    assert expired.json()["error"]["code"] == "CODE_EXPIRED"


async def test_a_forged_code_gets_one_generic_answer(stack):
    me, clerk = await _member_and_clerk(stack)
    code = (await _code(stack, me))["code"]
    forged_mac = code[:-1] + str((int(code[-1]) + 1) % 10)
    other_member = code[:2] + str((int(code[2]) % 9) + 1) + code[3:]
    for forged in (forged_mac, other_member, "8", "hello", code + "0"):
        response = await _scan(stack, clerk, forged)
        assert response.status_code == 422, forged
        assert response.json()["error"] == {"code": "CODE_INVALID", "message": "无效的码，请让顾客刷新后重新出示",
                                            "details": {}}


async def test_a_scan_token_from_another_store_is_forbidden(stack):
    store_a, store_b = await make_store(name="A 店"), await make_store(name="B 店")
    me, clerk_b = await _member_and_clerk(stack, store=store_b)
    _, clerk_a = await make_staff(stack, role="clerk", store=store_a)
    token_b = (await _scan(stack, clerk_b, (await _code(stack, me))["code"])).json()["scan_token"]
    response = await stack.http.post("/api/v1/store/members/current", json={"scan_token": token_b},
                                     headers=bearer(clerk_a))
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"reason": "scan_token_other_store"}


async def test_a_scan_token_expires_after_ten_minutes(stack):
    me, clerk = await _member_and_clerk(stack)
    token = (await _scan(stack, clerk, (await _code(stack, me))["code"])).json()["scan_token"]
    stack.clock.advance(601)
    response = await stack.http.post("/api/v1/store/members/current", json={"scan_token": token},
                                     headers=bearer(clerk))
    # Its own code (not 401): the counter asks for a new scan instead of logging the clerk out.
    assert response.status_code == 422 and response.json()["error"]["code"] == "SCAN_TOKEN_EXPIRED"
    forged = await stack.http.post("/api/v1/store/members/current", json={"scan_token": token[:-4] + "AAAA"},
                                   headers=bearer(clerk))
    assert forged.json()["error"]["code"] == "SCAN_TOKEN_EXPIRED"


async def test_staff_without_a_store_cannot_scan_and_marketers_are_forbidden(stack):
    me, _ = await _member_and_clerk(stack)
    _, admin = await make_staff(stack, role="admin")
    _, marketer = await make_staff(stack, role="marketer")
    code = (await _code(stack, me))["code"]
    no_store = await _scan(stack, admin, code)
    assert no_store.status_code == 403 and no_store.json()["error"]["details"] == {"reason": "no_store"}
    assert (await _scan(stack, marketer, code)).status_code == 403
    assert (await _scan(stack, None or "x.y.z", code)).status_code == 401
