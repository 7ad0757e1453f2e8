"""Rendering message templates: in the sandbox, under a budget, on threads beside the event loop.

Each channel's strings render as one job with a budget of its own (``notifications.budget``): output
and value sizes, loop iterations, ``range`` and time are bounded, and a render past its deadline stops
its own thread. Previews and save checks run on a small thread pool; a message gets a 2 ms slice on the
loop first (``INLINE_SLICE_S``) and moves to the pool if it needs more, so the event loop (``/healthz``,
the worker's other sends) never waits on a template for longer than that. A template that breaks a bound is refused at save
(a trial render with the sample member, ``check``) and at preview (``TemplateTooCostly``, a 422); one
that breaks it only with some member's data fails that message with the reason (``RenderTooCostly``).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from threading import Lock
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError

from backend import clock
from notifications import budget, sandbox, wechat_fields
from notifications.budget import Limits, TooCostly
from notifications.errors import TemplateInvalid, TemplateTooCostly
from notifications.sandbox import BudgetedEnvironment

log = logging.getLogger("notifications.rendering")

# (html, strict): strict environments render messages and previews; the lenient ones run the trial
# render at save, where a value the sample lacks must not hide what the rest of the template costs.
_ENVS = {(html, strict): BudgetedEnvironment(undefined=StrictUndefined if strict else ChainableUndefined,
                                             autoescape=html)
         for html in (False, True) for strict in (True, False)}
_tz = ZoneInfo("Asia/Shanghai")
_limits = Limits()
_merchant = "会员中心"
# A message renders in about a tenth of a millisecond, and a hop to the render threads costs more than
# that (measured: 140 us of CPU against 125 us for the render): the workers render each message on the
# loop within this slice, and a render still going at its end is stopped and run again on the threads
# with the whole budget. Only the time bound depends on where a render runs, so the answer is the same.
INLINE_SLICE_S = 0.002
_inline = Limits(timeout_s=INLINE_SLICE_S)


def _local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``{{ event.redeemed_at | local }}``: an ISO time in merchant time."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(when, datetime):
        return str(value)
    return when.astimezone(_tz).strftime(fmt) if when.tzinfo else when.strftime(fmt)


def _yuan(cents: Any) -> str:
    """``{{ event.discount_cents | yuan }}``: integer cents as 12.34."""
    cents = int(cents)
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


for _env in _ENVS.values():
    _env.filters["local"] = sandbox.guard_filter("local", _local)
    _env.filters["yuan"] = sandbox.guard_filter("yuan", _yuan)


def configure(settings: Any) -> None:
    """The merchant's time zone and name, and the render limits, from the settings."""
    global _tz, _limits, _inline, _merchant
    _tz = ZoneInfo(settings.timezone)
    _merchant = settings.merchant_name
    _limits = Limits(short_chars=settings.template_max_chars, email_chars=settings.template_email_max_chars,
                     timeout_s=settings.template_render_timeout_s)
    _inline = replace(_limits, timeout_s=min(INLINE_SLICE_S, _limits.timeout_s))


# -- rendering ---------------------------------------------------------------------------------------

_COMPILED: dict[tuple[str, bool, bool], Any] = {}
_COMPILED_MAX = 2048
_compiling = Lock()


def _compiled(source: str, html: bool, strict: bool = True) -> Any:
    key = (source, html, strict)
    template = _COMPILED.get(key)
    if template is None:
        template = _ENVS[(html, strict)].from_string(source)
        with _compiling:  # render threads and the loop share the cache
            if len(_COMPILED) >= _COMPILED_MAX:
                del _COMPILED[next(iter(_COMPILED))]
            _COMPILED[key] = template
    return template


def _sources(content: dict[str, Any], channel: str) -> list[tuple[str, bool]]:
    """The strings a channel's render reads, with whether each is HTML."""
    part = content.get(channel) or {}
    if channel == "sms":
        return [(p, False) for p in part.get("params", [])] + [(part.get("text", ""), False)]
    if channel == "email":
        return [(part.get("subject", ""), False), (part.get("text", ""), False), (part.get("html", ""), True)]
    return [(source, False) for source in part.get("fields", {}).values()]


