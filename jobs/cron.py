"""Crontab expressions as crontab means them.

APScheduler 3's ``CronTrigger.from_crontab`` reads the day-of-week field with 0 = Monday (its own
``day_of_week``), while crontab(5) counts 0 (or 7) = Sunday, 1 = Monday: ``0 10 * * 1,3`` would fire on
Tuesday and Thursday. Every schedule here goes through :func:`crontab_trigger`, which rewrites a numeric
day-of-week field into day names (which both read the same) before APScheduler sees it.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

# crontab numbering: index 0 = Sunday … 6 = Saturday (7 = Sunday again)
NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TOKEN = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")


def _days(token: str) -> set[int]:
    match = TOKEN.match(token)
    if not match:
        raise ValueError(f"星期字段无法识别：{token!r}")
    base, step = match.group(1), int(match.group(2) or 1)
    if step < 1:
        raise ValueError("星期字段的步长须大于 0")
    if base == "*":
        first, last = 0, 6
    elif "-" in base:
        first, last = (int(part) for part in base.split("-"))
    else:
        first = int(base)
        last = 7 if match.group(2) else first  # "a/step" runs from a to the end of the week
    if not (0 <= first <= 7 and 0 <= last <= 7) or first > last:
        raise ValueError(f"星期取值须在 0–7 之间且由小到大：{token!r}")
    return {day % 7 for day in range(first, last + 1, step)}


def normalize(expression: str) -> str:
    """The expression with a numeric day-of-week field spelled as names; anything else unchanged.
    A field that already uses names (``mon-fri``) means the same to both and is left as it is."""
    fields = expression.split()
    if len(fields) != 5 or re.search(r"[A-Za-z]", fields[4]) or fields[4] == "*":
        return expression
    days: set[int] = set()
    for token in fields[4].split(","):
        days |= _days(token)
    fields[4] = ",".join(name for name in ORDER if NAMES.index(name) in days)
    return " ".join(fields)


def crontab_trigger(expression: str, timezone: tzinfo | str | None = None) -> CronTrigger:
    return CronTrigger.from_crontab(normalize(expression), timezone=timezone)
