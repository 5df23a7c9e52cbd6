"""The symbolic engine: bounded model checking, k-induction and per-action proofs with Z3.

The IR becomes Z3 formulas (:mod:`kubecheck.z3encode`); three algorithms ask the solver about them.

- :func:`bmc`, bounded model checking (Biere, Cimatti, Clarke, Zhu, "Symbolic model checking
  without BDDs", TACAS 1999): one solver holds the path ``s0 -> s1 -> ... -> sk`` and grows it
  one step at a time; each property is asked at each depth under an assumption literal, so
  the first counterexample found is a shortest one: the length a breadth-first search finds.
  Of two adjacent steps by commuting actions, only one order is kept (peephole partial-order
  reduction, Wang, Yang, Kahlon, Gupta, TACAS 2008): the same states at every depth, far fewer
  paths to them.
  A reachability goal (``sometimes``) with a witness holds; an invariant or step property
  with no counterexample up to the depth is ``unknown``, never a pass.
- :func:`k_induction` (Sheeran, Singh, Stalmarck, "Checking safety properties using
  induction and a SAT-solver", FMCAD 2000): the base case is BMC to depth k-1; the inductive
  step asks for k consecutive type-correct states that satisfy the property, joined by
  transitions and followed by one that violates it, all pairwise distinct (the simple-path
  constraint that makes the method complete on a finite state space). No such path:
  ``proved`` for every depth. Otherwise the path is a *counterexample to induction* (CTI):
  states that need not be reachable.
- :func:`action_proofs`: 1-induction split by action: each action, from any type-correct
  state where the invariant holds, leads to a state where it holds. A failing action yields
  its CTI as a two-state trace.

**Strengthening.** A true invariant is often not inductive: some unreachable, type-correct
state satisfies it and steps to a violation (the CTI shows it). Both proofs take ``lemmas``,
other invariants of the model (or :data:`ALL`), and prove the conjunction: the inductive step
assumes the property and every lemma, and must show them all again; the base case checks them
all. So a lemma is proved, never assumed (``kubecheck prove --lemma NAME``, ``--jointly``).

What "proved" means: the property holds in every state a breadth-first search would explore
(the state constraints included). An action whose guard the reference evaluator cannot
decide (an undefined read) is a spec error: BMC reports it with the trace that reaches it,
up to its depth; a proof does not look for one. Deadlock freedom is checked by BMC (a state
where no action instance is enabled), never proved. Temporal properties are
``not_checked``: they need the explicit engines' ``--liveness``.

The type invariant of a proof's arbitrary states is every position within its type, in
canonical form: every queue slot past its queue's length at its default, and every field of
an absent object at its default (an ``ABSENT`` pod's node is ``NONE``). The IR does not say
which variable marks an object absent, so :func:`kubecheck.canonical.absent_defaults` finds
those facts and proves them for every reachable state (Houdini) before a proof assumes them;
no CTI starts from a half-deleted object. ``extra["canonical"]`` lists the facts assumed.

For example::

    from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor
    ir = ReplicaSetAnchor().ir
    bmc(ir, 9, ["no_over_provision"]).properties["no_over_provision"].verdict      # "violated" (9 steps)
    k_induction(ir, 4, "node_consistency").properties["node_consistency"].verdict  # "proved"

Every run is deterministic: Z3's random seeds are fixed, formulas are built in IR order, and each
run has its own Z3 context, so what ran earlier in the process does not change its answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import z3

from .canonical import absent_defaults
from .errors import ConfigError, ModelRuntimeError
from .expr import Expr
from .ir import IR, TEMPORAL_KINDS, Action, Property, leaves_read, subexpressions
from .ownership import check_ownership
from .result import DEADLOCK, CheckResult, PropertyResult, Step, Trace
from .z3encode import (ActionRelation, Encoder, _and, _eq, _is_const, _not, _or, decode_state, fresh_state,
                       seeded_context, seeded_solver)

__all__ = ["bmc", "k_induction", "action_proofs", "prove", "ALL", "CTI_NOTE"]

CTI_NOTE = "counterexample to induction: its states satisfy the type invariant but need not be reachable"
"""What every counterexample to induction is (the report and the JSON say so)."""


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Clock:
    """The time limit, shared by every solver call of one run."""

    def __init__(self, time_limit: float | None) -> None:
        self.start = time.perf_counter()
        self.limit = time_limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def check(self, solver: z3.Solver, *assumptions: Any) -> z3.CheckSatResult:
        if self.limit is not None:
            left = self.limit - self.elapsed()
            if left <= 0:
                raise _Stop("time_limit")
            solver.set("timeout", max(1, int(left * 1000)))
        answer = solver.check(*assumptions)
        if answer == z3.unknown:
            reason = solver.reason_unknown()
            if "cancel" in reason or "interrupt" in reason:
                if self.limit is not None and self.elapsed() >= self.limit:
                    raise _Stop("time_limit")
                raise KeyboardInterrupt
            raise _Stop("time_limit") if self.limit is not None and self.elapsed() >= self.limit else \
                RuntimeError(f"Z3 gave up: {reason}")
        return answer


def _ask(clock: _Clock, solver: z3.Solver, formula: Any) -> z3.ModelRef | None:
    """A model of the solver's assertions and ``formula`` (asked under an assumption literal, retired after),
    or None."""
    if isinstance(formula, bool):
        if not formula:
            return None
        formula = z3.BoolVal(True, solver.ctx)
    lit = z3.FreshBool("ask", solver.ctx)
    solver.add(z3.Implies(lit, formula))
    try:
        answer = clock.check(solver, lit)
        return solver.model() if answer == z3.sat else None
    finally:
        solver.add(z3.Not(lit))


@dataclass
class _Path:
    """A chain of symbolic states joined by transitions, in one solver.

    Step ``j`` leads from ``states[j - 1]`` to ``states[j]`` (``forward``); a backward path
    (the inductive step) grows at its start instead, step ``j`` leading from ``states[j]`` to
    ``states[j - 1]``.
    """

    ir: IR
    enc: Encoder
    solver: z3.Solver
    name: str
    forward: bool = True
    states: list[tuple] = field(default_factory=list)
    selectors: list[Any] = field(default_factory=list)           # selectors[j]: which action takes step j
    relations: list[list[ActionRelation]] = field(default_factory=list)
    # commuting[k][b]: when instances of actions k and b <= k commute (see _commuting_actions); where given
    # (forward paths only), two adjacent steps by commuting instances take the lower one first.
    commuting: list[dict[int, Overlaps]] | None = None

    def new_state(self) -> tuple:
        st = fresh_state(self.ir, f"{self.name}{len(self.states)}", self.enc.ctx)
        self.states.append(st)
        self.selectors.append(None)
        self.relations.append([])
        return st

    def pending(self) -> list[ActionRelation]:
        """The relations of the next step (from the newest state), built before the step is taken so that the
        error check of the newest state can use them."""
        j = len(self.states)
        if len(self.relations) <= j:
            self.relations.append([])
        if not self.relations[j]:
            nxt = fresh_state(self.ir, f"{self.name}{j}", self.enc.ctx)
            self._next = nxt
            pre = self.states[-1]
            self.relations[j] = [self.enc.action_relation(a, *((pre, nxt) if self.forward else (nxt, pre)),
                                                          tag=f"{self.name}{j}.") for a in self.ir.actions]
        return self.relations[j]

    def step(self) -> tuple:
        """Add a state and the transition that joins it to the path; returns it."""
        rels = self.pending()
        st = self._next
        self.states.append(st)
        j = len(self.states) - 1
        ctx = self.enc.ctx
        sel = z3.Int(f"{self.name}{j}.action", ctx)
        self.selectors.append(sel)
        pre, post = (self.states[-2], st) if self.forward else (st, self.states[-2])
        # Functional form: each post position is an if-then-else over the actions that may write it, so the
        # solver substitutes it away instead of searching over it (several times faster than a disjunction of
        # whole-state relations).
        self.solver.add(z3.Or(*[z3.And(sel == k, _bool(r.domain, ctx), _bool(r.guard, ctx))
                               for k, r in enumerate(rels)] or [z3.BoolVal(False, ctx)]))
        for pos in range(self.ir.width):
            term = pre[pos]
            for k, r in enumerate(rels):
                if pos in r.writes:
                    term = z3.If(sel == k, r.writes[pos], term)
            self.solver.add(post[pos] == term)
        if self.commuting is not None and j >= 3:
            # Steps j-2 and j-1, never the newest pair: the last step stays free, so that a step property's
            # violating transition is kept as it is.
            self.solver.add(*self._in_order(j - 2))
        return st

    def _in_order(self, j: int) -> list[Any]:
        """Steps j and j+1 do not take two commuting instances with the higher one first."""
        ctx, enc, state = self.enc.ctx, self.enc, self.states[j]
        first, second = self.selectors[j], self.selectors[j + 1]
        out = []
        for k, row in enumerate(self.commuting or []):
            for b, overlaps in row.items():
                p, q = self.relations[j][k].params, self.relations[j + 1][b].params
                apart = [_or(*[_not(_eq(enc.encode(x, state, None, p).value, enc.encode(y, state, None, q).value))
                               for x, y in zip(xs, ys)]) for xs, ys in overlaps]
                if b == k:       # the same action: ordered by its parameters
                    names = [x.data for x in self.ir.actions[k].params]
                    apart.append(_lex_less([q[n] for n in names], [p[n] for n in names], ctx))
                both = _and(first == k, second == b, *apart)
                if not _is_const(both):      # a constant False: these two never commute
                    out.append(z3.Not(both))
        return out

    def acting(self, j: int) -> Any:
        sel, actions = self.selectors[j], self.ir.actions
        return lambda names: z3.Or(*[sel == k for k, a in enumerate(actions) if a.component in names] or
                                   [z3.BoolVal(False, self.enc.ctx)])

    def trace(self, model: z3.ModelRef, violation: str | None = None, upto: int | None = None) -> Trace:
        """The concrete trace a model gives the path (in execution order; a forward path up to state ``upto``)."""
        n = len(self.states) if upto is None else upto + 1
        order = range(n) if self.forward else range(n - 1, -1, -1)
        steps = []
        for pos, k in enumerate(order):
            state = decode_state(model, self.states[k])
            if pos == 0:
                steps.append(Step(None, (), state))
                continue
            j = k if self.forward else k + 1          # the step that leads into this state
            ai = model.eval(self.selectors[j], model_completion=True).as_long()
            rel = self.relations[j][ai]
            params = tuple((p.data, model.eval(rel.params[p.data], model_completion=True).as_long())
                           for p in rel.action.params)
            steps.append(Step(rel.action.name, params, state))
        return Trace(self.ir.model, dict(self.ir.config), tuple(steps), violation)


@dataclass(frozen=True)
class _Access:
    """One read or write of an action: a leaf, at the index the action's parameters give (``None``: at a
    position that depends on the state or on a ``forall`` binder, so any position of the leaf)."""

    leaf: str
    write: bool
    index: tuple[Expr, ...] | None


def _accesses(a: Action) -> list[_Access]:
    out: list[_Access] = []
    seen: set[int] = set()

    def reads(e: Expr) -> None:
        for x in subexpressions(e, seen):
            if x.op == "read":
                out.append(_Access(x.data[0], False, x.args if all(_of_params(i) for i in x.args) else None))

    reads(a.guard)
    for u in a.updates:
        reads(u.value)
        for ix in u.index:
            reads(ix)
        fixed = not u.binders and all(_of_params(ix) for ix in u.index)
        out.append(_Access(u.leaf, True, u.index if fixed else None))
    return out


def _of_params(e: Expr) -> bool:
    """``e`` depends on the action's parameters and constants only."""
    return e.op not in ("read", "bound") and all(_of_params(x) for x in e.args)


