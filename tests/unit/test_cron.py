"""Crontab's day-of-week numbering (0/7 = Sunday, 1 = Monday), not APScheduler 3's (0 = Monday)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.cron import crontab_trigger, normalize

TZ = ZoneInfo("Asia/Shanghai")
# 2026-12-06 is a Sunday
SUNDAY = datetime(2026, 12, 6, 12, 0, tzinfo=TZ)


def fire_days(expression: str, count: int = 7) -> list[str]:
    trigger, when, out = crontab_trigger(expression, timezone=TZ), SUNDAY, []
    for _ in range(count):
        when = trigger.get_next_fire_time(None, when)
        out.append(when.strftime("%a"))
        when = when.replace(hour=23, minute=59)
    return out


@pytest.mark.parametrize(("expression", "days"), [
    ("0 10 * * 1,3", ["Mon", "Wed"]),
    ("0 10 * * 0", ["Sun"]),
    ("0 10 * * 7", ["Sun"]),
    ("0 10 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
    ("0 10 * * 0-6", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
    ("0 10 * * */2", ["Sun", "Tue", "Thu", "Sat"]),
    ("0 10 * * 5-7", ["Fri", "Sat", "Sun"]),
    ("0 10 * * mon,wed", ["Mon", "Wed"]),
])
def test_weekdays_fire_on_the_days_crontab_means(expression, days):
    assert sorted(set(fire_days(expression, 8))) == sorted(days)


def test_other_fields_and_named_days_are_left_as_written():
    assert normalize("*/5 * * * *") == "*/5 * * * *"
    assert normalize("0 9 1 * mon-fri") == "0 9 1 * mon-fri"
    assert normalize("0 10 * * 1,3") == "0 10 * * mon,wed"


@pytest.mark.parametrize("expression", ["0 10 * * 8", "0 10 * * 5-2", "0 10 * * 1/0", "0 10 * * x1"])
def test_impossible_weekdays_are_refused(expression):
    with pytest.raises(ValueError):
        crontab_trigger(expression)


@given(st.sets(st.integers(0, 6), min_size=1))
def test_any_list_of_numbered_days_fires_on_exactly_those_days(days):
    names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    expression = "0 10 * * " + ",".join(str(d) for d in sorted(days))
    assert set(fire_days(expression, 8)) == {names[d] for d in days}
