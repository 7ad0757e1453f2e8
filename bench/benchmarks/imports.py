"""``import``: a generated member file imported end to end (parse, check, write members, identities, ledgers,
lots, consents) against a bare ``COPY`` of the very rows it wrote into copies of the same tables.

Not an HTTP benchmark: it runs itself (``standalone_benchmark``). See bench/README.md, "import".
"""

from __future__ import annotations

import argparse
import base64
import io
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from backend import audit
from bench import standalone_benchmark
from bench.project import REDIS_URL, Project
from bench.runner import BenchFailure, out

TARGET_ROWS = 1_000_000
TARGET_RATIO = 0.25  # of COPY's rows per second
TARGET_S = 600.0
SQLITE_ROWS = 100_000
# The tables an import writes, in the order the baseline copies them.
TABLES = ("member_imports", "member_import_rows", "members", "member_identities", "loyalty_accounts",
          "points_entries", "points_lots", "wallet_entries", "tier_changes", "consent_records", "member_consents",
          "member_events", "member_tags", "tags")
HEADER = ("手机号,姓名,性别,生日,邮箱,原会员号,等级,积分,积分到期日,储值本金,储值赠送,注册日期,注册门店,标签,"
          "短信营销授权,短信营销授权来源,短信营销授权时间,微信营销授权")
STORES = [f"S{n:03d}" for n in range(1, 21)]


def arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--rows", type=int, default=TARGET_ROWS,
                       help=f"generated file rows ({TARGET_ROWS}; the targets are for so many)")
    group.add_argument("--sqlite-rows", type=int, default=SQLITE_ROWS,
                       help=f"rows of the SQLite run ({SQLITE_ROWS}; 0 skips it)")


def generate(rows: int, *, seed: int = 7) -> bytes:
    """A realistic file: every column filled for most rows, 11-digit phones unique, GBK-free UTF-8 with a BOM."""
    rng = random.Random(seed)
    lines = ["\ufeff" + HEADER]
    phones = rng.sample(range(0, 10**8), rows)
    tiers = ["", "", "silver", "gold", "金卡", "diamond"]
    for i, tail in enumerate(phones):
        phone = f"13{rng.randint(5, 9)}{tail:08d}"
        points = rng.choice((0, rng.randint(1, 20000)))
        expiry = f"2027-{rng.randint(1, 12):02d}-28" if points and rng.random() < 0.5 else ""
        principal = rng.choice(("", "0", f"{rng.randint(1, 200000) / 100:.2f}"))
        bonus = rng.choice(("", f"{rng.randint(0, 5000) / 100:.2f}")) if principal else ""
        email = f"m{i}@example.com" if rng.random() < 0.3 else ""
        granted = rng.random() < 0.6
        lines.append(",".join((
            phone, f"会员{i}", rng.choice(("男", "女", "")), f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}", email, f"OLD{i:08d}", rng.choice(tiers), str(points), expiry, principal,
            bonus, f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", rng.choice(STORES),
            rng.choice(("", "", "老客", "老客、高价值")), "是" if granted else "否", "旧系统",
            "2024-01-01" if granted else "", rng.choice(("", "是", "否")))))
    return ("\n".join(lines) + "\n").encode()


@standalone_benchmark(
    "import", "a generated member file through the importer (dry run + run) on PostgreSQL vs a bare COPY of the "
    "rows it wrote into copies of the same tables; and the importer on SQLite", arguments=arguments)