Overlaps = tuple[tuple[tuple[Expr, ...], tuple[Expr, ...]], ...]


def _commuting_actions(ir: IR) -> list[dict[int, Overlaps]]:
    """For each action ``k``, the actions ``b <= k`` some of whose instances commute with some of ``k``'s: for
    each, the pairs of index tuples (``k``'s, ``b``'s) that must differ (all of them) for two instances to commute.
    An empty tuple: every instance of one commutes with every instance of the other.

    Two instances commute when neither writes a position the other reads or writes, and neither writes a leaf a
    state constraint reads. Positions are compared where the parameters alone give them; elsewhere the whole
    leaf counts.

    Peephole partial-order reduction (Wang, Yang, Kahlon, Gupta, "Peephole partial order
    reduction", TACAS 2008): of two adjacent steps by commuting instances, BMC keeps only the
    order that takes the lower one first (by action, then parameters). Swapping them leaves
    both enabled and the state after them unchanged, so every path can be sorted into that
    order without changing its length or its last state. A shortest counterexample stays one:
    a violation at the state the swap changes would be a shorter counterexample. A constraint
    leaf neither writes keeps the swapped state inside the constraints. Every depth's set of
    states is the same, with far fewer paths to them."""
    constrained: set[str] = set()
    for c in ir.constraints:
        leaves_read(c, constrained)
    accesses = [_accesses(a) for a in ir.actions]
    out: list[dict[int, Overlaps]] = []
    for k in range(len(ir.actions)):
        row: dict[int, Overlaps] = {}
        for b in range(k + 1):
            if {x.leaf for x in accesses[k] + accesses[b] if x.write} & constrained:
                continue
            overlaps = []
            for x in accesses[k]:
                for y in accesses[b]:
                    if x.leaf != y.leaf or not (x.write or y.write):
                        continue
                    if x.index is None or y.index is None:
                        break
                    overlaps.append((x.index, y.index))
                else:
                    continue
                break
            else:
                row[b] = tuple(dict.fromkeys(overlaps))
        out.append(row)
    return out


