"""Custom fields at counter and integration registration: accepted, validated by the same rules as the
mini-program's, required ones enforced for a new member; the counter reads the definitions."""

import json

import pytest

from backend.members.models import Member
from tests.factories import bearer, counter_register, make_app_key, make_staff, signed_headers, unique_phone

PUSH = "/api/v1/integrations/members"


async def define(stack, admin, **definition):
    response = await stack.http.post("/api/v1/admin/custom-fields", headers=bearer(admin), json=definition)
    assert response.status_code == 201, response.text
    return response.json()


async def push_member(stack, body):
    key_id, secret = await make_app_key(stack)
    raw = json.dumps(body).encode()
    return await stack.http.post(PUSH, content=raw, headers=signed_headers(key_id, secret, "POST", PUSH, raw))


@pytest.fixture
async def shoe_size(stack):
    """A required number field and an optional choice field, defined by an admin."""
    _, admin = await make_staff(stack, role="admin")
    await define(stack, admin, key="shoe_size", label="鞋码", type="number", required=True)
    await define(stack, admin, key="style", label="风格", type="choice", choices=["复古", "简约"])
    return admin


async def test_a_counter_registration_without_a_required_field_is_refused_naming_it(stack, shoe_size):
    _, clerk = await make_staff(stack)
    phone = unique_phone()

    response = await counter_register(stack, clerk, phone, name="周女士")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"custom_fields.shoe_size": "必填"}
    assert not await Member.exists()


async def test_a_counter_registration_with_valid_fields_stores_them(stack, shoe_size):
    _, clerk = await make_staff(stack)

    response = await counter_register(stack, clerk, unique_phone(), custom_fields={"shoe_size": 38, "style": "复古"})

    assert response.status_code == 201, response.text
    member = await Member.get(id=response.json()["member"]["id"])
    assert member.custom_fields == {"shoe_size": 38, "style": "复古"} and member.registration_channel == "pos"


@pytest.mark.parametrize(("values", "problem"), [
    ({"shoe_size": "38"}, {"custom_fields.shoe_size": "应为数字"}),
    ({"shoe_size": 38, "style": "朋克"}, {"custom_fields.style": "应为以下之一：复古、简约"}),
    ({"shoe_size": 38, "nope": 1}, {"custom_fields.nope": "未定义的自定义字段"}),
])
async def test_counter_values_follow_the_mini_program_rules(stack, shoe_size, values, problem):
    _, clerk = await make_staff(stack)

    response = await counter_register(stack, clerk, unique_phone(), custom_fields=values)

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == problem
    assert not await Member.exists()


async def test_an_integration_push_enforces_and_stores_custom_fields(stack, shoe_size):
    phone = unique_phone()

    missing = await push_member(stack, {"phone": phone})
    pushed = await push_member(stack, {"phone": phone, "custom_fields": {"shoe_size": 41}})

    assert missing.status_code == 400
    assert missing.json()["error"]["details"]["fields"] == {"custom_fields.shoe_size": "必填"}
    assert pushed.status_code == 201, pushed.text
    member = await Member.get(id=pushed.json()["member"]["id"])
    assert member.custom_fields == {"shoe_size": 41} and member.registration_channel == "online"


async def test_a_phone_that_is_already_a_member_joins_without_asking_for_the_fields_again(stack):
    _, clerk = await make_staff(stack)
    _, admin = await make_staff(stack, role="admin")
    first = await counter_register(stack, clerk, "13700137009")
    await define(stack, admin, key="shoe_size", label="鞋码", type="number", required=True)

    again = await counter_register(stack, clerk, "13700137009")

    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["created"] is False and await Member.all().count() == 1


async def test_the_counter_reads_the_active_custom_fields(stack, shoe_size):
    _, clerk = await make_staff(stack)
    _, marketer = await make_staff(stack, role="marketer")
    fields = (await stack.http.get("/api/v1/admin/custom-fields", headers=bearer(shoe_size))).json()["items"]
    style = next(field for field in fields if field["key"] == "style")
    await stack.http.patch(f"/api/v1/admin/custom-fields/{style['id']}", headers=bearer(shoe_size),
                           json={"active": False})

    response = await stack.http.get("/api/v1/store/custom-fields", headers=bearer(clerk))
    not_a_clerk = await stack.http.get("/api/v1/store/custom-fields", headers=bearer(marketer))

    assert response.status_code == 200, response.text
    assert response.json()["items"] == [{"key": "shoe_size", "label": "鞋码", "type": "number", "required": True,
                                         "choices": None, "max_length": None}]
    assert not_a_clerk.status_code == 403
