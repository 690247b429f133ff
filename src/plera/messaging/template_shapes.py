"""Which lead fields a template reads only by their shape, so that leads can be grouped by it.

A field's shape (`shape_of`) writes every ASCII letter and digit as "x" and keeps every other
character: "Acme GmbH" and "Abc1 Corp" share the shape "xxxx xxxx". When a template only prints a field
(directly, through the filters of SHAPE_FILTERS, in `~`, in an `if` or `else` branch) or tests whether
it is there, the rendered text has the same length for every value of one shape, so readiness renders
one value a shape, not every lead. A field compared, looped over, assigned to a name or passed through
another filter is read by its content, and the grouping keeps its value as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from jinja2 import TemplateSyntaxError, nodes

from plera.messaging.template_analysis import FALLBACK_FILTERS, LEAD_FIELDS, parse

# Each keeps the length of a shape: case mappings go character by character (an ASCII letter maps to
# one character, a kept character as before), and what they look at beyond that is kept as it is:
# spaces (trim, truncate, title's word starts) and the characters escape rewrites (& < > " ').
SHAPE_FILTERS = FALLBACK_FILTERS | {"upper", "lower", "title", "capitalize", "trim", "truncate"}
SHAPE_FILTERS |= {"e", "escape", "first", "last", "length", "join"}
# Filters whose first argument is printed instead of the value, so it is read as printed.
_PRINTING_ARGUMENTS = FALLBACK_FILTERS

_ALNUM = re.compile(r"[A-Za-z0-9]")


def shape_of(value: str) -> str:
    """The value with each ASCII letter and digit as "x"."""
    return _ALNUM.sub("x", value)


@lru_cache(maxsize=1024)
def shaped_fields(source: str) -> frozenset[str]:
    """The lead fields the template reads, and reads only by their shape (none if it does not parse)."""
    try:
        template = parse(source)
    except TemplateSyntaxError:
        return frozenset()
    walk = _Walk()
    walk.statements(template.body, printed=True)
    return frozenset(walk.read - walk.by_content)


class _Walk:
    def __init__(self) -> None:
        self.read: set[str] = set()
        self.by_content: set[str] = set()

    def statements(self, body: Iterable[nodes.Node], *, printed: bool) -> None:
        for node in body:
            self.statement(node, printed=printed)

    def statement(self, node: nodes.Node, *, printed: bool) -> None:
        if isinstance(node, nodes.Output):
            for item in node.nodes:
                self.expr(item, shaped=printed)  # text captured by `{% set %}` may be compared later
        elif isinstance(node, nodes.If):
            self.test(node.test)
            self.statements(node.body, printed=printed)
            for branch in node.elif_:
                self.statement(branch, printed=printed)
            self.statements(node.else_, printed=printed)
        elif isinstance(node, nodes.For):
            self.expr(node.iter, shaped=False)  # the loop variable holds pieces of it, read as they are
            if node.test is not None:
                self.expr(node.test, shaped=False)
            self.statements(node.body, printed=printed)
            self.statements(node.else_, printed=printed)
        elif isinstance(node, nodes.AssignBlock):
            self.statements(node.body, printed=False)
        else:  # set and with bind names whose later reads are not followed
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Expr):
                    self.expr(child, shaped=False)
                else:
                    self.statement(child, printed=printed)

    def test(self, node: nodes.Node) -> None:
        """`if x`, `if not x`, `if x and y`, `if x is defined`: whether a field is there is part of its shape."""
        if isinstance(node, nodes.And | nodes.Or):
            self.test(node.left)
            self.test(node.right)
        elif isinstance(node, nodes.Not):
            self.test(node.node)
        elif isinstance(node, nodes.Test) and node.name in ("defined", "undefined") and not node.args:
            self.expr(node.node, shaped=True)
        else:
            self.expr(node, shaped=True)  # its truth: a shaped value is empty exactly when its field is

    def expr(self, node: nodes.Node, *, shaped: bool) -> None:
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "lead":
            if node.attr in LEAD_FIELDS:
                self.read.add(node.attr)
                if not shaped:
                    self.by_content.add(node.attr)
            return
        if isinstance(node, nodes.Filter) and node.node is not None:
            keeps = node.name in SHAPE_FILTERS and not (node.name == "trim" and (node.args or node.kwargs))
            self.expr(node.node, shaped=shaped and keeps)
            for arg in [*node.args, *(k.value for k in node.kwargs)]:
                self.expr(arg, shaped=shaped and keeps and node.name in _PRINTING_ARGUMENTS)
            return
        if isinstance(node, nodes.CondExpr):
            self.test(node.test)
            self.expr(node.expr1, shaped=shaped)
            if node.expr2 is not None:
                self.expr(node.expr2, shaped=shaped)
            return
        # `~` prints its parts; `and`/`or` give one of theirs; anything else reads the content
        keeps = isinstance(node, nodes.Concat | nodes.And | nodes.Or)
        for child in node.iter_child_nodes():
            self.expr(child, shaped=shaped and keeps)