def _strings(content: dict[str, Any]) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    for channel, part in content.items():
        for name, value in part.items():
            if name == "template_id":
                continue
            if isinstance(value, str):
                out.append((f"{channel}.{name}", value, name == "html"))
            elif isinstance(value, list):
                out += [(f"{channel}.{name}[{i}]", v, False) for i, v in enumerate(value)]
            elif isinstance(value, dict):
                out += [(f"{channel}.{name}.{k}", v, False) for k, v in value.items()]
    return out


def check_syntax(content: dict[str, Any]) -> None:
    """Every string compiles, and literal WeChat values fit their field type."""
    problems: dict[str, str] = {}
    for where, source, html in _strings(content):
        try:
            _compiled(source, html)
        except TemplateError as exc:
            problems[where] = f"模板语法错误：{exc}"
        except (RecursionError, SyntaxError, ValueError, MemoryError):  # Jinja's parser, or Python's compiler
            problems[where] = "模板嵌套过深或数字过长，无法编译"
    for key, source in (content.get("wechat") or {}).get("fields", {}).items():
        if "{" not in source:
            problem = wechat_fields.check_value(key, source)
            if problem:
                problems[f"wechat.fields.{key}"] = problem
    if problems:
        raise TemplateInvalid(details={"problems": problems})


class RenderError(Exception):
    """A template that cannot be rendered for this member (a missing variable, a value WeChat refuses)."""


class RenderTooCostly(RenderError):
    """A template that broke a render bound (``sandbox.Limits``) at ``where``."""

    def __init__(self, where: str, exc: TooCostly) -> None:
        self.where, self.bound, self.limit, self.message = where, exc.bound, exc.limit, exc.message
        super().__init__(f"{where}: {exc}")


def _too_costly(problems: list[RenderTooCostly]) -> TemplateTooCostly:
    first = problems[0]
    return TemplateTooCostly(f"消息模板超出渲染限制（{first.where}：{first.message}）",
                             details={"problems": {p.where: p.message for p in problems}, "bound": first.bound,
                                      "limit": first.limit})


def _cap(channel: str) -> int:
    return _limits.email_chars if channel == "email" else _limits.short_chars


def _render(source: str, variables: dict[str, Any], *, where: str, html: bool = False, strict: bool = True) -> str:
    if not source:
        return ""
    try:
        return budget.render(_compiled(source, html, strict), variables, _cap(where.split(".")[0]))
    except TooCostly as exc:
        raise RenderTooCostly(where, exc) from None


def _render_part(content: dict[str, Any], channel: str, variables: dict[str, Any], strict: bool) -> dict[str, Any]:
    part = content[channel]

    def one(name: str, source: str, *, html: bool = False) -> str:
        return _render(source, variables, where=f"{channel}.{name}", html=html, strict=strict)

    if channel == "sms":
        return {"template_id": part.get("template_id", ""),
                "params": [one(f"params[{i}]", p) for i, p in enumerate(part.get("params", []))],
                "text": one("text", part["text"])}
    if channel == "email":
        return {"subject": " ".join(one("subject", part["subject"]).split()),
                "text": one("text", part["text"]),
                "html": one("html", part.get("html", ""), html=True)}
    fields = {key: wechat_fields.fit(key, one(f"fields.{key}", source)) for key, source in part["fields"].items()}
    return {"template_id": part.get("template_id", ""), "page": part.get("page", ""), "fields": fields}


def _render_channel(content: dict[str, Any], channel: str, variables: dict[str, Any], strict: bool = True,
                    limits: Limits | None = None) -> dict[str, Any]:
    """One channel's part, with a budget of its own."""
    try:
        return budget.run(limits or _limits, _render_part, content, channel, variables, strict)
    except RenderTooCostly:
        raise
    except Exception as exc:  # a template is untrusted code: whatever it raises is this message's problem
        raise RenderError(f"{channel}: {exc}") from None


_pool: ThreadPoolExecutor | None = None