def _lex_less(xs: list[Any], ys: list[Any], ctx: z3.Context) -> Any:
    """The tuple ``xs`` comes before ``ys`` (Z3 integers, compared left to right)."""
    out: Any = z3.BoolVal(False, ctx)
    for x, y in reversed(list(zip(xs, ys))):
        out = z3.Or(x < y, z3.And(x == y, out))
    return out


def _select(ir: IR, names: Sequence[str] | None) -> list[str]:
    known = [p.name for p in ir.properties] + ([DEADLOCK] if ir.check_deadlock else [])
    if names is None:
        return known
    for n in names:
        if n not in known:
            raise ConfigError(f"model `{ir.model}` has no property `{n}`; its properties are: {', '.join(known)}.")
    return list(dict.fromkeys(names))


def _positive_depth(what: str, k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"{what} must be a positive number of steps; got {k!r}. Give 1 or more (the number of "
                          "transitions a path may take).")


def _result(ir: IR, results: dict[str, PropertyResult], stopped: str, bound: int, seconds: float,
            extra: dict[str, Any] | None = None, warnings: list[str] | None = None) -> CheckResult:
    out = dict(extra or {})
    out["bound"] = bound
    return CheckResult(ir.model, dict(ir.config), "symbolic", stopped, 0, 0, bound, seconds, [], results,
                       warnings or [], out)


# ---- bounded model checking -------------------------------------------------------------------

