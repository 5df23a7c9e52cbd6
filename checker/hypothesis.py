"""Random testing with Hypothesis: the model as a ``RuleBasedStateMachine``.

For configurations far too large to explore, Hypothesis runs the model: each example
starts in an initial state and takes up to ``steps`` actions, each drawn by a single
``@rule`` among the actions enabled in the current state, then its parameters among the
action's enabled instances (so Hypothesis discards no run for want of an enabled rule). The
invariants and step properties are checked after every step; a violation is shrunk by
Hypothesis to a short run and reported as a :class:`~kubecheck.result.Trace` that
:func:`kubecheck.replay.replay` confirms. While Hypothesis finds nothing, fast random
walks of the same machine follow (see :func:`explore`). Random testing proves nothing:
what it did not violate stays ``unknown``. For example::

    from kubecheck.hypothesis import explore, state_machine
    from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor

    result = explore(ReplicaSetAnchor().ir, examples=100, steps=50)
    result.properties["no_over_provision"].verdict      # "violated", with its shrunk trace

    # or under pytest, with your own settings:
    TestAnchor = state_machine(ReplicaSetAnchor()).TestCase
    TestAnchor.settings = settings(max_examples=200, stateful_step_count=30)

Speed. A model with at most :data:`COMPILED_INSTANCES` action instances steps with the
compiled successor function of the BFS engines (every successor of a state in one call).
A 50-node, 200-pod-slot cluster has 62,264 action instances and a 44,942-wide
state; asking the reference evaluator about every instance costs a quarter of a second
per state. Instead each action's guard is evaluated for all its instances at once, with
numpy: every parameter and every quantifier's bound variable is an axis of the arrays,
and a read gathers from the state with the index arrays. Reads outside an array's domain
follow the evaluator's three-valued rules (an undefined mask next to each value), so the
result is the evaluator's; an instance whose guard is undefined is asked of the evaluator,
which raises the spec error. A guard, invariant or goal is evaluated again only when a
step changed a leaf it reads.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as hypothesis_engine
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, initialize, invariant, rule

from .errors import ConfigError, ModelRuntimeError
from .evaluate import Evaluator
from .explicit import Options, Progress, PropertyPlan, empty_coverage
from .expr import Expr
from .ir import IR, Action, Property, leaves_read
from .result import DEADLOCK, CheckResult, Step, Trace

__all__ = ["state_machine", "explore", "HypothesisOptions", "PropertyViolation", "DEFAULT_EXAMPLES",
           "DEFAULT_STEPS", "DEFAULT_WALKS"]

DEFAULT_EXAMPLES = 200
"""Examples (runs from an initial state) per search, unless told otherwise."""
DEFAULT_STEPS = 50
"""Steps per example at most, unless told otherwise."""
DEFAULT_WALKS = 10_000
"""Fast random walks after the examples, unless told otherwise, on a model small enough to compile (see
:data:`COMPILED_INSTANCES`); none on a larger one, where a step costs milliseconds."""
COMPILED_INSTANCES = 20_000
"""Action instances at most for the compiled successor function (a step in microseconds); beyond, numpy guards."""

ProgressFn = Callable[[Progress], None]

_PATIENCE = 7
"""A run passes over a step back to a state it visited up to 0 to ``_PATIENCE`` times per step (drawn per run)."""
_SWARM = True
"""Whether each run leaves out some actions while others are enabled (swarm testing)."""
_MAX_SHRINKS = 100
"""Successful shrinks of a counterexample at most (Hypothesis's own limit is 500)."""


@dataclasses.dataclass(frozen=True)
class HypothesisOptions:
    """How many examples of how many steps, how many fast walks after them (None: :data:`DEFAULT_WALKS` where the
    model compiles, else none), and the seed (None: derandomized, the same run every time)."""

    examples: int = DEFAULT_EXAMPLES
    steps: int = DEFAULT_STEPS
    seed: int | None = None
    walks: int | None = None

    def __post_init__(self) -> None:
        for name in ("examples", "steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"`{name}` of the Hypothesis engine must be a positive integer; got {v!r}.")
        w = self.walks
        if w is not None and (not isinstance(w, int) or isinstance(w, bool) or w < 0):
            raise ConfigError(f"`walks` of the Hypothesis engine must be a non-negative integer (or None: the "
                              f"default); got {w!r}.")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ConfigError(f"`seed` of the Hypothesis engine must be an integer (or None: derandomized); "
                              f"got {self.seed!r}.")


class PropertyViolation(AssertionError):
    """A run of the model violated ``property``; ``trace`` is that run, with every state."""

    def __init__(self, property: str, trace: Trace, labels: Sequence[str] = ()) -> None:
        steps = "".join(f"\n  {i + 1}. {label}" for i, label in enumerate(labels))
        super().__init__(f"property `{property}` is violated after {trace.length} steps:{steps or ' (initially)'}")
        self.property = property
        self.trace = trace


class _TimeUp(BaseException):
    """The time limit passed. A BaseException, so that Hypothesis does not take it for a failure and shrink it."""


# ---- the vectorized evaluator -------------------------------------------------------------------

_UFUNC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "floordiv": np.floor_divide,
          "mod": np.remainder, "min": np.minimum, "max": np.maximum, "eq": np.equal, "ne": np.not_equal,
          "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}


class _Vectorized:
    """Evaluates one expression for every value of its free parameters and bound variables at once.

    Parameter ``i`` of the action is array axis ``i``; the variable a quantifier binds at
    de Bruijn level ``L`` is axis ``nparams + L``. A node's value is then an array over all
    the axes, whatever the context it appears in, so one evaluation computes each DAG node
    once. Each value comes with an undefined mask (None where nothing is undefined), under the
    reference evaluator's three-valued rules.
    """

    def __init__(self, ir: IR, params: Sequence[Expr], depth: int) -> None:
        self.leaves = {lf.name: lf for lf in ir.leaves}
        self.nparams = len(params)
        self.ndim = self.nparams + depth
        self.param_axis = {p.data: i for i, p in enumerate(params)}
        self.shape = tuple(p.type.size for p in params)
        self._axes: dict[tuple[int, int, int], np.ndarray] = {}

    def axis_values(self, axis: int, lo: int, hi: int) -> np.ndarray:
        key = (axis, lo, hi)
        a = self._axes.get(key)
        if a is None:
            shape = [1] * self.ndim
            shape[axis] = hi - lo + 1
            a = self._axes[key] = np.arange(lo, hi + 1, dtype=np.int64).reshape(shape)
        return a

    def run(self, e: Expr, pre: np.ndarray, post: np.ndarray | None = None, acting: str | None = None
            ) -> tuple[Any, Any]:
        memo: dict[int, tuple[Any, Any]] = {}
        val, undef = self._ev(e, memo, pre, post, acting)
        # Every quantifier is reduced by now: what is left is one value per instance.
        full = self.shape + (1,) * (self.ndim - self.nparams)
        val = np.broadcast_to(val, full).reshape(self.shape)
        if undef is not None:
            undef = np.broadcast_to(undef, full).reshape(self.shape)
        return val, undef

    def _ev(self, e: Expr, memo: dict[int, tuple[Any, Any]], pre: np.ndarray, post: np.ndarray | None,
            acting: str | None) -> tuple[Any, Any]:
        hit = memo.get(id(e))
        if hit is not None:
            return hit
        op = e.op
        out: tuple[Any, Any]
        if op == "const":
            out = (e.data, None)
        elif op == "param":
            t = e.type
            out = (self.axis_values(self.param_axis[e.data], t.lo, t.hi), None)
        elif op == "bound":
            t = e.type
            out = (self.axis_values(self.nparams + e.data, t.lo, t.hi), None)
        elif op == "acting":
            out = (acting in e.data, None)
        elif op == "read":
            out = self._read(e, memo, pre, post, acting)
        elif op in ("and", "or", "implies"):
            (a, ua), (b, ub) = (self._ev(x, memo, pre, post, acting) for x in e.args)
            if op == "implies":
                a = np.logical_not(a)
                op = "or"
            if op == "and":
                val = np.logical_and(a, b)
                # false wins over undefined: an operand known false decides
                decided = _known(np.logical_not(a), ua) | _known(np.logical_not(b), ub)
            else:
                val = np.logical_or(a, b)
                decided = _known(a, ua) | _known(b, ub)
            undef = _union(ua, ub)
            out = (val, None if undef is None else undef & np.logical_not(decided))
        elif op == "not":
            a, ua = self._ev(e.args[0], memo, pre, post, acting)
            out = (np.logical_not(a), ua)
        elif op == "neg":
            a, ua = self._ev(e.args[0], memo, pre, post, acting)
            out = (np.negative(a), ua)
        elif op == "ite":
            c, uc = self._ev(e.args[0], memo, pre, post, acting)
            (t, ut), (f, uf) = (self._ev(x, memo, pre, post, acting) for x in e.args[1:])
            val = np.where(c, t, f)
            undef = None
            if ut is not None or uf is not None:
                undef = np.where(c, False if ut is None else ut, False if uf is None else uf)
            out = (val, _union(uc, undef))
        elif op == "reduce":
            out = self._reduce(e, memo, pre, post, acting)
        else:
            (a, ua), (b, ub) = (self._ev(x, memo, pre, post, acting) for x in e.args)
            out = (_UFUNC[op](a, b), _union(ua, ub))
        memo[id(e)] = out
        return out

    def _read(self, e: Expr, memo: dict[int, tuple[Any, Any]], pre: np.ndarray, post: np.ndarray | None,
              acting: str | None) -> tuple[Any, Any]:
        name, primed = e.data
        leaf = self.leaves[name]
        pos: Any = leaf.offset
        undef = None
        for ix, d, stride in zip(e.args, leaf.dims, leaf.strides):
            v, u = self._ev(ix, memo, pre, post, acting)
            undef = _union(undef, u)
            if not (d.lo <= ix.lo and ix.hi <= d.hi):
                # The index can leave the domain: undefined there, and gathered at a clipped place.
                outside = np.logical_or(np.less(v, d.lo), np.greater(v, d.hi))
                undef = _union(undef, outside)
                v = np.clip(v, d.lo, d.hi)
            pos = pos + (v - d.lo) * stride
        src = post if primed else pre
        assert src is not None, "a primed read outside a step property"
        return src[pos], undef

    def _reduce(self, e: Expr, memo: dict[int, tuple[Any, Any]], pre: np.ndarray, post: np.ndarray | None,
                acting: str | None) -> tuple[Any, Any]:
        b, body = e.args
        axis = self.nparams + b.data
        shape = [1] * self.ndim
        shape[axis] = b.type.size
        x, ux = self._ev(body, memo, pre, post, acting)
        x = np.broadcast_to(x, np.broadcast_shapes(np.shape(x), tuple(shape)))
        if ux is not None:
            ux = np.broadcast_to(ux, x.shape)
        kind = e.data
        if kind in ("all", "any"):
            want = kind == "any"
            hit = np.logical_and(x, True) if want else np.logical_not(x)
            if ux is not None:
                hit = hit & ~ux
            decided = np.any(hit, axis=axis, keepdims=True)
            val = decided if want else ~decided
            undef = None if ux is None else np.any(ux, axis=axis, keepdims=True) & ~decided
            return val, undef
        if kind == "count":
            x = np.logical_and(x, True)
        if ux is not None:
            x = np.where(ux, 0, x)
        return np.sum(x, axis=axis, keepdims=True, dtype=np.int64), \
            None if ux is None else np.any(ux, axis=axis, keepdims=True)


def _known(x: Any, ux: Any) -> Any:
    """``x`` where it is defined, false elsewhere."""
    return np.logical_and(x, True) if ux is None else np.logical_and(x, np.logical_not(ux))


def _union(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return np.logical_or(a, b)


def _depth(e: Expr, seen: dict[int, int] | None = None) -> int:
    """How many quantifier levels ``e`` uses (1 + the deepest bound level)."""
    seen = {} if seen is None else seen
    hit = seen.get(id(e))
    if hit is not None:
        return hit
    d = e.data + 1 if e.op == "bound" else 0
    for a in e.args:
        d = max(d, _depth(a, seen))
    seen[id(e)] = d
    return d


# ---- the model, one state at a time --------------------------------------------------------------

class _Kernel:
    """The IR made fast for one state at a time: each action's enabled instances, the invariants and goals,
    cached and recomputed only where a step changed a leaf they read.

    It holds the *current* state; a machine moves it with :meth:`load` (a new example) and :meth:`take` (a
    step). Hypothesis runs one example at a time, so the machines of one run share it.
    """

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.ev = Evaluator(ir)
        self.bit = {lf.name: 1 << i for i, lf in enumerate(ir.leaves)}
        self.leaf_of = np.zeros(ir.width, dtype=np.int64)
        for i, lf in enumerate(ir.leaves):
            self.leaf_of[lf.offset:lf.offset + lf.size] = i
        self.guards = [_Vectorized(ir, a.params, _depth(a.guard)) for a in ir.actions]
        self.guard_reads = [self._mask(a.guard) for a in ir.actions]
        self.sizes = [int(np.prod([p.type.size for p in a.params], dtype=np.int64)) for a in ir.actions]
        self.prop_eval = {p.name: _Vectorized(ir, (), max(_depth(x) for x in p.exprs)) for p in ir.properties
                          if p.kind in ("always", "sometimes", "step")}
        self.prop_reads = {p.name: self._mask(p.exprs[0]) for p in ir.properties}
        self.constraint_eval = [_Vectorized(ir, (), _depth(c)) for c in ir.constraints]
        self.dtype = np.int64
        self.state: tuple[int, ...] | None = None
        self.array = np.zeros(ir.width, dtype=self.dtype)
        self.enabled: list[np.ndarray] = [np.zeros(n, dtype=bool) for n in self.sizes]
        self.counts = np.zeros(len(ir.actions), dtype=np.int64)
        self.prop_values: dict[str, bool] = {}
        # The leaves changed since each guard (property) was last computed, as a bit mask; None: never computed.
        self._stale: list[int | None] = [None] * len(ir.actions)
        self._stale_props: dict[str, int | None] = {n: None for n in self.prop_reads}

    def _mask(self, e: Expr) -> int:
        m = 0
        for name in leaves_read(e):
            m |= self.bit[name]
        return m

    # ---- moving the current state ----
    def load(self, state: tuple[int, ...]) -> None:
        """Make ``state`` current (the start of an example)."""
        new = np.asarray(state, dtype=self.dtype)
        changed = np.flatnonzero(new != self.array) if self.state is not None else np.arange(self.ir.width)
        self.state, self.array = state, new
        self._touch(changed)

    def take(self, post: tuple[int, ...], post_array: np.ndarray, changed: np.ndarray) -> None:
        self.state, self.array = post, post_array
        self._touch(changed)

    def _touch(self, changed: np.ndarray) -> None:
        if not len(changed):
            return
        m = 0
        for i in np.unique(self.leaf_of[changed]).tolist():
            m |= 1 << i
        self._stale = [None if s is None else s | m for s in self._stale]
        for n, s in self._stale_props.items():
            if s is not None:
                self._stale_props[n] = s | m

    # ---- actions ----
    def enabled_instances(self, ai: int) -> np.ndarray:
        """The flat indices (in the IR's instance order) of the action's enabled instances."""
        self._refresh(ai)
        return np.flatnonzero(self.enabled[ai])

    def any_enabled(self, ai: int) -> bool:
        self._refresh(ai)
        return bool(self.counts[ai])

    def deadlocked(self) -> bool:
        for ai in range(len(self.ir.actions)):
            self._refresh(ai)
        return not self.counts.any()

    def _refresh(self, ai: int) -> None:
        stale = self._stale[ai]
        if stale is not None and not stale & self.guard_reads[ai]:
            return
        a = self.ir.actions[ai]
        assert self.state is not None
        val, undef = self.guards[ai].run(a.guard, self.array)
        mask = np.array(val, dtype=bool).reshape(self.sizes[ai])
        if undef is not None:
            for k in np.flatnonzero(undef.reshape(-1)).tolist():
                # The reference evaluator decides: it raises the spec error with its message.
                mask[k] = self.ev.enabled(a, self.state, self.values(ai, k))
        self.enabled[ai] = mask
        self.counts[ai] = int(mask.sum())
        self._stale[ai] = 0

    def values(self, ai: int, k: int) -> tuple[int, ...]:
        a = self.ir.actions[ai]
        if not a.params:
            return ()
        idx = np.unravel_index(k, self.guards[ai].shape)
        return tuple(int(i) + p.type.lo for i, p in zip(idx, a.params))

    def successor(self, a: Action, vals: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
        """The state after the enabled instance ``a(vals)``: the tuple, its array, and the positions it changed."""
        assert self.state is not None
        post = self.ev.apply(a, self.state, vals)
        positions = self._written(a, vals)
        arr = self.array.copy()
        if positions is None:
            arr = np.asarray(post, dtype=self.dtype)
            changed = np.flatnonzero(arr != self.array)
        else:
            changed = np.array([p for p in positions if post[p] != self.state[p]], dtype=np.int64)
            arr[changed] = [post[p] for p in changed.tolist()]
        return post, arr, changed

    def _written(self, a: Action, vals: tuple[int, ...]) -> list[int] | None:
        """Every position the instance writes in the current state (the reference evaluator's indices);
        None where that is more work than comparing the states."""
        assert self.state is not None
        params = self.ev.params(a, vals)
        out = []
        for u in a.updates:
            leaf = self.ev.leaves[u.leaf]
            for env in self.ev._bindings(u.binders):
                idx = tuple(self.ev.eval(ix, self.state, params, bound=env) for ix in u.index)
                pos = leaf.position(idx)
                if pos is None:
                    return None
                out.append(pos)
                if len(out) > 4096:
                    return None
        return out

    # ---- properties ----
    def holds(self, p: Property, which: int = 0) -> bool:
        """A state property (``always``, ``sometimes``) in the current state."""
        stale = self._stale_props[p.name]
        if stale is not None and not stale & self.prop_reads[p.name]:
            return self.prop_values[p.name]
        assert self.state is not None
        val, undef = self.prop_eval[p.name].run(p.exprs[which], self.array)
        v = self.ev.holds(p, self.state) if undef is not None and bool(np.any(undef)) else bool(val)
        self.prop_values[p.name] = v
        self._stale_props[p.name] = 0
        return v

    def step_holds(self, p: Property, pre: tuple[int, ...], pre_array: np.ndarray, post: tuple[int, ...],
                   post_array: np.ndarray, acting: str) -> bool:
        val, undef = self.prop_eval[p.name].run(p.exprs[0], pre_array, post_array, acting)
        if undef is not None and bool(np.any(undef)):
            return self.ev.holds(p, pre, post, acting=acting)
        return bool(val)

    def satisfies_constraints(self, post: tuple[int, ...], post_array: np.ndarray) -> bool:
        for c, vec in zip(self.ir.constraints, self.constraint_eval):
            val, undef = vec.run(c, post_array)
            ok = self.ev.satisfies(c, post) if undef is not None and bool(np.any(undef)) else bool(val)
            if not ok:
                return False
        return True


class _CompiledKernel(_Kernel):
    """The same kernel for a model small enough to compile: every successor of the current state at once, by the
    compiled successor function of the BFS engines (:mod:`kubecheck.pycompile`), one call per state."""

    def __init__(self, ir: IR) -> None:
        # Not the numpy kernel's __init__: its vectorized guards are not needed here.
        from .pycompile import compile_successors
        self.ir = ir
        self.ev = Evaluator(ir)
        self.state: tuple[int, ...] | None = None
        self.array = None
        self.cm = compile_successors(ir)
        self.first = [0] * len(ir.actions)            # instance id of each action's first instance
        for k in range(len(self.cm.instances) - 1, -1, -1):
            self.first[self.cm.instances[k][0]] = k
        self.flat = {inst: k - self.first[inst[0]] for k, inst in enumerate(self.cm.instances)}
        self.action_index = {a.name: i for i, a in enumerate(ir.actions)}
        self._succ: dict[int, dict[int, tuple[int, ...]]] | None = None
        self._holds: dict[str, bool] = {}

    def load(self, state: tuple[int, ...]) -> None:
        self.state, self._succ, self._holds = state, None, {}

    def take(self, post: tuple[int, ...], post_array: Any, changed: Any) -> None:
        self.load(post)

    def successors(self) -> dict[int, dict[int, tuple[int, ...]]]:
        """action index -> {flat instance index: successor}, for every enabled instance of the current state."""
        if self._succ is None:
            assert self.state is not None
            out: dict[int, dict[int, tuple[int, ...]]] = {}
            for k, t in self.cm.generate(self.state):
                ai = self.cm.instances[k][0]
                out.setdefault(ai, {})[k - self.first[ai]] = t
            self._succ = out
        return self._succ

    def enabled_instances(self, ai: int) -> np.ndarray:
        return np.array(sorted(self.successors().get(ai, ())), dtype=np.int64)

    def any_enabled(self, ai: int) -> bool:
        return ai in self.successors()

    def deadlocked(self) -> bool:
        return not self.successors()

    def values(self, ai: int, k: int) -> tuple[int, ...]:
        return self.cm.instances[self.first[ai] + k][1]

    def successor(self, a: Action, vals: tuple[int, ...]) -> tuple[tuple[int, ...], Any, Any]:
        ai = self.action_index[a.name]
        return self.successors()[ai][self.flat[(ai, vals)]], None, None

    def holds(self, p: Property, which: int = 0) -> bool:
        v = self._holds.get(p.name)
        if v is None:
            assert self.state is not None
            v = self._holds[p.name] = self.cm.holds(p, self.state)
        return v

    def step_holds(self, p: Property, pre: tuple[int, ...], pre_array: Any, post: tuple[int, ...],
                   post_array: Any, acting: str) -> bool:
        return self.cm.holds(p, pre, post, acting=acting)

    def satisfies_constraints(self, post: tuple[int, ...], post_array: Any) -> bool:
        return all(self.ev.satisfies(c, post) for c in self.ir.constraints)


def _kernel_for(ir: IR) -> _Kernel:
    """The compiled kernel where the model has at most :data:`COMPILED_INSTANCES` action instances, else numpy."""
    instances = sum(int(np.prod([p.type.size for p in a.params], dtype=np.int64)) for a in ir.actions)
    return _CompiledKernel(ir) if instances <= COMPILED_INSTANCES else _Kernel(ir)


# ---- what a run saw --------------------------------------------------------------------------------

class _Record:
    """Counts over every run a search makes: Hypothesis's examples, those it discards (a run whose drawn rules are
    all disabled) and its shrinking runs, which are runs of the model too."""

    def __init__(self, ir: IR) -> None:
        self.fired = [0] * len(ir.actions)
        self.found = [0] * len(ir.actions)    # new states per action
        self.seen: set[int] = set()
        self.total = 0
        self.depth = 0
        self.examples = 0                     # Hypothesis's runs (machines) started
        self.walks = 0                        # fast walks started
        self.goals: dict[str, int] = {}       # goal -> length of the shortest run that reached it
        self.deadline: float | None = None
        self.progress: ProgressFn | None = None
        self.t0 = time.perf_counter()
        self.last_report = self.t0
        self.planned = 0
        self.timed_out = False

    def state(self, state: tuple[int, ...], depth: int) -> bool:
        """Count a state reached; whether it is new."""
        # Python's hash of a tuple of ints is the same in every process (no hash randomisation for ints):
        # distinct states are counted by 64-bit hash, which a 45,000-wide state would cost too much to keep.
        key = hash(state)
        new = key not in self.seen
        self.seen.add(key)
        self.total += 1
        if depth > self.depth:
            self.depth = depth
        now = time.perf_counter()
        if self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            raise _TimeUp
        if self.progress is not None and now - self.last_report >= 1.0:
            self.last_report = now
            self.progress(Progress(len(self.seen), self.total, max(0, self.planned - self.examples - self.walks), self.depth,
                                   now - self.t0))
        return new


# ---- the state machine ------------------------------------------------------------------------------

Draw = Callable[[int, str], int]
"""``draw(n, label)``: a choice among ``n`` (0 to n - 1), by Hypothesis in an example and by a seeded PRNG in a walk."""


def state_machine(ir_or_model: Any, *, properties: Sequence[str] | None = None, check_deadlock: bool | None = None,
                  _kernel: _Kernel | None = None, _record: _Record | None = None,
                  _hint: Trace | None = None) -> type[RuleBasedStateMachine]:
    """The model as a Hypothesis ``RuleBasedStateMachine``: one rule, ``step``, invariants after every step.

    ``ir_or_model`` is a model instance (``ClusterModel(nodes=50)``) or its IR. Each step
    draws an action among the enabled ones, then its parameters among the action's enabled
    instances; a step out of the model's state constraints is not taken. Every ``always`` and
    ``step`` property (or only ``properties``) is an invariant, and so is deadlock freedom
    where the model checks it (or ``check_deadlock`` says); a violation raises
    :class:`PropertyViolation` with the run as a trace. Run it under pytest with your
    own settings::

        TestCluster = state_machine(ClusterModel(nodes=50, pod_slots=200)).TestCase
        TestCluster.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)

    With a ``_hint`` (a run that violates a property), the choices are ordered so that the
    simplest one (0) steps to the state of the hint furthest along it: the simplest example
    is the hint with every shortcut taken, and Hypothesis shrinks from there.
    """
    ir: IR = ir_or_model if isinstance(ir_or_model, IR) else ir_or_model.ir
    kernel = _kernel if _kernel is not None else _kernel_for(ir)
    record = _record if _record is not None else _Record(ir)
    if properties is None:
        chosen = [p for p in ir.properties if p.kind in ("always", "step")]
    else:
        by = {p.name: p for p in ir.properties}
        for n in properties:
            if n not in by and n != DEADLOCK:
                raise ConfigError(f"model `{ir.model}` has no property `{n}`; its properties are: "
                                  f"{', '.join(by)}.")
        chosen = [by[n] for n in properties if n in by and by[n].kind in ("always", "step")]
    deadlock = ir.check_deadlock if check_deadlock is None else check_deadlock
    goals = [p for p in ir.properties if p.kind == "sometimes"]
    initial = [s for s in kernel.ev.initial_states()
               if not ir.constraints or all(kernel.ev.satisfies(c, s) for c in ir.constraints)]
    if not initial:
        raise ConfigError(f"model `{ir.model}` has no initial state (within its state constraints) in this "
                          "configuration: there is nothing to run.")
    invariants = [p for p in chosen if p.kind == "always"]
    step_props = [p for p in chosen if p.kind == "step"]
    along = {} if _hint is None else {step.state: i for i, step in enumerate(_hint.steps)}
    starts = initial if _hint is None else sorted(initial, key=lambda s: s != _hint.steps[0].state)

    class Machine(RuleBasedStateMachine):
        """Runs of the model (one example: an initial state and up to ``stateful_step_count`` steps)."""

        def __init__(self, walk: bool = False) -> None:
            super().__init__()
            self.steps: list[Step] = []
            self.arrays: list[np.ndarray] = []
            self.checked = 0              # states whose invariants were checked
            self.visited: set[int] = set()    # hashes of the states of this run
            self.known: set[int] | None = None    # states to pass over as well (a walk that seeks new states)
            if walk:
                record.walks += 1
            else:
                record.examples += 1

        @initialize(data=st.data())
        def start(self, data: Any) -> None:
            self.begin(_drawing(data))

        def begin(self, draw: Draw) -> None:
            """Start the run in an initial state, with the per-run choices of how it steps."""
            k = draw(len(starts), "initial state")
            # Swarm testing, without Hypothesis's discards: each example leaves out some actions (a share drawn
            # per example, shrinking towards none), but only while another action is enabled.
            self.patience = draw(_PATIENCE + 1, "patience") if _PATIENCE else 0
            self.off: frozenset[int] = frozenset()
            if _SWARM and len(ir.actions) > 1:
                share = draw(256, "swarm")
                if share:
                    self.off = frozenset(ai for ai in range(len(ir.actions)) if draw(256, "swarm") < share // 2)
            state = starts[k]
            kernel.load(state)
            self.steps.append(Step(None, (), state))
            self.arrays.append(kernel.array)
            self.visited.add(hash(state))
            self._observe()

        def trace(self, name: str | None = None) -> Trace:
            return Trace(ir.model, dict(ir.config), tuple(self.steps), name)

        def fail(self, name: str) -> None:
            tr = self.trace(name)
            raise PropertyViolation(name, tr, tr.labels(ir))

        def _observe(self, ai: int | None = None) -> None:
            """Record the state just reached (by action ``ai``), and the goals it reaches."""
            state = self.steps[-1].state
            if record.state(state, len(self.steps) - 1) and ai is not None:
                record.found[ai] += 1
            try:
                for p in goals:
                    if kernel.holds(p):
                        best = record.goals.get(p.name)
                        if best is None or len(self.steps) - 1 < best:
                            record.goals[p.name] = len(self.steps) - 1
            except ModelRuntimeError as err:
                if err.trace is None:
                    err.trace = self.trace()
                raise

        def _take(self, ai: int, vals: tuple[int, ...], post: tuple[int, ...], post_array: np.ndarray,
                  changed: np.ndarray) -> None:
            """Take the step ``ir.actions[ai](vals)`` to ``post``, and check the step properties and the goals."""
            a = ir.actions[ai]
            pre, pre_array = self.steps[-1].state, self.arrays[-1]
            record.fired[ai] += 1
            self.steps.append(Step(a.name, tuple(zip(a.param_names(), vals)), post))
            self.arrays.append(post_array)
            self.visited.add(hash(post))
            kernel.take(post, post_array, changed)
            for p in step_props:
                if not kernel.step_holds(p, pre, pre_array, post, post_array, a.component):
                    self.fail(p.name)
            self._observe(ai)

        @invariant()
        def check_properties(self) -> None:
            if not self.steps or self.checked == len(self.steps):
                return
            self.checked = len(self.steps)
            try:
                for p in invariants:
                    if not kernel.holds(p):
                        self.fail(p.name)
                if deadlock and kernel.deadlocked():
                    self.fail(DEADLOCK)
            except ModelRuntimeError as err:
                if err.trace is None:
                    err.trace = self.trace()
                raise

        @rule(data=st.data())
        def step(self, data: Any) -> None:
            """One step: an action drawn among the enabled ones (uniformly, however many instances each has),
            then one of its enabled instances.

            This is the only rule, and it has no precondition: Hypothesis never discards a run for want of an
            enabled rule, and an action enabled in few states is drawn as often as the others there. An instance
            whose step leaves the state constraints is not taken (as if disabled); one whose step returns to a
            state this run has visited is passed over for another, ``patience`` times per step (drawn per run),
            so that runs go deep instead of walking in circles; where every other is passed over, it is taken.
            Where no action is enabled (and deadlocks are not checked) the run stays where it is.
            """
            if self.steps:
                self.advance(_drawing(data))

        def advance(self, draw: Draw) -> bool:
            """Take one step (see :meth:`step`); whether one was taken."""
            enabled = [ai for ai in range(len(ir.actions)) if kernel.any_enabled(ai)]
            choices = [ai for ai in enabled if ai not in self.off] or enabled
            left: dict[int, list[int]] = {}           # action -> its instances not passed over yet
            if along:
                self._put_hint_first(choices, left)
            patience = self.patience
            fallback = None
            try:
                while choices:
                    i = draw(len(choices), "action")
                    ai = choices[i]
                    candidates = left.get(ai)
                    if candidates is None:
                        candidates = left[ai] = kernel.enabled_instances(ai).tolist()
                    j = draw(len(candidates), ir.actions[ai].name)
                    vals = kernel.values(ai, candidates[j])
                    post, post_array, changed = kernel.successor(ir.actions[ai], vals)
                    leaves = bool(ir.constraints) and not kernel.satisfies_constraints(post, post_array)
                    h = hash(post)
                    fresh = h not in self.visited and (self.known is None or h not in self.known)
                    if not leaves and (patience <= 0 or fresh):
                        self._take(ai, vals, post, post_array, changed)
                        return True
                    if not leaves:
                        patience -= 1
                        if fallback is None:
                            fallback = (ai, vals, post, post_array, changed)
                    del candidates[j]
                    if not candidates:
                        del choices[i]
                if fallback is not None:
                    self._take(*fallback)
                    return True
                return False
            except ModelRuntimeError as err:
                if err.trace is None:
                    err.trace = self.trace()
                raise

        def _put_hint_first(self, choices: list[int], left: dict[int, list[int]]) -> None:
            """Order the choices so that the first is the step to the hint's state furthest along it."""
            here = along.get(self.steps[-1].state, -1)
            best = None
            for ai in choices:
                for k in kernel.enabled_instances(ai).tolist():
                    post = kernel.successor(ir.actions[ai], kernel.values(ai, k))[0]
                    at = along.get(post, -1)
                    if at > here and (best is None or at > best[0]):
                        best = (at, ai, k)
            if best is not None:
                _, ai, k = best
                choices.remove(ai)
                choices.insert(0, ai)
                rest = [x for x in kernel.enabled_instances(ai).tolist() if x != k]
                left[ai] = [k] + rest

        def __repr__(self) -> str:
            return f"{ir.model}({len(self.steps)} states)"

    Machine.__name__ = Machine.__qualname__ = _class_name(ir.model)
    return Machine


def _drawing(data: Any) -> Draw:
    """Hypothesis's draws as a :data:`Draw` (a choice among one is not drawn)."""
    return lambda n, label: data.draw(st.integers(0, n - 1), label=label) if n > 1 else 0


def _class_name(model: str) -> str:
    return "".join(part.capitalize() for part in model.replace("_", "-").split("-") if part) + "Machine"


# ---- the engine ----------------------------------------------------------------------------------

def explore(ir: IR, options: Options = Options(), progress: ProgressFn | None = None, *,
            examples: int = DEFAULT_EXAMPLES, steps: int = DEFAULT_STEPS, seed: int | None = None,
            walks: int | None = None) -> CheckResult:
    """Run the model with Hypothesis and report what it found.

    A search runs ``examples`` Hypothesis examples of up to ``steps`` steps, then, while
    nothing is found, up to ``walks`` fast random walks (the same steps, drawn by a seeded
    PRNG: Hypothesis's bookkeeping costs about 10 ms an example, a walk of a small model a
    fraction of that, and a deep bug may need thousands of runs). A violation is shrunk by
    Hypothesis (one a walk found, from the walk: see :func:`state_machine`'s hint) and
    reported with its trace; the search starts again without that property until none is
    found (or ``options.first``). Verdicts: ``violated`` with a replayable trace; ``holds``
    for a ``sometimes`` goal some run reached; ``not_checked`` for temporal properties;
    everything else ``unknown`` (random testing proves nothing). The same input gives the
    same result unless ``seed`` is given, which picks other runs.
    """
    HypothesisOptions(examples, steps, seed, walks)        # validates
    if options.symmetry or options.liveness or options.device is not None:
        flag = "--symmetry" if options.symmetry else "--liveness" if options.liveness else "--device"
        raise ConfigError(f"{flag} is not supported by the Hypothesis engine; use --engine explicit, vector or auto.")
    plan = PropertyPlan.of(ir, options)
    plan.warnings[:] = [w for w in plan.warnings if "is temporal" not in w]     # said below, for this engine
    results, warnings = plan.results, plan.warnings
    for p in ir.properties:
        if p.name in results and results[p.name].verdict == "not_checked":
            results[p.name].note = "temporal: random testing does not decide it; use a BFS engine with --liveness"
            warnings.append(f"property `{p.name}` ({p.kind}) is temporal; the Hypothesis engine does not check it.")
    kernel = _kernel_for(ir)
    if walks is None:
        walks = DEFAULT_WALKS if isinstance(kernel, _CompiledKernel) else 0
    record = _Record(ir)
    record.progress = progress
    record.planned = examples + walks
    if options.time_limit is not None:
        record.deadline = record.t0 + options.time_limit
    open_names = [p.name for p in plan.invariants + plan.steps] + ([DEADLOCK] if plan.check_deadlock else [])
    stopped = "examples"
    searches = 0
    rng = random.Random(0 if seed is None else seed)
    try:
        while open_names:
            searches += 1
            record.planned = examples * searches + walks
            deadlock = plan.check_deadlock and DEADLOCK in open_names
            found = _search(ir, kernel, record, open_names, deadlock, examples, steps, seed)
            if found is None and record.walks < walks:
                found = _walks(ir, kernel, record, open_names, deadlock, walks, steps, seed, rng)
            if found is None:
                break
            name, trace = found
            results[name].verdict = "violated"
            results[name].counterexample = trace
            open_names.remove(name)
            if options.first:
                stopped = "first_violation"
                break
    except _TimeUp:
        stopped = "time_limit"
    except Exception:
        # Hypothesis may wrap the stop in its own error (a run cut short replays differently).
        if not record.timed_out:
            raise
        stopped = "time_limit"
    except KeyboardInterrupt:
        stopped = "interrupted"
    seconds = time.perf_counter() - record.t0
    coverage = empty_coverage(ir)
    for ai, n in enumerate(record.fired):
        coverage[ai].fired = n
        coverage[ai].new_states = record.found[ai]
    for p in plan.goals:
        if p.name in record.goals:
            results[p.name].verdict = "holds"
            results[p.name].note = f"witness: {record.goals[p.name]} steps"
    runs = f"{record.examples:,} examples and {record.walks:,} walks of up to {steps} steps"
    for r in results.values():
        if r.verdict == "unknown":
            r.note = (f"not reached in {runs}" if r.kind == "sometimes" else f"not violated in {runs}")
    plan.close(False, coverage)
    extra = {"examples": record.examples, "walks": record.walks, "steps": steps, "seed": seed, "searches": searches}
    return CheckResult(ir.model, dict(ir.config), "hypothesis", stopped, len(record.seen), record.total,
                       record.depth, seconds, coverage, results, warnings, extra)


def _walks(ir: IR, kernel: _Kernel, record: _Record, names: list[str], deadlock: bool, walks: int, steps: int,
           seed: int | None, rng: random.Random) -> tuple[str, Trace] | None:
    """Fast random walks until ``record`` counts ``walks`` of them, or one violates a property of ``names``: then
    that property, and the walk as Hypothesis shrinks it (the walk, cycles cut, where Hypothesis cannot).

    A walk is a run of the state machine outside Hypothesis, its choices drawn by ``rng``: the same swarm,
    patience and steps as an example. Every other walk also passes over states any run has reached (as its
    patience allows), which sends it past the part of the state space the runs so far have covered.
    """
    machine = state_machine(ir, properties=[n for n in names if n != DEADLOCK], check_deadlock=deadlock,
                            _kernel=kernel, _record=record)

    def draw(n: int, label: str) -> int:
        return rng.randrange(n) if n > 1 else 0

    while record.walks < walks:
        run = machine(walk=True)
        try:
            run.begin(draw)
            if record.walks % 2 == 0:
                run.known = record.seen
            run.check_properties()
            for _ in range(steps):
                if not run.advance(draw):
                    break
                run.check_properties()
        except PropertyViolation as v:
            shrunk = _search(ir, kernel, record, [v.property], v.property == DEADLOCK, 1, len(v.trace.steps),
                             seed, hint=v.trace)
            if shrunk is not None and shrunk[0] == v.property:
                return shrunk
            return v.property, _drop_steps(ir, kernel, _without_cycles(v.trace))
    return None


def _search(ir: IR, kernel: _Kernel, record: _Record, names: list[str], deadlock: bool, examples: int, steps: int,
            seed: int | None, hint: Trace | None = None) -> tuple[str, Trace] | None:
    """One Hypothesis search for a violation of ``names``: the property violated, and its shrunk trace."""
    machine = state_machine(ir, properties=[n for n in names if n != DEADLOCK], check_deadlock=deadlock,
                            _kernel=kernel, _record=record, _hint=hint)
    test = get_state_machine_test(machine, settings=settings(
        # Hypothesis counts the rule that picks the initial state as a step.
        max_examples=examples, stateful_step_count=steps + 1, derandomize=seed is None, database=None, deadline=None,
        phases=(Phase.generate, Phase.shrink), verbosity=Verbosity.quiet, report_multiple_bugs=False,
        print_blob=False,
        # A 45,000-wide state is data Hypothesis did not expect; slow examples and many rejected draws are
        # what a large model costs, not a mistake in the test, so these checks are off on purpose.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.large_base_example]))
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    # Hypothesis shrinks a run of a large model slowly (every attempt replays it); past `_MAX_SHRINKS` successful
    # shrinks it stops (a count, not a time: the trace stays the same on every machine), and cycles are cut below.
    engine = getattr(hypothesis_engine, "MAX_SHRINKS", None)
    if isinstance(engine, int):
        hypothesis_engine.MAX_SHRINKS = min(engine, _MAX_SHRINKS)
    try:
        test()
    except PropertyViolation as v:
        return v.property, _drop_steps(ir, kernel, _without_cycles(v.trace))
    except ModelRuntimeError:
        raise
    finally:
        if isinstance(engine, int):
            hypothesis_engine.MAX_SHRINKS = engine
    return None


_DROP_BUDGET = 50_000
"""Steps replayed at most while dropping the steps a counterexample can do without (a count: the same everywhere)."""


def _drop_steps(ir: IR, kernel: _Kernel, trace: Trace, budget: int = _DROP_BUDGET) -> Trace:
    """The trace less every step it can do without: delta debugging (Zeller and Hildebrandt, "Simplifying and
    isolating failure-inducing input", 2002) one step at a time, on the actions rather than on Hypothesis's choices.

    Hypothesis shrinks the choices a run made, and a choice means "the third enabled action", not an action: it
    cannot leave out a step that does not matter (a token created on the way) when the steps after it are then
    other choices. Here each step but the first state is tried without, from the last to the first: the other
    actions, with their parameters, replay from the same initial state (every one still enabled, within the state
    constraints) and the same property is violated, at the end or earlier (the trace then ends there). Repeated
    until no step can go, or ``budget`` replayed steps.
    """
    name = trace.violation
    prop = next((p for p in ir.properties if p.name == name), None)
    if prop is None and name != DEADLOCK:
        return trace
    ev = kernel.ev
    actions = {a.name: a for a in ir.actions}
    component = {a.name: a.component for a in ir.actions}
    spent = 0

    def violated(pre: tuple[int, ...], step: Step) -> bool:
        if name == DEADLOCK:
            return not any(ev.successor(a, step.state, vals) is not None for _, a, vals in ev.instances())
        if prop.kind == "step":
            return step.action is not None and not ev.holds(prop, pre, step.state, acting=component[step.action])
        return not ev.holds(prop, step.state)

    def replay(steps: list[Step]) -> list[Step] | None:
        nonlocal spent
        out = [steps[0]]
        if violated(steps[0].state, steps[0]):
            return out
        for step in steps[1:]:
            spent += 1
            assert step.action is not None
            post = ev.successor(actions[step.action], out[-1].state, tuple(v for _, v in step.params))
            if post is None or (ir.constraints and not all(ev.satisfies(c, post) for c in ir.constraints)):
                return None
            out.append(Step(step.action, step.params, post))
            if violated(out[-2].state, out[-1]):
                return out
        return None

    steps = list(trace.steps)
    changed = True
    while changed and spent < budget:
        changed = False
        # One step at a time, then two (a step that only a later one undoes, or needs, goes with it).
        for i, j in itertools.chain(((i, i) for i in range(len(steps) - 1, 0, -1)),
                                    ((i, j) for i in range(len(steps) - 1, 0, -1) for j in range(i - 1, 0, -1))):
            if spent >= budget:
                break
            shorter = replay(steps[:j] + steps[j + 1:i] + steps[i + 1:]) if i < len(steps) else None
            if shorter is not None:
                steps, changed = shorter, True
                break
    return trace if len(steps) == len(trace.steps) else dataclasses.replace(trace, steps=tuple(steps))


def _without_cycles(trace: Trace) -> Trace:
    """The trace less every cycle (a run back to a state it was in) before its last step: the same last step from
    the same state, so the same violation, and every state before it one the run passed through."""
    out: list[Step] = []
    at: dict[tuple[int, ...], int] = {}
    for step in trace.steps[:-1]:
        k = at.get(step.state)
        if k is not None:
            for dropped in out[k + 1:]:
                del at[dropped.state]
            del out[k + 1:]
            continue
        at[step.state] = len(out)
        out.append(step)
    out.append(trace.steps[-1])
    return trace if len(out) == len(trace.steps) else dataclasses.replace(trace, steps=tuple(out))