async def _off_loop(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on the render threads. Each render stops itself at its deadline; the wait here is
    only a backstop for a render queued behind many others."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="template-render")
    future = asyncio.get_running_loop().run_in_executor(_pool, fn, *args)
    try:
        return await asyncio.wait_for(future, timeout=30 + 10 * _limits.timeout_s)
    except TimeoutError:
        log.error("a template render outlived its backstop; the render threads may be saturated")
        raise RenderTooCostly("*", TooCostly("time_s", _limits.timeout_s)) from None


async def render_channel(content: dict[str, Any], channel: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The channel's part with every string rendered; WeChat values fitted to their field limits. Raises
    RenderError (RenderTooCostly when a bound broke)."""
    # Compiling is not covered by the slice: a string not compiled yet in this process goes to the threads.
    if all(not source or (source, html, True) in _COMPILED for source, html in _sources(content, channel)):
        try:
            return _render_channel(content, channel, variables, limits=_inline)  # see INLINE_SLICE_S
        except RenderTooCostly as exc:
            if exc.bound != "time_s":
                raise
    return await _off_loop(_render_channel, content, channel, variables)


def variables(*, member: dict[str, Any], event: dict[str, Any], merchant: str, now: datetime,
              tz: Any) -> dict[str, Any]:
    return {"member": member, "event": event, "merchant": merchant,
            "today": now.astimezone(tz).strftime("%Y-%m-%d")}


def sample_member() -> dict[str, Any]:
    return {"name": "张三", "nickname": "张三", "member_no": "M00000001", "tier_name": "金卡", "points": 1280,
            "balance_yuan": "56.00", "birthday": "1990-05-20"}


SAMPLE_EVENTS: dict[str, dict[str, Any]] = {
    "welcome": {"channel": "miniprogram"},
    "coupon_redeemed": {"coupon_name": "满100减20", "redeemed_at": "2026-03-02T02:00:00+00:00",
                        "store_name": "南京西路店", "discount_cents": 2000, "coupon_id": 1},
    "tier_upgraded": {"tier_code": "gold", "tier_name": "金卡", "from_tier_name": "银卡"},
    "points_expiring": {"points": 300, "expires_on": "2026-12-31"},
    "coupon_expiring": {"coupon_name": "满100减20", "valid_until": "2026-03-05T16:00:00+00:00", "coupon_id": 1},
    "newbie_task": {}, "birthday": {"birthday": "2026-05-20"}, "winback": {"dormant_days": 90},
    "tier_downgrade_warning": {"tier_code": "gold", "tier_name": "金卡", "to_tier_name": "银卡", "measure": 4200,
                               "threshold": 5000, "missing": 800, "unit": "元", "review_on": "2026-06-30"},
    "tier_downgraded": {"tier_code": "silver", "tier_name": "银卡", "from_tier_name": "金卡", "measure": 4200},
    "membership_renewal": {"plan_name": "月卡会员", "ends_on": "2026-04-02"},
    "membership_expired": {"plan_name": "月卡会员", "ends_on": "2026-04-02"},
}


def sample_variables(key: str) -> dict[str, Any]:
    """What a save's trial render uses: the sample member and the template's sample event."""
    return variables(member=sample_member(), event=SAMPLE_EVENTS.get(key, {}), merchant=_merchant, now=clock.now(),
                     tz=_tz)


def _check(content: dict[str, Any], variables: dict[str, Any]) -> None:
    check_syntax(content)
    problems: list[RenderTooCostly] = []
    for channel in content:
        try:
            _render_channel(content, channel, variables, strict=False)
        except RenderTooCostly as exc:
            problems.append(exc)
        except RenderError:
            pass  # values the sample lacks show in the preview; a save refuses only syntax and cost
    if problems:
        raise _too_costly(problems)


async def check(content: dict[str, Any], variables: dict[str, Any]) -> None:
    """What a save refuses: syntax (TemplateInvalid), and a trial render that breaks a bound (TemplateTooCostly)."""
    await _off_loop(_check, content, variables)


def _preview(content: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    check_syntax(content)
    out: dict[str, Any] = {}
    for channel in content:
        try:
            out[channel] = {"ok": True, "rendered": _render_channel(content, channel, variables)}
        except RenderTooCostly as exc:
            raise _too_costly([exc]) from None
        except RenderError as exc:
            out[channel] = {"ok": False, "problem": str(exc)}
    return out


async def preview(content: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """Each channel rendered with ``variables``, or the problem that would fail the message; a template
    that breaks a render bound is refused whole (TemplateTooCostly)."""
    return await _off_loop(_preview, content, variables)