async def run_import(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise BenchFailure("--rows must be at least 1")
    out(f"# bench import: {args.rows} generated rows (phone, profile, old card number, tier, points with expiry, "
        "stored value, store, tags, SMS and WeChat consents) on PostgreSQL, in this process")
    content = generate(args.rows)
    out(f"# file: {len(content) / 1e6:.1f} MB CSV, UTF-8 with BOM, Chinese headers")
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as scratch:
        async with Project.open(data_dir=Path(scratch) / "data") as project:
            met = await _postgres(project, content, args.rows)
        if args.sqlite_rows:
            await _sqlite(Path(scratch), generate(args.sqlite_rows, seed=11), args.sqlite_rows)
    if args.strict and met is False:
        print("error: the import missed its target", file=sys.stderr)
        return 1
    return 0


async def _stores() -> None:
    from backend.stores.models import Store

    await Store.bulk_create([Store(code=code, name=f"门店{code}") for code in STORES], ignore_conflicts=True)


async def _import(content: bytes, *, pii: Any, tz: ZoneInfo, kv: Any) -> tuple[float, float, Any]:
    from backend.imports import service

    actor = audit.Actor("system", "bench")
    started = time.perf_counter()
    imp = await service.create(filename="bench.csv", content=content, options=service.Options(), actor=actor,
                               pii=pii, tz=tz)
    checked = time.perf_counter()
    await service.start(import_id=imp.id, actor=actor)
    result = await service.run(import_id=imp.id, pii=pii, tz=tz, kv=kv, lease_s=600)
    finished = time.perf_counter()
    if result["outcome"] != "done":
        raise BenchFailure(f"import: the run ended {result}")
    return checked - started, finished - checked, await service.get(imp.id)


async def _postgres(project: Project, content: bytes, rows: int) -> bool | None:
    from backend.kv import create_kv
    from backend.security.pii import PiiCipher

    await _stores()
    pii = PiiCipher(project.settings.pii_key)
    kv = create_kv(REDIS_URL, project.env["REDIS_PREFIX"])
    conn = await asyncpg.connect(project.dsn, timeout=10)
    try:
        await conn.execute("CHECKPOINT")
        check_s, run_s, imp = await _import(content, pii=pii, tz=project.settings.tz, kv=kv)
        seconds = check_s + run_s
        counts = imp.counts.get("rows", {})
        if imp.status != "completed" or counts.get("created") != rows:
            raise BenchFailure(f"import: {imp.status}, rows {counts} (expected {rows} created)")
        await _check_ledgers(conn)
        written = {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}
        copy_s = await _copy_baseline(conn)
    finally:
        await kv.close()
        await conn.close()
    total = sum(written.values())
    out("# written: " + ", ".join(f"{table} {n}" for table, n in written.items() if n))
    out(f"import:postgres        elapsed={seconds:8.2f}s  rows/s={rows / seconds:9.0f}  "
        f"(dry run {check_s:.1f}s, run {run_s:.1f}s)  table rows={total}")
    out(f"baseline:copy          elapsed={copy_s:8.2f}s  rows/s={rows / copy_s:9.0f}  "
        f"(binary COPY of the same {total} table rows into copies of the tables, indexes included)")
    ratio = copy_s / seconds
    out(f"ratio import/copy = {ratio:.2f} (rows per second over rows per second)")
    if rows != TARGET_ROWS:
        out(f"target import >= {TARGET_RATIO} of COPY and <= {TARGET_S:g}s: set for {TARGET_ROWS} rows, not "
            f"checked at {rows}")
        return None
    met = ratio >= TARGET_RATIO and seconds <= TARGET_S
    out(f"target import >= {TARGET_RATIO} of COPY and <= {TARGET_S:g}s: {'met' if met else 'NOT MET'} "
        f"({ratio:.2f}, {seconds:.0f}s)")
    return met


async def _check_ledgers(conn: asyncpg.Connection) -> None:
    """Balances equal their ledgers and lots after the import (the invariant every writer keeps)."""
    bad = await conn.fetchval(
        "SELECT count(*) FROM loyalty_accounts a LEFT JOIN (SELECT member_id, sum(points) p FROM points_entries "
        "GROUP BY member_id) e USING (member_id) LEFT JOIN (SELECT member_id, sum(remaining) r FROM points_lots "
        "GROUP BY member_id) l USING (member_id) LEFT JOIN (SELECT member_id, sum(principal_cents) c, "
        "sum(bonus_cents) b FROM wallet_entries GROUP BY member_id) w USING (member_id) "
        "WHERE a.points_balance <> COALESCE(e.p, 0) OR a.points_balance <> COALESCE(l.r, 0) "
        "OR a.principal_cents <> COALESCE(w.c, 0) OR a.bonus_cents <> COALESCE(w.b, 0)")
    if bad:
        raise BenchFailure(f"import: {bad} accounts disagree with their ledgers")


async def _copy_baseline(conn: asyncpg.Connection) -> float:
    """The rows the import wrote, read out first (not timed), then COPYed into fresh copies of their tables."""
    dumps: dict[str, bytes] = {}
    for table in TABLES:
        buffer = io.BytesIO()
        await conn.copy_from_table(table, output=buffer, format="binary")
        dumps[table] = buffer.getvalue()
        await conn.execute(f'CREATE TABLE "copy_{table}" (LIKE "{table}" INCLUDING ALL)')
    await conn.execute("CHECKPOINT")
    started = time.perf_counter()
    async with conn.transaction():
        for table in TABLES:
            await conn.copy_to_table(f"copy_{table}", source=io.BytesIO(dumps[table]), format="binary")
    return time.perf_counter() - started


async def _sqlite(scratch: Path, content: bytes, rows: int) -> None:
    from backend import db
    from backend.kv import MemoryKV
    from backend.security.pii import PiiCipher

    path = scratch / "import.sqlite3"
    await db.close_db()
    await db.init_db(f"sqlite://{path}", generate_sqlite_schema=True)
    try:
        await _stores()
        pii = PiiCipher(base64.b64decode(base64.b64encode(secrets.token_bytes(32))))
        check_s, run_s, imp = await _import(content, pii=pii, tz=ZoneInfo("Asia/Shanghai"), kv=MemoryKV())
        if imp.status != "completed" or imp.counts.get("rows", {}).get("created") != rows:
            raise BenchFailure(f"import (SQLite): {imp.status}, rows {imp.counts}")
    finally:
        await db.close_db()
    seconds = check_s + run_s
    out(f"import:sqlite          elapsed={seconds:8.2f}s  rows/s={rows / seconds:9.0f}  "
        f"(dry run {check_s:.1f}s, run {run_s:.1f}s; {rows} rows, one file, no baseline)")
