"""IR expressions and actions as Z3 terms over symbolic states.

A *symbolic state* is a tuple of Z3 constants, one per state position (:func:`fresh_state`):
a ``Bool`` for a position whose leaf holds Bools, an ``Int`` for every other position
(Ints beat small bit-vectors here: the values are tiny, the operations are comparisons and
sums, and the arithmetic solver never has to reason about overflow).

Every expression becomes an :class:`Encoded` pair: its value, and the condition under which
it is *undefined* in the sense of :mod:`kubecheck.evaluate` (a read outside an array's
domain whose value is used; ``&``, ``|``, ``=>`` and ``when`` follow the same three-valued
rules). An engine never lets an undefined value decide anything silently: guards and
properties hold only where they are defined, and :meth:`ActionRelation.error` and
:meth:`Encoder.state_errors` say where the reference evaluator would stop with a
:class:`~kubecheck.errors.ModelRuntimeError` (an undefined guard, update, property or
constraint; a write outside an array's domain or outside its type), so a checker asks the
solver for such a state separately, as :mod:`kubecheck.symbolic` does at every depth.

An action is a transition formula over (pre, post) (:meth:`Encoder.action_relation`). Its
parameters stay symbolic (Z3 constants constrained to their domains), ``forall`` binders
and quantifiers are unrolled over their finite domains, a write at a symbolic index is
``post[i] = ite(i == index, value, pre[i])``, and every position the action does not write
keeps its value. The relation has no "the state changes" conjunct, because the reference
engines count a step that leaves the state as it is as a transition too (a step property is
judged on it).

For example, the ownership checks prove that a conditional write never changes a variable::

    enc = Encoder(ir)
    pre, post = fresh_state(ir, "pre"), fresh_state(ir, "post")
    rel = enc.action_relation(ir.action("kubelet_start_pod"), pre, post)
    solver.add(enc.type_invariant(pre), rel.relation, post[k] != pre[k])   # unsat: never written
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import z3

from .expr import Expr
from .ir import IR, Action, Property
from .types import ArrayType, BoolType, Leaf, QueueType, RecordType, ScalarType, Type, flatten

__all__ = ["Encoded", "ActionRelation", "Encoder", "SymbolicState", "fresh_state", "encode", "action_relation",
           "decode_state", "seeded_context", "seeded_solver"]

SymbolicState = tuple  # one Z3 constant per state position
Term = Any             # a Python int/bool (folded) or a Z3 expression


@dataclass(frozen=True)
class Encoded:
    """An expression's value and when it is undefined (``False`` where it never is)."""

    value: Term
    undefined: Term


@dataclass(frozen=True)
class ActionRelation:
    """One action as Z3 formulas over (pre, post).

    - ``params``: the action's parameters, Z3 ``Int`` constants, by name;
    - ``domain``: every parameter lies in its domain;
    - ``guard``: the guard holds (and is defined), given the domain;
    - ``relation``: domain, guard, the simultaneous updates and the frame;
    - ``writes``: for each position the action may write, its value after the step (a term over ``pre``: the
      written value where the write hits it, else its old value);
    - ``error``: domain, and the reference evaluator would stop in ``pre`` on this instance (its
      guard is undefined; or it is enabled and an update is undefined, writes outside its array's
      domain, or writes a value outside its type).
    """

    action: Action
    params: dict[str, Any]
    domain: Term
    guard: Term
    relation: Term
    error: Term
    writes: dict[int, Term]


_SEED = 0


def seeded_context() -> z3.Context:
    """A Z3 context of its own for one run: terms, their ids and the solvers' state start afresh, so a run's
    answers (a CTI, a counterexample) do not depend on what ran before it in the same process."""
    z3.set_param("smt.random_seed", _SEED)
    z3.set_param("sat.random_seed", _SEED)
    return z3.Context()


def seeded_solver(ctx: z3.Context) -> z3.Solver:
    """A solver in ``ctx`` with a fixed random seed (same question, same model)."""
    s = z3.Solver(ctx=ctx)
    s.set("random_seed", _SEED)
    return s


