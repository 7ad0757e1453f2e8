"""What the console's coupon and loyalty screens need from the API: a segment issue that says how many
it reached and skipped, and the loyalty program's cross-item rules placed on the field they are about."""

from __future__ import annotations

from backend import audit
from backend.coupons.models import Coupon
from backend.members import service
from tests.factories import bearer, make_staff, unique, unique_phone


async def _member(stack, **fields) -> int:
    result = await service.register(reg=service.Registration(phone=unique_phone(), channel="pos", **fields),
                                    pii=stack.pii, actor=audit.SYSTEM)
    return result.member.id


async def _template(stack, token, *, activate=True, **fields) -> dict:
    body = {"name": "满100减20", "terms": {"kind": "amount_off", "min_spend_cents": 10000,
                                         "amount_off_cents": 2000, "valid_days": 30}, **fields}
    created = await stack.http.post("/api/v1/admin/coupon-templates", json=body, headers=bearer(token))
    assert created.status_code == 201, created.text
    template = created.json()
    if activate:
        changed = await stack.http.post(f"/api/v1/admin/coupon-templates/{template['id']}/status",
                                        json={"status": "active"}, headers=bearer(token))
        assert changed.status_code == 200, changed.text
    return template


async def _segment(stack, token) -> int:
    rule = {"all": [{"field": "gender", "op": "eq", "value": "female"}]}
    created = await stack.http.post("/api/v1/admin/segments", json={"name": unique("女性"), "rule": rule},
                                    headers=bearer(token))
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_a_segment_issue_counts_issued_and_skipped_and_is_idempotent_by_batch(stack):
    _, marketer = await make_staff(stack, role="marketer")
    women = [await _member(stack, gender="female") for _ in range(3)]
    await _member(stack, gender="male")
    segment_id = await _segment(stack, marketer)
    template = await _template(stack, marketer, total_stock=2)
    path = f"/api/v1/admin/coupon-templates/{template['id']}/issue"

    first = await stack.http.post(path, json={"segment_id": segment_id, "batch_id": "spring-1"},
                                  headers=bearer(marketer))
    assert first.status_code == 200, first.text
    assert first.json() == {"batch_id": "spring-1", "segment_id": segment_id, "issued": 2, "already_issued": None,
                            "failed": {}, "selected": 3, "skipped": 1}  # the stock ran out for the third
    assert sorted(c.member_id for c in await Coupon.filter(template_id=template["id"])) == sorted(women)[:2]

    again = (await stack.http.post(path, json={"segment_id": segment_id, "batch_id": "spring-1"},
                                   headers=bearer(marketer))).json()
    assert (again["issued"], again["selected"], again["skipped"]) == (0, 3, 3)
    assert await Coupon.filter(template_id=template["id"]).count() == 2

    listed = (await stack.http.post(path, json={"member_ids": [women[0], women[0]], "batch_id": "spring-1"},
                                    headers=bearer(marketer))).json()
    assert (listed["issued"], listed["already_issued"], listed["selected"], listed["skipped"]) == (0, 1, 1, 1)


async def test_a_segment_issue_refuses_what_it_cannot_do(stack):
    _, marketer = await make_staff(stack, role="marketer")
    _, clerk = await make_staff(stack)
    await _member(stack, gender="female")
    segment_id = await _segment(stack, marketer)
    draft = await _template(stack, marketer, activate=False)
    path = f"/api/v1/admin/coupon-templates/{draft['id']}/issue"
    refused = await stack.http.post(path, json={"segment_id": segment_id, "batch_id": "b1"}, headers=bearer(marketer))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "COUPON_NOT_CLAIMABLE"
    missing = await stack.http.post(path, json={"segment_id": 999_999, "batch_id": "b1"}, headers=bearer(marketer))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SEGMENT_NOT_FOUND"
    both = await stack.http.post(path, json={"segment_id": segment_id, "member_ids": [1], "batch_id": "b1"},
                                 headers=bearer(marketer))
    assert both.status_code == 400 and both.json()["error"]["code"] == "VALIDATION_FAILED"
    bad_batch = await stack.http.post(path, json={"segment_id": segment_id, "batch_id": "有空格 的"},
                                      headers=bearer(marketer))
    assert "batch_id" in bad_batch.json()["error"]["details"]["fields"]
    assert (await stack.http.post(path, json={"segment_id": segment_id, "batch_id": "b1"},
                                  headers=bearer(clerk))).status_code == 403
    assert await Coupon.filter(template_id=draft["id"]).count() == 0


async def test_tier_rules_are_reported_on_the_tier_that_breaks_them(stack):
    _, admin = await make_staff(stack, role="admin")
    _, marketer = await make_staff(stack, role="marketer")
    tiers = (await stack.http.get("/api/v1/admin/tiers", headers=bearer(marketer))).json()["tiers"]
    tiers[2]["threshold"] = tiers[1]["threshold"]  # not above the tier below
    tiers[3]["code"] = tiers[0]["code"]
    bad = await stack.http.put("/api/v1/admin/tiers", json={"tiers": tiers}, headers=bearer(admin))
    assert bad.status_code == 400, bad.text
    fields = bad.json()["error"]["details"]["fields"]
    assert set(fields) == {"tiers.2.threshold", "tiers.3.code"}
    assert "上一等级" in fields["tiers.2.threshold"]

    negative = [dict(t) for t in tiers]
    negative[1]["threshold"] = -5
    answer = await stack.http.put("/api/v1/admin/tiers", json={"tiers": negative}, headers=bearer(admin))
    assert "tiers.1.threshold" in answer.json()["error"]["details"]["fields"]

    first = (await stack.http.get("/api/v1/admin/tiers", headers=bearer(marketer))).json()["tiers"]
    first[0]["threshold"] = 10
    answer = await stack.http.put("/api/v1/admin/tiers", json={"tiers": first}, headers=bearer(admin))
    assert set(answer.json()["error"]["details"]["fields"]) == {"tiers.0.threshold"}

    # The whole program, through its own route: the same placement.
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    program["earn_rules"].append(dict(program["earn_rules"][0]))
    program["earn_rules"] = program["earn_rules"][:4]
    program["earn_rules"][3] = dict(program["earn_rules"][0])
    doubled = await stack.http.put("/api/v1/admin/loyalty-program", json=program, headers=bearer(admin))
    assert doubled.status_code == 400
    assert set(doubled.json()["error"]["details"]["fields"]) == {"earn_rules.3.channel"}

    # A marketer reads but may not change; a valid change is saved.
    ok_tiers = (await stack.http.get("/api/v1/admin/tiers", headers=bearer(marketer))).json()["tiers"]
    ok_tiers[1]["threshold"] = 1200
    assert (await stack.http.put("/api/v1/admin/tiers", json={"tiers": ok_tiers},
                                 headers=bearer(marketer))).status_code == 403
    saved = await stack.http.put("/api/v1/admin/tiers", json={"tiers": ok_tiers}, headers=bearer(admin))
    assert saved.status_code == 200 and saved.json()["tiers"][1]["threshold"] == 1200


async def test_a_body_that_is_not_a_program_keeps_its_plain_errors(stack):
    _, admin = await make_staff(stack, role="admin")
    for body in (b"[1, 2]", b'{"tiers": "x"}', b'{"tiers": [1, {"code": 3}]}', b"not json"):
        answer = await stack.http.put("/api/v1/admin/tiers", content=body, headers={
            **bearer(admin), "Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "VALIDATION_FAILED"
