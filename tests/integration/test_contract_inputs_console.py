"""Console inputs the contract bounds: the audit-log filters, coupon windows that are naive or already over,
PATCH nulls on columns that hold none, and ids and keys outside their columns."""

from datetime import timedelta
from urllib.parse import urlencode

from backend import audit
from backend.coupons.models import Coupon, CouponTemplate
from backend.loyalty.models import LoyaltyAccount
from backend.members import service, sessions
from backend.members.models import CustomFieldDef
from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff, member_token, unique, unique_phone

AUDIT = "/api/v1/admin/audit-log"
TEMPLATES = "/api/v1/admin/coupon-templates"
GIFT = {"kind": "gift", "gift_sku": "MUG"}


async def audit_rows(stack, admin, **filters):
    response = await stack.http.get(f"{AUDIT}?{urlencode(filters)}", headers=bearer(admin))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def make_store(stack, admin, name="测试门店"):
    response = await stack.http.post("/api/v1/admin/stores", json={"code": unique("S"), "name": name},
                                     headers=bearer(admin))
    assert response.status_code == 201, response.text
    return response.json()


def window(stack, *, start_days, end_days):
    now = stack.clock.now()
    return {"valid_from": (now + timedelta(days=start_days)).isoformat(),
            "valid_until": (now + timedelta(days=end_days)).isoformat()}


async def template(stack, admin, terms, *, activate=True, **fields):
    response = await stack.http.post(TEMPLATES, json={"name": "到店礼", "terms": terms, **fields},
                                     headers=bearer(admin))
    assert response.status_code == 201, response.text
    created = response.json()
    if activate:
        response = await stack.http.post(f"{TEMPLATES}/{created['id']}/status", json={"status": "active"},
                                         headers=bearer(admin))
        assert response.status_code == 200, response.text
    return created


# --- the audit log ---

async def test_the_audit_log_finds_a_member_as_the_rows_member_or_its_target(stack):
    # given two members, the second merged into the first, and points adjusted on the first
    _, admin = await make_staff(stack, role="admin")
    survivor, _ = await member_token(stack)
    merged, _ = await member_token(stack)
    response = await stack.http.post(f"/api/v1/admin/members/{survivor}/merge", json={"other_id": merged},
                                     headers=bearer(admin))
    assert response.status_code == 200, response.text
    response = await stack.http.post(f"/api/v1/admin/members/{survivor}/points/adjustments",
                                     json={"points": 5, "reason": "补偿"}, headers=bearer(admin))
    assert response.status_code == 201, response.text

    # when the log is filtered by either member
    of_merged = await audit_rows(stack, admin, member_id=merged)
    of_survivor = await audit_rows(stack, admin, member_id=survivor)

    # then the merged member finds its registration and the merge that named it as target
    assert [row["action"] for row in of_merged] == ["member.merge", "member.register"]
    assert of_merged[0]["member_id"] == survivor and of_merged[0]["target_id"] == str(merged)
    assert [row["action"] for row in of_survivor] == ["points.adjust", "member.merge", "member.register"]
    assert all(row["member_id"] == survivor for row in of_survivor)


async def test_an_audit_log_member_id_that_is_no_id_is_refused_not_a_500(stack):
    _, admin = await make_staff(stack, role="admin")
    for value in ("4x", "²", "0", str(2**63)):
        response = await stack.http.get(f"{AUDIT}?{urlencode({'member_id': value})}", headers=bearer(admin))
        assert response.status_code == 400, (value, response.text)
        assert "member_id" in response.json()["error"]["details"]["fields"]


async def test_the_audit_log_filters_by_the_staff_who_acted_and_by_the_kind_of_actor(stack):
    # given a store created by each of two admins, and a member registered by the system
    first, first_token = await make_staff(stack, role="admin")
    second, second_token = await make_staff(stack, role="admin")
    mine = await make_store(stack, first_token)
    await make_store(stack, second_token)
    await service.register(reg=service.Registration(phone=unique_phone(), channel="pos"), pii=stack.pii,
                           actor=audit.SYSTEM)

    # when filtered by the first admin, and by the system actor
    by_first = await audit_rows(stack, second_token, staff_id=first.id)
    by_id = await audit_rows(stack, second_token, actor_type="staff", actor_id=str(first.id))
    by_system = await audit_rows(stack, second_token, actor_type="system", target_type="member")

    # then only the first admin's store, and of the system's rows about members only the registration
    assert [(row["action"], row["target_id"]) for row in by_first] == [("store.create", str(mine["id"]))]
    assert by_id == by_first
    assert [row["action"] for row in by_system] == ["member.register"]
    assert by_system[0]["actor_type"] == "system" and by_system[0]["actor_id"] is None
    assert await AuditLog.filter(actor_type="staff", actor_id=str(second.id)).count() == 1


