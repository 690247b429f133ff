"""Reading a message template without rendering it: what it uses, and whether the sandbox allows it.

The reading is strict on purpose. A template may read `lead.<field>`, `sender.<field>` and `unsubscribe_url`,
apply a few text filters, and use `if`, `for`, `set` and `with`. Anything else (a call, a dot or `[...]` on
anything but `lead` and `sender`, a private name, another filter) is a `template_error`, found before any lead
sees the message, and `render` refuses to run such a template at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from jinja2 import Environment, TemplateSyntaxError, nodes

LEAD_FIELDS = ("first_name", "last_name", "company", "title", "city", "country")
SENDER_FIELDS = ("name", "signature")
UNSUBSCRIBE_URL = "unsubscribe_url"
VARIABLES = (*(f"lead.{name}" for name in LEAD_FIELDS), *(f"sender.{name}" for name in SENDER_FIELDS), UNSUBSCRIBE_URL)
"""Every variable a template may use; `unsubscribe_url` only in email."""

FALLBACK_FILTERS = frozenset({"default", "d"})
FILTERS = FALLBACK_FILTERS | {
    *("upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "e", "escape"),
    *("striptags", "first", "last", "length", "join", "wordwrap"),
}
LOOP_ATTRIBUTES = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length"})

ASSUMED_FIELD_LENGTH = 2_000
MAX_COST = 1_000_000
"""Bound on the characters a template may build, with fields of ASSUMED_FIELD_LENGTH: a guard against
templates whose loops, join or replace would exhaust a worker's memory or time."""

_RECORDS = {"lead": LEAD_FIELDS, "sender": SENDER_FIELDS}
_UNASSIGNABLE = frozenset({*_RECORDS, UNSUBSCRIBE_URL, "loop"})
_RESERVED = frozenset({"self", "caller", "varargs", "kwargs"})  # jinja binds these names itself
_TAGS = {"FilterBlock": "filter", "CallBlock": "call", "FromImport": "from", "ScopedEvalContextModifier": "autoescape"}

# Lexes exactly like the rendering sandbox in templates.py, so the segments are what renders.
_parser = Environment(keep_trailing_newline=True)


@dataclass(frozen=True)
class Segment:
    """A piece of a simple template's output: literal text, or a variable printed as is or else as its fallback.

    A blank or whitespace-only field counts as missing, so its fallback (or nothing) is printed.
    """

    text: str = ""
    variable: str | None = None
    fallback: str | None = None


@dataclass(frozen=True)
class Analysis:
    error: str | None
    variables: frozenset[str] = frozenset()
    unknown: frozenset[str] = frozenset()
    without_fallback: frozenset[str] = frozenset()
    has_unsubscribe: bool = False
    segments: tuple[Segment, ...] | None = None
    """Set when the template is only text and `{{ variable }}` or `{{ variable | default('text') }}`."""


@lru_cache(maxsize=16)
def variables_for(channel: str) -> frozenset[str]:
    return frozenset(name for name in VARIABLES if channel == "email" or name != UNSUBSCRIBE_URL)


@lru_cache(maxsize=2048)
def analyse(source: str, *, channel: str) -> Analysis:
    """What the template uses, read from its syntax tree; it is never rendered."""
    try:
        return _Reader(variables_for(channel)).read(parse(source))
    except TemplateSyntaxError as error:
        return Analysis(error=f"line {error.lineno}: {error.message or 'syntax error'}")
    except _Refused as refusal:
        return Analysis(error=str(refusal))
    except RecursionError:
        return Analysis(error="the template is nested too deeply")
    except ValueError as error:  # the lexer's int() refuses a number literal of thousands of digits
        return Analysis(error=f"the template could not be read: {error}")


def parse(source: str) -> nodes.Template:
    """The template's syntax tree, lexed as the rendering sandbox lexes it."""
    return _parser.parse(source)


def literal_length(analysis: Analysis) -> int | None:
    """Characters of literal text in a simple template; None when it is not simple."""
    if analysis.segments is None:
        return None
    return sum(len(segment.text) for segment in analysis.segments)


class _Refused(Exception):
    def __init__(self, node: nodes.Node, reason: str) -> None:
        super().__init__(f"line {node.lineno}: {reason}")


