"""WeChat subscribe-message field types and their limits.

A template's data key is a type plus a number (``thing1``, ``amount3``, ``time4``). WeChat answers
errcode 47003 for a value that breaks its type's rule, so values are checked when an admin saves a
template (``check_value``) and fitted when a message is rendered (``fit``). Lengths count code points.
"""

from __future__ import annotations

import re
import unicodedata

FIELD_TYPES: dict[str, str] = {
    "thing": "事物：20 个字以内，汉字、数字、字母或符号",
    "number": "数字：32 位以内数字，可带小数点和正负号",
    "letter": "字母：32 个以内英文字母",
    "symbol": "符号：5 个以内符号",
    "character_string": "字符串：32 位以内数字、字母或符号",
    "phone_number": "电话：17 位以内数字、+、-、空格或括号",
    "name": "姓名：10 个以内汉字，或 20 个以内字母",
    "phrase": "汉字：5 个以内纯汉字",
    "amount": "金额：可带币种符号（¥），整数部分 10 位以内，可带小数，结尾可带“元”",
    "time": "时间：如 10:00、2026-11-26 10:00、2026年11月26日 10:00，时间段用“~”连接",
    "date": "日期：如 2026年11月26日、2026-11-26、2026-11-26 10:00，日期段用“~”连接",
    "car_number": "车牌：8 位以内，首尾可为汉字，其余为字母或数字",
}

# Types whose value means nothing once cut (a shorter amount is another amount): fit() refuses them,
# and so are codes and plates, where a cut value names someone else's order or car.
_WHOLE = frozenset({"number", "amount", "date", "time", "phone_number", "character_string", "car_number"})
_LIMITS = {"thing": 20, "letter": 32, "symbol": 5, "character_string": 32, "phone_number": 17,
           "phrase": 5, "car_number": 8}
_ELLIPSIS = "…"

_KEY = re.compile(r"([a-z_]+?)([0-9]+)")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_AMOUNT = re.compile(r"[¥￥]?([0-9]+)(?:\.[0-9]+)?元?")
_LETTERS = re.compile(r"[A-Za-z]+")
_CHARACTER_STRING = re.compile(r"[!-~]+")  # ASCII digits, letters and symbols, no spaces
_PHONE = re.compile(r"[0-9+\-() ]*[0-9][0-9+\-() ]*")
_CAR = re.compile(r"(?:[\u3400-\u9fff])?[A-Za-z0-9]+(?:[\u3400-\u9fff])?")


def _moment_pattern() -> re.Pattern[str]:
    """A date and/or time, or two joined by "~"; each group is named ``<field>_<point>`` for range checks."""

    def date(p: str) -> str:
        return (f"[0-9]{{4}}(?:年(?P<month_{p}c>[0-9]{{1,2}})月(?P<day_{p}c>[0-9]{{1,2}})日"
                f"|(?P<sep_{p}>[-/.])(?P<month_{p}d>[0-9]{{1,2}})(?P=sep_{p})(?P<day_{p}d>[0-9]{{1,2}}))")

    def time(p: str) -> str:
        return f"(?P<hour_{p}>[0-9]{{1,2}}):(?P<minute_{p}>[0-9]{{2}})(?::(?P<second_{p}>[0-9]{{2}}))?"

    def point(p: str) -> str:
        return f"(?:{date(p)}(?: ?{time(p + 't')})?|{time(p)})"

    return re.compile(f"{point('a')}(?: ?~ ?{point('b')})?")


_MOMENT = _moment_pattern()
_RANGES = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}


def field_type(key: str) -> str:
    """The type of a template data key: ``thing1`` → ``thing``; ValueError for an unknown type."""
    match = _KEY.fullmatch(key)
    if match is None or match.group(1) not in FIELD_TYPES:
        raise ValueError(f"未知的订阅消息字段：{key}（应为字段类型加编号，如 thing1、amount2）")
    return match.group(1)


def check_value(key: str, value: str) -> str | None:
    """What is wrong with ``value`` for the field ``key`` (in Chinese), or None when WeChat takes it."""
    try:
        kind = field_type(key)
    except ValueError as exc:
        return str(exc)
    if not value:
        return f"{key}：不能为空"
    if _FORBIDDEN_CHAR.search(value):
        return f"{key}：不能包含换行或控制字符"
    if value != value.strip():
        return f"{key}：首尾不能有空格"
    problem = _rule(kind, value)
    return f"{key}：{problem}" if problem else None


def fit(key: str, value: str) -> str:
    """``value`` made sendable as ``key``: control characters become spaces, then cut to the limit.

    Types whose value cannot be cut (numbers, amounts, dates, times, phone numbers, codes, plates) come
    back unchanged when valid; anything that cannot be made valid raises ValueError (in Chinese).
    """
    kind = field_type(key)
    value = _clean(value)
    if kind not in _WHOLE:
        value = _truncate(kind, value)
    problem = check_value(key, value)
    if problem:
        raise ValueError(problem)
    return value