async def test_the_audit_log_filters_by_an_exact_action_or_a_family_of_actions(stack):
    # given a template created and activated, a store, and an action whose name differs only where an
    # unescaped LIKE wildcard would match it
    _, admin = await make_staff(stack, role="admin")
    created = await template(stack, admin, {**GIFT, "valid_days": 7})
    await make_store(stack, admin)
    await audit.record(actor=audit.SYSTEM, action="couponXtemplate.create", target_type="coupon_template",
                       target_id=created["id"])

    # when filtered by one action, by the family, and by a prefix that names no family
    exact = await audit_rows(stack, admin, action="coupon_template.status")
    family = await audit_rows(stack, admin, action="coupon_template.*")
    partial = await audit_rows(stack, admin, action="coupon_temp")

    # then the exact action and the family match what they name, and nothing else
    assert [row["after"] for row in exact] == [{"status": "active"}]
    assert [row["action"] for row in family] == ["coupon_template.status", "coupon_template.create"]
    assert partial == []
    response = await stack.http.get(f"{AUDIT}?action=DROP%20TABLE", headers=bearer(admin))
    assert response.status_code == 400 and "action" in response.json()["error"]["details"]["fields"]


async def test_the_audit_log_filters_by_target_type_and_id(stack):
    # given two stores and a template
    _, admin = await make_staff(stack, role="admin")
    one = await make_store(stack, admin, "一店")
    await make_store(stack, admin, "二店")
    await template(stack, admin, {**GIFT, "valid_days": 7}, activate=False)

    # when filtered by the target type, and by the type and one id
    stores = await audit_rows(stack, admin, target_type="store")
    store_one = await audit_rows(stack, admin, target_type="store", target_id=one["id"])

    # then only store rows, and only the first store's row, are listed
    assert [row["after"]["name"] for row in stores] == ["二店", "一店"]
    assert [row["target_id"] for row in store_one] == [str(one["id"])]


async def test_the_audit_log_filters_by_time_with_an_offset_and_refuses_a_naive_one(stack):
    # given a store created at 10:00, 11:00 and 12:00 merchant time
    _, admin = await make_staff(stack, role="admin")
    start = stack.clock.now()
    for hours in (0, 1, 2):
        stack.clock.set(start + timedelta(hours=hours))
        await make_store(stack, admin, f"{hours}点店")

    # when asked for 10:30 (inclusive) to 12:00 (exclusive), with an offset and in UTC
    shanghai = await audit_rows(stack, admin, target_type="store", **{"from": "2026-03-02T10:30:00+08:00"},
                                to="2026-03-02T12:00:00+08:00")
    utc = await audit_rows(stack, admin, target_type="store", **{"from": "2026-03-02T02:30:00Z"},
                           to="2026-03-02T04:00:00Z")
    from_noon = await audit_rows(stack, admin, target_type="store", **{"from": "2026-03-02T12:00:00+08:00"})

    # then only the 11:00 store, and from 12:00 on only the 12:00 one
    assert [row["after"]["name"] for row in shanghai] == ["1点店"]
    assert utc == shanghai
    assert [row["after"]["name"] for row in from_noon] == ["2点店"]
    for query in ({"from": "2026-03-02T10:30:00"}, {"to": "0001-01-01T00:00:00Z"},
                  {"from": "2026-03-02T12:00:00Z", "to": "2026-03-02T11:00:00Z"}):
        response = await stack.http.get(f"{AUDIT}?{urlencode(query)}", headers=bearer(admin))
        assert response.status_code == 400, (query, response.text)


# --- coupon windows ---

async def test_a_coupon_window_without_an_offset_is_refused_not_a_500(stack):
    # given a window mixing an offset time and a naive one, and one naive at both ends
    _, admin = await make_staff(stack, role="admin")
    mixed = {**GIFT, "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": "2027-01-01T00:00:00"}
    naive = {**GIFT, "valid_from": "2026-01-01T00:00:00", "valid_until": "2027-01-01T00:00:00"}
    far = {**GIFT, "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": "9999-01-01T00:00:00+08:00"}

    # when templates are created with them, or an existing one is given the mixed window
    answers = [await stack.http.post(TEMPLATES, json={"name": "礼", "terms": terms}, headers=bearer(admin))
               for terms in (mixed, naive, far)]
    existing = await template(stack, admin, {**GIFT, "valid_days": 7}, activate=False)
    patched = await stack.http.patch(f"{TEMPLATES}/{existing['id']}", json={"terms": mixed}, headers=bearer(admin))

    # then each is a 400 naming the bound, and nothing is saved or changed
    for response in (*answers, patched):
        assert response.status_code == 400, response.text
        assert "terms.valid_until" in response.json()["error"]["details"]["fields"]
    assert "terms.valid_from" in answers[1].json()["error"]["details"]["fields"]
    assert await CouponTemplate.all().count() == 1
    assert (await CouponTemplate.get(id=existing["id"])).terms["valid_days"] == 7