class _Reader:
    """One walk over the syntax tree. Each read returns an upper bound on the characters it builds.

    A refusal ends the walk, so the counters below are never restored on the way out.
    """

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self.variables: set[str] = set()
        self.bare: set[str] = set()  # printed at least once with no `default` and no `{% if %}` around it
        self.shows_unsubscribe = False
        self.scopes: list[dict[str, int]] = [{}]  # names bound by set, for and with, and their size bounds
        self.guarded: frozenset[str] = frozenset()  # variables an enclosing `if` has checked
        self.testing = 0  # > 0 while reading a value that is tested or compared, never printed
        self.capturing = 0  # > 0 inside `{% set x %}...{% endset %}`, whose output is not sent
        self.printing = False
        self.peak = 0

    def read(self, template: nodes.Template) -> Analysis:
        if max(self.statements(template.body), self.peak) > MAX_COST:
            raise _Refused(template, f"the template could build more than {MAX_COST:,} characters")
        return Analysis(
            error=None,
            variables=frozenset(self.variables),
            unknown=frozenset(self.variables - self.allowed),
            without_fallback=frozenset(self.bare & self.allowed),
            has_unsubscribe=self.shows_unsubscribe,
            segments=_segments(template, self.allowed),
        )

    def statements(self, body: Sequence[nodes.Node]) -> int:
        return sum(self.statement(node) for node in body)

    def statement(self, node: nodes.Node) -> int:
        if isinstance(node, nodes.Output):
            return 1 + sum(self.printed(item) for item in node.nodes)
        if isinstance(node, nodes.If):
            return 1 + self.branch(node)
        if isinstance(node, nodes.For):
            return 1 + self.loop(node)
        if isinstance(node, nodes.Assign):
            self.bind(node.target, self.expr(node.node))
            return 1
        if isinstance(node, nodes.AssignBlock) and node.filter is None:
            self.capturing += 1
            size = self.statements(node.body)
            self.capturing -= 1
            self.bind(node.target, size)
            return 1 + size
        if isinstance(node, nodes.AssignBlock):
            raise _Refused(node, "a filter on a {% set %} block is not supported in messages")
        if isinstance(node, nodes.With):
            sizes = [self.expr(value) for value in node.values]
            self.scopes.append({})
            for target, size in zip(node.targets, sizes, strict=True):
                self.bind(target, size)
            size = self.statements(node.body)
            self.scopes.pop()
            return 1 + size
        tag = _TAGS.get(type(node).__name__, type(node).__name__.lower())
        raise _Refused(node, f"{{% {tag} %}} is not supported in messages")

    def printed(self, item: nodes.Expr) -> int:
        if isinstance(item, nodes.TemplateData):
            return len(item.data)
        self.printing = self.capturing == 0
        size = self.expr(item)
        self.printing = False
        return size

    def branch(self, node: nodes.If) -> int:
        self.tested(node.test)
        outer, self.guarded = self.guarded, self.guarded | self.guards_of(node.test)
        body = self.statements(node.body)
        self.guarded = outer
        return max([body, *(self.branch(elif_) for elif_ in node.elif_), self.statements(node.else_)])

    def loop(self, node: nodes.For) -> int:
        if node.recursive:
            raise _Refused(node, "recursive loops are not supported in messages")
        iterations = self.expr(node.iter)  # a string or a list literal: no more items than characters
        self.scopes.append({"loop": 20})
        self.bind(node.target, iterations)
        if node.test is not None:
            self.tested(node.test)
        body = self.statements(node.body)
        self.scopes.pop()
        return iterations * (body + 1) + self.statements(node.else_)

    def bind(self, target: nodes.Node, size: int) -> None:
        if isinstance(target, nodes.Tuple):
            for item in target.items:
                self.bind(item, size)
        elif isinstance(target, nodes.Name) and target.name not in _UNASSIGNABLE:
            self.check_name(target)
            self.scopes[-1][target.name] = size
        else:
            raise _Refused(target, "only new plain names can be assigned, not lead, sender, unsubscribe_url or loop")

    def tested(self, node: nodes.Node) -> None:
        self.testing += 1
        self.expr(node)
        self.testing -= 1

    def guards_of(self, test: nodes.Node) -> frozenset[str]:
        """The variables that `{% if test %}` proves present: `x`, `x is defined`, `x and y`."""
        if isinstance(test, nodes.And):
            return self.guards_of(test.left) | self.guards_of(test.right)
        if isinstance(test, nodes.Test) and test.name == "defined":
            test = test.node
        name = _dotted(test)
        return frozenset() if name is None or self.local(name) is not None else frozenset({name})

    def local(self, name: str) -> int | None:
        return next((scope[name] for scope in reversed(self.scopes) if name in scope), None)

    def check_name(self, node: nodes.Name) -> None:
        if node.name.startswith("_"):
            raise _Refused(node, f"'{node.name}' is private: names starting with '_' are not allowed")
        if node.name in _RESERVED:
            raise _Refused(node, f"'{node.name}' is reserved and cannot be used in messages")

    def expr(self, node: nodes.Node, *, fallback: bool = False) -> int:
        size = self.size_of(node, fallback)
        self.peak = max(self.peak, size)
        return size

    def size_of(self, node: nodes.Node, fallback: bool) -> int:
        if isinstance(node, nodes.Const):
            return len(str(node.value))
        if isinstance(node, nodes.Name):
            return self.name(node, fallback)
        if isinstance(node, nodes.Getattr):
            return self.attribute(node, fallback)
        if isinstance(node, nodes.Filter):
            return self.filter(node)
        if isinstance(node, nodes.CondExpr):
            self.tested(node.test)
            outer, self.guarded = self.guarded, self.guarded | self.guards_of(node.test)
            then = self.expr(node.expr1)
            self.guarded = outer
            return max(then, 0 if node.expr2 is None else self.expr(node.expr2))
        if isinstance(node, nodes.Test | nodes.Compare | nodes.Not):
            if isinstance(node, nodes.Test):
                _check_arguments(node, _parser.tests.get(node.name), "test")
            self.testing += 1
            for child in node.iter_child_nodes():
                self.expr(child)
            self.testing -= 1
            return len("False")
        containers = nodes.Concat | nodes.List | nodes.Tuple | nodes.Dict | nodes.Pair | nodes.And | nodes.Or
        if isinstance(node, containers | nodes.Keyword | nodes.Operand):
            return 2 + sum(4 + self.expr(child) for child in node.iter_child_nodes())
        if isinstance(node, nodes.BinExpr | nodes.UnaryExpr):
            raise _Refused(node, f"arithmetic ('{node.operator}') is not supported in messages")
        if isinstance(node, nodes.Call):
            raise _call_refusal(node)
        if isinstance(node, nodes.Getitem):
            raise _Refused(node, "'[...]' is not allowed: read fields with a dot, as in lead.first_name")
        raise _Refused(node, f"this expression is not supported in messages ({type(node).__name__})")

    def name(self, node: nodes.Name, fallback: bool) -> int:
        self.check_name(node)
        size = self.local(node.name)
        if size is not None:
            return size
        if node.name in _RECORDS:
            raise _Refused(node, f"'{node.name}' needs a field, as in {node.name}.{_RECORDS[node.name][0]}")
        return self.variable(node.name, fallback)

    def attribute(self, node: nodes.Getattr, fallback: bool) -> int:
        if node.attr.startswith("_"):
            raise _Refused(node, f"'{node.attr}' is private: names starting with '_' are not allowed")
        base = node.node.name if isinstance(node.node, nodes.Name) else None
        if base in _RECORDS:
            return self.variable(f"{base}.{node.attr}", fallback)
        if base == "loop" and self.local("loop") is not None and node.attr in LOOP_ATTRIBUTES:
            return 20
        raise _Refused(node, f"'.{node.attr}' is not allowed: only lead.<field> and sender.<field> can be read")

    def variable(self, name: str, fallback: bool) -> int:
        self.variables.add(name)
        if not self.testing:
            if not fallback and name not in self.guarded:
                self.bare.add(name)
            self.shows_unsubscribe |= self.printing and name == UNSUBSCRIBE_URL
        return ASSUMED_FIELD_LENGTH if name in self.allowed else 0

    def filter(self, node: nodes.Filter) -> int:
        if node.name not in FILTERS:
            allowed = ", ".join(sorted(FILTERS))
            raise _Refused(node, f"the filter '{node.name}' is not allowed; the allowed filters are {allowed}")
        _check_arguments(node, _parser.filters[node.name], "filter")
        if node.name == "join" and (len(node.args) > 1 or "attribute" in _keywords(node)):
            raise _Refused(node, "join(attribute=...) is not allowed: only join(separator)")
        assert node.node is not None  # only a {% filter %} block, refused above, has no value
        value = self.expr(node.node, fallback=node.name in FALLBACK_FILTERS)
        args = [self.expr(arg) for arg in node.args]
        kwargs = {key: self.expr(value) for key, value in _keywords(node).items()}

        def arg(position: int, key: str, absent: int) -> int:
            return args[position] if position < len(args) else kwargs.get(key, absent)

        if node.name in FALLBACK_FILTERS:
            return max(value, arg(0, "default_value", 0))
        if node.name == "replace":
            return value + (value + 1) * arg(1, "new", 0)  # 'ab'|replace('', 'X') is 'XaXbX'
        if node.name == "join":
            return value + value * arg(0, "d", 0)
        if node.name == "wordwrap":
            return value + value * arg(2, "wrapstring", 1)
        if node.name == "truncate":
            return value + arg(2, "end", 3)
        if node.name in ("e", "escape"):
            return 6 * value  # '"' becomes '&#34;'
        return 20 if node.name == "length" else value


