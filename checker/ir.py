"""The intermediate representation (IR) every engine reads.

A :class:`~kubecheck.model.Model` is traced once per configuration into an :class:`IR`:
plain frozen data, documented in ``docs/spec-language.md`` ("For engine writers").

- A *state* is a tuple of ints, ``IR.width`` long. Each declared variable is lowered to
  one or more :class:`~kubecheck.types.Leaf` objects (scalar arrays, row-major) that own a
  slice of the tuple.
- An :class:`Action` has parameters over finite domains, a guard (a Bool expression) and
  *simultaneous* :class:`Update` s that all read the pre-state.
- A :class:`Property` is an invariant, a reachability goal, a step property over
  (pre, post), or a temporal property.

Action instances are ordered by action order (source order, base components first), then
by parameter values, lexicographically in the order the parameters are declared. A BFS
that expands states in discovery order and instances in this order finds, for every
property, the same shortest counterexample on every engine.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

from .expr import Expr
from .types import Leaf, ScalarType, Type

__all__ = ["IR", "Variable", "Action", "Update", "Property", "ACTION_KINDS", "FAIRNESS", "PROPERTY_KINDS", "TEMPORAL_KINDS",
           "leaves_read", "subexpressions"]

ACTION_KINDS = ("system", "environment", "fault")
FAIRNESS = (None, "weak", "strong")
PROPERTY_KINDS = ("always", "sometimes", "step", "eventually", "eventually_always",
                  "always_eventually", "leads_to", "converges")
TEMPORAL_KINDS = ("eventually", "eventually_always", "always_eventually", "leads_to", "converges")
"""Kinds decided on the explored state graph, under the actions' fairness (:mod:`kubecheck.liveness`)."""


@dataclass(frozen=True)
class Variable:
    """A declared state variable, with its (bound) surface type and its leaves."""

    name: str
    type: Type
    leaves: tuple[Leaf, ...]
    component: str
    doc: str = ""
    source: str = ""        # the spec line that declares it


@dataclass(frozen=True)
class Update:
    """``leaf[index] := value`` for every binding of ``binders`` (a ``forall`` when non-empty).

    ``index`` and ``value`` read the pre-state; they may mention the action's parameters
    and the ``bound`` nodes in ``binders``.
    """

    leaf: str
    index: tuple[Expr, ...]
    value: Expr
    binders: tuple[Expr, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Action:
    """One action of the model: parameters, a guard, simultaneous updates."""

    name: str
    component: str
    kind: str                       # "system" | "environment" | "fault"
    fairness: str | None            # None | "weak" | "strong"
    params: tuple[Expr, ...]        # ``param`` nodes, in declaration order
    guard: Expr                     # Bool; the conjunction of every require(...)
    updates: tuple[Update, ...]
    writes: frozenset[str]          # leaf names this action may write
    source: str = ""
    doc: str = ""
    requires: tuple[tuple[Expr, str], ...] = ()   # each require(...) conjunct and its spec line
    declared_by: str = ""           # the component of the class that declares it (``component`` may name another)

    def instances(self) -> Iterator[tuple[int, ...]]:
        """Parameter values, in the documented order."""
        return itertools.product(*(p.type.values() for p in self.params))

    def param_names(self) -> tuple[str, ...]:
        return tuple(p.data for p in self.params)


@dataclass(frozen=True)
class Property:
    """A named property. ``exprs`` holds one Bool expression (two for ``leads_to``: p, q; for ``converges``:
    desired, matches)."""

    name: str
    kind: str
    exprs: tuple[Expr, ...]
    source: str = ""
    doc: str = ""


@dataclass(frozen=True)
class IR:
    """A model traced for one configuration."""

    model: str                                  # the model's name ("replicaset-anchor")
    config: dict[str, Any]                      # every constant, defaults included
    variables: tuple[Variable, ...]
    leaves: tuple[Leaf, ...]                    # with offsets and strides
    width: int                                  # length of a state tuple
    init_choices: tuple[tuple[int, ...], ...]   # allowed initial values, per state position
    init_conditions: tuple[Expr, ...]           # filters on initial states
    actions: tuple[Action, ...]
    properties: tuple[Property, ...]
    constraints: tuple[Expr, ...]               # state constraints: states outside are not explored
    check_deadlock: bool
    components: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # component -> what it owns (None: any)
    source: str = ""                            # the file the model class lives in
    class_name: str = ""                        # the model class, so a trace can name ``source:class_name``
    symmetric: tuple[str, ...] = ()             # domains whose elements the model treats alike (by name)
    dormant: dict[str, str] = field(default_factory=dict)  # action -> why this configuration never fires it

    def leaf(self, name: str) -> Leaf:
        for lf in self.leaves:
            if lf.name == name:
                return lf
        raise KeyError(name)

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def action(self, name: str) -> Action:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)

    def property(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def instance_count(self) -> int:
        return sum(_prod(len(p.type.values()) for p in a.params) for a in self.actions)

    def scalar_type_at(self, position: int) -> ScalarType:
        for lf in self.leaves:
            if lf.offset <= position < lf.offset + lf.size:
                return lf.elem
        raise IndexError(position)


def _prod(xs: Any) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def subexpressions(e: Expr, seen: set[int] | None = None) -> Iterator[Expr]:
    """Every node of the DAG under ``e`` (itself included), each once (``seen``: ids of nodes to skip, updated)."""
    seen = set() if seen is None else seen
    stack = [e]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        stack.extend(x.args)


def leaves_read(e: Expr, out: set[str] | None = None, seen: set[int] | None = None) -> set[str]:
    """The names of the leaves ``e`` reads (pre or post state), added to ``out``."""
    out = set() if out is None else out
    out.update(x.data[0] for x in subexpressions(e, seen) if x.op == "read")
    return out