async def test_a_template_whose_window_is_over_cannot_be_activated(stack):
    # given a draft template whose fixed window ended yesterday
    _, admin = await make_staff(stack, role="admin")
    past = await template(stack, admin, {**GIFT, **window(stack, start_days=-30, end_days=-1)}, activate=False)

    # when it is activated
    response = await stack.http.post(f"{TEMPLATES}/{past['id']}/status", json={"status": "active"},
                                     headers=bearer(admin))

    # then it is refused, stays a draft and no status change is audited
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "COUPON_TEMPLATE_WINDOW_PAST"
    assert response.json()["error"]["details"]["valid_until"]
    assert (await CouponTemplate.get(id=past["id"])).status == "draft"
    assert not await AuditLog.filter(action="coupon_template.status", target_id=str(past["id"])).exists()


async def test_an_active_template_cannot_be_given_a_window_that_is_over(stack):
    _, admin = await make_staff(stack, role="admin")
    live = await template(stack, admin, {**GIFT, **window(stack, start_days=0, end_days=10)})
    response = await stack.http.patch(f"{TEMPLATES}/{live['id']}", headers=bearer(admin),
                                      json={"terms": {**GIFT, **window(stack, start_days=-9, end_days=-2)}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "COUPON_TEMPLATE_WINDOW_PAST"
    assert (await CouponTemplate.get(id=live["id"])).terms == live["terms"]
    assert not await AuditLog.filter(action="coupon_template.update").exists()


async def test_once_its_window_is_over_a_template_issues_nothing_and_keeps_its_stock(stack):
    # given an active claimable template in the points mall whose window ends in two days, and a member with points
    _, admin = await make_staff(stack, role="admin")
    member_id, token = await member_token(stack)
    live = await template(stack, admin, {**GIFT, **window(stack, start_days=0, end_days=2)}, claimable=True,
                          total_stock=10)
    item = (await stack.http.post("/api/v1/admin/points-mall", headers=bearer(admin),
                                  json={"name": "马克杯", "template_id": live["id"], "points_price": 10})).json()
    response = await stack.http.post(f"/api/v1/admin/members/{member_id}/points/adjustments",
                                     json={"points": 50, "reason": "测试积分"}, headers=bearer(admin))
    assert response.status_code == 201, response.text
    segment = await stack.http.post("/api/v1/admin/segments", headers=bearer(admin),
                                    json={"name": "有手机", "rule": {"field": "has_phone", "op": "eq", "value": True}})
    assert segment.status_code == 201, segment.text

    # when the window has passed and the member claims, exchanges, and the admin issues to them and the segment
    stack.clock.advance(days=3)
    token = (await sessions.issue_tokens(settings=stack.settings, member_id=member_id, account_id=None)).token
    _, admin = await make_staff(stack, role="admin")  # the first one's token has expired meanwhile
    claimed = await stack.http.post(f"/api/v1/mp/coupon-center/{live['id']}/claim", headers=bearer(token))
    exchanged = await stack.http.post(f"/api/v1/mp/points-mall/{item['id']}/exchange", headers=bearer(token))
    listed = await stack.http.post(f"{TEMPLATES}/{live['id']}/issue", headers=bearer(admin),
                                   json={"member_ids": [member_id], "batch_id": "late"})
    to_segment = await stack.http.post(f"{TEMPLATES}/{live['id']}/issue", headers=bearer(admin),
                                       json={"segment_id": segment.json()["id"], "batch_id": "late-seg"})
    center = await stack.http.get("/api/v1/mp/coupon-center", headers=bearer(token))

    # then nothing is issued, no stock is spent, no points are taken, and the center no longer lists it
    for response in (claimed, exchanged, to_segment):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "COUPON_NOT_CLAIMABLE"
    assert claimed.json()["error"]["details"]["reason"] == "window_ended"
    assert listed.status_code == 200 and listed.json()["failed"] == {str(member_id): "COUPON_NOT_CLAIMABLE"}
    assert listed.json()["issued"] == 0
    assert center.status_code == 200 and center.json()["items"] == []
    assert await Coupon.filter(template_id=live["id"]).count() == 0
    assert (await CouponTemplate.get(id=live["id"])).issued_count == 0
    assert (await LoyaltyAccount.get(member_id=member_id)).points_balance == 50


# --- PATCH nulls and ids outside their columns ---

async def test_a_null_in_a_template_patch_changes_nothing_except_where_null_means_unlimited(stack):
    _, admin = await make_staff(stack, role="admin")
    created = await template(stack, admin, {**GIFT, "valid_days": 7}, activate=False, total_stock=5,
                             claim_tiers=["gold"])
    response = await stack.http.patch(f"{TEMPLATES}/{created['id']}", headers=bearer(admin), json={
        "name": None, "description": None, "terms": None, "claimable": None, "claim_tiers": None,
        "total_stock": None})
    assert response.status_code == 200, response.text
    row = await CouponTemplate.get(id=created["id"])
    assert (row.name, row.terms, row.claim_tiers, row.total_stock) == ("到店礼", created["terms"], ["gold"], None)
    [log] = await AuditLog.filter(action="coupon_template.update")
    assert log.after == {"total_stock": None}


async def test_a_null_label_in_a_custom_field_patch_changes_nothing_not_a_500(stack):
    _, admin = await make_staff(stack, role="admin")
    created = await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin),
                                    json={"key": "shoe_size", "label": "鞋码", "type": "text", "max_length": 5})
    assert created.status_code == 201, created.text
    response = await stack.http.patch(f"/api/v1/admin/custom-fields/{created.json()['id']}", headers=bearer(admin),
                                      json={"label": None, "required": None, "max_length": None})
    assert response.status_code == 200, response.text
    row = await CustomFieldDef.get(id=created.json()["id"])
    assert (row.label, row.required, row.max_length) == ("鞋码", False, None)