def bmc(ir: IR, depth: int, properties: Sequence[str] | None = None, *, time_limit: float | None = None,
        spec_errors: bool = True) -> CheckResult:
    """Bounded model checking of ``properties`` (default: all) on every path of up to ``depth`` steps.

    Invariants and step properties get ``violated`` with a shortest counterexample, else
    ``unknown`` (up to the depth); a ``sometimes`` goal reached within the depth ``holds``;
    ``deadlock_free`` (where the model checks deadlocks) is checked like an invariant;
    temporal properties are ``not_checked``. ``extra["bound"]`` is the depth every path was
    checked to.

    Raises :class:`~kubecheck.errors.ModelRuntimeError`, with the trace, where the reference
    evaluator would stop on a spec error (a used out-of-domain read, a write outside a domain
    or a type) on a trace it found, and, with ``spec_errors`` (the default), anywhere on a path
    up to the depth reached: one more question at the end, which often costs as much as the
    rest of the run.
    """
    _positive_depth("the BMC depth", depth)
    names = _select(ir, properties)
    results = _open_results(ir, names)
    # A frame property the ownership check found violated stays open for the search, which looks for a trace
    # that reaches the offending write (as BFS does); it is violated whether or not one is found.
    owned = {n for n, r in results.items() if r.verdict == "violated"}
    for n in owned:
        results[n].verdict = "unknown"
    clock = _Clock(time_limit)
    reached = [-1]     # the depth every path has been checked to, kept if a limit or Ctrl-C stops the run
    stopped = "max_depth"
    try:
        _bmc_run(ir, depth, names, results, clock, reached, spec_errors)
    except _Stop as stop:
        stopped = stop.reason
    except KeyboardInterrupt:
        stopped = "interrupted"
    else:
        stopped = "complete" if all(r.verdict != "unknown" for r in results.values()) else "max_depth"
    for n in owned:
        results[n].verdict = "violated"
    bound = reached[0]
    _close_unknown(results, bound)
    return _result(ir, results, stopped, max(bound, 0), clock.elapsed())


def _open_results(ir: IR, names: list[str]) -> dict[str, PropertyResult]:
    """Every selected property open, but temporal ones (not checked here) and frame properties, which the
    ownership checks decide from the IR for every state."""
    ownership = check_ownership(ir)
    results = {}
    for n in names:
        if n == DEADLOCK:
            results[n] = PropertyResult(n, "deadlock", "unknown")
            continue
        p = ir.property(n)
        results[n] = PropertyResult(n, p.kind, "unknown")
        if p.kind in TEMPORAL_KINDS:
            results[n].verdict = "not_checked"
            results[n].note = "temporal: the symbolic engine does not check it; use kubecheck check --liveness"
        elif n in ownership.verdicts:
            results[n].verdict, results[n].note = ownership.verdicts[n], ownership.note(n)
    return results


def _close_unknown(results: dict[str, PropertyResult], bound: int) -> None:
    for r in results.values():
        if r.verdict == "unknown" and not r.note:
            r.note = f"unknown up to depth {max(bound, 0)}" if bound >= 0 else "undecided"


def _bmc_run(ir: IR, depth: int, names: list[str], results: dict[str, PropertyResult], clock: _Clock,
             reached: list[int], spec_errors: bool) -> None:
    """Grow the path to ``depth`` steps, deciding what it can at each depth (``reached[0]``: the depth done).

    At each depth one question covers everything still open (a violated invariant or step property, a goal
    reached, a deadlock, a spec error); a model answers some of them, and the question is asked again for the
    rest until the solver finds none: one solver call per depth while nothing is found."""
    enc = Encoder(ir, seeded_context())
    zctx = enc.ctx
    solver = seeded_solver(zctx)
    # Without relevancy propagation: a BMC path is mostly equalities the solver substitutes away, and the
    # relevancy filter costs more than it saves there (about 30% faster on the suite's deeper cases).
    solver.set("relevancy", 0)
    path = _Path(ir, enc, solver, "s", commuting=_commuting_actions(ir))
    props = {n: ir.property(n) for n in names if n != DEADLOCK}
    invariants = [p for p in props.values() if p.kind == "always"]
    steps = [p for p in props.values() if p.kind == "step"]
    goals = [p for p in props.values() if p.kind == "sometimes"]
    deadlock = DEADLOCK in names

    s0 = path.new_state()
    _spec_errors(clock, enc.initial_errors(s0), path, "an initial condition is undefined on an initial state")
    solver.add(enc.initial(s0))
    error_at: list[tuple[int, Any]] = []     # (depth, a spec error in the state or step at that depth)
    for i in range(depth + 1):
        if i > 0:
            path.step()
        st = path.states[i]
        asks: list[tuple[str, str, Any]] = []          # (what, property, formula)
        errors: list[Any] = [enc.constraint_errors(st)]
        for p in steps:
            if i > 0 and results[p.name].verdict == "unknown":
                x = enc.holds(p, path.states[i - 1], st, path.acting(i))
                asks.append(("violated", p.name, _not_defined_true(x, False, zctx)))
                errors.append(x.undefined)
        inside = enc.constraints(st)
        ctx = enc.context(st)
        in_state_errors: list[Any] = [r.error for r in path.pending()]
        for p in invariants:
            if results[p.name].verdict == "unknown":
                x = ctx(p.exprs[0])
                asks.append(("violated", p.name, _and_z3(zctx, inside, _not_defined_true(x, False, zctx))))
                in_state_errors.append(x.undefined)
        for g in goals:
            if results[g.name].verdict == "unknown":
                x = ctx(g.exprs[0])
                asks.append(("holds", g.name, _and_z3(zctx, inside, _and_defined(x.value, x.undefined, zctx))))
        if deadlock and results[DEADLOCK].verdict == "unknown":
            stuck = z3.And(*[z3.Not(g) for g in _instance_guards(enc, ir, st)] or [z3.BoolVal(True, zctx)])
            asks.append(("violated", DEADLOCK, _and_z3(zctx, inside, stuck)))
        error = z3.Or(*[_bool(e, zctx) for e in errors],
                      _and_z3(zctx, inside, z3.Or(*[_bool(e, zctx) for e in in_state_errors])))
        error = z3.simplify(error)
        if not z3.is_false(error):
            error_at.append((i, error))
        while asks:
            model = _ask(clock, solver, z3.Or(*[f for _, _, f in asks]))
            if model is None:
                break
            _replay_or_raise(path, model, i)
            answered = [a for a in asks if z3.is_true(model.eval(a[2], model_completion=True))]
            for what, name, _ in answered:
                r = results[name]
                r.verdict = what
                if what == "violated":
                    r.counterexample = path.trace(model, name)
                else:
                    r.note = f"witness: {i} steps"
            asks = [a for a in asks if a not in answered]
        solver.add(inside)
        reached[0] = i
        if all(r.verdict != "unknown" for r in results.values()):
            break
    # One question, once, for a spec error anywhere on a path up to the depth reached: asked at every depth, it
    # would cost more than everything else together, and a trace found above is replayed, error and all.
    if error_at and spec_errors:
        model = _ask(clock, solver, z3.Or(*[e for _, e in error_at]))
        if model is not None:
            first = min(i for i, e in error_at if z3.is_true(model.eval(e, model_completion=True)))
            _spec_errors(clock, None, path, None, model, first)


