"""Tortoise writes its own TIMEZONE (UTC) into the process environment, where the merchant's time zone
setting of the same name lives; init_db gives the process its own back, so processes it starts agree."""

import json
import subprocess
import sys

import pytest

PROBE = """
import asyncio, json, os, sys
from backend import db
from tortoise import timezone


async def main():
    await db.init_db(sys.argv[1])
    print(json.dumps({"env": os.environ.get("TIMEZONE"), "tortoise": timezone.get_timezone()}))
    await db.close_db()

asyncio.run(main())
"""


@pytest.mark.parametrize("ours", ["Asia/Shanghai", None])
def test_init_db_leaves_the_merchant_time_zone_alone(tmp_path, ours):
    env = {"PATH": "/usr/bin:/bin", **({"TIMEZONE": ours} if ours else {})}
    out = subprocess.run([sys.executable, "-c", PROBE, f"sqlite://{tmp_path / 'tz.sqlite3'}"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"env": ours, "tortoise": "UTC"}  # and Tortoise keeps storing UTC
