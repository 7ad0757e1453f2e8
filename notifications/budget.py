"""What one template render may cost: output and value sizes, loop iterations, time.

A render job (one message's channel, a preview's channel, a save's trial render) runs under a
``Budget`` held in a context variable; the sandbox (``notifications.sandbox``) ticks it at every
loop iteration, call, operator, attribute access and output, and measures values with ``size``
before building anything bigger. Past the deadline the next tick raises, so a runaway render stops
its own thread. Sizes are the length a value would have as text: a list holding one long string many
times counts it each time, and a walk stops as soon as it passes the limit.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2.runtime import Undefined
from jinja2.utils import Namespace


@dataclass(frozen=True)
class Limits:
    short_chars: int = 8192  # SMS and WeChat: each rendered string, and any value built on the way
    email_chars: int = 262_144  # email subject, text and html
    timeout_s: float = 0.5  # one render job: a message, a preview, a save check
    loop_iterations: int = 10_000  # per job, all loops together
    range_items: int = 10_000
    number_bits: int = 128
    output_factor: int = 8  # text produced inside macros and set blocks, as a multiple of the cap


BOUND_MESSAGES = {
    "output_chars": "渲染结果超过 {limit} 个字符",
    "value_chars": "模板中的值超过 {limit} 个字符",
    "number_bits": "数值超过 {limit} 位二进制",
    "range_items": "range() 超过 {limit} 项",
    "loop_iterations": "循环次数合计超过 {limit} 次",
    "time_s": "渲染用时超过 {limit} 秒",
    "nesting": "宏调用或嵌套层数过深",
}


class TooCostly(Exception):
    """A render broke one of its bounds; ``bound`` names it (a key of BOUND_MESSAGES)."""

    def __init__(self, bound: str, limit: float) -> None:
        self.bound, self.limit = bound, limit
        super().__init__(f"{bound} > {limit}")

    @property
    def message(self) -> str:
        return BOUND_MESSAGES[self.bound].format(limit=self.limit)


# A render still going after GRACE_S is one no ordinary template needs: from then on it sleeps PAUSE_S
# every SLICE_S, so the event loop's thread gets the interpreter lock at once instead of after Python's
# switch interval (a render thread otherwise takes about two thirds of the loop's pace).
GRACE_S, SLICE_S, PAUSE_S = 0.01, 0.002, 0.001


class Budget:
    """What is left for the render under way; one per job, ``cap`` set per string."""

    __slots__ = ("cap", "deadline", "limits", "loops", "pause_at", "produced")

    def __init__(self, limits: Limits) -> None:
        started = time.monotonic()
        self.limits = limits
        self.deadline = started + limits.timeout_s
        self.pause_at = started + GRACE_S
        self.loops = 0
        self.cap = limits.short_chars
        self.produced = 0

    def tick(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise TooCostly("time_s", self.limits.timeout_s)
        if now > self.pause_at:
            time.sleep(PAUSE_S)
            self.pause_at = time.monotonic() + SLICE_S

    def loop(self) -> None:
        self.loops += 1
        if self.loops > self.limits.loop_iterations:
            raise TooCostly("loop_iterations", self.limits.loop_iterations)
        self.tick()


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)
# Outside a job (constant folding while compiling): the strictest caps, no deadline.
_COMPILING = Limits()


def current() -> Budget | None:
    return _BUDGET.get()


def run(limits: Limits, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with a fresh budget (call it on the render thread)."""
    token = _BUDGET.set(Budget(limits))
    try:
        return fn(*args)
    finally:
        _BUDGET.reset(token)


def render(template: Any, variables: dict[str, Any], cap: int) -> str:
    """One compiled template rendered under the current budget, its output at most ``cap`` characters."""
    budget = _BUDGET.get()
    if budget is None:
        raise RuntimeError("render outside sandbox.run")
    budget.cap, budget.produced = cap, 0
    out: list[str] = []
    total = 0
    try:
        for chunk in template.generate(variables):
            total += len(chunk)
            if total > cap:
                raise TooCostly("output_chars", cap)
            out.append(chunk)
    except RecursionError:
        raise TooCostly("nesting", sys.getrecursionlimit()) from None
    return "".join(out)


def tick() -> Budget | None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()
    return budget


def limits_of(budget: Budget | None) -> Limits:
    return budget.limits if budget is not None else _COMPILING


def cap_of(budget: Budget | None) -> int:
    return budget.cap if budget is not None else _COMPILING.short_chars


def bits_of(budget: Budget | None) -> int:
    return limits_of(budget).number_bits


# -- sizes -------------------------------------------------------------------------------------------

def size(value: Any, limit: int, *, bound: str = "value_chars") -> int:
    """About how long ``value`` is as text; TooCostly as soon as that passes ``limit``."""
    if isinstance(value, str):
        total = len(value)
    elif isinstance(value, bool) or value is None or isinstance(value, Undefined):
        return 5
    elif isinstance(value, int):
        total = value.bit_length() * 3 // 10 + 2
    elif isinstance(value, list | tuple | set | frozenset | dict | Namespace):
        total = _walk(value, limit, bound)
    else:
        return 32  # numbers, dates, macros, loop objects: short as text
    if total > limit:
        raise TooCostly(bound, limit)
    return total


def _walk(value: Any, limit: int, bound: str) -> int:
    budget = _BUDGET.get()
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if budget is not None:
            budget.tick()
        if isinstance(item, Namespace):
            item = item._Namespace__attrs  # type: ignore[attr-defined]
        if isinstance(item, dict):
            total += 2
            for key, inner in item.items():
                stack += (key, inner)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2
            stack.extend(item)
        else:
            total += size(item, limit, bound=bound) + 2
        if total > limit:
            raise TooCostly(bound, limit)
    return total


def checked(value: Any, budget: Budget | None) -> Any:
    """A value a call, filter or operator produced: within the caps, lazy sequences counted as they go."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > bits_of(budget):
            raise TooCostly("number_bits", bits_of(budget))
        return value
    if isinstance(value, Iterator) and not isinstance(value, str | list | tuple | dict):
        return _counted(value, budget)
    size(value, cap_of(budget))
    return value


def _counted(items: Iterator[Any], budget: Budget | None) -> Iterator[Any]:
    for item in items:
        if budget is not None:
            budget.tick()
        yield checked(item, budget)


# -- printf-style formatting: the widths it asks for count --------------------------------------------

_SPEC = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


def check_printf(fmt: str, args: Any, budget: Budget | None) -> None:
    limit = cap_of(budget)
    total = len(fmt)
    position = 0
    for name, width, precision, kind in _SPEC.findall(fmt):
        if kind == "%":
            continue
        if width == "*" or precision == "*":
            raise TooCostly("value_chars", limit)
        total += int(width or 0) + int(precision or 0)
        if name and isinstance(args, dict):
            arg = args.get(name)
        elif isinstance(args, tuple):
            arg = args[position] if position < len(args) else None
            position += 1
        else:
            arg = args
        total += size(arg, limit)
        if total > limit:
            raise TooCostly("value_chars", limit)


STRIP_CHARS = 64  # the ``chars`` of strip and trim: each character of the text is looked up in them


def check_arg(value: Any, budget: Budget | None, limit: int) -> None:
    if isinstance(value, int):
        checked(value, budget)
    else:
        size(value, limit)


def check_replace(source: str, old: Any, new: Any, count: Any, limit: int) -> None:
    if not isinstance(old, str) or not isinstance(new, str):
        return
    hits = source.count(old) if old else len(source) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(source) + hits * (len(new) - len(old)) > limit:
        raise TooCostly("value_chars", limit)
