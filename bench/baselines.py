"""Baseline servers: what the same Sanic, one worker, does with nothing of the project in the way.

``python -m bench.baselines json --port P``: ``GET /json`` answers a small JSON document.
``python -m bench.baselines asyncpg --port P --dsn DSN``: ``GET /members/<id>`` runs one query through an
asyncpg pool (the size of the project's) and answers the row as JSON.
``python -m bench.baselines orders --port P --dsn DSN``: ``POST /orders`` records an earning order in one
raw asyncpg transaction, with the statements the project's order path runs (see ``ORDER_STATEMENTS``).
``python -m bench.baselines redeem --port P --dsn DSN``: ``POST /coupons/<id>/redeem`` redeems a coupon at the
counter in one raw asyncpg transaction: the conditional UPDATE and the two inserts (``REDEEM_STATEMENTS``).

Each runs in one process with the access log and the banner off, like ``python -m backend serve``.
"""

from __future__ import annotations

import argparse
import hashlib
import json as jsonlib
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from sanic import Request as HttpRequest
from sanic import Sanic
from sanic.response import HTTPResponse, json

from bench import POOL_SIZE_DEFAULT, Request, Served, Server, Target

MEMBER_QUERY = "SELECT id, member_no, nickname, gender, registered_at FROM members WHERE id = $1"


def json_target() -> Target:
    return Target("baseline:json", Server((sys.executable, "-m", "bench.baselines", "json", "--port", "{port}")),
                  Request("/json"), baseline=True, open_model=False)


def asyncpg_target(dsn: str, member_id: int, *, pool_size: int = POOL_SIZE_DEFAULT) -> Target:
    argv = (sys.executable, "-m", "bench.baselines", "asyncpg", "--port", "{port}", "--dsn", dsn,
            "--pool-size", str(pool_size))
    return Target("baseline:asyncpg", Server(argv), Request(f"/members/{member_id}"), baseline=True)


def orders_target(dsn: str, member_ids: list[int], *, store_id: int, amount_cents: int, name: str = "baseline:asyncpg",
                  group: str | None = None, pool_size: int = POOL_SIZE_DEFAULT,
                  reconcile: Callable[[Served], Awaitable[str]] | None = None) -> Target:
    """``POST /orders`` spread over ``member_ids`` (one per request, in turn), each order number distinct."""
    argv = (sys.executable, "-m", "bench.baselines", "orders", "--port", "{port}", "--dsn", dsn,
            "--pool-size", str(pool_size))
    body = '{"order_no": "B{seq}", "member_id": {member_id}, ' + f'"store_id": {store_id}, "amount_cents": {amount_cents}}}'
    request = Request("/orders", method="POST", headers={"Content-Type": "application/json"}, body=body,
                      pools={"member_id": tuple(str(member_id) for member_id in member_ids)})
    return Target(name, Server(argv), request, baseline=True, group=group, reconcile=reconcile)


def redeem_target(dsn: str, coupons: list[tuple[int, int]], *, store_id: int, staff_id: int,
                  name: str = "baseline:asyncpg", group: str | None = None, pool_size: int = POOL_SIZE_DEFAULT,
                  reconcile: Callable[[Served], Awaitable[str]] | None = None) -> Target:
    """``POST /coupons/<id>/redeem`` of each of ``coupons`` ((coupon id, owner's member id)) once, in turn."""
    argv = (sys.executable, "-m", "bench.baselines", "redeem", "--port", "{port}", "--dsn", dsn,
            "--pool-size", str(pool_size))
    body = '{"member_id": {member_id}, ' + f'"store_id": {store_id}, "staff_id": {staff_id}}}'
    request = Request("/coupons/{coupon_id}/redeem", method="POST", headers={"Content-Type": "application/json"},
                      body=body, single_use=True,
                      pools={"coupon_id": tuple(str(coupon_id) for coupon_id, _ in coupons),
                             "member_id": tuple(str(member_id) for _, member_id in coupons)})
    return Target(name, Server(argv), request, baseline=True, group=group, reconcile=reconcile)


