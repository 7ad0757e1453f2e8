"""Segment rules: validation names the path of each problem; compiling numbers placeholders from `start`."""

import re
from datetime import UTC, datetime

import pytest

from jobs.errors import SegmentRuleInvalid
from jobs.segment_rules import Rule, compile_rule, count_sql, member_ids_sql, parse_rule

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def problems(rule) -> dict[str, str]:
    with pytest.raises(SegmentRuleInvalid) as caught:
        parse_rule(rule)
    assert caught.value.status == 400
    return caught.value.details["fields"]


@pytest.mark.parametrize(("rule", "path", "words"), [
    ([], "rule", "应为对象"),
    ({"all": {"field": "gender"}}, "rule.all", "应为列表"),
    ({"any": []}, "rule.any", "至少需要一个条件"),
    ({"all": [], "any": []}, "rule", "节点只能是"),
    ({"field": "shoe_size", "op": "eq", "value": 1}, "rule.field", "不支持的字段"),
    ({"field": "custom.Bad-Key", "op": "eq", "value": 1}, "rule.field", "custom.<键>"),
    ({"field": "gender", "op": "gte", "value": "male"}, "rule.op", "eq / in"),
    ({"field": "gender", "op": "eq", "value": "other"}, "rule.value", "male"),
    ({"field": "gender", "op": "in", "value": []}, "rule.value", "非空列表"),
    ({"field": "birthday_month", "op": "eq", "value": 13}, "rule.value", "1 到 12"),
    ({"field": "birthday_month", "op": "in", "value": [1, True]}, "rule.value", "整数"),
    ({"field": "registered_at", "op": "before", "value": "2026-02-30"}, "rule.value", "YYYY-MM-DD"),
    ({"field": "registered_days_ago", "op": "between", "value": [30, 7]}, "rule.value", "最小值不能大于最大值"),
    ({"field": "has_email", "op": "eq", "value": "yes"}, "rule.value", "true 或 false"),
    ({"field": "tier", "op": "eq", "value": "Gold Card"}, "rule.value", "等级代码"),
    ({"field": "tag", "op": "has_any", "value": [""]}, "rule.value", "标签代码或标签 id"),
    ({"field": "consent", "op": "granted", "value": "fax_marketing"}, "rule.value", "sms_marketing"),
    ({"field": "points_balance", "op": "between", "value": [1]}, "rule.value", "[最小值, 最大值]"),
    ({"field": "orders.count", "op": "gte", "value": 1, "within_days": 0}, "rule.within_days", "1 到"),
    ({"field": "gender", "op": "eq", "value": "male", "within_days": 30}, "rule.within_days", "不支持 within_days"),
    ({"field": "orders.channel", "op": "any_in", "value": ["fax"]}, "rule.value", "pos"),
    ({"field": "custom.size", "op": "contains", "value": 3}, "rule.value", "文本"),
    ({"field": "custom.size", "op": "gte", "value": "big"}, "rule.value", "YYYY-MM-DD"),
    ({"field": "gender", "op": "eq", "value": "male", "label": "x"}, "rule.label", "不支持的键"),
])
def test_an_invalid_rule_names_the_path_of_the_problem(rule, path, words):
    found = problems(rule)
    assert path in found, found
    assert words in found[path]


def test_every_problem_in_a_tree_is_reported_under_its_own_path():
    found = problems({"all": [
        {"field": "gender", "op": "eq", "value": "male"},
        {"any": [{"field": "tier", "op": "eq", "value": "gold"}, {"field": "nope", "op": "eq", "value": 1}]},
        {"not": {"field": "orders.last_order", "op": "within_days", "value": -3}},
    ]})
    assert set(found) == {"rule.all[1].any[1].field", "rule.all[2].not.value"}


def test_a_tree_deeper_than_six_levels_is_refused():
    rule = {"field": "gender", "op": "eq", "value": "male"}
    for _ in range(6):
        rule = {"not": rule}
    assert "嵌套过深" in next(iter(problems(rule).values()))


def test_more_than_a_hundred_conditions_are_refused():
    rule = {"any": [{"field": "birthday_month", "op": "eq", "value": 1}] * 101}
    assert "条件过多" in problems(rule)["rule"]


def test_a_valid_rule_round_trips_through_its_json_form():
    data = {"all": [
        {"field": "gender", "op": "in", "value": ["female", "female", "unknown"]},
        {"not": {"field": "tag", "op": "has_any", "value": ["vip", 3]}},
        {"any": [{"field": "orders.count", "op": "gte", "value": 2, "within_days": 90},
                 {"field": "custom.size", "op": "in", "value": ["L", 42]}]},
    ]}
    rule = parse_rule(data)
    dumped = rule.dump()
    assert dumped["all"][0]["value"] == ["female", "unknown"]  # duplicates dropped
    assert dumped["all"][1] == {"not": {"field": "tag", "op": "has_any", "value": ["vip", 3]}}
    assert Rule.model_validate(dumped).dump() == dumped == parse_rule(dumped).dump()


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_placeholders_are_numbered_from_start_and_match_the_parameters(dialect):
    rule = parse_rule({"any": [{"field": "orders.channel", "op": "any_in", "value": ["pos", "online"],
                                "within_days": 30},
                               {"field": "consent", "op": "granted", "value": "sms_marketing"}]})
    sql, params = member_ids_sql(rule, dialect=dialect, now=NOW, start=4)
    numbers = sorted({int(n) for n in re.findall(r"\$(\d+)", sql)})
    assert numbers == list(range(4, 4 + len(params)))
    assert sql.startswith("SELECT m.id FROM members m WHERE m.status = 'active' AND (")


