"""Paid membership plans in the console: edited as their own section of the loyalty program, validated with
errors placed on the field, audited."""

from __future__ import annotations

from backend.stores.models import AuditLog
from tests.factories import bearer, make_staff
from tests.jobs_helpers import coupon_template

PATH = "/api/v1/admin/membership-plans"


def plan(**overrides):
    return {"code": "vip_month", "name": "月卡会员", "period": "month", "price_cents": 1900,
            "points_multiplier_pct": 200, "discount_pct": 95, "free_shipping": True,
            "coupon_center_priority": True, **overrides}


async def test_an_admin_saves_plans_and_reads_them_back(stack):
    _, admin = await make_staff(stack, role="admin")
    template_id = await coupon_template(stack, admin)
    assert (await stack.http.get(PATH, headers=bearer(admin))).json() == {"plans": [], "refund_days": 7}
    body = {"plans": [plan(monthly_coupons=[{"template_id": template_id, "count": 2}]),
                      plan(code="vip_year", name="年卡会员", period="year", price_cents=16800)],
            "refund_days": 3}
    saved = await stack.http.put(PATH, json=body, headers=bearer(admin))
    assert saved.status_code == 200, saved.text
    read = (await stack.http.get(PATH, headers=bearer(admin))).json()
    assert read == saved.json() and read["refund_days"] == 3
    assert [(p["code"], p["period"], p["price_cents"], p["on_sale"]) for p in read["plans"]] == [
        ("vip_month", "month", 1900, True), ("vip_year", "year", 16800, True)]
    assert read["plans"][0]["monthly_coupons"] == [{"template_id": template_id, "count": 2}]
    assert read["plans"][1]["discount_pct"] == 95 and read["plans"][1]["points_multiplier_pct"] == 200
    program = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    assert program["membership"] == read  # a section of the program document
    audit = await AuditLog.filter(action="loyalty.membership").first()
    assert audit is not None and audit.after["membership"]["refund_days"] == 3


async def test_invalid_plans_are_refused_on_the_field_and_nothing_is_saved(stack):
    _, admin = await make_staff(stack, role="admin")
    cases = [
        ({"plans": [plan(), plan(name="另一个")]}, "plans.1.code", "会员方案代码不能重复"),
        ({"plans": [plan(monthly_coupons=[{"template_id": 999999, "count": 1}])]},
         "plans.0.monthly_coupons.0.template_id", "券模板不存在"),
        ({"plans": [plan(period="week")]}, "plans.0.period", None),
        ({"plans": [plan(price_cents=0)]}, "plans.0.price_cents", None),
        ({"plans": [plan(discount_pct=0)]}, "plans.0.discount_pct", None),
        ({"plans": [plan(points_multiplier_pct=50)]}, "plans.0.points_multiplier_pct", None),
        ({"plans": [plan(code="VIP!")]}, "plans.0.code", None),
        ({"plans": [], "refund_days": 91}, "refund_days", None),
    ]
    for body, field, message in cases:
        answer = await stack.http.put(PATH, json=body, headers=bearer(admin))
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "VALIDATION_FAILED" and field in error["details"]["fields"], (field, error)
        if message:
            assert error["details"]["fields"][field] == message
    assert (await stack.http.get(PATH, headers=bearer(admin))).json()["plans"] == []


async def test_a_duplicate_template_in_one_pack_is_refused(stack):
    _, admin = await make_staff(stack, role="admin")
    template_id = await coupon_template(stack, admin)
    items = [{"template_id": template_id, "count": 1}, {"template_id": template_id, "count": 1}]
    answer = await stack.http.put(PATH, json={"plans": [plan(monthly_coupons=items)]}, headers=bearer(admin))
    assert answer.status_code == 400
    assert "plans.0.monthly_coupons.1.template_id" in answer.json()["error"]["details"]["fields"]


async def test_only_admins_change_plans_and_marketers_read_them(stack):
    _, marketer = await make_staff(stack, role="marketer")
    _, clerk = await make_staff(stack)
    assert (await stack.http.get(PATH, headers=bearer(marketer))).status_code == 200
    assert (await stack.http.put(PATH, json={"plans": []}, headers=bearer(marketer))).status_code == 403
    assert (await stack.http.get(PATH, headers=bearer(clerk))).status_code == 403
    assert (await stack.http.get(PATH)).status_code == 401