def _not_defined_true(x: Any, undefined_counts: bool, ctx: z3.Context) -> Any:
    """The property fails (``undefined_counts``: or is undefined) on the encoded value ``x``."""
    fails = z3.And(z3.Not(_bool(x.value, ctx)), z3.Not(_bool(x.undefined, ctx)))
    return z3.Or(fails, _bool(x.undefined, ctx)) if undefined_counts else fails


def _and_z3(ctx: z3.Context, *xs: Any) -> Any:
    return z3.And(*[_bool(x, ctx) for x in xs])


def _instance_guards(enc: Encoder, ir: IR, state: tuple) -> list[Any]:
    """The guard of every action instance at ``state``, parameters unrolled (a deadlock is: none holds)."""
    out = []
    for a in ir.actions:
        for vals in a.instances():
            g = enc.encode(a.guard, state, None, dict(zip(a.param_names(), vals)))
            out.append(_and_defined(g.value, g.undefined, enc.ctx))
    return out


def _and_defined(value: Any, undefined: Any, ctx: z3.Context) -> Any:
    return z3.And(_bool(value, ctx), z3.Not(_bool(undefined, ctx)))


def _bool(x: Any, ctx: z3.Context) -> Any:
    return z3.BoolVal(x, ctx) if isinstance(x, bool) else x


def _replay_or_raise(path: _Path, model: z3.ModelRef, upto: int) -> None:
    """Replay the path a model gives on the reference evaluator, and raise its error if the spec fails on it."""
    from .replay import replay
    trace = path.trace(model, upto=upto)
    r = replay(path.ir, trace)
    if not r.ok:
        _spec_errors(None, None, path, None, model, upto)


def _spec_errors(clock: _Clock | None, error: Any, path: _Path, what: str | None, model: z3.ModelRef | None = None,
                 upto: int | None = None) -> None:
    """Stop with the reference evaluator's error where a state of the path makes the spec fail."""
    if model is None:
        model = _ask(clock, path.solver, error)  # type: ignore[arg-type]
    if model is None:
        return
    trace = path.trace(model, upto=upto)
    from .evaluate import Evaluator
    ev = Evaluator(path.ir)
    message = what or "the spec fails in a reachable state"
    try:       # the reference evaluator words the error best; make it say it
        last = trace.steps[-1].state
        for _, a, vals in ev.instances():
            if ev.enabled(a, last, vals):
                ev.apply(a, last, vals)
        for p in path.ir.properties:
            if p.kind == "always":
                ev.holds(p, last)
            elif p.kind == "step" and len(trace.steps) > 1:
                prev = trace.steps[-2]
                ev.holds(p, prev.state, last, acting=path.ir.action(trace.steps[-1].action or "").component)
        for c in path.ir.constraints:
            ev.satisfies(c, last)
    except ModelRuntimeError as err:
        err.trace = trace
        raise
    raise ModelRuntimeError(f"{message} (found by the symbolic engine; the reference evaluator does not see it "
                            "on this trace, which is a kubecheck bug: please report it).", trace)


# ---- k-induction ------------------------------------------------------------------------------

def _invariant(ir: IR, name: str, what: str = "k-induction") -> Property:
    try:
        p = ir.property(name)
    except KeyError:
        known = [p.name for p in ir.properties if p.kind == "always"]
        raise ConfigError(f"model `{ir.model}` has no property `{name}`; its invariants (the `always` properties "
                          f"{what} proves) are: {', '.join(known) or 'none'}.") from None
    if p.kind != "always":
        raise ConfigError(f"property `{name}` is a `{p.kind}` property, and {what} proves invariants (`always` "
                          "properties) only; check it with bounded model checking (kubecheck prove --depth K "
                          f"--property {name}, without --induction or --per-action).")
    return p


