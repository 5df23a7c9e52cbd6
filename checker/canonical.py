"""Canonical form: the defaults that every reachable state keeps, found from the IR and proved.

A proof by induction starts from an *arbitrary* type-correct state, and most of those are not
states a model can reach only because of how it lays objects out. Two such facts are part of
the type invariant of :mod:`kubecheck.symbolic`'s proofs:

- a queue slot at or past the queue's length holds the element type's default, which the
  lowering of queues keeps by construction (:meth:`kubecheck.z3encode.Encoder.type_invariant`);
- an absent object's fields hold their defaults: when a pod slot's stored phase is ``ABSENT``,
  its ``nodeName`` is ``NONE``. The IR does not say which variable marks an object absent, so
  this module finds these facts.

Every leaf ``M`` indexed by object slots is a candidate marker, and every other leaf ``F``
whose index starts with the same slots a candidate field: the candidate fact says
``M[x] == default(M)  =>  F[x, ...] == default(F)`` for every slot ``x``. Houdini (Flanagan
and Leino, "Houdini, an annotation assistant for ESC/Java", FME 2001) keeps the largest set of
candidates that is inductive: it drops every candidate an initial state violates, then every
candidate that some action breaks from a type-correct state where all the remaining candidates
hold (and the state constraints, as a breadth-first search expands only such states), and
repeats until no action breaks any. What remains holds in every reachable state, so assuming
it in an inductive step is sound and removes the counterexamples to induction that start from
a half-deleted object.

For example::

    from kubecheck.spec.scheduling_model import SchedulingModel
    for fact in absent_defaults(SchedulingModel().ir):
        print(fact)     # etcd_pod_phase[Pods] == ABSENT => etcd_pod_node[Pods] == none, ...
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import z3

from .ir import IR
from .types import Leaf, ScalarType
from .z3encode import Encoder, SymbolicState, _and, _eq, _scalar_const, fresh_state, seeded_context, \
    seeded_solver

__all__ = ["AbsentDefault", "absent_defaults"]


@dataclass(frozen=True)
class AbsentDefault:
    """For every slot ``x``: where ``marker[x]`` holds its default (the object is absent), every element of
    ``field[x, ...]`` holds its default too."""

    marker: Leaf
    field: Leaf

    def __str__(self) -> str:
        m, f = self.marker, self.field
        index = "".join(f"[{_index_name(d)}]" for d in m.dims)
        rest = "".join(f"[{_index_name(d)}]" for d in f.dims[len(m.dims):])
        return (f"{m.name}{index} == {m.elem.show(m.elem.default())} => "
                f"{f.name}{index}{rest} == {f.elem.show(f.elem.default())}")

    def holds_at(self, state: Sequence[int]) -> bool:
        """The fact on a concrete state tuple."""
        m, f = self.marker, self.field
        for x in itertools.product(*(d.values() for d in m.dims)):
            if state[m.position(x)] == m.elem.default() and any(
                    state[f.position(x + rest)] != f.elem.default()
                    for rest in itertools.product(*(d.values() for d in f.dims[len(m.dims):]))):
                return False
        return True

    def holds(self, state: SymbolicState) -> Any:
        """The fact on a symbolic state (a Z3 term, or ``True``)."""
        m, f = self.marker, self.field
        parts = []
        for x in itertools.product(*(d.values() for d in m.dims)):
            absent = _eq(state[m.position(x)], _scalar_const(m.elem.default(), m.elem))
            fields = [_eq(state[f.position(x + rest)], _scalar_const(f.elem.default(), f.elem))
                      for rest in itertools.product(*(d.values() for d in f.dims[len(m.dims):]))]
            parts.append(z3.Implies(absent, _and(*fields)) if not isinstance(absent, bool)
                         else (_and(*fields) if absent else True))
        return _and(*parts)


def _index_name(t: ScalarType) -> str:
    """How a fact names an index: the domain of object slots (``pod``), else the index type."""
    domain = getattr(t, "domain", None)
    return domain.name if domain is not None else t.describe()


def candidates(ir: IR) -> list[AbsentDefault]:
    """Every candidate fact, in IR order: a marker indexed by object slots, a field indexed by the same slots
    first."""
    out = []
    for m in ir.leaves:
        if not m.dims:
            continue
        for f in ir.leaves:
            if f is not m and f.dims[:len(m.dims)] == m.dims:
                out.append(AbsentDefault(m, f))
    return out


_FOUND: "weakref.WeakValueDictionary[int, Any]" = weakref.WeakValueDictionary()
_FACTS: dict[int, tuple[AbsentDefault, ...]] = {}


def absent_defaults(ir: IR) -> tuple[AbsentDefault, ...]:
    """The candidate facts that hold in every reachable state of ``ir`` (the largest inductive set; see the
    module). Computed once per IR; deterministic (a Z3 context of its own, fixed seeds)."""
    key = id(ir)
    if _FOUND.get(key) is ir:
        return _FACTS[key]
    facts = _houdini(ir, candidates(ir))
    _FACTS[key] = facts
    _FOUND[key] = ir
    weakref.finalize(ir, _FACTS.pop, key, None)
    return facts


def _houdini(ir: IR, facts: list[AbsentDefault]) -> tuple[AbsentDefault, ...]:
    """The largest subset of ``facts`` that holds initially and that every action preserves from a type-correct
    state (inside the constraints) where the whole subset holds: one solver per action, each fact switched on by
    a literal, and every model that breaks some fact drops all the facts it breaks."""
    enc = Encoder(ir, seeded_context())
    ctx = enc.ctx
    alive = dict.fromkeys(range(len(facts)), True)

    def prune(solver: z3.Solver, terms: list[Any], assumed: Callable[[], list[Any]] = list) -> bool:
        """Drop every live fact that ``terms`` makes false in a model (of the solver, under the literals
        ``assumed()`` gives) where some live fact is false; False when there is no such model."""
        live = [i for i in alive if not _is_true(terms[i])]
        if not live:
            return False
        goal = z3.FreshBool("broken", ctx)
        solver.add(z3.Implies(goal, z3.Or(*[z3.Not(_term(terms[i], ctx)) for i in live])))
        answer = solver.check(*assumed(), goal)
        if answer == z3.unsat:
            return False
        if answer != z3.sat:
            reason = solver.reason_unknown()
            if "cancel" in reason or "interrupt" in reason:
                raise KeyboardInterrupt
            alive.clear()           # undecided: keep nothing rather than assume what is not proved
            return False
        model = solver.model()
        for i in live:
            if not z3.is_true(model.eval(_term(terms[i], ctx), model_completion=True)):
                del alive[i]
        return True

    init = seeded_solver(ctx)
    s0 = fresh_state(ir, "init", ctx)
    init.add(_term(enc.initial(s0), ctx))
    at_init = [f.holds(s0) for f in facts]
    while prune(init, at_init):
        pass

    pre, post = fresh_state(ir, "pre", ctx), fresh_state(ir, "post", ctx)
    in_pre = [f.holds(pre) for f in facts]
    in_post = [f.holds(post) for f in facts]
    on = [z3.Bool(f"fact{i}", ctx) for i in range(len(facts))]
    solvers = []
    for a in ir.actions:
        s = seeded_solver(ctx)
        s.add(_term(_and(enc.type_invariant(pre), enc.constraints(pre),
                         enc.action_relation(a, pre, post, tag="pre.").relation), ctx))
        for i, t in enumerate(in_pre):
            s.add(z3.Implies(on[i], _term(t, ctx)))
        solvers.append(s)
    changed = bool(alive)
    while changed:
        changed = False
        for s in solvers:
            while prune(s, in_post, lambda: [on[i] for i in alive]):
                changed = True
    return tuple(facts[i] for i in alive)


def _is_true(t: Any) -> bool:
    return isinstance(t, bool) and t


def _term(t: Any, ctx: z3.Context) -> Any:
    return z3.BoolVal(t, ctx) if isinstance(t, bool) else t
