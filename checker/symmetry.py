"""Symmetry reduction: interchangeable objects (pod slots, nodes) explored once per orbit.

A model declares the domains whose elements are interchangeable (``symmetric = (Pods,)``).
Renaming the elements of such a domain by a permutation, in every array index over it
and in every stored reference to it, maps a reachable state to a reachable state and
keeps every property's value. So the checker may store one state per orbit (the set of
states that differ only by such renamings) and explore the quotient graph: same
verdicts, fewer states.

Two things make this sound here, and this module provides both:

- **The model must be symmetric.** A domain is a *scalarset* in the sense of Ip and Dill
  ("Better verification through symmetry", Formal Methods in System Design 9, 1996): its
  elements may be compared for equality, used as indices and quantified over, but never
  ordered, computed with, or named as constants. The spec language already refuses
  ordering and arithmetic on references; :func:`check_symmetry` checks the rest on the
  IR (no constant element such as ``s.pods[0]``, no index of another type, symmetric
  initial values) and names the spec line that breaks it, before any state is explored.
- **Each orbit has one representative**: the lexicographically least state tuple among
  all renamings of a state (the orbit minimum of Clarke, Emerson, Jha and Sistla,
  "Symmetry reductions in model checking", CAV 1998). It is a canonical form, so every
  engine that uses it counts exactly the reachable orbits.

Counterexamples are found on representatives, so consecutive states of a raw trace are
linked by an action up to a renaming. :meth:`Symmetry.concretize` turns such a trace
back into a real behaviour of the model, renaming each action's parameters, so that the
trace replays.
"""

from __future__ import annotations

import itertools
import operator
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .errors import SpecError
from .expr import Expr, show
from .ir import IR, Action
from .result import Step, Trace
from .types import OptionType, RefType, ScalarType

__all__ = ["Symmetry", "check_symmetry", "symmetric_domains"]


def symmetric_domains(ir: IR) -> tuple[str, ...]:
    """The domains the model declares interchangeable (``symmetric = (...)``), by name."""
    return ir.symmetric


def _in_domain(t: ScalarType, domain: str) -> bool:
    return isinstance(t, (RefType, OptionType)) and t.domain.name == domain


@dataclass(frozen=True)
class _Renaming:
    """One element of the symmetry group: a permutation per symmetric domain, applied to whole states."""

    perms: tuple[tuple[int, ...], ...]                # per symmetric domain: element i -> perms[d][i]
    source: tuple[int, ...]                           # the moved positions: result[p] = state[source[p]]
    take: Callable[[tuple[int, ...]], tuple[int, ...]]  # itemgetter(*source)
    renames: tuple[tuple[int, tuple[int, ...]], ...]  # (position, new value per old value + 1) for references

    def apply(self, st: tuple[int, ...]) -> tuple[int, ...]:
        out = self.take(st)
        if not self.renames:
            return out
        t = list(out)
        for p, m in self.renames:
            t[p] = m[t[p] + 1]
        return tuple(t)