def _call_refusal(node: nodes.Call) -> _Refused:
    callee = node.node
    if isinstance(callee, nodes.Getattr):
        return _Refused(node, f"calling methods is not allowed ('.{callee.attr}(...)'); use a filter")
    if isinstance(callee, nodes.Name):
        return _Refused(node, f"calling functions is not allowed ('{callee.name}(...)')")
    return _Refused(node, "calling functions or methods is not allowed")


def _check_arguments(node: nodes.Filter | nodes.Test, function: Any, kind: str) -> None:
    if function is None:
        raise _Refused(node, f"there is no {kind} named '{node.name}'")
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        raise _Refused(node, f"the {kind} '{node.name}' cannot take *args or **kwargs")
    passed = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # the context or environment
    try:
        inspect.signature(function).bind(*[None] * (passed + 1 + len(node.args)), **dict.fromkeys(_keywords(node)))
    except TypeError:
        raise _Refused(node, f"the {kind} '{node.name}' does not take these arguments") from None


def _keywords(node: nodes.Filter | nodes.Test) -> dict[str, nodes.Expr]:
    # jinja2 annotates these as Pair, but the parser builds Keyword nodes
    return {keyword.key: keyword.value for keyword in cast(list[nodes.Keyword], node.kwargs)}


def _dotted(node: nodes.Node) -> str | None:
    """`lead.first_name` or `foo` for a variable read, else None."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name in _RECORDS:
        return f"{node.node.name}.{node.attr}"
    if isinstance(node, nodes.Name) and node.name not in _RECORDS:
        return node.name
    return None


def _segments(template: nodes.Template, allowed: frozenset[str]) -> tuple[Segment, ...] | None:
    pieces: list[Segment] = []
    for statement in template.body:
        if not isinstance(statement, nodes.Output):
            return None
        for item in statement.nodes:
            piece = _segment(item, allowed)
            if piece is None:
                return None
            if piece.variable is None and pieces and pieces[-1].variable is None:
                piece = Segment(text=pieces.pop().text + piece.text)
            if piece.variable is not None or piece.text:
                pieces.append(piece)
    return tuple(pieces)


def _segment(item: nodes.Expr, allowed: frozenset[str]) -> Segment | None:
    if isinstance(item, nodes.TemplateData):
        return Segment(text=item.data)
    if isinstance(item, nodes.Const) and isinstance(item.value, str):
        return Segment(text=item.value)
    fallback = None
    if isinstance(item, nodes.Filter) and item.name in FALLBACK_FILTERS and item.node is not None:
        if item.kwargs or len(item.args) > 1:
            return None
        fallback = ""
        if item.args:
            argument = item.args[0]
            if not (isinstance(argument, nodes.Const) and isinstance(argument.value, str)):
                return None
            fallback = argument.value
        item = item.node
    name = _dotted(item)
    if name is None:
        return None
    if name not in allowed:
        return Segment(text=fallback or "")  # an unknown name prints nothing, or its fallback
    return Segment(variable=name, fallback=fallback)
