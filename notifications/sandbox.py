"""A Jinja2 sandbox that charges every cost to the render's budget (``notifications.budget``).

Marketers write templates, so a template is hostile input. Jinja's own sandbox stops attribute tricks
but not cost: ``{{ 'x' * 10**8 }}``, nested loops, ``s.replace('', s)`` or ``a ~ a`` repeated all run in
C or in tight loops. Here:

- a parsed template is rewritten so that loops, ``~``, list/tuple/dict literals and every output go
  through budgeted functions (the event-loop-free render thread stops itself at the deadline);
- operators that grow values (``+ - * ** %``), calls and filters check the size of what they are about
  to build before building it, and the size of what they built;
- every ``{{ }}`` and every piece of literal text counts toward the output, inside macros and ``set``
  blocks too;
- filters are a reviewed list (each wrapped, so none runs at compile time); string, list and dict
  methods are a reviewed list; ``recursive`` loops, ``lipsum``, ``str.format`` and ``center``-like
  methods are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, pass_context, pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from notifications.budget import (
    STRIP_CHARS,
    Budget,
    TooCostly,
    bits_of,
    cap_of,
    check_arg,
    check_printf,
    check_replace,
    checked,
    current,
    limits_of,
    size,
    tick,
)

# -- the environment ----------------------------------------------------------------------------------

def _internal(name: str, *args: nodes.Expr, lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name), list(args), [], None, None, lineno=lineno)


class _Guard(NodeTransformer):
    """Rewrites a parsed template so that loops, ``~``, literals and output go through the budget.

    Output at the top level runs once and is counted chunk by chunk as ``budget.render`` reads it; output
    inside a loop, a macro or a set, call or filter block may run many times or pile up in a buffer, so
    each piece of it is counted as it is produced."""

    def __init__(self) -> None:
        self.depth = 0

    def _inside(self, node: nodes.Node) -> nodes.Node:
        self.depth += 1
        try:
            return self.generic_visit(node)
        finally:
            self.depth -= 1

    visit_Macro = visit_CallBlock = visit_FilterBlock = visit_AssignBlock = visit_Block = _inside

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError("模板不支持递归循环（recursive）", node.lineno)
        self._inside(node)
        node.iter = _internal("guarded_iter", node.iter, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _internal("guarded_concat", *node.nodes, lineno=node.lineno)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _internal("guarded_list", *node.items, lineno=node.lineno)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        if node.ctx != "load":
            return node
        return _internal("guarded_tuple", *node.items, lineno=node.lineno)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        flat = [part for pair in node.items for part in (pair.key, pair.value)]
        return _internal("guarded_dict", *flat, lineno=node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        if self.depth:
            node.nodes = [_internal("emit_literal", nodes.Const(child.data), lineno=child.lineno)
                          if isinstance(child, nodes.TemplateData) else _internal("emit", child, lineno=child.lineno)
                          for child in node.nodes]
        return node


def _guarded_iter(iterable: Any) -> Iterator[Any]:
    budget = current()
    for item in iterable:
        if budget is not None:
            budget.loop()
        yield item


def _guarded_range(*args: int) -> range:
    budget = tick()
    limit = limits_of(budget).range_items
    items = range(*args)
    try:
        too_many = len(items) > limit
    except OverflowError:
        too_many = True
    if too_many:
        raise TooCostly("range_items", limit)
    return items


@pass_eval_context
def _guarded_concat(eval_ctx: Any, *parts: Any) -> str:
    budget = tick()
    limit, total = cap_of(budget), 0
    for part in parts:
        total += size(part, limit)
        if total > limit:
            raise TooCostly("value_chars", limit)
    return (markup_join if eval_ctx.autoescape else str_join)(parts)


def _guarded_list(*items: Any) -> list[Any]:
    size(items, cap_of(tick()))
    return list(items)


def _guarded_tuple(*items: Any) -> tuple[Any, ...]:
    size(items, cap_of(tick()))
    return items


def _guarded_dict(*flat: Any) -> dict[Any, Any]:
    size(flat, cap_of(tick()))
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _emit(value: Any) -> Any:
    budget = tick()
    if budget is not None:
        budget.produced += size(value, budget.cap, bound="output_chars")
        if budget.produced > budget.cap * budget.limits.output_factor:
            raise TooCostly("output_chars", budget.cap)
    return value


@pass_eval_context
def _emit_literal(eval_ctx: Any, data: str) -> str:
    _emit(data)
    return Markup(data) if eval_ctx.autoescape else data


_INTERNAL = frozenset({_guarded_iter, _guarded_concat, _guarded_list, _guarded_tuple, _guarded_dict, _emit,
                       _emit_literal})

# The methods a template may call on strings, lists and dicts: none of them builds more than its input
# (``replace`` is estimated first), and the strip family gets short ``chars``.
STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isdecimal", "isdigit",
    "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip", "partition", "removeprefix",
    "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "upper"})
SEQUENCE_METHODS = frozenset({"count", "index"})
DICT_METHODS = frozenset({"get", "items", "keys", "values"})
_STRIP = frozenset({"strip", "lstrip", "rstrip"})


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every cost checked against the current Budget."""

    intercepted_binops = frozenset({"+", "-", "*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.pop("lipsum", None)
        self.globals["range"] = _guarded_range
        self.guarded_iter, self.guarded_concat, self.emit = _guarded_iter, _guarded_concat, _emit
        self.guarded_list, self.guarded_tuple, self.guarded_dict = _guarded_list, _guarded_tuple, _guarded_dict
        self.emit_literal = _emit_literal
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items() if name in FILTER_NAMES}
        self.filters["join"] = _join
        self.filters["sum"] = _sum
        self.tests = {name: _guard_test(func) for name, func in self.tests.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Guard().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and callable(value):
            return attr in STR_METHODS
        if isinstance(obj, list | tuple) and callable(value):
            return attr in SEQUENCE_METHODS
        if isinstance(obj, dict) and callable(value):
            return attr in DICT_METHODS
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is not on the list above: no way to ask for a width of a million

    def getattr(self, obj: Any, attribute: str) -> Any:
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        tick()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = tick()
        if __obj in _INTERNAL:
            return __context.call(__obj, *args, **kwargs)
        limit = cap_of(budget)
        for value in (*args, *(v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars"))):
            check_arg(value, budget, limit)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            method = getattr(__obj, "__name__", "")
            if method == "replace" and len(args) >= 2:
                check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"), limit)
            if method in _STRIP and args and isinstance(args[0], str) and len(args[0]) > STRIP_CHARS:
                raise TooCostly("value_chars", STRIP_CHARS)
        return checked(super().call(__context, __obj, *args, **kwargs), budget)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = tick()
        limit, bits = cap_of(budget), bits_of(budget)
        if operator == "*":
            if isinstance(left, int) and not isinstance(right, int | float):
                left, right = right, left
            if isinstance(right, int) and isinstance(left, str | list | tuple):
                if size(left, limit) * max(right, 0) > limit:
                    raise TooCostly("value_chars", limit)
            elif isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > bits:
                raise TooCostly("number_bits", bits)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
            if max(left.bit_length() - 1, 1) * right > bits:  # decided before Python spends the time
                raise TooCostly("number_bits", bits)
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            if size(left, limit) + size(right, limit) > limit:
                raise TooCostly("value_chars", limit)
        elif operator == "%" and isinstance(left, str):
            check_printf(left, right, budget)
        return checked(self.binop_table[operator](left, right), budget)


# -- filters -------------------------------------------------------------------------------------------

# The built-in filters a template may use. Left out: pprint, urlize, striptags, wordwrap and xmlattr
# (regular-expression or text-wrapping work that is slow on hostile input and not needed for messages),
# random; join and sum are replaced below.
FILTER_NAMES = frozenset({
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
    "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "items", "last",
    "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round",
    "safe", "select", "selectattr", "slice", "sort", "string", "title", "tojson", "trim", "truncate",
    "unique", "upper", "urlencode", "wordcount"})
TOJSON_INDENT = 16
# Filters whose arguments say how big the result is: (position after the value, keyword name).
_SIZE_ARGS = {"batch": (0, "linecount"), "slice": (0, "slices"), "center": (0, "width"), "indent": (0, "width"),
              "truncate": (0, "length")}


def _precheck(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget | None) -> None:
    limit = cap_of(budget)
    size(value, limit)
    for arg in (*args, *kwargs.values()):
        check_arg(arg, budget, limit)
    if name in _SIZE_ARGS:
        index, keyword = _SIZE_ARGS[name]
        wanted = args[index] if len(args) > index else kwargs.get(keyword)
        if isinstance(wanted, int) and abs(wanted) > limit:
            raise TooCostly("value_chars", limit)
        if name == "indent" and isinstance(value, str):
            width = len(wanted) if isinstance(wanted, str) else (wanted if isinstance(wanted, int) else 4)
            if len(value) + (value.count("\n") + 1) * width > limit:
                raise TooCostly("value_chars", limit)
    elif name == "replace" and len(args) >= 2:
        check_replace(str(value), args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"), limit)
    elif name == "format":
        check_printf(str(value), kwargs or args, budget)
    elif name == "trim" and args and isinstance(args[0], str) and len(args[0]) > STRIP_CHARS:
        raise TooCostly("value_chars", STRIP_CHARS)
    elif name == "tojson":  # the indent is written once per nested item
        indent = args[0] if args else kwargs.get("indent")
        if (len(indent) if isinstance(indent, str) else indent or 0) > TOJSON_INDENT:
            raise TooCostly("value_chars", TOJSON_INDENT)


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as a template filter that checks what it is given and what it gives back.

    The wrapper takes the context, so Jinja never runs it while compiling (constant folding would run
    ``'x' | center(10**9)`` before any budget exists)."""
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    def guarded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = tick()
        _precheck(name, value, args, kwargs, budget)
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return checked(result, budget)

    guarded.__name__ = getattr(func, "__name__", name)
    return guarded


def _guard_test(func: Callable[..., Any]) -> Callable[..., Any]:
    pass_arg = _PassArg.from_obj(func)
    if pass_arg is not None:
        return func  # defined, undefined, filter, test: names, not values

    def guarded(value: Any, *args: Any) -> Any:
        budget = tick()
        limit = cap_of(budget)
        for item in (value, *args):
            size(item, limit)  # ``lower`` and ``upper`` turn the value into text
        return func(value, *args)

    return guarded


@pass_context
def _join(context: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    """Jinja's ``join``, its text counted before it is joined."""
    budget = tick()
    limit, total, parts = cap_of(budget), 0, []
    for item in value:
        if budget is not None:
            budget.tick()
        if attribute is not None:
            item = context.environment.getitem(item, attribute)
        total += size(item, limit) + size(d, limit)
        if total > limit:
            raise TooCostly("value_chars", limit)
        parts.append(item)
    return FILTERS["join"](context.eval_ctx, parts, d)


@pass_context
def _sum(context: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """Jinja's ``sum``, each addition checked like ``+``."""
    total = start
    for item in iterable:
        if attribute is not None:
            item = context.environment.getitem(item, attribute)
        total = context.environment.call_binop(context, "+", total, item)
    return total