class Symmetry:
    """The renamings of a model's symmetric domains, and the canonical form they define.

    >>> sym = Symmetry(model.ir)          # doctest: +SKIP
    >>> sym.canonical(state)              # the orbit's least state tuple
    """

    def __init__(self, ir: IR) -> None:
        if not ir.symmetric:
            raise SpecError(f"model `{ir.model}` declares no symmetric domains, so there is nothing to reduce; "
                            "declare them on the model class (`symmetric = (Pods,)`), or drop --symmetry.")
        check_symmetry(ir)
        self.ir = ir
        self.domains = ir.symmetric
        sizes = [_domain_size(ir, d) for d in self.domains]
        self.group: list[_Renaming] = []
        for perms in itertools.product(*(itertools.permutations(range(n)) for n in sizes)):
            if all(p == tuple(range(len(p))) for p in perms):
                continue      # the identity is the state itself
            self.group.append(self._renaming(tuple(perms)))
        self._compare = self._comparison_kernels()

    @property
    def size(self) -> int:
        """The number of renamings, the identity included: the most an orbit can hold."""
        return len(self.group) + 1

    def canonical(self, st: tuple[int, ...]) -> tuple[int, ...]:
        """The least state tuple among every renaming of ``st`` (``st`` itself, the same object, if it is least).

        Renamings are compared on the positions some renaming changes (the others hold the same
        value in every renaming, so they never decide a lexicographic comparison); only the
        winner is built whole. That halves the work on the cluster, where 110 of 205 positions
        move."""
        identity, kernels = self._compare
        best, winner = identity(st), None
        for g, (take, renames) in zip(self.group, kernels):
            t = take(st)
            if renames:
                cand = list(t)
                for i, m in renames:
                    cand[i] = m[cand[i] + 1]
                t = tuple(cand)
            if t < best:
                best, winner = t, g
        return st if winner is None else winner.apply(st)

    def _comparison_kernels(self) -> tuple[Callable[[tuple[int, ...]], tuple[int, ...]],
                                           list[tuple[Callable[[tuple[int, ...]], tuple[int, ...]],
                                                      tuple[tuple[int, tuple[int, ...]], ...]]]]:
        """The positions that some renaming changes, as a getter for the state itself and, per renaming, a getter
        of its moved values and the references to rename among them."""
        active = sorted({p for g in self.group for p, src in enumerate(g.source) if src != p}
                        | {p for g in self.group for p, _ in g.renames})

        def getter(positions: list[int]) -> Callable[[tuple[int, ...]], tuple[int, ...]]:
            if len(positions) == 1:
                only = positions[0]
                return lambda st: (st[only],)
            return operator.itemgetter(*positions)

        if not active:
            return (lambda st: ()), [((lambda st: ()), ()) for _ in self.group]
        where = {p: i for i, p in enumerate(active)}
        kernels = [(getter([g.source[p] for p in active]),
                    tuple((where[p], m) for p, m in g.renames)) for g in self.group]
        return getter(active), kernels

    def canonical_rows(self, rows: Any) -> Any:
        """:meth:`canonical` for a whole batch: ``rows`` is an (n, width) integer numpy array, one state per
        row; the result has each row replaced by its orbit's least row (for vectorised engines)."""
        import numpy as np

        best = np.array(rows, copy=True)
        if not len(best):
            return best
        at = np.arange(len(best))
        for source, renames in self._row_kernels():
            cand = np.take(rows, source, axis=1)
            for positions, table in renames:
                cand[:, positions] = table[cand[:, positions] + 1]
            diff = cand != best
            first = diff.argmax(axis=1)
            less = diff[at, first] & (cand[at, first] < best[at, first])
            best[less] = cand[less]
        return best

    def _row_kernels(self) -> list[tuple[Any, list[tuple[Any, Any]]]]:
        """Per renaming: the source column of every position, and (positions, value table) for references."""
        kernels = getattr(self, "_kernels", None)
        if kernels is None:
            import numpy as np

            kernels = []
            for g in self.group:
                by_table: dict[tuple[int, ...], list[int]] = {}
                for p, table in g.renames:
                    by_table.setdefault(table, []).append(p)
                kernels.append((np.array(g.source, dtype=np.intp),
                                [(np.array(ps, dtype=np.intp), np.array(t)) for t, ps in by_table.items()]))
            self._kernels = kernels
        return kernels

    def _renaming(self, perms: tuple[tuple[int, ...], ...]) -> _Renaming:
        source = list(range(self.ir.width))
        renames: list[tuple[int, tuple[int, ...]]] = []
        for lf in self.ir.leaves:
            moves = [self._perm_for(d, perms) for d in lf.dims]
            for idx in itertools.product(*(d.values() for d in lf.dims)):
                to = tuple(m[i] if m is not None else i for m, i in zip(moves, idx))
                target, origin = lf.position(to), lf.position(idx)
                assert target is not None and origin is not None
                source[target] = origin
            values = self._perm_for(lf.elem, perms)
            if values is not None:
                table = (-1,) + tuple(values)          # indexed by old value + 1 (NONE is -1)
                for p in range(lf.offset, lf.offset + lf.size):
                    renames.append((p, table))
        take = operator.itemgetter(*source) if self.ir.width > 1 else (lambda st: tuple(st[i] for i in source))
        return _Renaming(perms, tuple(source), take, tuple(renames))

    def _perm_for(self, t: ScalarType, perms: tuple[tuple[int, ...], ...]) -> tuple[int, ...] | None:
        for d, p in zip(self.domains, perms):
            if _in_domain(t, d):
                return p
        return None

    # ---- traces ----

    def concretize(self, trace: Trace, ir: IR, successor: Callable[[Action, tuple[int, ...], tuple[int, ...]],
                                                                    tuple[int, ...] | None]) -> Trace:
        """A real behaviour of the model for a trace over representatives.

        Each recorded step applied an action to a representative; here the same action runs
        on the concrete state, with its parameters renamed by the renaming that maps the
        concrete state to that representative. Each concrete state is a renaming of the
        recorded one, so every property has the same value on it.
        """
        steps = list(trace.steps)
        x = steps[0].state
        out = [Step(None, (), x)]
        for k in range(1, len(steps)):
            rep = steps[k - 1].state
            inverse = self._inverse_to(x, rep)
            a = ir.action(steps[k].action or "")
            vals = tuple(v for _, v in steps[k].params)
            renamed = tuple(self._rename_value(p.type, v, inverse) for p, v in zip(a.params, vals))
            nxt = successor(a, x, renamed)
            if nxt is None or self.canonical(nxt) != self.canonical(steps[k].state):
                raise AssertionError(f"symmetry: step {k} ({a.name}) does not follow on the concrete state; "
                                     "this is a bug in kubecheck, please report it.")
            out.append(Step(a.name, tuple(zip(a.param_names(), renamed)), nxt))
            x = nxt
        return Trace(trace.model, trace.config, tuple(out), trace.violation, trace.loop)

    def concretize_lasso(self, trace: Trace, ir: IR, successor: Callable[[Action, tuple[int, ...], tuple[int, ...]],
                                                                          tuple[int, ...] | None]) -> Trace:
        """A real lasso for a lasso over representatives.

        A cycle over representatives returns to its first state's orbit, but its concrete run
        may come back renamed (two pods that swapped places). Each turn of the cycle is a
        function of the concrete state it starts from, within one orbit, which is finite; so
        unrolling the cycle reaches a turn's starting state again, and the lasso's loop starts
        there.
        """
        if trace.closing is None:
            return self.concretize(trace, ir, successor)
        turn = trace.steps[trace.loop + 1:] + (trace.closing,)
        steps = trace.steps + (trace.closing,)
        for _ in range(len(self.group) + 1):
            run = self.concretize(Trace(trace.model, trace.config, steps, trace.violation), ir, successor).steps
            starts = [run[k].state for k in range(trace.loop, len(run) - 1, len(turn))]
            if run[-1].state in starts:
                loop = trace.loop + starts.index(run[-1].state) * len(turn)
                return Trace(trace.model, trace.config, run[:-1], trace.violation, loop, run[-1])
            steps += turn
        raise AssertionError("symmetry: a lasso's cycle does not close on concrete states; this is a bug in "
                             "kubecheck, please report it.")

    def _inverse_to(self, x: tuple[int, ...], rep: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        """Per domain, the inverse of a renaming that maps ``x`` to ``rep``."""
        if x == rep:
            return tuple(tuple(range(_domain_size(self.ir, d))) for d in self.domains)
        for g in self.group:
            if g.apply(x) == rep:
                return tuple(tuple(sorted(range(len(p)), key=lambda i: p[i])) for p in g.perms)
        raise AssertionError("symmetry: a trace state is not a renaming of its representative; "
                             "this is a bug in kubecheck, please report it.")

    def _rename_value(self, t: ScalarType, v: int, perms: tuple[tuple[int, ...], ...]) -> int:
        p = self._perm_for(t, perms)
        return v if p is None or v < 0 else p[v]


def _domain_size(ir: IR, domain: str) -> int:
    for lf in ir.leaves:
        for t in lf.dims + (lf.elem,):
            if _in_domain(t, domain):
                return t.domain.size
    for a in ir.actions:
        for p in a.params:
            if _in_domain(p.type, domain):
                return p.type.domain.size
    raise SpecError(f"model `{ir.model}` declares `{domain}` symmetric, but no variable or action parameter "
                    "ranges over it; declare a domain the model uses.")


# ---- the symmetry check ------------------------------------------------------------------

_COMMUTATIVE = ("add", "mul", "min", "max", "eq", "ne")


def check_symmetry(ir: IR) -> None:
    """Refuse a model whose declared symmetric domains it does not treat alike, naming the spec line.

    Spec code may unroll a domain in Python (``for pod in self.Pods: ...``), which names
    each element once; that is still symmetric. So the check is semantic rather than a ban
    on constants: under a renaming of the domain's elements (applied to constants and to
    constant indices), every action must keep the same updates and the same guard
    conjuncts, up to order, and every property, initial condition and constraint the same
    expression. A transposition and a full cycle generate every renaming, so those two
    are checked. Initial values must be the same for every element.
    """
    for d in ir.symmetric:
        size = _domain_size(ir, d)
        problem = None
        for perm in _generators(size):
            problem = _first_problem(ir, d, perm)
            if problem is not None:
                break
        problem = problem or _init_problem(ir, d)
        if problem is not None:
            where, what = problem
            raise SpecError(f"{where}: symmetry over `{d}` would be unsound: {what}. Symmetry needs every "
                            f"{d} to be treated alike (compared only for equality, used as an index or a "
                            f"parameter, quantified over); name no {d} in particular, or remove `{d}` from "
                            "the model's `symmetric` domains (or drop --symmetry).")


def _generators(n: int) -> list[tuple[int, ...]]:
    if n < 2:
        return []
    swap = (1, 0) + tuple(range(2, n))
    cycle = tuple(range(1, n)) + (0,)
    return [swap] if n == 2 else [swap, cycle]


class _Keys:
    """Structural keys of expressions with one domain's elements renamed: equal keys, equal meaning."""

    def __init__(self, ir: IR, domain: str, perm: tuple[int, ...] | None) -> None:
        self.leaves = {lf.name: lf for lf in ir.leaves}
        self.domain = domain
        self.perm = perm
        self.memo: dict[tuple[int, bool], Any] = {}

    def key(self, e: Expr, element: bool = False) -> Any:
        """``element``: ``e`` indexes a dimension over the domain, so a constant there is an element."""
        m = (id(e), element)
        k = self.memo.get(m)
        if k is None:
            k = self.memo[m] = self._key(e, element)
        return k

    def _key(self, e: Expr, element: bool) -> Any:
        op = e.op
        if op == "const":
            v = e.data
            if self.perm is not None and v >= 0 and (element or _in_domain(e.type, self.domain)):
                v = self.perm[v]
            return ("c", v)
        if op == "read":
            lf = self.leaves[e.data[0]]
            return ("r", e.data, tuple(self.key(a, _in_domain(dim, self.domain)) for a, dim in zip(e.args, lf.dims)))
        if op in ("and", "or"):
            return (op, frozenset(self.key(x) for x in _flatten(e, op)))
        if op in _COMMUTATIVE:
            return (op, frozenset(Counter(self.key(x) for x in e.args).items()))
        return (op, e.data, tuple(self.key(x) for x in e.args))

    def update(self, u: Any) -> Any:
        lf = self.leaves[u.leaf]
        return (u.leaf, tuple(self.key(ix, _in_domain(dim, self.domain)) for ix, dim in zip(u.index, lf.dims)),
                self.key(u.value, _in_domain(lf.elem, self.domain)), tuple(self.key(b) for b in u.binders))


def _flatten(e: Expr, op: str) -> Iterator[Expr]:
    stack = [e]
    while stack:
        n = stack.pop()
        if n.op == op:
            stack.extend(n.args)
        else:
            yield n


def _first_problem(ir: IR, d: str, perm: tuple[int, ...]) -> tuple[str, str] | None:
    same, moved = _Keys(ir, d, None), _Keys(ir, d, perm)
    renaming = f"renaming {d}{1} to {d}{perm[0] + 1}" + (f" and {d}{2} to {d}{perm[1] + 1}" if len(perm) > 1 else "")
    for a in ir.actions:
        before = Counter(same.update(u) for u in a.updates)
        for u in a.updates:
            if before[moved.update(u)] == 0:
                return u.source or a.source, (f"action `{a.name}` writes `{u.leaf}` in a way that {renaming} "
                                              "does not map to another of its writes")
        conjuncts = [(c, src) for cond, src in (a.requires or ((a.guard, a.source),)) for c in _flatten(cond, "and")]
        keys = {same.key(c) for c, _ in conjuncts}
        for c, src in conjuncts:
            if moved.key(c) not in keys:
                return src, f"action `{a.name}` requires {show(c)}, which {renaming} changes"
    for p in ir.properties:
        if any(moved.key(e) != same.key(e) for e in p.exprs):
            return p.source, f"property `{p.name}` changes under {renaming}"
    for e in ir.init_conditions + ir.constraints:
        if moved.key(e) != same.key(e):
            return ir.source or ir.model, f"an initial condition or state constraint ({show(e)}) changes under {renaming}"
    return None


def _init_problem(ir: IR, d: str) -> tuple[str, str] | None:
    """Initial values must be the same for every element, and stored references must be renamable."""
    size = _domain_size(ir, d)
    declared = {lf.name: v.source for v in ir.variables for lf in v.leaves}
    for lf in ir.leaves:
        where = declared.get(lf.name) or ir.source or ir.model
        dims = [k for k, t in enumerate(lf.dims) if _in_domain(t, d)]
        for idx in itertools.product(*(t.values() for t in lf.dims)):
            here = set(ir.init_choices[lf.position(idx) or 0])
            for k in dims:
                other = list(idx)
                other[k] = (idx[k] + 1) % size
                there = set(ir.init_choices[lf.position(tuple(other)) or 0])
                if here != there:
                    return (where, f"`{lf.name}` starts differently for {d}{idx[k] + 1} and {d}{other[k] + 1}")
            if _in_domain(lf.elem, d) and any(v >= 0 for v in here) and not set(range(size)) <= here:
                return (where, f"`{lf.name}` starts as a particular {d} ({lf.elem.show(min(v for v in here if v >= 0))})")
    return None
