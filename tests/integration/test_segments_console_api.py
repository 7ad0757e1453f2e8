"""GET /admin/segment-fields: the rule builder's description of the compiler's fields, operators and values."""

from __future__ import annotations

from jobs import segment_rules
from tests.factories import bearer, make_staff


async def test_segment_fields_describe_every_field_and_operator_of_the_compiler(stack):
    _, token = await make_staff(stack, role="marketer")
    response = await stack.http.get("/api/v1/admin/segment-fields", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    by_field = {f["field"]: f for f in body["fields"]}
    expected = {("custom.<key>" if f == "custom" else f) for f in segment_rules.FIELDS}
    assert set(by_field) == expected
    for name, (ops, takes_window) in segment_rules.FIELDS.items():
        described = by_field["custom.<key>" if name == "custom" else name]
        assert [o["op"] for o in described["ops"]] == list(ops)
        assert described["within_days"] is takes_window
        assert described["label"] and all(o["label"] for o in described["ops"])
    assert by_field["orders.amount_cents"]["unit"] == "cents"
    assert by_field["registered_at"]["ops"][0]["value"]["type"] == "date"
    assert by_field["tier"]["ops"][1]["value"] == {"type": "list", "item": {"type": "tier"}, "max_items": 500}
    store = by_field["orders.store_id"]["ops"][0]["value"]
    assert store["type"] == "list" and store["item"]["type"] == "store"
    gender = by_field["gender"]["ops"][0]["value"]
    assert {"value": "female", "label": "女"} in gender["choices"]
    assert by_field["points_balance"]["ops"][2]["value"]["type"] == "range"
    assert body["max_depth"] == segment_rules.MAX_DEPTH


async def test_every_described_value_is_one_the_compiler_accepts(stack):
    # A sample value built from each description passes the compiler's checks.
    def sample(spec):
        kind = spec["type"]
        return {"integer": lambda: spec["min"], "store": lambda: 1, "choice": lambda: spec["choices"][0]["value"],
                "boolean": lambda: True, "date": lambda: "2026-01-01", "tier": lambda: "silver", "tag": lambda: "vip",
                "text": lambda: "x", "text_or_number": lambda: "x", "number_or_date": lambda: 3,
                "list": lambda: [sample(spec["item"])], "range": lambda: [sample(spec["item"])] * 2}[kind]()

    for field in segment_rules.describe_fields()["fields"]:
        name = "custom.size" if field["field"] == "custom.<key>" else field["field"]
        for op in field["ops"]:
            segment_rules.parse_rule({"field": name, "op": op["op"], "value": sample(op["value"])})


async def test_segment_fields_need_a_console_login(stack):
    assert (await stack.http.get("/api/v1/admin/segment-fields")).status_code == 401
    _, clerk = await make_staff(stack, role="clerk")
    assert (await stack.http.get("/api/v1/admin/segment-fields", headers=bearer(clerk))).status_code == 403