ALL = "all"
"""``lemmas=ALL``: every other invariant (``always`` property) of the model is a lemma."""


def _lemmas(ir: IR, property: str, lemmas: Sequence[str] | str, what: str) -> list[Property]:
    """The lemmas' invariants, in the order given, without ``property`` itself or repeats."""
    if isinstance(lemmas, str):
        if lemmas != ALL:
            raise ConfigError(f"lemmas must be a list of invariant names, or {ALL!r}; got {lemmas!r}.")
        names = [p.name for p in ir.properties if p.kind == "always"]
    else:
        names = list(lemmas)
    out = [_invariant(ir, n, f"{what} (as a lemma)") for n in dict.fromkeys(names)]
    return [q for q in out if q.name != property]


def _with_lemmas(lemmas: Sequence[Property]) -> str:
    if not lemmas:
        return ""
    return f" with lemma{'s' if len(lemmas) > 1 else ''} {', '.join(q.name for q in lemmas)}"


def _holds_all(enc: Encoder, props: Sequence[Property], state: tuple) -> Any:
    """Every one of ``props`` holds (and is defined) at ``state``."""
    ctx = enc.context(state)
    return z3.And(*[_and_defined(x.value, x.undefined, enc.ctx) for x in (ctx(q.exprs[0]) for q in props)])


def _violated(model: z3.ModelRef, enc: Encoder, props: Sequence[Property], state: tuple) -> list[str]:
    """The names of ``props`` that fail (or are undefined) at ``state`` in ``model``."""
    ctx = enc.context(state)
    out = []
    for q in props:
        x = ctx(q.exprs[0])
        if not z3.is_true(model.eval(_and_defined(x.value, x.undefined, enc.ctx), model_completion=True)):
            out.append(q.name)
    return out


def k_induction(ir: IR, k: int, property: str, *, lemmas: Sequence[str] | str = (), simple_path: bool = True,
                canonical: bool = True, time_limit: float | None = None, base_checked: int = -1) -> CheckResult:
    """Prove the invariant ``property`` for every depth by k-induction, trying 1, 2, ..., ``k``.

    ``proved``: the base case holds to depth j-1 and the inductive step with j states is
    unsatisfiable, for some j <= k. ``violated``: the base case fails (a shortest
    counterexample). ``unknown``: neither, by ``k``; the last inductive step's path is in
    ``extra["cti"][property]`` (a list holding one trace of k+1 states, the last violating it).
    ``base_checked`` is a depth to which bounded model checking already found no violation
    (of ``property`` and of every lemma).
    ``canonical=False`` drops the canonical form from the type invariant (to show why it is there).

    **Strengthening.** ``lemmas`` names other invariants of the model (or :data:`ALL`: every
    one) to prove *jointly* with ``property``: the inductive step assumes ``property`` and every
    lemma at its first j states and must show them all at the next one, and the base case
    checks them all by BMC. The conjunction is proved, so each lemma is proved too: nothing is
    assumed. The result then holds every one of them: ``property``'s note says "proved by
    1-induction with lemmas a, b", a lemma's "proved by 1-induction as a lemma of P". A lemma
    that the base case finds violated is ``violated`` (with its counterexample) and leaves
    ``property`` ``unknown``. A CTI's last state violates at least one of them (its
    ``violation`` names the first).
    """
    _positive_depth("the induction depth k", k)
    p = _invariant(ir, property)
    lems = _lemmas(ir, p.name, lemmas, "k-induction")
    joint = [p] + lems
    clock = _Clock(time_limit)
    results = {q.name: PropertyResult(q.name, q.kind, "unknown") for q in joint}
    r = results[p.name]
    enc = Encoder(ir, seeded_context())
    ctx = enc.ctx
    base = _Path(ir, enc, seeded_solver(ctx), "s")
    step = _Path(ir, enc, seeded_solver(ctx), "u", forward=False)
    stopped, bound, cti = "max_depth", 0, None
    how = ""
    try:
        enc.facts = absent_defaults(ir) if canonical else ()
        s0 = base.new_state()
        base.solver.add(enc.initial(s0), enc.constraints(s0))
        u0 = step.new_state()
        step.solver.add(enc.type_invariant(u0, canonical), enc.constraints(u0), z3.Not(_holds_all(enc, joint, u0)))
        for j in range(1, k + 1):
            # Base: no state reachable in j-1 steps violates it (or a lemma).
            if j - 1 > base_checked:
                if j > 1:
                    base.step()
                    base.solver.add(enc.constraints(base.states[-1]))
                model = _ask(clock, base.solver, z3.Not(_holds_all(enc, joint, base.states[-1])))
                if model is not None:
                    for n in _violated(model, enc, joint, base.states[-1]):
                        results[n].verdict, results[n].counterexample = "violated", base.trace(model, n)
                    if r.verdict != "violated":
                        bad = [q.name for q in lems if results[q.name].verdict == "violated"]
                        how = (f"; lemma {', '.join(bad)} is violated at depth {j - 1}, so it cannot strengthen "
                               "the proof")
                    stopped, bound = "complete", j - 1
                    break
            bound = j - 1
            # Step: j states where they all hold, then one where one fails.
            uj = step.step()
            step.solver.add(enc.type_invariant(uj, canonical), enc.constraints(uj), _holds_all(enc, joint, uj))
            if simple_path:
                for other in step.states[:-1]:
                    step.solver.add(z3.Or(*[a != b for a, b in zip(uj, other)]))
            model = _ask(clock, step.solver, True)
            if model is None:
                if not lems:
                    r.verdict, r.note = "proved", f"{j}-inductive" + ("" if j == 1 else f" (k-induction, k = {j})")
                else:
                    by = f"{j}-induction" + ("" if j == 1 else f" (k-induction, k = {j})")
                    r.verdict, r.note = "proved", f"proved by {by}{_with_lemmas(lems)}"
                    for q in lems:
                        others = [n.name for n in lems if n is not q]
                        results[q.name].verdict = "proved"
                        results[q.name].note = (f"proved by {by} as a lemma of {p.name}"
                                                + (f" (jointly with {', '.join(others)})" if others else ""))
                stopped, bound = "complete", j
                break
            failing = _violated(model, enc, joint, step.states[0])
            cti = step.trace(model, failing[0] if failing else p.name)
            bound = j
    except _Stop as stop:
        stopped = stop.reason
    except KeyboardInterrupt:
        stopped = "interrupted"
    extra: dict[str, Any] = {"canonical": [str(f) for f in enc.facts]}
    if r.verdict == "unknown":
        r.note = f"unknown{how}" if how else (f"unknown: not {bound}-inductive{_with_lemmas(lems)}; no violation "
                                              f"up to depth {max(bound - 1, base_checked, 0)}")
        if cti is not None and not how:
            extra["cti"] = {p.name: [cti]}
    for q in lems:
        if results[q.name].verdict == "unknown":
            results[q.name].note = f"unknown: a lemma of {p.name}, not proved with it"
    if lems:
        extra["lemmas"] = {p.name: [q.name for q in lems]}
    return _result(ir, results, stopped, bound, clock.elapsed(), extra)


