"""The template sandbox's budget: ordinary templates render as Jinja renders them, hostile ones stop at a
named bound (output, value size, number size, range, loop iterations, nesting, time), quickly, and a
slow render never holds up the event loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from notifications import budget, rendering, templates
from notifications.budget import Limits, TooCostly
from notifications.errors import TemplateInvalid
from notifications.sandbox import BudgetedEnvironment

TEXT = BudgetedEnvironment(undefined=StrictUndefined, autoescape=False)
HTML = BudgetedEnvironment(undefined=StrictUndefined, autoescape=True)
MEMBER = {"name": "张三", "nickname": "张三", "member_no": "M00000001", "tier_name": "金卡", "points": 1280,
          "balance_yuan": "56.00", "birthday": "1990-05-20", "tags": ["vip", "new"]}


def render(source: str, *, html: bool = False, cap: int = 8192, limits: Limits | None = None, **variables) -> str:
    env = HTML if html else TEXT
    return budget.run(limits or Limits(), lambda: budget.render(env.from_string(source), variables, cap))


def bound_of(source: str, **options) -> str:
    with pytest.raises(TooCostly) as caught:
        render(source, member=MEMBER, **options)
    return caught.value.bound


# -- ordinary templates ---------------------------------------------------------------------------------

ORDINARY = [
    "{{ member.name }}，您好：您有 {{ member.points }} 积分",
    "{% for tag in member.tags %}{{ loop.index }}.{{ tag|upper }}{% if not loop.last %}, {% endif %}{% endfor %}",
    "{% set ns = namespace(total=0) %}{% for i in range(5) %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
    "{% macro line(label, value) %}{{ label }}：{{ value }}{% endmacro %}{{ line('等级', member.tier_name) }}",
    "{{ member.tags|join('、') }} {{ member.tags|length }} {{ [3, 1, 2]|sort|list }} {{ [1, 2, 3]|sum }}",
    "{{ '%s 积分'|format(member.points) }} {{ '%05d' % 42 }} {{ 3.14159|round(2) }} {{ member.name ~ '会员' }}",
    "{{ member.missing|default('无') }} {{ member.get('nickname') }} {{ member.name.replace('三', '四') }}",
    "{{ {'a': 1, 'b': 2}|dictsort }} {{ (1, 2) }} {{ member.points * 2 // 3 - 1 }} {{ 2 ** 10 }}",
    "{% set body %}积分 {{ member.points }}{% endset %}{{ body|trim }} {{ 'abc'|center(7) }}|{{ 'x y'|title }}",
    "{{ [{'n': 1}, {'n': 2}]|map(attribute='n')|join(',') }} {{ [1, 2, 3]|select('odd')|list }}",
    "{{ '  会员  '.strip() }} {{ 'a,b,c'.split(',')|batch(2)|list }} {{ member.birthday[:4] }}",
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_exactly_as_jinja_renders_them(source):
    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    expected = plain.from_string(source).render(member=MEMBER)
    assert render(source, member=MEMBER) == expected


def test_html_is_escaped_as_jinja_escapes_it():
    source = "<p>{{ member.name }} &amp; {{ '<b>' }}</p>{{ ['<i>', 'x']|join('&') }}{% set t %}<br>{% endset %}{{ t }}"
    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    assert render(source, html=True, member={"name": "<张三>"}) == plain.from_string(source).render(
        member={"name": "<张三>"})


def test_the_built_in_templates_render_as_before():
    plain = {html: ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=html) for html in (False, True)}
    for env in plain.values():
        env.filters.update(local=rendering._local, yuan=rendering._yuan)
    for key, doc in templates.BUILTIN.items():
        variables = {"member": {**MEMBER, "name": "<张&三>"}, "event": rendering.SAMPLE_EVENTS[key],
                     "merchant": "会员中心", "today": "2026-03-02"}
        content = doc.content.model_dump(mode="json", exclude_none=True)
        for where, source, html in rendering._strings(content):
            compiled = rendering._ENVS[(html, True)].from_string(source)
            got = budget.run(Limits(), budget.render, compiled, variables, 8192)
            assert got == plain[html].from_string(source).render(variables), (key, where)


# -- hostile templates -----------------------------------------------------------------------------------

S = "{% set s = 'x' * 4000 %}"
HOSTILE = [
    ("{{ 'x' * 10000000 }}", "value_chars"),
    ("{{ 10000000 * 'x' }}", "value_chars"),
    ("{% for i in range(8000) %}{% for j in range(8000) %}{% endfor %}{% endfor %}", "loop_iterations"),
    ("{% for i in member.name * 2000 %}{% for j in member.name * 2000 %}{% endfor %}{% endfor %}", "loop_iterations"),
    ("{% for i in range(10 ** 6) %}{% endfor %}", "range_items"),
    ("{{ range(1000000) | length }}", "range_items"),
    ("{{ 9 ** 9 ** 9 }}", "number_bits"),
    ("{{ (2 ** 100) * (2 ** 100) }}", "number_bits"),
    ("{% set ns = namespace(n=3) %}{% for i in range(200) %}{% set ns.n = ns.n - (0 - ns.n) %}{% endfor %}",
     "number_bits"),
    ("{{ 'x' | center(1000000000) }}", "value_chars"),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "value_chars"),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "value_chars"),
    (S + "{{ s.replace('x', s) }}", "value_chars"),
    (S + "{{ s | replace('', s) }}", "value_chars"),
    ("{{ '%100000000s' % 'x' }}", "value_chars"),
    ("{{ '%100000000s' | format('x') }}", "value_chars"),
    ("{{ '%(a)s' * 3000 % {'a': 'yyyy'} }}", "value_chars"),
    (S + "{{ [s] * 3 }}", "value_chars"),
    (S + "{{ [s, s, s] }}", "value_chars"),
    (S + "{{ (s, s, s) | join }}", "value_chars"),
    (S + "{{ {'a': s, 'b': s, 'c': s} }}", "value_chars"),
    ("{% set a = [1, 2] %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b, b, b, b, b] %}"
     "{% set d = [c, c, c, c, c, c, c, c, c, c] %}{% set e = [d, d, d, d, d, d, d, d, d, d] %}{{ e == e }}",
     "value_chars"),
    ("{{ ('\\n' * 4000) | indent(4000) }}", "value_chars"),
    ("{{ [1] | batch(1000000000, 'x') | list }}", "value_chars"),
    ("{{ [[1] * 4000] * 2 | sum(start=[]) }}", "value_chars"),
    (S + "{{ s.strip(s) }}", "value_chars"),
    ("{{ [[[1, 2], [3, 4]], [5]] | tojson(indent=8000) }}", "value_chars"),
    ("{% for i in range(5000) %}abcdefghij{% endfor %}", "output_chars"),
    ("{% macro m() %}{% for i in range(9000) %}0123456789{% endfor %}{% endmacro %}{{ m() | length }}",
     "output_chars"),
    ("{% set t %}{% for i in range(9000) %}0123456789{% endfor %}{% endset %}{{ t | length }}", "output_chars"),
]


@pytest.mark.parametrize(("source", "bound"), HOSTILE)
def test_a_hostile_template_stops_at_the_bound_it_breaks_and_quickly(source, bound):
    started = time.monotonic()
    assert bound_of(source) == bound
    assert time.monotonic() - started < 0.6


def test_runaway_recursion_stops_on_nesting_or_time():
    source = "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}"
    assert bound_of(source) in ("nesting", "time_s")


def test_a_slow_template_stops_itself_at_the_deadline():
    slow = "{% for i in range(10000) %}{% if ('x' * 4000) | unique | list | length > 99999 %}{% endif %}{% endfor %}"
    started = time.monotonic()
    assert bound_of(slow, limits=Limits(timeout_s=0.2)) == "time_s"
    assert 0.2 <= time.monotonic() - started < 0.4


def test_the_email_cap_is_larger_than_the_short_one():
    source = "{{ 'x' * 20000 }}"
    assert bound_of(source, cap=8192) == "value_chars"
    with pytest.raises(TooCostly):
        render(source, cap=8192)
    limits = Limits(short_chars=8192, email_chars=262_144)
    env = TEXT
    assert len(budget.run(limits, lambda: budget.render(env.from_string(source), {}, 262_144))) == 20000


def test_width_methods_str_format_lipsum_and_recursive_loops_are_not_available():
    with pytest.raises(SecurityError):
        render("{{ 'x'.ljust(100000000) }}")
    with pytest.raises(SecurityError):
        render("{{ '{:>100000000}'.format(1) }}")
    with pytest.raises(UndefinedError):
        render("{{ lipsum(n=100000) }}")
    with pytest.raises(TemplateSyntaxError, match="recursive"):
        TEXT.from_string("{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}")
    with pytest.raises(TemplateSyntaxError, match="pprint"):
        TEXT.from_string("{{ member | pprint }}")


def test_a_filter_is_never_run_while_compiling():
    started = time.monotonic()
    TEXT.from_string("{{ 'x' | center(1000000000) }}{{ 'y' | indent(100000000, true) }}")
    assert time.monotonic() - started < 0.2


# Random chains of growing operations: whatever the mix, a render ends within its bounds.
GROWERS = ["v ~ v", "v * 3", "[v, v, v]", "(v, v) | join(v)", "v | string | replace('x', v | string)",
           "v | list", "{'k': v, 'j': v}", "(v | string).replace('', 'ab')", "v | string | center(3000)",
           "'%s%s' % (v, v)", "v | string | indent(300, true)", "[v] * 50", "(v | string) + (v | string)"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(GROWERS), min_size=1, max_size=12), st.integers(min_value=0, max_value=3))
def test_any_chain_of_growing_operations_ends_within_its_bounds(steps, loops):
    body = "".join(f"{{% set ns.v = {step.replace('v', 'ns.v')} %}}" for step in steps)
    source = ("{% set ns = namespace(v='xy') %}" + "{% for i in range(30) %}" * loops + body
              + "{% endfor %}" * loops + "{{ ns.v }}")
    started = time.monotonic()
    try:
        out = render(source, limits=Limits(timeout_s=0.3))
    except (TooCostly, TypeError):  # a dict times three is a TypeError, as in Jinja
        pass
    else:
        assert len(out) <= 8192
    assert time.monotonic() - started < 0.6


# -- off the event loop -----------------------------------------------------------------------------------

async def test_a_slow_render_runs_beside_the_event_loop_and_fails_with_where_it_broke():
    slow = {"sms": {"template_id": "1", "params": [],
                    "text": "{% for i in range(10000) %}{% if ('x' * 4000) | unique | list | length > 9 %}"
                            "{% endif %}{% endfor %}"}}
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beside = asyncio.create_task(ticker())
    started = time.monotonic()
    with pytest.raises(rendering.RenderTooCostly) as caught:
        await rendering.render_channel(slow, "sms", {"member": MEMBER})
    elapsed = time.monotonic() - started
    beside.cancel()
    assert (caught.value.where, caught.value.bound) == ("sms.text", "time_s")
    assert elapsed >= rendering._limits.timeout_s
    assert ticks >= elapsed / 0.01 * 0.5  # the loop kept its pace while the render ran


async def test_a_value_the_member_lacks_is_a_render_error_not_a_cost():
    content = {"sms": {"template_id": "1", "params": [], "text": "{{ event.missing }}{{ 1 / 0 }}"}}
    with pytest.raises(rendering.RenderError) as caught:
        await rendering.render_channel(content, "sms", {"member": MEMBER, "event": {}})
    assert not isinstance(caught.value, rendering.RenderTooCostly)
    assert str(caught.value).startswith("sms: ")


async def test_a_message_that_needs_more_than_the_inline_slice_is_finished_on_the_render_threads():
    content = {"sms": {"template_id": "1", "params": [], "text": "{% for i in range(3000) %}{{ i % 10 }}{% endfor %}"}}
    started = time.monotonic()
    rendered = await rendering.render_channel(content, "sms", {"member": MEMBER})
    assert rendered["text"] == "0123456789" * 300
    assert time.monotonic() - started > rendering.INLINE_SLICE_S


@pytest.mark.parametrize("source", [
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "{% if 1 %}" * 400 + "x" + "{% endif %}" * 400,
    "{{ " + "9" * 5000 + " }}", "{{ 1" + "|abs" * 5000 + " }}", "{% for i in [1] %}" * 200 + "{% endfor %}" * 200,
])
async def test_a_template_too_deep_or_too_long_to_compile_is_invalid_not_a_crash(source):
    with pytest.raises(TemplateInvalid) as caught:
        rendering.check_syntax({"sms": {"text": source}})
    assert caught.value.details == {"problems": {"sms.text": "模板嵌套过深或数字过长，无法编译"}}
    with pytest.raises(rendering.RenderError):
        await rendering.render_channel({"sms": {"template_id": "", "params": [], "text": source}}, "sms", {})