def test_cut_offs_come_from_now_as_parameters_and_are_utc_text_for_sqlite():
    rule = {"field": "orders.last_order", "op": "within_days", "value": 30}
    sql, params = compile_rule(rule, dialect="sqlite", now=NOW)
    assert "now()" not in sql.lower() and params == ["2026-01-31 02:00:00+00:00"]
    _, pg_params = compile_rule(rule, dialect="postgres", now=NOW)
    assert pg_params == [datetime(2026, 1, 31, 2, 0, tzinfo=UTC)]


def test_registered_at_dates_are_merchant_days():
    # "before 2026-03-01" in Asia/Shanghai is before 2026-02-28 16:00 UTC.
    _, params = compile_rule({"field": "registered_at", "op": "before", "value": "2026-03-01"}, dialect="postgres",
                             now=NOW, tz="Asia/Shanghai")
    assert params == [datetime(2026, 2, 28, 16, 0, tzinfo=UTC)]
    _, params = compile_rule({"field": "registered_at", "op": "after", "value": "2026-03-01"}, dialect="postgres",
                             now=NOW, tz="Asia/Shanghai")
    assert params == [datetime(2026, 3, 1, 16, 0, tzinfo=UTC)]


def test_birthday_month_uses_each_dialects_date_function():
    rule = {"field": "birthday_month", "op": "in", "value": [2, 3]}
    assert "strftime('%m', m.birthday)" in compile_rule(rule, dialect="sqlite", now=NOW)[0]
    assert "EXTRACT(MONTH FROM m.birthday)" in compile_rule(rule, dialect="postgres", now=NOW)[0]


# --- the members' order figures ----------------------------------------------------------------

LIFETIME = [{"field": "orders.count", "op": "gte", "value": 3},
            {"field": "orders.amount_cents", "op": "gte", "value": 50_000},
            {"field": "orders.last_order", "op": "within_days", "value": 60}]


def test_conditions_about_all_orders_read_the_figures_in_one_probe_and_windows_scan_the_orders():
    rule = {"all": [*LIFETIME, {"field": "gender", "op": "eq", "value": "male"},
                    {"field": "orders.count", "op": "gte", "value": 2, "within_days": 30}]}
    where, params = compile_rule(rule, dialect="postgres", now=NOW)
    assert where.count("FROM member_order_stats s") == 1  # the three grouped into one EXISTS
    assert where.count("FROM orders o") == 1  # the windowed count only
    assert len(params) == 6
    exact, _ = compile_rule(rule, dialect="postgres", now=NOW, exact=True)
    assert "member_order_stats" not in exact and exact.count("FROM orders o") == 4


@pytest.mark.parametrize(("condition", "form"), [
    ({"field": "orders.count", "op": "gte", "value": 1}, "EXISTS"),
    ({"field": "orders.count", "op": "eq", "value": 0}, "NOT EXISTS"),  # true for a member without orders
    ({"field": "orders.amount_cents", "op": "lte", "value": 100}, "NOT EXISTS"),
    ({"field": "orders.last_order", "op": "within_days", "value": 30}, "EXISTS"),
    ({"field": "orders.last_order", "op": "not_within_days", "value": 30}, "NOT EXISTS"),
    ({"not": {"field": "orders.count", "op": "gte", "value": 1}}, "NOT EXISTS"),
])
def test_a_member_without_a_row_is_a_member_without_orders(condition, form):
    where, _ = compile_rule(condition, dialect="sqlite", now=NOW)
    assert where.lstrip("(").startswith(form), where


def test_a_ranged_statement_keeps_each_subquery_to_its_range():
    rule = {"all": [LIFETIME[0], {"field": "orders.channel", "op": "any_in", "value": ["pos"]}]}
    where, params = compile_rule(rule, dialect="postgres", now=NOW, start=7, id_range=("$5", "$6"))
    assert "s.member_id > $5 AND s.member_id <= $6" in where
    assert "o.member_id > $5 AND o.member_id <= $6" in where
    assert re.findall(r"\$(\d+)", where).count("7") == 1 and len(params) == 2


def test_a_rule_the_figures_answer_whole_is_counted_over_them():
    sql, params = count_sql({"all": LIFETIME}, dialect="postgres", now=NOW)
    assert sql.startswith("SELECT COUNT(*) AS n FROM member_order_stats s WHERE") and "status <> 'active'" in sql
    assert len(params) == 3
    for other in ({"field": "orders.last_order", "op": "not_within_days", "value": 90},
                  {"all": [LIFETIME[0], {"field": "gender", "op": "eq", "value": "male"}]}):
        sql, params = count_sql(other, dialect="postgres", now=NOW)
        assert sql.startswith("SELECT COUNT(*) AS n FROM members m WHERE m.status = 'active'"), other
        assert max(int(n) for n in re.findall(r"\$(\d+)", sql)) == len(params)