# ---- per-action proofs ------------------------------------------------------------------------

def action_proofs(ir: IR, invariant: str, lemmas: Sequence[str] | str = (), *, canonical: bool = True,
                  time_limit: float | None = None) -> CheckResult:
    """Prove that every action preserves ``invariant``: from any type-correct state where it holds, each enabled
    action leads to a state where it holds.

    With ``lemmas`` (other invariants, or :data:`ALL`) the proof is joint, as in
    :func:`k_induction`: from any type-correct state where ``invariant`` and every lemma hold, each
    action must lead to a state where they all hold, and every initial state must satisfy them
    all; so each lemma is proved too, and the result holds a verdict for each.

    ``proved`` when every action does and every initial state satisfies it (then it is an
    inductive invariant); ``violated`` when an initial state does not; else ``unknown``.
    ``extra["actions"][invariant]`` says, per action, ``"preserves"`` or ``"cti"``;
    ``extra["cti"][invariant]`` holds one two-state trace (pre state, action with parameters,
    post state) per failing action.
    """
    p = _invariant(ir, invariant, "a per-action proof")
    lems = _lemmas(ir, p.name, lemmas, "a per-action proof")
    joint = [p] + lems
    clock = _Clock(time_limit)
    enc = Encoder(ir, seeded_context())
    ctx = enc.ctx
    results = {q.name: PropertyResult(q.name, q.kind, "unknown") for q in joint}
    r = results[p.name]
    verdicts: dict[str, str] = {}
    ctis: list[Trace] = []
    stopped = "complete"
    given = _with_lemmas(lems)
    try:
        enc.facts = absent_defaults(ir) if canonical else ()
        init = _Path(ir, enc, seeded_solver(ctx), "s")
        s0 = init.new_state()
        init.solver.add(enc.initial(s0), enc.constraints(s0))
        model = _ask(clock, init.solver, z3.Not(_holds_all(enc, joint, s0)))
        if model is not None:
            for n in _violated(model, enc, joint, s0):
                results[n].verdict, results[n].counterexample = "violated", init.trace(model, n)
            if r.verdict != "violated":
                r.note = "unknown: an initial state violates a lemma"
        else:
            solver = seeded_solver(ctx)
            pre, post = fresh_state(ir, "pre", ctx), fresh_state(ir, "post", ctx)
            solver.add(enc.type_invariant(pre, canonical), enc.constraints(pre), enc.constraints(post),
                       _holds_all(enc, joint, pre), z3.Not(_holds_all(enc, joint, post)))
            for a in ir.actions:
                rel = enc.action_relation(a, pre, post, tag="pre.")
                model = _ask(clock, solver, rel.relation)
                if model is None:
                    verdicts[a.name] = "preserves"
                    continue
                verdicts[a.name] = "cti"
                params = tuple((q.data, model.eval(rel.params[q.data], model_completion=True).as_long())
                               for q in a.params)
                failing = _violated(model, enc, joint, post)
                ctis.append(Trace(ir.model, dict(ir.config), (Step(None, (), decode_state(model, pre)),
                                                              Step(a.name, params, decode_state(model, post))),
                                  failing[0] if failing else p.name))
            if not ctis:
                r.verdict = "proved"
                r.note = (f"proved by 1-induction per action{given}" if lems
                          else "inductive: every action preserves it")
                for q in lems:
                    results[q.name].verdict = "proved"
                    results[q.name].note = f"proved by 1-induction per action as a lemma of {p.name}"
            else:
                names = [a for a, v in verdicts.items() if v == "cti"]
                r.note = (f"not inductive{given}: a counterexample to induction for "
                          f"{len(names)} of {len(ir.actions)} actions ({', '.join(names)})")
    except _Stop as stop:
        stopped = stop.reason
    except KeyboardInterrupt:
        stopped = "interrupted"
    if stopped != "complete" and r.verdict == "unknown":
        r.note = f"undecided ({stopped}); actions decided: {len(verdicts)} of {len(ir.actions)}"
    for q in lems:
        if results[q.name].verdict == "unknown":
            results[q.name].note = f"unknown: a lemma of {p.name}, not proved with it"
    extra: dict[str, Any] = {"actions": {p.name: verdicts}, "canonical": [str(f) for f in enc.facts]}
    if ctis:
        extra["cti"] = {p.name: ctis}
    if lems:
        extra["lemmas"] = {p.name: [q.name for q in lems]}
    return _result(ir, results, stopped, 1, clock.elapsed(), extra)