async def test_ids_and_store_keys_outside_their_columns_are_refused(stack):
    # given an active template and a member
    _, admin = await make_staff(stack, role="admin")
    member_id, _ = await member_token(stack)
    live = await template(stack, admin, {**GIFT, "valid_days": 7})
    issue = f"{TEMPLATES}/{live['id']}/issue"
    rules = (await stack.http.get("/api/v1/admin/earn-rules", headers=bearer(admin))).json()["earn_rules"]

    # when ids beyond their column, too many of them, or a store key in Unicode digits, are sent
    answers = {
        "member_ids.0": await stack.http.post(issue, json={"member_ids": [0], "batch_id": "b"},
                                              headers=bearer(admin)),
        "segment_id": await stack.http.post(issue, json={"segment_id": 2**31, "batch_id": "b"},
                                            headers=bearer(admin)),
        # more members than a list issue takes (the schema had allowed bodies the size limit refuses: 413)
        "member_ids": await stack.http.post(issue, json={"member_ids": list(range(1, 1002)), "batch_id": "b"},
                                            headers=bearer(admin)),
        "other_id": await stack.http.post(f"/api/v1/admin/members/{member_id}/merge", json={"other_id": 2**63 - 1 + 1},
                                          headers=bearer(admin)),
        "earn_rules.0.store_bonus_pct.²": await stack.http.put(
            "/api/v1/admin/earn-rules", headers=bearer(admin),
            json={"earn_rules": [{**rules[0], "store_bonus_pct": {"²": 150}}]}),
        "terms.store_ids.0": await stack.http.post(TEMPLATES, headers=bearer(admin), json={
            "name": "礼", "terms": {**GIFT, "valid_days": 7, "store_ids": [2**31]}}),
    }

    # then each is a 400 and nothing was issued or saved
    for field, response in answers.items():
        assert response.status_code == 400, (field, response.text)
    assert "segment_id" in answers["segment_id"].json()["error"]["details"]["fields"]
    assert await Coupon.all().count() == 0
    assert await CouponTemplate.all().count() == 1
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    assert program["earn_rules"] == rules


async def test_the_whole_program_put_takes_its_declared_body_only(stack):
    _, admin = await make_staff(stack, role="admin")
    current = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    for body in ([current], {**current, "surprise": 1}, {**current, "registration_points": True},
                 {**current, "tiers": [{**current["tiers"][0], "threshold": 10**12}]}):
        response = await stack.http.put("/api/v1/admin/loyalty-program", json=body, headers=bearer(admin))
        assert response.status_code == 400, response.text
    response = await stack.http.put("/api/v1/admin/loyalty-program", headers=bearer(admin),
                                    json={**current, "registration_points": 88})
    assert response.status_code == 200 and response.json() == {**current, "registration_points": 88}
    [log] = await AuditLog.filter(action="loyalty.program")
    assert log.after["registration_points"] == 88 and log.before["registration_points"] == 0