def _bare_app(name: str) -> Sanic:
    app = Sanic(name, configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.MOTD = False
    app.config.AUTO_EXTEND = False  # bare: no extension attached even where sanic-ext is installed
    return app


def json_app() -> Sanic:
    app = _bare_app("bench_json")

    @app.get("/json")
    async def hello(request: HttpRequest) -> HTTPResponse:
        return json({"status": "ok", "service": "bench"})

    return app


def asyncpg_app(dsn: str, pool_size: int) -> Sanic:
    app = _bare_app("bench_asyncpg")

    @app.before_server_start
    async def connect(app: Sanic) -> None:
        app.ctx.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)

    @app.after_server_stop
    async def disconnect(app: Sanic) -> None:
        await app.ctx.pool.close()

    @app.get("/members/<member_id:int>")
    async def member(request: HttpRequest, member_id: int) -> HTTPResponse:
        row = await request.app.ctx.pool.fetchrow(MEMBER_QUERY, member_id)
        if row is None:
            return json({"error": "not found"}, status=404)
        return json({"id": row["id"], "member_no": row["member_no"], "nickname": row["nickname"],
                     "gender": row["gender"], "registered_at": row["registered_at"].isoformat()},
                    ensure_ascii=False)

    return app


# What the project's order path (backend/loyalty/orders.py ``_place``, backend/loyalty/accounts.py
# ``Assets``, backend/loyalty/tiers.py ``measure``) sends to PostgreSQL for an order that earns points,
# in its order, in one transaction.
ORDER_INSERT = """
INSERT INTO orders (channel, order_no, member_id, store_id, request_hash, amount_cents, discount_cents,
    points_spent, points_value_cents, principal_spent_cents, bonus_spent_cents, earn_base_cents, points_earned,
    refunded_cents, points_reversed, points_restored, principal_restored_cents, bonus_restored_cents, status,
    items, receipt, placed_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'placed', $7, $8, $9, $9) RETURNING id"""
PROGRAM_SELECT = "SELECT id, data, updated_at FROM loyalty_program WHERE id = 1 LIMIT 2"
MEMBER_SELECT = "SELECT * FROM members WHERE id = $1 LIMIT 2"
ACCOUNT_LOCK = "UPDATE loyalty_accounts SET version = version + 1, updated_at = $2 WHERE member_id = $1"
ACCOUNT_CREATE = ("INSERT INTO loyalty_accounts (member_id, points_balance, points_debt, principal_cents, bonus_cents, "
                  "version, updated_at) VALUES ($1, 0, 0, 0, 0, 0, $2) ON CONFLICT DO NOTHING")
ACCOUNT_SELECT = "SELECT * FROM loyalty_accounts WHERE member_id = $1 LIMIT 2"
ORDER_COMPUTED = """
UPDATE orders SET discount_cents = 0, points_spent = 0, points_value_cents = 0, principal_spent_cents = 0,
    bonus_spent_cents = 0, earn_base_cents = $2, points_earned = $3 WHERE id = $1"""
ENTRY_INSERT = """
INSERT INTO points_entries (member_id, kind, points, debt_delta, balance_after, reason, source, channel, store_id,
    order_id, ref, created_at)
VALUES ($1, 'earn', $2, 0, $3, $4, 'order', $5, $6, $7, $8, $9) RETURNING id"""
LOT_INSERT = ("INSERT INTO points_lots (member_id, earned, remaining, expires_at, entry_id, created_at) "
              "VALUES ($1, $2, $2, NULL, $3, $4) RETURNING id")
TIER_MEASURE = ("SELECT amount_cents, discount_cents, refunded_cents, points_earned, points_reversed, status "
                "FROM orders WHERE member_id = $1 AND placed_at >= $2")
ACCOUNT_SAVE = """
UPDATE loyalty_accounts SET points_balance = $2, points_debt = $3, principal_cents = $4, bonus_cents = $5,
    tier_code = $6, tier_since = $7, updated_at = $8 WHERE member_id = $1"""
ORDER_RECEIPT = "UPDATE orders SET receipt = $2 WHERE id = $1"
EVENT_INSERT = ("INSERT INTO member_events (member_id, type, channel, store_id, payload, created_at) "
                "VALUES ($1, 'order_placed', $2, $3, $4, $5) RETURNING id")
ORDER_STATEMENTS = (ORDER_INSERT, PROGRAM_SELECT, MEMBER_SELECT, ACCOUNT_LOCK, ACCOUNT_SELECT, ORDER_COMPUTED,
                    ENTRY_INSERT, LOT_INSERT, TIER_MEASURE, ACCOUNT_SAVE, ORDER_RECEIPT, EVENT_INSERT)
