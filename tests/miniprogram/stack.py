"""A seeded server of ours and the fake WeChat API for the mini-program's Jest tests.

``python -m tests.miniprogram.stack`` starts, in one process: the loopback fake of WeChat's server
API (``tests/fakes/wechat.py``), the real application on a loopback port (SQLite in a temporary
directory, the demo seed plus a coupon-center coupon, a points-mall item and daily check-in switched
on), and a small control server through which a test tells the fake WeChat which ``wx.login`` and
phone-number codes exist (the codes a real WeChat client would have been given). It prints one JSON
line with the three addresses and the seed's ids, then serves until its standard input closes. With
``--test-clock`` its time can be moved forward (``TEST_CLOCK=1``) by the one test that started it.

WeChat Pay is the loopback fake too (``tests/fakes/wechatpay.py``, the fake WeChat's app id bound to its
merchant) and the seed has top-up bonus rules and paid membership plans; the control server's ``POST /pay`` is
the shopper paying in WeChat, optionally followed by WeChat Pay's signed notification to our callback. ``--no-wechatpay``
starts a stack without it (top-ups answer ``enabled: false``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from backend.ratelimit import Limiter
from tests.conftest import stack_environment, start_server, stop_server
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wechatpay import FakeWeChatPay

DEMO_PASSWORD = "demo-pass-2026"
ADMIN = "/api/v1/admin"
NOTIFY_PATH = "/api/v1/callbacks/wechatpay"
# 充100送20, 充300送80: what the top-up page offers as chips; online only, so counter top-ups (the ledger
# tests) get no bonus.
TOPUP_BONUSES = [{"min_amount_cents": 10000, "bonus_cents": 2000, "channels": ["online"]},
                 {"min_amount_cents": 30000, "bonus_cents": 8000, "channels": ["online"]}]
# 付费会员: a month plan with every benefit (its monthly pack: two of the center coupon, filled in by seed()), a
# year plan with fewer, and one off sale that the mini-program must not offer.
MEMBERSHIP_PLANS = [
    {"code": "month", "name": "月卡会员", "period": "month", "price_cents": 1990, "discount_pct": 95,
     "points_multiplier_pct": 200, "free_shipping": True, "coupon_center_priority": True},
    {"code": "year", "name": "年卡会员", "period": "year", "price_cents": 19900, "discount_pct": 90,
     "points_multiplier_pct": 150},
    {"code": "old_quarter", "name": "旧季卡", "period": "quarter", "price_cents": 5900, "on_sale": False},
]


class LoopbackLimiter(Limiter):
    """Every shopper of the suite logs in from 127.0.0.1: the per-address limit on shopper logins (60 a minute,
    meant for one address in the wild) would refuse a fast run's logins across the test files; every other limit
    stays as the app sets it."""

    async def hit(self, name: str, *, limit: int, window_s: int) -> None:
        await super().hit(name, limit=limit * 20 if name.startswith("mp-session:") else limit, window_s=window_s)


def pay_order(pay: FakeWeChatPay | None, api: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    """The shopper pays an order in WeChat (by ``out_trade_no``, or by ``package`` = ``prepay_id=…`` as
    ``wx.requestPayment`` knows it); with ``notify`` WeChat Pay then posts its signed notification to us."""
    if pay is None:
        return 409, {"error": "this stack has no WeChat Pay (--no-wechatpay)"}
    no = body.get("out_trade_no")
    if not no and body.get("package"):
        prepay_id = str(body["package"]).removeprefix("prepay_id=")
        no = next((k for k, order in list(pay.orders.items()) if order["prepay_id"] == prepay_id), None)
    if not no or no not in pay.orders:
        return 404, {"error": f"no such order at WeChat Pay: {no or body.get('package')}"}
    try:
        paid = pay.pay(no)
    except AssertionError as exc:
        return 409, {"error": str(exc)}
    answer: dict[str, Any] = {"ok": True, "out_trade_no": no, "transaction_id": paid["transaction_id"],
                              "notified": None}
    if body.get("notify"):
        headers, data = pay.notification(paid)
        answer["notified"] = pay.deliver(api["base"] + NOTIFY_PATH, headers, data).status_code
    return 200, answer


def control_server(fake: FakeWeChat, pay: FakeWeChatPay | None = None,
                   api: dict[str, str] | None = None) -> ThreadingHTTPServer:
    """POST /codes {code, openid, unionid?}, POST /phone-codes {phone_code, phone}, GET /sent,
    POST /pay {out_trade_no | package, notify} (``api["base"]``: the app, filled in once it listens)."""
    api = api if api is not None else {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/sent":
                return self._answer(200, fake.sent)
            return self._answer(404, {"error": self.path})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path == "/codes":
                fake.add_code(body["code"], openid=body["openid"], unionid=body.get("unionid"))
            elif self.path == "/phone-codes":
                fake.add_phone_code(body["phone_code"], body["phone"])
            elif self.path == "/pay":
                return self._answer(*pay_order(pay, api, body))
            else:
                return self._answer(404, {"error": self.path})
            return self._answer(200, {"ok": True})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="mp-control", daemon=True).start()
    return server


async def seed(http: httpx.AsyncClient) -> dict[str, Any]:
    """What the pages need beyond the demo seed: a claimable coupon, a points-mall item, check-in on, top-up
    bonus rules, paid membership plans."""
    login = await http.post("/api/v1/staff/session", json={"username": "admin", "password": DEMO_PASSWORD})
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['token']}"}

    async def template(name: str, terms: dict[str, Any], **fields: Any) -> dict[str, Any]:
        created = await http.post(f"{ADMIN}/coupon-templates", headers=headers,
                                  json={"name": name, "terms": terms, **fields})
        created.raise_for_status()
        answer = await http.post(f"{ADMIN}/coupon-templates/{created.json()['id']}/status", headers=headers,
                                 json={"status": "active"})
        answer.raise_for_status()
        return answer.json()

    center = await template("新人满100减20", {"kind": "amount_off", "min_spend_cents": 10000,
                                            "amount_off_cents": 2000, "valid_days": 30},
                            claimable=True, per_member_limit=1, description="全场通用，满 100 元可用")
    mall_template = await template("9折券", {"kind": "percent_off", "percent_pays": 90,
                                            "max_discount_cents": 5000, "valid_days": 30})
    item = await http.post(f"{ADMIN}/points-mall", headers=headers,
                           json={"name": "9折券（最高抵50元）", "template_id": mall_template["id"], "points_price": 100})
    item.raise_for_status()
    # Daily check-in on: 5 points a day, 10 on the 3rd day in a row, 30 and the center coupon on the 7th.
    program = await http.get(f"{ADMIN}/loyalty-program", headers=headers)
    program.raise_for_status()
    checkin = {"enabled": True, "cycle_days": 7, "daily_points": 5,
               "rewards": [{"day": 3, "points": 10},
                           {"day": 7, "points": 30, "coupon_template_id": center["id"]}]}
    saved = await http.put(f"{ADMIN}/loyalty-program", headers=headers,
                           json={**program.json(), "checkin": checkin, "topup_bonuses": TOPUP_BONUSES})
    saved.raise_for_status()
    plans = [{**plan, "monthly_coupons": [{"template_id": center["id"], "count": 2}]} if plan["code"] == "month"
             else plan for plan in MEMBERSHIP_PLANS]
    membership = await http.put(f"{ADMIN}/membership-plans", headers=headers, json={"plans": plans, "refund_days": 7})
    membership.raise_for_status()
    return {"center_template_id": center["id"], "mall_item_id": item.json()["id"],
            "mall_points_price": 100, "checkin": checkin, "topup_bonuses": TOPUP_BONUSES,
            "membership_plans": membership.json()["plans"]}


async def main() -> None:
    from backend.app import create_app
    from backend.demo import seed_demo

    fake = FakeWeChat()
    wechat_base = fake.start()
    # WeChat Pay binds the merchant to the mini-program's app id: the fake WeChat's.
    pay = None if "--no-wechatpay" in sys.argv[1:] else FakeWeChatPay(appid=fake.app_id)
    if pay is not None:
        pay.start()
    api: dict[str, str] = {}
    control = control_server(fake, pay, api)
    tmp = Path(tempfile.mkdtemp(prefix="mp-stack-"))
    # --test-clock: a stack whose time a test may move (POST /api/v1/admin/test-clock/advance); started by
    # that test alone, so the shared stack's time never jumps under the other test files.
    test_clock = "--test-clock" in sys.argv[1:]
    env = stack_environment("sqlite", tmp, fake, wechat_base, wechatpay=pay,
                            **({"TEST_CLOCK": "1"} if test_clock else {}))
    from backend.settings import load_settings

    settings = load_settings(env)
    app = create_app(settings, configure_logs=False)

    @app.before_server_start
    async def loopback_limiter(app: Any) -> None:  # after the app's own listener, which made the limiter
        app.ctx.limiter = LoopbackLimiter(app.ctx.kv)

    server, port = await start_server(app)
    base = f"http://127.0.0.1:{port}"
    api["base"] = base
    demo = await seed_demo(settings)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        extra = await seed(http)
    print(json.dumps({
        "api": base, "control": f"http://127.0.0.1:{control.server_address[1]}", "wechat_app_id": fake.app_id,
        "demo_password": DEMO_PASSWORD, "demo_members": demo["members"], "test_clock": test_clock,
        "wechatpay": pay is not None, "wechatpay_mchid": pay.mchid if pay else None, **extra,
    }, ensure_ascii=False), flush=True)
    # Serve until the test runner closes our standard input (or dies, which closes it too).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await stop_server(server)
    control.shutdown()
    if pay is not None:
        pay.stop()
    fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
