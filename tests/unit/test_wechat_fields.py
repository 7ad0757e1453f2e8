"""WeChat subscribe-message field rules: what WeChat takes per type, and fitting rendered values."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.wechat_fields import FIELD_TYPES, check_value, field_type, fit

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@pytest.mark.parametrize(("key", "kind"), [
    ("thing1", "thing"), ("amount3", "amount"), ("time4", "time"), ("character_string12", "character_string"),
    ("phone_number2", "phone_number"), ("car_number9", "car_number"),
])
def test_the_type_is_the_key_without_its_number(key, kind):
    assert field_type(key) == kind


@pytest.mark.parametrize("key", ["thing", "foo1", "Thing1", "", "1", "thing1x"])
def test_an_unknown_or_unnumbered_key_is_refused(key):
    with pytest.raises(ValueError, match="未知的订阅消息字段"):
        field_type(key)
    assert "未知的订阅消息字段" in check_value(key, "x")


def test_every_type_has_a_rule_in_chinese():
    assert set(FIELD_TYPES) == {"thing", "number", "letter", "symbol", "character_string", "phone_number",
                                "name", "phrase", "amount", "time", "date", "car_number"}
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in FIELD_TYPES.values())


VALID = [
    ("thing1", "会员积分即将到期"), ("thing1", "x" * 20), ("thing1", "春季上新 8 折券 🎉"),
    ("number2", "0"), ("number2", "-12.5"), ("number2", "+3"), ("number2", "9" * 32), ("number2", "1" * 16 + "." + "1" * 16),
    ("letter3", "abcXYZ"), ("letter3", "a" * 32),
    ("symbol4", "%"), ("symbol4", "-+*/!"),
    ("character_string5", "NO.2026-11-26#001"), ("character_string5", "A" * 32),
    ("phone_number6", "+86-0766-66888866"), ("phone_number6", "(010) 6666 8888"), ("phone_number6", "1" * 17),
    ("name7", "张三"), ("name7", "欧阳" * 5), ("name7", "Alice Smith"), ("name7", "a" * 20), ("name7", "阿卜杜拉·买买提"),
    ("phrase8", "配送中"), ("phrase8", "已经送达了"),
    ("amount9", "¥12.50"), ("amount9", "￥12"), ("amount9", "12.50元"), ("amount9", "¥1234567890.99元"), ("amount9", "100"),
    ("time10", "10:00"), ("time10", "2026-11-26 10:00"), ("time10", "2026年11月26日 10:00"),
    ("time10", "10:00~12:00"), ("time10", "10:00 ~ 12:00:30"),
    ("date11", "2026年11月26日"), ("date11", "2026-11-26"), ("date11", "2026/11/26"), ("date11", "2026-11-26 10:00"),
    ("date11", "2026年11月26日~2026年12月1日"), ("date11", "2026-11-26 ~ 2026-12-01"),
    ("car_number12", "粤A8Z888挂"), ("car_number12", "粤AD12345"), ("car_number12", "AB1234"),
]


@pytest.mark.parametrize(("key", "value"), VALID)
def test_a_value_within_its_types_rule_is_accepted(key, value):
    assert check_value(key, value) is None


INVALID = [
    ("thing1", "x" * 21, "不能超过 20 个字"), ("thing1", "", "不能为空"), ("thing1", "第一行\n第二行", "换行或控制字符"),
    ("thing1", "tab\there", "换行或控制字符"), ("thing1", "a\u2028b", "换行或控制字符"), ("thing1", " 前有空格", "首尾"),
    ("number2", "12a", "只能是数字"), ("number2", "1,000", "只能是数字"), ("number2", "9" * 33, "32 位"),
    ("number2", "1.", "只能是数字"), ("number2", "１２", "只能是数字"),
    ("letter3", "abc1", "英文字母"), ("letter3", "a" * 33, "32"), ("letter3", "中文", "英文字母"),
    ("symbol4", "%%%%%%", "5"), ("symbol4", "a%", "只能是符号"),
    ("character_string5", "A" * 33, "32"), ("character_string5", "NO 1", "不含空格"), ("character_string5", "单号1", "不含空格"),
    ("phone_number6", "1" * 18, "17"), ("phone_number6", "tel:123", "只能是数字"), ("phone_number6", "--", "只能是数字"),
    ("name7", "欧阳" * 5 + "张", "10 个字"), ("name7", "a" * 21, "20 个字母"), ("name7", "Alice2", "数字"),
    ("phrase8", "配送中abc", "只能是汉字"), ("phrase8", "已经送达了啊", "5"),
    ("amount9", "$12", "金额格式"), ("amount9", "¥12345678901", "10 位"), ("amount9", "12元5", "金额格式"),
    ("amount9", "-¥12", "金额格式"),
    ("time10", "25:00", "格式不正确"), ("time10", "10点", "格式不正确"), ("time10", "10:00~", "格式不正确"),
    ("date11", "2026-13-01", "格式不正确"), ("date11", "2026年11月32日", "格式不正确"), ("date11", "26-11-2026", "格式不正确"),
    ("date11", "2026-11/26", "格式不正确"),
    ("car_number12", "粤A8Z8888挂", "8"), ("car_number12", "粤A-8Z88", "字母或数字"),
]


@pytest.mark.parametrize(("key", "value", "problem"), INVALID)
def test_a_value_outside_its_types_rule_is_described_in_chinese(key, value, problem):
    message = check_value(key, value)
    assert message is not None and message.startswith(key + "：") and problem in message


# -- fit ---------------------------------------------------------------------------------------------

def test_a_long_thing_is_cut_to_nineteen_characters_and_an_ellipsis():
    fitted = fit("thing1", "会员积分即将到期，请尽快使用以免过期失效，谢谢您的支持")
    assert fitted == "会员积分即将到期，请尽快使用以免过期失…" and len(fitted) == 20


def test_a_thing_of_twenty_characters_is_left_whole():
    assert fit("thing1", "x" * 20) == "x" * 20


def test_newlines_and_controls_become_one_space():
    assert fit("thing1", "  第一行\r\n\t第二行\x00\u2028 末尾\n") == "第一行 第二行 末尾"


def test_a_combining_mark_is_never_separated_from_its_base():
    value = "a" * 18 + "e\u0301\u0301" + "zz"
    assert fit("thing1", value) == "a" * 18 + "…"


def test_an_emoji_sequence_or_flag_is_never_split():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert fit("thing1", "a" * 17 + family + "b") == "a" * 17 + "…"
    assert fit("thing1", "a" * 18 + "\U0001f1e8\U0001f1f3" * 2) == "a" * 18 + "…"
    assert fit("thing1", "a" * 17 + "\U0001f1e8\U0001f1f3" * 2) == "a" * 17 + "\U0001f1e8\U0001f1f3" + "…"
    assert fit("thing1", "a" * 18 + "\U0001f44d\U0001f3fd" + "xx") == "a" * 18 + "…"


def test_a_surrogate_pair_becomes_one_character_and_a_lone_half_is_dropped():
    assert fit("thing1", "赞\ud83d\ude00") == "赞\U0001f600"
    assert fit("thing1", "赞\ud83d好") == "赞好"


@pytest.mark.parametrize(("key", "value", "fitted"), [
    ("letter3", "a" * 40, "a" * 32), ("symbol4", "!@#$%^&", "!@#$%"), ("phrase8", "正在配送途中", "正在配送途"),
    ("name7", "欧阳" * 6, "欧阳" * 5), ("name7", "Alexandria Ocasio Cortez", "Alexandria Ocasio Co"),
])
def test_other_cuttable_types_are_cut_to_their_limit(key, value, fitted):
    assert fit(key, value) == fitted


@pytest.mark.parametrize(("key", "value"), [
    ("number2", "12.50"), ("amount9", "¥12.50"), ("date11", "2026年11月26日"), ("time10", "10:00"),
    ("phone_number6", "+86-0766-66888866"), ("character_string5", "NO20261126001"), ("car_number12", "粤A8Z888挂"),
])
def test_values_that_cannot_be_cut_come_back_unchanged_when_valid(key, value):
    assert fit(key, value) == value


@pytest.mark.parametrize(("key", "value"), [
    ("number2", "9" * 33), ("amount9", "¥12345678901"), ("date11", "下周一"), ("time10", "十点"),
    ("phone_number6", "1" * 18), ("character_string5", "A" * 33), ("car_number12", "粤A8Z888挂XY"),
    ("letter3", "abc1"), ("phrase8", "abc"), ("thing1", "\n\t "), ("thing1", ""), ("name7", "Alice2"),
])
def test_values_that_cannot_be_made_valid_raise_in_chinese(key, value):
    with pytest.raises(ValueError) as caught:
        fit(key, value)
    assert str(caught.value).startswith(key + "：")


def test_fit_refuses_an_unknown_key():
    with pytest.raises(ValueError):
        fit("foo1", "x")


@given(st.text())
def test_a_fitted_thing_is_always_valid_and_free_of_controls(text):
    try:
        fitted = fit("thing1", text)
    except ValueError as exc:  # only a value with nothing printable left
        assert "不能为空" in str(exc)
        return
    assert check_value("thing1", fitted) is None
    assert not CONTROL.search(fitted)
    assert len(fitted) <= 20


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_a_fitted_thing_is_the_cleaned_text_or_a_prefix_of_it_and_an_ellipsis(text):
    cleaned = re.sub(r"\s*(?:[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]\s*)+", " ",
                     text).strip()
    if not cleaned:
        return
    fitted = fit("thing1", text)
    if len(cleaned) <= 20:
        assert fitted == cleaned
    else:
        assert fitted.endswith("…") and cleaned.startswith(fitted[:-1])