# The default program's tiers (code, yuan over the window, points multiplier %) and earn rule (1 point a yuan).
TIERS = (("normal", 0, 100), ("silver", 1000, 120), ("gold", 5000, 150), ("diamond", 20000, 200))
TIER_WINDOW = timedelta(days=365)


def _tier(code: str | None) -> tuple[int, int]:
    """(rank, points multiplier %) of a tier code; no code is the lowest tier."""
    return next(((rank, pct) for rank, (name, _, pct) in enumerate(TIERS) if name == code), (0, TIERS[0][2]))


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=jsonlib.dumps, decoder=jsonlib.loads, schema="pg_catalog")


def orders_app(dsn: str, pool_size: int) -> Sanic:
    """The order path without the project: the same statements through asyncpg, the same effects.

    Left out, as they are rare or absent for these orders: the tier change rows and gift of an upgrade
    (the new tier is saved on the account), coupons, points spent, stored value, referral rewards.
    """
    app = _bare_app("bench_orders")

    @app.before_server_start
    async def connect(app: Sanic) -> None:
        app.ctx.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size, init=_init_connection)

    @app.after_server_stop
    async def disconnect(app: Sanic) -> None:
        await app.ctx.pool.close()

    @app.post("/orders")
    async def place(request: HttpRequest) -> HTTPResponse:
        body = request.json
        order_no, member_id = str(body["order_no"]), int(body["member_id"])
        store_id, amount = int(body["store_id"]), int(body["amount_cents"])
        channel, now = "pos", datetime.now(UTC)
        fingerprint = hashlib.sha256(jsonlib.dumps(
            {"channel": channel, "order_no": order_no, "amount_cents": amount, "member_id": member_id,
             "store_id": store_id, "items": [], "coupon_ids": [], "points_to_spend": 0,
             "balance_to_spend_cents": 0, "member_price_applied": False}, sort_keys=True).encode()).hexdigest()
        async with request.app.ctx.pool.acquire() as conn, conn.transaction():
            try:
                order_id = await conn.fetchval(ORDER_INSERT, channel, order_no, member_id, store_id, fingerprint,
                                               amount, [], {}, now)
            except asyncpg.UniqueViolationError:
                return json({"error": "order_no taken"}, status=409)
            await conn.fetchrow(PROGRAM_SELECT)
            member = await conn.fetchrow(MEMBER_SELECT, member_id)
            if member is None:
                return json({"error": "member not found"}, status=404)
            if await conn.execute(ACCOUNT_LOCK, member_id, now) == "UPDATE 0":
                await conn.execute(ACCOUNT_CREATE, member_id, now)
                await conn.execute(ACCOUNT_LOCK, member_id, now)
            account = dict(await conn.fetchrow(ACCOUNT_SELECT, member_id))
            rank, multiplier = _tier(account["tier_code"])
            earned = amount * multiplier // 10_000
            await conn.execute(ORDER_COMPUTED, order_id, amount, earned)
            balance = account["points_balance"] + earned
            reason = f"订单 {order_no}"
            entry_id = await conn.fetchval(ENTRY_INSERT, member_id, earned, balance, reason, channel, store_id,
                                           order_id, f"order:{order_id}:earn", now)
            await conn.fetchval(LOT_INSERT, member_id, earned, entry_id, now)
            rows = await conn.fetch(TIER_MEASURE, member_id, now - TIER_WINDOW)
            measure = sum(max(r["amount_cents"] - r["discount_cents"] - r["refunded_cents"], 0) for r in rows) // 100
            reached = max(i for i, (_, threshold, _) in enumerate(TIERS) if threshold <= measure)
            tier_code, tier_since, tier_change = account["tier_code"], account["tier_since"], None
            if reached > rank:
                tier_change = {"from": TIERS[rank][0], "to": TIERS[reached][0], "reason": "upgrade"}
                tier_code, tier_since = TIERS[reached][0], now
            await conn.execute(ACCOUNT_SAVE, member_id, balance, account["points_debt"], account["principal_cents"],
                               account["bonus_cents"], tier_code, tier_since, now)
            receipt = {"order_id": order_id, "order_no": order_no, "channel": channel, "store_id": store_id,
                       "member_id": member_id, "amount_cents": amount, "discount_cents": 0, "points_spent": 0,
                       "points_value_cents": 0, "balance_spent_cents": 0, "payable_cents": amount,
                       "points_earned": earned, "tier_change": tier_change, "points_balance": balance,
                       "points_debt": account["points_debt"],
                       "balance_cents": account["principal_cents"] + account["bonus_cents"],
                       "principal_cents": account["principal_cents"], "bonus_cents": account["bonus_cents"],
                       "tier": tier_code}
            await conn.execute(ORDER_RECEIPT, order_id, receipt)
            await conn.fetchval(EVENT_INSERT, member_id, channel, store_id,
                                {"order_id": order_id, "order_no": order_no, "amount_cents": amount,
                                 "paid_cents": amount, "points_earned": earned, "points_spent": 0,
                                 "balance_spent_cents": 0, "items": []}, now)
        return json(receipt, status=201, ensure_ascii=False)

    return app