def fresh_state(ir: IR, name: str, ctx: z3.Context | None = None) -> SymbolicState:
    """A symbolic state: one Z3 constant per position, named ``name.location`` (in ``ctx``; default: Z3's main
    context)."""
    out = []
    for lf in ir.leaves:
        for k in range(lf.size):
            label = f"{name}.{_location(lf, k)}"
            out.append(z3.Bool(label, ctx) if isinstance(lf.elem, BoolType) else z3.Int(label, ctx))
    return tuple(out)


def decode_state(model: z3.ModelRef, state: SymbolicState) -> tuple[int, ...]:
    """The concrete state a Z3 model gives a symbolic state."""
    out = []
    for t in state:
        v = model.eval(t, model_completion=True)
        out.append(int(z3.is_true(v)) if z3.is_bool(v) else v.as_long())
    return tuple(out)


def _location(lf: Leaf, k: int) -> str:
    idx = []
    for d, s in zip(lf.dims, lf.strides):
        idx.append(d.show(d.lo + k // s))
        k %= s
    return lf.name + "".join(f"[{i}]" for i in idx)


# ---- folding helpers: keep Python constants Python, so unrolled quantifiers stay small ---------

def _is_const(x: Term) -> bool:
    return isinstance(x, (bool, int))


def _and(*xs: Term) -> Term:
    parts = []
    for x in xs:
        if _is_const(x):
            if not x:
                return False
            continue
        parts.append(x)
    if not parts:
        return True
    return parts[0] if len(parts) == 1 else z3.And(*parts)


def _or(*xs: Term) -> Term:
    parts = []
    for x in xs:
        if _is_const(x):
            if x:
                return True
            continue
        parts.append(x)
    if not parts:
        return False
    return parts[0] if len(parts) == 1 else z3.Or(*parts)


def _not(x: Term) -> Term:
    return (not x) if _is_const(x) else z3.Not(x)


def _ite(c: Term, a: Term, b: Term) -> Term:
    if _is_const(c):
        return a if c else b
    if _is_const(a) and _is_const(b) and isinstance(a, bool) and isinstance(b, bool):
        if a == b:
            return a
        return c if a else z3.Not(c)
    if a is b:
        return a
    return z3.If(c, a, b)


def _eq(a: Term, b: Term) -> Term:
    if _is_const(a) and _is_const(b):
        return a == b
    if _is_const(a):
        a, b = b, a
    if isinstance(b, bool) and z3.is_bool(a):
        return a if b else z3.Not(a)
    return a == b


def _in_range(x: Term, lo: int, hi: int) -> Term:
    if _is_const(x):
        return lo <= x <= hi
    if lo == hi:
        return x == lo
    return z3.And(x >= lo, x <= hi)


def _as_int(x: Term) -> Term:
    if _is_const(x):
        return int(x)
    return z3.If(x, 1, 0) if z3.is_bool(x) else x


def _as_bool(x: Term, t: ScalarType) -> Term:
    """A value of Bool type: Bool positions are Z3 Bools already; parameters and binders are ints."""
    if not isinstance(t, BoolType):
        return x
    if _is_const(x):
        return bool(x)
    return x if z3.is_bool(x) else x == 1


def _scalar_const(v: int, t: ScalarType) -> Term:
    return bool(v) if isinstance(t, BoolType) else v


_ARITH2 = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a / b,   # Z3's integer division is floored for a positive divisor (SMT-LIB div)
    "mod": lambda a, b: a % b,        # and its remainder is then in 0..b-1, as Python's
    "min": lambda a, b: z3.If(a <= b, a, b), "max": lambda a, b: z3.If(a >= b, a, b),
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


class _Context:
    """Encodes expressions for one (pre, post, params, acting), caching shared sub-expressions."""

    def __init__(self, enc: "Encoder", pre: SymbolicState, post: SymbolicState | None,
                 params: dict[str, Any], acting: Callable[[tuple[str, ...]], Term] | None) -> None:
        self.enc = enc
        self.pre = pre
        self.post = post
        self.params = params
        self.acting = acting
        self.cache: dict[tuple, Encoded] = {}

    def __call__(self, e: Expr, bound: tuple[int, ...] = ()) -> Encoded:
        levels = self.enc.levels(e)
        key = (id(e),) + tuple(bound[lv] if lv < len(bound) else 0 for lv in levels)
        hit = self.cache.get(key)
        if hit is None:
            hit = self._encode(e, bound)
            self.cache[key] = hit
        return hit

    def _encode(self, e: Expr, bound: tuple[int, ...]) -> Encoded:
        op = e.op
        if op == "const":
            return Encoded(_scalar_const(e.data, e.type), False)
        if op == "param":
            return Encoded(_as_bool(self.params[e.data], e.type), False)
        if op == "bound":
            return Encoded(_scalar_const(bound[e.data], e.type), False)
        if op == "acting":
            if self.acting is None:
                raise ValueError("step.by(...) outside a step property")
            return Encoded(self.acting(e.data), False)
        if op == "read":
            return self._read(e, bound)
        if op in ("and", "or", "implies"):
            a, b = self(e.args[0], bound), self(e.args[1], bound)
            if op == "and":
                value = _and(a.value, b.value)
                decided = _or(_and(_not(a.undefined), _not(a.value)), _and(_not(b.undefined), _not(b.value)))
            elif op == "or":
                value = _or(a.value, b.value)
                decided = _or(_and(_not(a.undefined), a.value), _and(_not(b.undefined), b.value))
            else:
                value = _or(_not(a.value), b.value)
                decided = _or(_and(_not(a.undefined), _not(a.value)), _and(_not(b.undefined), b.value))
            undefined = _or(a.undefined, b.undefined)
            if not _is_const(undefined) or undefined:
                undefined = _and(_not(decided), undefined)
            return Encoded(value, undefined)
        if op == "not":
            a = self(e.args[0], bound)
            return Encoded(_not(a.value), a.undefined)
        if op == "ite":
            c = self(e.args[0], bound)
            if _is_const(c.value):
                chosen = self(e.args[1] if c.value else e.args[2], bound)
                return Encoded(chosen.value, _or(c.undefined, chosen.undefined))
            x, y = self(e.args[1], bound), self(e.args[2], bound)
            return Encoded(_ite(c.value, x.value, y.value),
                           _or(c.undefined, _ite(c.value, x.undefined, y.undefined)))
        if op == "reduce":
            return self._reduce(e, bound)
        args = [self(a, bound) for a in e.args]
        undefined = _or(*(a.undefined for a in args))
        vals = [a.value for a in args]
        if all(_is_const(v) for v in vals):
            from .expr import APPLY
            out = APPLY[op](*(int(v) for v in vals))
            return Encoded(bool(out) if op in ("eq", "ne", "lt", "le", "gt", "ge") else out, undefined)
        if op == "neg":
            return Encoded(-_as_int(vals[0]), undefined)
        if op in ("eq", "ne") and isinstance(e.args[0].type, BoolType):
            a, b = vals
            eq = _eq(a, b)
            return Encoded(eq if op == "eq" else _not(eq), undefined)
        a, b = (_as_int(v) for v in vals)
        if _is_const(a) and not _is_const(b):
            a = z3.IntVal(a, b.ctx)
        return Encoded(_ARITH2[op](a, b), undefined)

    def _read(self, e: Expr, bound: tuple[int, ...]) -> Encoded:
        name, primed = e.data
        leaf = self.enc.leaves[name]
        src = self.post if primed else self.pre
        if src is None:
            raise ValueError(f"a primed read of `{name}` outside a step property")
        idx = [self(a, bound) for a in e.args]
        undefined = _or(*(i.undefined for i in idx))
        outside = []
        for ix_expr, i, d in zip(e.args, idx, leaf.dims):
            if _is_const(i.value):
                if not d.lo <= int(i.value) <= d.hi:
                    return Encoded(_scalar_const(leaf.elem.default(), leaf.elem), True)
            elif ix_expr.lo < d.lo or ix_expr.hi > d.hi:
                outside.append(_not(_in_range(_as_int(i.value), d.lo, d.hi)))
        undefined = _or(undefined, *outside)
        return Encoded(_select(leaf, src, [i.value for i in idx]), undefined)

    def _reduce(self, e: Expr, bound: tuple[int, ...]) -> Encoded:
        b, body = e.args
        kind = e.data
        level = b.data
        parts = []
        for v in b.type.values():
            env = tuple(bound[:level]) + (0,) * max(0, level - len(bound)) + (v,)
            parts.append(self(body, env))
        undefined = _or(*(p.undefined for p in parts))
        if kind in ("all", "any"):
            if kind == "all":
                value = _and(*(p.value for p in parts))
                decided = _or(*(_and(_not(p.undefined), _not(p.value)) for p in parts))
            else:
                value = _or(*(p.value for p in parts))
                decided = _or(*(_and(_not(p.undefined), p.value) for p in parts))
            if not _is_const(undefined) or undefined:
                undefined = _and(_not(decided), undefined)
            return Encoded(value, undefined)
        terms = [_as_int(p.value) for p in parts]
        consts = sum(t for t in terms if _is_const(t))
        rest = [t for t in terms if not _is_const(t)]
        if not rest:
            return Encoded(consts, undefined)
        total = z3.Sum(*rest) if len(rest) > 1 else rest[0]
        return Encoded(total + consts if consts else total, undefined)


def _select(leaf: Leaf, state: SymbolicState, index: Sequence[Term]) -> Term:
    """``leaf[index]`` in ``state``: the position itself for constant indices, else an if-then-else chain over
    the index's domain (the last element is the default branch; out of the domain the read is undefined anyway)."""

    def go(k: int, base: int) -> Term:
        if k == len(leaf.dims):
            return state[base]
        d, s, i = leaf.dims[k], leaf.strides[k], index[k]
        if _is_const(i):
            return go(k + 1, base + (int(i) - d.lo) * s)
        values = list(d.values())
        out = go(k + 1, base + (values[-1] - d.lo) * s)
        for v in reversed(values[:-1]):
            out = _ite(_eq(i, _scalar_const(v, d)), go(k + 1, base + (v - d.lo) * s), out)
        return out

    return go(0, leaf.offset)


class Encoder:
    """Encodes one IR's expressions, actions, initial states, constraints and type invariant as Z3 terms.

    Its terms live in ``ctx`` (default: Z3's main context); give the states it encodes the same one
    (``fresh_state(ir, name, enc.ctx)``). A run with its own context gets the same answers whatever
    ran before it in the process."""

    def __init__(self, ir: IR, ctx: z3.Context | None = None, facts: Sequence[Any] = ()) -> None:
        self.ir = ir
        self.ctx = ctx if ctx is not None else z3.main_ctx()
        self.facts = tuple(facts)   # proved canonical facts (kubecheck.canonical) the type invariant includes
        self.leaves = {lf.name: lf for lf in ir.leaves}
        self._levels: dict[int, tuple[int, ...]] = {}
        self._queues = _queue_layout(ir)

    def levels(self, e: Expr) -> tuple[int, ...]:
        """The binder levels ``e`` reads (so a sub-expression that does not depend on a binder is cached once)."""
        key = id(e)
        out = self._levels.get(key)
        if out is None:
            if e.op == "bound":
                out = (e.data,)
            elif e.op == "reduce":
                out = tuple(lv for lv in self.levels(e.args[1]) if lv != e.args[0].data)
            else:
                out = tuple(sorted(set(itertools.chain.from_iterable(self.levels(a) for a in e.args))))
            self._levels[key] = out
        return out

    def context(self, pre: SymbolicState, post: SymbolicState | None = None, params: dict[str, Any] | None = None,
                acting: Callable[[tuple[str, ...]], Term] | None = None) -> _Context:
        """An encoding context: call it on expressions that share (pre, post, params, acting)."""
        return _Context(self, pre, post, params or {}, acting)

    def encode(self, e: Expr, pre: SymbolicState, post: SymbolicState | None = None,
               params: dict[str, Any] | None = None, acting: Callable[[tuple[str, ...]], Term] | None = None
               ) -> Encoded:
        """One expression's value and undefinedness."""
        return self.context(pre, post, params, acting)(e)

    # ---- actions ----
    def action_params(self, action: Action, tag: str) -> dict[str, Any]:
        """Fresh Z3 constants for an action's parameters (``tag`` keeps copies apart, e.g. one per step)."""
        return {p.data: z3.Int(f"{tag}{action.name}.{p.data}", self.ctx) for p in action.params}

    def action_relation(self, action: Action, pre: SymbolicState, post: SymbolicState,
                        params: dict[str, Any] | None = None, tag: str = "") -> ActionRelation:
        """``action`` as a transition formula from ``pre`` to ``post`` (see :class:`ActionRelation`)."""
        if params is None:
            params = self.action_params(action, tag)
        ctx = self.context(pre, None, params)
        domain = _and(*(_in_range(params[p.data], p.type.lo, p.type.hi) for p in action.params))
        g = ctx(action.guard)
        guard = _and(g.value, _not(g.undefined))
        writes: dict[int, list[tuple[Term, Term]]] = {}
        update_errors = []
        for u in action.updates:
            leaf = self.leaves[u.leaf]
            for env in _bindings(u.binders):
                idx = [ctx(ix, env) for ix in u.index]
                value = ctx(u.value, env)
                update_errors.append(_or(value.undefined, *(i.undefined for i in idx)))
                inside = []
                for ix_expr, i, d in zip(u.index, idx, leaf.dims):
                    if _is_const(i.value) or ix_expr.lo < d.lo or ix_expr.hi > d.hi:
                        inside.append(_in_range(_as_int(i.value), d.lo, d.hi))
                update_errors.append(_not(_and(*inside)))
                t = leaf.elem
                if not isinstance(t, BoolType) and (u.value.lo < t.lo or u.value.hi > t.hi):
                    update_errors.append(_not(_in_range(value.value, t.lo, t.hi)))
                for pos, at in _positions(leaf, [i.value for i in idx]):
                    writes.setdefault(pos, []).append((at, value.value))
        after: dict[int, Term] = {}
        for pos, hits in writes.items():
            new: Term = pre[pos]
            for at, value in reversed(hits):
                new = _ite(at, value, new)
            after[pos] = new
        frame = [_eq(post[pos], after.get(pos, pre[pos])) for pos in range(self.ir.width)]
        relation = _and(domain, guard, *frame)
        error = _and(domain, _or(g.undefined, _and(guard, _or(*update_errors))))
        return ActionRelation(action, params, domain, guard, relation, error, after)

    # ---- states ----
    def initial(self, state: SymbolicState) -> Term:
        """``state`` is an initial state: each position among its initial choices, and every initial condition
        holds (and is defined)."""
        parts = [_or(*(_eq(state[pos], _scalar_const(v, self.ir.scalar_type_at(pos))) for v in choices))
                 for pos, choices in enumerate(self.ir.init_choices)]
        ctx = self.context(state)
        for c in self.ir.init_conditions:
            x = ctx(c)
            parts.append(_and(x.value, _not(x.undefined)))
        return _and(*parts)

    def initial_errors(self, state: SymbolicState) -> Term:
        """Some initial condition is undefined on a state of the initial choices."""
        ctx = self.context(state)
        choices = [_or(*(_eq(state[pos], _scalar_const(v, self.ir.scalar_type_at(pos))) for v in options))
                   for pos, options in enumerate(self.ir.init_choices)]
        return _and(*choices, _or(*(ctx(c).undefined for c in self.ir.init_conditions)))

    def constraints(self, state: SymbolicState) -> Term:
        """``state`` satisfies every state constraint (states outside are not explored)."""
        ctx = self.context(state)
        return _and(*(_and(x.value, _not(x.undefined)) for x in (ctx(c) for c in self.ir.constraints)))

    def constraint_errors(self, state: SymbolicState) -> Term:
        ctx = self.context(state)
        return _or(*(ctx(c).undefined for c in self.ir.constraints))

    def holds(self, prop: Property, pre: SymbolicState, post: SymbolicState | None = None,
              acting: Callable[[tuple[str, ...]], Term] | None = None, which: int = 0) -> Encoded:
        """A property's expression on a state (a step property: on the step from ``pre`` to ``post``)."""
        return self.encode(prop.exprs[which], pre, post, None, acting)

    def type_invariant(self, state: SymbolicState, canonical: bool = True) -> Term:
        """Every position within its scalar type; with ``canonical``, also every queue slot at or past its
        queue's length holds the element type's default, as the lowering of queues keeps it, and every fact
        the encoder was given holds (the defaults of absent objects that :func:`kubecheck.canonical.absent_defaults`
        proved for every reachable state)."""
        parts = []
        for lf in self.ir.leaves:
            if isinstance(lf.elem, BoolType):
                continue
            for pos in range(lf.offset, lf.offset + lf.size):
                parts.append(_in_range(state[pos], lf.elem.lo, lf.elem.hi))
        if canonical:
            for length, items, dims, cap in self._queues:
                for outer in itertools.product(*(d.values() for d in dims)):
                    n = state[self.leaves[length].position(outer)]
                    for slot in range(cap):
                        for name in items:
                            lf = self.leaves[name]
                            default = _scalar_const(lf.elem.default(), lf.elem)
                            parts.append(z3.Implies(n <= slot, _eq(state[lf.position(outer + (slot,))], default)))
            parts += [f.holds(state) for f in self.facts]
        return _and(*parts)


def _positions(leaf: Leaf, index: Sequence[Term]) -> list[tuple[int, Term]]:
    """Every position a write at ``index`` may hit, with the condition that it does."""
    out = []
    for combo in itertools.product(*(d.values() for d in leaf.dims)):
        conds = [_eq(i, _scalar_const(v, d)) for i, v, d in zip(index, combo, leaf.dims)]
        at = _and(*conds)
        if _is_const(at) and not at:
            continue
        out.append((leaf.position(combo), at))
    return out


def _bindings(binders: tuple[Expr, ...]) -> list[tuple[int, ...]]:
    if not binders:
        return [()]
    levels = [b.data for b in binders]
    out = []
    for combo in itertools.product(*(b.type.values() for b in binders)):
        env = [0] * (max(levels) + 1)
        for lv, v in zip(levels, combo):
            env[lv] = v
        out.append(tuple(env))
    return out


def _queue_layout(ir: IR) -> list[tuple[str, list[str], tuple[ScalarType, ...], int]]:
    """Every queue: its length leaf, its item leaves, the dimensions outside it, and its capacity."""
    out: list[tuple[str, list[str], tuple[ScalarType, ...], int]] = []

    def walk(name: str, t: Type, dims: tuple[ScalarType, ...]) -> None:
        if isinstance(t, ArrayType):
            walk(name, t.elem, dims + (t.index,))
        elif isinstance(t, RecordType):
            for fname, ft in t.fields:
                walk(f"{name}.{fname}", ft, dims)
        elif isinstance(t, QueueType):
            items = [lf.name for lf in flatten(f"{name}.items", t.elem, ())]
            out.append((f"{name}.len", items, dims, t.capacity))

    for v in ir.variables:
        walk(v.name, v.type, ())
    return out


def encode(ir: IR, e: Expr, pre: SymbolicState, post: SymbolicState | None = None,
           params: dict[str, Any] | None = None) -> Encoded:
    """``e`` over the symbolic ``pre`` (and ``post``, for primed reads), with ``params`` by name."""
    return Encoder(ir).encode(e, pre, post, params)


def action_relation(ir: IR, action: Action, pre: SymbolicState, post: SymbolicState,
                    params: dict[str, Any] | None = None) -> ActionRelation:
    """``action`` as a transition formula from ``pre`` to ``post``."""
    return Encoder(ir).action_relation(action, pre, post, params)