# -- rules -------------------------------------------------------------------------------------------

def _rule(kind: str, value: str) -> str | None:
    n = len(value)
    limit = _LIMITS.get(kind)
    if kind == "thing":
        return f"不能超过 20 个字（当前 {n} 个）" if n > 20 else None
    if kind == "number":
        if not _NUMBER.fullmatch(value):
            return "只能是数字，可带小数点和正负号"
        digits = sum(c.isdigit() for c in value)
        return f"不能超过 32 位数字（当前 {digits} 位）" if digits > 32 else None
    if kind == "letter":
        if not _LETTERS.fullmatch(value):
            return "只能是英文字母"
    elif kind == "symbol":
        if any(c.isalnum() or c.isspace() for c in value):
            return "只能是符号"
    elif kind == "character_string":
        if not _CHARACTER_STRING.fullmatch(value):
            return "只能是数字、字母或符号（不含空格和汉字）"
    elif kind == "phone_number":
        if not _PHONE.fullmatch(value):
            return "只能是数字、+、-、空格或括号"
    elif kind == "name":
        if any(c.isdigit() for c in value):
            return "不能包含数字"
        if any(_is_cjk(c) for c in value):
            return f"含汉字的姓名不能超过 10 个字（当前 {n} 个）" if n > 10 else None
        return f"不能超过 20 个字母（当前 {n} 个）" if n > 20 else None
    elif kind == "phrase":
        if not all(_is_cjk(c) for c in value):
            return "只能是汉字"
    elif kind == "amount":
        match = _AMOUNT.fullmatch(value)
        if match is None:
            return "金额格式不正确，应如 ¥12.50 或 12.50元"
        if len(match.group(1)) > 10:
            return "整数部分不能超过 10 位"
    elif kind in ("time", "date"):
        if not _valid_moment(value):
            return "格式不正确，应如 2026年11月26日、2026-11-26 10:00 或 10:00，时间段用“~”连接"
    elif kind == "car_number":
        if not _CAR.fullmatch(value):
            return "首尾可为汉字，其余只能是字母或数字"
    if limit is not None and n > limit:
        return f"不能超过 {limit} 个字符（当前 {n} 个）"
    return None


def _valid_moment(value: str) -> bool:
    match = _MOMENT.fullmatch(value)
    if match is None:
        return False
    for name, text in match.groupdict().items():
        bounds = _RANGES.get(name.split("_")[0])
        if text is not None and bounds is not None and not bounds[0] <= int(text) <= bounds[1]:
            return False
    return True


# -- cleaning and cutting ----------------------------------------------------------------------------

# Cc (C0/C1 controls, newline and tab included), Zl/Zp (line and paragraph separators), Cs (lone
# surrogates), and the bidi overrides that can make a message read differently from what it says.
_FORBIDDEN = "[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufeff]"
_FORBIDDEN_CHAR = re.compile(_FORBIDDEN)
_BREAK = re.compile(rf"\s*(?:{_FORBIDDEN}\s*)+")


def _clean(value: str) -> str:
    # Surrogate pairs (text decoded with surrogatepass) become one code point; lone halves are dropped.
    value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return _BREAK.sub(" ", value).strip()


def _truncate(kind: str, value: str) -> str:
    if kind == "thing":
        return value if len(value) <= 20 else _cut(value, 19).rstrip() + _ELLIPSIS
    if kind == "name":
        limit = 10 if any(_is_cjk(c) for c in value) else 20
        return value if len(value) <= limit else _cut(value, limit).rstrip()
    limit = _LIMITS[kind]
    return value if len(value) <= limit else _cut(value, limit)


def _cut(value: str, limit: int) -> str:
    """The longest prefix of at most ``limit`` code points that ends on a character boundary."""
    end = limit
    while end > 0 and not _boundary(value, end):
        end -= 1
    return value[:end]


def _boundary(value: str, i: int) -> bool:
    """Whether cutting before ``value[i]`` keeps every user-perceived character whole."""
    before, after = value[i - 1], value[i]
    if _extends(after) or before == "\u200d":  # a mark, selector or modifier; or after a zero-width joiner
        return False
    if _regional(before) and _regional(after):  # flags are pairs of regional indicators
        run = 0
        while i - 1 - run >= 0 and _regional(value[i - 1 - run]):
            run += 1
        return run % 2 == 0
    return True


def _extends(c: str) -> bool:
    o = ord(c)
    return (unicodedata.category(c) in ("Mn", "Mc", "Me") or o == 0x200D
            or 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF  # variation selectors
            or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F)  # skin tones, emoji tags


def _regional(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3134F)