# ---- everything kubecheck prove asks ----------------------------------------------------------

def prove(ir: IR, depth: int, properties: Sequence[str] | None = None, *, induction: int = 0,
          per_action: bool = False, lemmas: Sequence[str] = (), jointly: bool = False,
          time_limit: float | None = None) -> CheckResult:
    """What ``kubecheck prove`` runs: BMC to ``depth`` on every selected property, then, for each invariant it
    did not find violated, k-induction up to ``induction`` (when positive) or, with ``per_action``, the
    per-action proof. One result: verdicts, ``extra["bound"]`` (the BMC depth), every CTI in ``extra["cti"]``.

    ``lemmas`` (``--lemma``) strengthens each proof: every invariant is proved jointly with those
    invariants (see :func:`k_induction`); they are checked by BMC too and reported. With
    ``jointly`` (``--jointly``), the selected invariants (default: all) and the lemmas are proved
    together as one inductive conjunction.
    """
    _positive_depth("--depth", depth)
    if induction < 0:
        raise ConfigError(f"--induction must be 0 (no induction) or a positive depth; got {induction}.")
    names = _select(ir, properties)
    lemma_names = [_invariant(ir, n, "--lemma").name for n in dict.fromkeys(lemmas)]
    if jointly and properties is None:
        names = [n for n in names if n == DEADLOCK or ir.property(n).kind == "always"]
    names += [n for n in lemma_names if n not in names]
    clock = _Clock(time_limit)
    out = bmc(ir, max(depth, induction - 1 if induction else depth), names, time_limit=time_limit)
    if out.stopped_by not in ("complete", "max_depth"):
        return out
    ctis: dict[str, list[Trace]] = {}
    actions: dict[str, dict[str, str]] = {}
    extra_lemmas: dict[str, list[str]] = {}
    stopped = out.stopped_by
    open_invariants = [n for n in names if n != DEADLOCK and out.properties[n].verdict == "unknown"
                       and out.properties[n].kind == "always"]
    if jointly:      # one joint proof: the first open invariant, with the others (and the lemmas) as its lemmas
        bad = [n for n in dict.fromkeys(names + lemma_names) if n != DEADLOCK and ir.property(n).kind == "always"
               and out.properties[n].verdict == "violated"]
        if bad:
            for n in open_invariants:
                out.properties[n].note = (f"not proved jointly: {', '.join(bad)} is violated; no violation up to "
                                          f"depth {out.extra['bound']}")
            open_invariants = []
        else:
            open_invariants = open_invariants[:1]
    for n in open_invariants if (induction or per_action) else []:
        r = out.properties[n]
        if r.verdict != "unknown":       # proved already, as a lemma of an earlier one
            continue
        left = None if time_limit is None else time_limit - clock.elapsed()
        if left is not None and left <= 0:
            stopped = "time_limit"
            break
        with_ = [m for m in names if m != n and m != DEADLOCK and ir.property(m).kind == "always"] if jointly \
            else lemma_names
        if per_action:
            sub = action_proofs(ir, n, with_, time_limit=left)
            actions.update(sub.extra.get("actions", {}))
        else:
            sub = k_induction(ir, induction, n, lemmas=with_, time_limit=left, base_checked=out.extra["bound"])
        s = sub.properties[n]
        if s.verdict in ("proved", "violated"):
            out.properties[n] = s
        elif s.note:
            r.note = s.note if not per_action else f"{s.note}; no violation up to depth {out.extra['bound']}"
        for m, sm in sub.properties.items():     # the lemmas proved with it
            if m != n and sm.verdict == "proved" and out.properties[m].verdict == "unknown":
                out.properties[m] = sm
        ctis.update(sub.extra.get("cti", {}))
        out.extra["canonical"] = sub.extra["canonical"]
        extra_lemmas.update(sub.extra.get("lemmas", {}))
        if sub.stopped_by in ("time_limit", "interrupted"):
            stopped = sub.stopped_by
            break
    if stopped in ("complete", "max_depth"):
        stopped = "complete" if all(r.verdict != "unknown" for r in out.properties.values()) else "max_depth"
    out.stopped_by = stopped
    out.seconds = clock.elapsed()
    if ctis:
        out.extra["cti"] = ctis
    if actions:
        out.extra["actions"] = actions
    if extra_lemmas:
        out.extra["lemmas"] = extra_lemmas
    return out
