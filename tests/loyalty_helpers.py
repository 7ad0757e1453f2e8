"""Helpers for the loyalty tests: the counter's actions through the real HTTP API."""

from tests.factories import bearer, unique


async def set_program(stack, admin, **changes):
    current = (await stack.http.get("/api/v1/admin/loyalty-program", headers=bearer(admin))).json()
    response = await stack.http.put("/api/v1/admin/loyalty-program", json={**current, **changes},
                                    headers=bearer(admin))
    assert response.status_code == 200, response.text
    return response.json()


async def order(stack, c, expect=201, **body):
    body.setdefault("order_no", unique("ORD"))
    body.setdefault("scan_token", c.scan)
    response = await stack.http.post("/api/v1/store/orders", json=body, headers=bearer(c.clerk))
    assert response.status_code == expect, response.text
    return response.json()


async def topup(stack, c, amount_cents, expect=201, **extra):
    response = await stack.http.post("/api/v1/store/wallet/topups", headers=bearer(c.clerk), json={
        "scan_token": c.scan, "amount_cents": amount_cents, "payment_ref": extra.pop("payment_ref", unique("PAY")),
        **extra})
    assert response.status_code == expect, response.text
    return response.json()


async def assets(stack, c):
    response = await stack.http.get("/api/v1/mp/me/assets", headers=bearer(c.token))
    assert response.status_code == 200, response.text
    return response.json()


async def refund(stack, c, order_no, amount_cents, expect=201, **extra):
    response = await stack.http.post(f"/api/v1/store/orders/{order_no}/refund", headers=bearer(c.clerk),
                                     json={"amount_cents": amount_cents, "reason": "顾客退货", **extra})
    assert response.status_code == expect, response.text
    return response.json()