# What the project's counter redemption (backend/coupons/service.py ``redeem_in_store``) writes, in one
# transaction: the conditional UPDATE that only one caller wins, the redemption, the timeline event. The
# project also reads the coupon and its template's status first; those reads are its own work.
COUPON_REDEEM = ("UPDATE coupons SET status = 'redeemed', redeemed_at = now() "
                 "WHERE id = $1 AND member_id = $2 AND status = 'available'")
REDEMPTION_INSERT = """
INSERT INTO coupon_redemptions (coupon_id, member_id, store_id, channel, order_id, order_amount_cents, discount_cents,
    staff_id, status, reason, created_at, reversed_at)
VALUES ($1, $2, $3, 'pos', NULL, NULL, 0, $4, 'done', '', $5, NULL) RETURNING id"""
REDEEM_EVENT_INSERT = ("INSERT INTO member_events (member_id, type, channel, store_id, payload, created_at) "
                       "VALUES ($1, 'coupon_redeemed', 'pos', $2, $3, $4) RETURNING id")
REDEEM_STATEMENTS = (COUPON_REDEEM, REDEMPTION_INSERT, REDEEM_EVENT_INSERT)


def redeem_app(dsn: str, pool_size: int) -> Sanic:
    """The counter redemption without the project: the same writes through asyncpg, 409 for a lost race."""
    app = _bare_app("bench_redeem")

    @app.before_server_start
    async def connect(app: Sanic) -> None:
        app.ctx.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size, init=_init_connection)

    @app.after_server_stop
    async def disconnect(app: Sanic) -> None:
        await app.ctx.pool.close()

    @app.post("/coupons/<coupon_id:int>/redeem")
    async def redeem(request: HttpRequest, coupon_id: int) -> HTTPResponse:
        body = request.json
        member_id, store_id, staff_id = int(body["member_id"]), int(body["store_id"]), int(body["staff_id"])
        now = datetime.now(UTC)
        async with request.app.ctx.pool.acquire() as conn, conn.transaction():
            if await conn.execute(COUPON_REDEEM, coupon_id, member_id) != "UPDATE 1":
                return json({"error": "COUPON_ALREADY_REDEEMED"}, status=409)
            redemption_id = await conn.fetchval(REDEMPTION_INSERT, coupon_id, member_id, store_id, staff_id, now)
            await conn.fetchval(REDEEM_EVENT_INSERT, member_id, store_id,
                                {"coupon_id": coupon_id, "redemption_id": redemption_id, "discount_cents": 0}, now)
        return json({"id": redemption_id, "coupon_id": coupon_id, "store_id": store_id, "channel": "pos",
                     "order_id": None, "discount_cents": 0, "status": "done", "created_at": now.isoformat()},
                    status=201)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["json", "asyncpg", "orders", "redeem"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", help="PostgreSQL DSN (asyncpg)")
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE_DEFAULT)
    args = parser.parse_args(argv)
    if args.kind != "json" and not args.dsn:
        parser.error(f"{args.kind} needs --dsn")
    apps = {"json": json_app, "asyncpg": lambda: asyncpg_app(args.dsn, args.pool_size),
            "orders": lambda: orders_app(args.dsn, args.pool_size),
            "redeem": lambda: redeem_app(args.dsn, args.pool_size)}
    app = apps[args.kind]()
    app.prepare(host=args.host, port=args.port, workers=1, access_log=False, motd=False, single_process=True)
    Sanic.serve_single(primary=app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
