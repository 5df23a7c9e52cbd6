"""The vectorized breadth-first engine: whole chunks of a BFS level at once, with numpy.

It returns exactly what the explicit engine returns (:mod:`kubecheck.explicit` is the
contract): the same counts, depth, coverage, verdicts and shortest counterexamples, the
same stops, and the same runtime errors. How a chunk of parents (64 k states, the columns
of a (width, n) array) is expanded:

1. ``guards`` fills a mask with one row per action instance; a single ``flatnonzero``
   lists every enabled (instance, parent) pair, grouped by instance.
2. Each instance's kernel computes its writes and its successors' fingerprints from the
   parents' (a few lookups per write), and the step properties on every transition.
3. The fingerprints are looked up in the visited set; the survivors are put in
   discovery order, (parent, instance), and only the first occurrence of each is kept:
   the explicit engine's parent for that state. Only these new states are built. With
   numba installed, a run past :data:`NUMBA_AFTER` states switches to a compiled visited
   set (:mod:`.visited_numba`) that does this step in one call, with the same answers.
4. State constraints, invariants and goals run on the new states.

Exactness. Rows where the reference semantics would raise (an undefined guard, index or
value, a value out of its type, a double write) are recomputed by the reference evaluator,
which raises with its message, or yields those rows' successors. Everything a sequential
BFS does in order (a violation that stops the run with ``first``, ``max_states``, a
runtime error, a deadlock) is collected per chunk as sparse *events* keyed by their
position in the sequential order, (parent, instance, phase), and replayed in that order,
so that the first one wins and the counts are cut exactly where the explicit engine
stops. Counterexamples are rebuilt from parent links and replayed with the evaluator.
"""

from __future__ import annotations

import resource
import time
import warnings
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from ..errors import ModelRuntimeError
from ..evaluate import Evaluator
from ..explicit import EvaluatorSuccessors, Options, Progress, PropertyPlan, empty_coverage
from ..ir import IR, Property
from ..result import DEADLOCK, CheckResult, Trace
from ..temporal import GraphRecord, decide, predicates
from .compile import CompiledModel, compile_model
from .store import StateStore
from .visited import FingerprintSet

__all__ = ["explore", "CHUNK", "NUMBA_AFTER"]

CHUNK = 1 << 16
"""Parents per chunk: temporaries of a few times 64 k bytes stay in the CPU's cache."""
NUMBA_AFTER: int | None = 1 << 20
"""Visited states after which a run switches to the compiled visited set, if numba is installed (None:
never). The switch costs about 0.3 s (importing numba, loading the kernels from its cache; the very first
compile, about 2 s, happens once per installation), which the compiled set wins back the faster the larger
the table grows. Measured on replicaset-anchor with five pods (least of three runs, a loaded 2-core
machine): runs cut at 1.5 M, 2.5 M and 4 M states took 0.8, 1.35 and 2.2 s without the switch, and
0.3-0.4 s more, 0.15-0.25 s more and 0.0-0.1 s less with it; the whole 6.6 M states 3.9-4.0 s and 3.1-3.3
s. Switching at half a million instead saves another 0.1 s there but costs 0.3-0.4 s on runs that end
between 0.5 and 1 M states; runs under a million states, the everyday ones, never load numba."""
_MASK_BUDGET = 1 << 24     # bytes of the (instances, chunk) guard mask

ProgressFn = Callable[[Progress], None]

# Phases of one transition (parent p, instance k), in the explicit engine's order.
_STEP_ERROR, _STEP_VIOLATION, _CONSTRAINT_ERROR, _INV_ERROR, _INV_VIOLATION, _GOAL_ERROR, _GOAL, _MAX = range(8)
# Phases of a parent, before any of its transitions.
_GEN_ERROR, _DEADLOCK = 0, 1
_CHECK_EVERY = 1024     # expanded states between two checks of the time and memory limits (as explicit.py)


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def explore(ir: IR, options: Options = Options(), progress: ProgressFn | None = None) -> CheckResult:
    """Explore the model's reachable states breadth-first, a chunk of states at a time, and check its
    properties; the result is the explicit engine's, with engine ``"vector"``.

    Raises :class:`VectorUnsupported` before exploring if the IR uses a construct this engine does not
    compile, and :class:`~kubecheck.errors.ModelRuntimeError` (with its trace) where the explicit engine
    would.
    """
    return _Search(ir, options, progress).run()


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the first occurrence of every distinct key (argsort + neighbour compare)."""
    if not len(keys):
        return np.zeros(0, dtype=np.intp)
    o = np.argsort(keys)
    ks = keys[o]
    starts = np.empty(len(ks), dtype=bool)
    starts[0] = True
    np.not_equal(ks[1:], ks[:-1], out=starts[1:])
    first = np.minimum.reduceat(o, np.flatnonzero(starts))
    first.sort()
    return first


def _same(a: Any) -> Any:
    return a


def _as_mask(v: Any, m: int) -> np.ndarray:
    return np.full(m, bool(v)) if isinstance(v, int) else v


def _first(mask: np.ndarray | None) -> int | None:
    if mask is None or not mask.any():
        return None
    return int(mask.argmax())


class _Search:
    """One run: the compiled model, the store, the visited set, the counters and the verdicts."""

    def __init__(self, ir: IR, options: Options, progress: ProgressFn | None) -> None:
        self.ir = ir
        self.options = options
        self.progress = progress
        self.kern: CompiledModel = compile_model(ir)
        self.ev = Evaluator(ir)
        self.slow = EvaluatorSuccessors(ir)
        self.instances = self.kern.instances
        self.K = len(self.instances)
        self.symmetry = None
        if options.symmetry:
            from ..symmetry import Symmetry
            self.symmetry = Symmetry(ir)
        self.plan = plan = PropertyPlan.of(ir, options)
        invariants, goals, steps = plan.invariants, plan.goals, plan.steps
        self.check_deadlock, self.results, self.warnings = plan.check_deadlock, plan.results, plan.warnings
        self.open_inv = list(invariants)
        self.open_goals = list(goals)
        self.open_steps = list(steps)
        self.inst_component = [ir.actions[ai].component for ai, _ in self.instances]
        inst_dtype = np.int16 if self.K < (1 << 15) else np.int32
        self.store = StateStore(ir, self.kern.dtype, inst_dtype)
        self.visited: FingerprintSet = FingerprintSet(zero_possible=not self.kern.fingerprints.exact)
        self.compiled = False           # self.visited is a NumbaFingerprintSet
        self._numba_tried = False       # the switch is attempted once
        self.fired = np.zeros(self.K, dtype=np.int64)
        self.found = np.zeros(self.K, dtype=np.int64)
        self.total = 0
        self.processed = 0
        self.truncated = False
        self.chunk = CHUNK
        while self.chunk > 1024 and self.K * self.chunk > _MASK_BUDGET:
            self.chunk //= 2
        # Liveness: every transition between stored states, and each stored state's temporal predicates.
        self.recording = bool(plan.temporal)
        self.record = GraphRecord()
        wanted = set(predicates(plan.temporal))
        self.temporal_rows = [i for i, pw in enumerate(self.kern.temporal_exprs) if pw in wanted]
        self.device = options.device
        self.dkern = None if self.device is None else self.kern.on(self.device)
        self.arange = np.arange(self.chunk) if self.device is None else self.device.upload(np.arange(self.chunk))
        # The level being built: its chunks of states, parents (index in the level expanded), instances.
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_count = 0
        self.frontier_fps = np.zeros(0, dtype=np.uint64)
        self.next_fps: list[np.ndarray] = []
        self.level = 0
        self.profile: dict[str, float] = defaultdict(float)
        self._masks: dict[int, np.ndarray] = {}
        self._mask_used: dict[int, int] = {}
        self.t0 = self._last_report = time.perf_counter()

    # ---- the run ----
    def run(self) -> CheckResult:
        self.t0 = self._last_report = time.perf_counter()      # start-up and compiling are not counted
        stopped = "complete"
        try:
            self._initial()
            self._levels()
            if self.truncated:
                stopped = "max_depth"
        except _Stop as stop:
            stopped = stop.reason
        except KeyboardInterrupt:
            stopped = "interrupted"
        self._close_level()
        seconds = time.perf_counter() - self.t0
        coverage = empty_coverage(self.ir)
        for k, (ai, _) in enumerate(self.instances):
            coverage[ai].fired += int(self.fired[k])
            coverage[ai].new_states += int(self.found[k])
        self.plan.close(stopped == "complete", coverage)
        liveness_seconds = None
        if self.recording and stopped == "complete":
            t_live = time.perf_counter()
            self._decide_temporal()
            liveness_seconds = time.perf_counter() - t_live
        n = len(self.store)
        fpr = self.kern.fingerprints
        extra: dict[str, Any] = {
            "processed": self.processed,
            "chunk": self.chunk,
            "device": "cpu" if self.device is None else self.device.name,
            "fingerprint": fpr.scheme,
            "fingerprint_bits": fpr.bits if fpr.exact else 64,
            "collision_probability": fpr.collision_probability(n),
            "collision_formula": "0 (exact packing)" if fpr.exact else "n(n-1)/2 / 2^64 for n distinct states",
            # The visited set, the stored states and their parent links, per stored state.
            "bytes_per_state": round((self.store.nbytes + self.visited.nbytes) / n, 1) if n else None,
            "profile": {k: round(v, 4) for k, v in self.profile.items()},
        }
        if liveness_seconds is not None:
            extra["liveness_seconds"] = liveness_seconds
        if self.symmetry is not None:
            extra["symmetry"] = {"domains": list(self.symmetry.domains), "renamings": self.symmetry.size}
        return CheckResult(self.ir.model, dict(self.ir.config), "vector", stopped, n, self.total, self.store.depth,
                           seconds, coverage, self.results, self.warnings, extra)

    # ---- traces and verdicts ----
    def trace(self, g: int | None, extra: list[tuple[int, tuple[int, ...]]] = (),  # type: ignore[assignment]
              name: str | None = None) -> Trace:
        sym = self.symmetry
        if sym is None:
            return self.store.trace(g, list(extra), name, self.instances, self.ev)
        return self.store.trace(g, list(extra), name, self.instances, self.ev,
                                finish=lambda tr: sym.concretize(tr, self.ir, self.ev.successor),
                                canonical=sym.canonical)

    def violated(self, name: str, trace: Callable[[], Trace]) -> str | None:
        r = self.results[name]
        r.verdict = "violated"
        r.counterexample = trace()
        return "first_violation" if self.options.first else None

    def successor(self, st: tuple[int, ...], k: int) -> tuple[int, ...]:
        ai, vals = self.instances[k]
        t = self.ev.successor(self.ir.actions[ai], st, vals)
        assert t is not None, "vector engine: a transition the reference evaluator does not take"
        return t

    @staticmethod
    def _raise(err: ModelRuntimeError, trace: Callable[[], Trace | None]) -> None:
        if err.trace is None:
            err.trace = trace()
        raise err

    def _run_events(self, events: list[tuple[int, int, Callable[[], str | None], tuple[int, int]]]
                    ) -> tuple[str, tuple[int, int], int] | None:
        """Play the events in sequential order; the first that stops the run gives its reason, its cut
        (transitions before it, states stored before it, in discovery order) and its parent's index in
        the chunk (its index, for initial states)."""
        events.sort(key=lambda e: (e[0], e[1]))
        for key, _, fn, cut in events:
            reason = fn()
            if reason is not None:
                return reason, cut, key // 8 // (self.K + 1)
        return None

    # ---- state checks on a batch of new states ----
    def _constraints(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(rows that satisfy every constraint, rows where evaluating them raises), with ``all``'s
        short-circuit: a constraint is evaluated only where the ones before it hold."""
        m = Y.shape[1]
        if not self.ir.constraints:
            return np.ones(m, dtype=bool), None
        alive = np.ones(m, dtype=bool)
        err = None
        for v, u in self.kern.constraints(Y, Y.ravel(), m, np.arange(m), m):
            if u is not None:
                e = alive & u
                err = e if err is None else err | e
                alive &= ~u
            alive &= _as_mask(v, m)
        return alive, err

    def _state_events(self, Y: np.ndarray, stored: np.ndarray, key: Callable[[int, int], int],
                      cut: Callable[[int], tuple[int, int]], parent: Callable[[int], int | None],
                      via: Callable[[int], int], depth: int, initial: bool) -> list[Any]:
        """The events of checking invariants and goals on the ``stored`` columns of ``Y``."""
        events: list[Any] = []
        m = Y.shape[1]
        open_any = bool(self.open_inv or self.open_goals)
        if not (initial or open_any) or not stored.any():
            return events
        Yf, ar = Y.ravel(), np.arange(m)
        props = self.ir.properties

        def state(j: int) -> tuple[int, ...]:
            return tuple(int(x) for x in Y[:, j])

        def to_state(j: int, name: str | None = None) -> Trace:
            g = parent(j)
            return self.trace(g, [(via(j), state(j))], name) if g is not None else \
                self.trace(None, [(-1, state(j))], name)

        def undefined(res: list[Any], prop_indices: Any, still_open: Callable[[], Any], code: int) -> None:
            """An event at the first stored row where some check was undefined: the evaluator re-checks that
            state in order and raises the reference engine's error."""
            undef = None
            for _, u in res:
                if u is not None:
                    undef = u if undef is None else undef | u
            j = _first(undef & stored) if undef is not None else None
            if j is not None:
                def error(j: int = j) -> None:
                    if still_open():
                        st = state(j)
                        for i in prop_indices:
                            try:
                                self.ev.holds(props[i], st)
                            except ModelRuntimeError as err:
                                self._raise(err, lambda: to_state(j))
                    return None
                events.append((key(j, code), 0, error, cut(j)))

        t = time.perf_counter()
        inv = self.kern.invariants(Y, Yf, m, ar, m)
        undefined(inv, self.kern.invariant_props, lambda: initial or self.open_inv or self.open_goals, _INV_ERROR)
        for i, (v, u) in zip(self.kern.invariant_props, inv):
            p = props[i]
            if p not in self.open_inv:
                continue
            bad = ~_as_mask(v, m) if u is None else ~(_as_mask(v, m) | u)
            j = _first(bad & stored)
            if j is not None:
                def inv_violation(j: int = j, p: Property = p) -> str | None:
                    if p in self.open_inv:
                        self.open_inv.remove(p)
                        return self.violated(p.name, lambda: to_state(j, p.name))
                    return None
                events.append((key(j, _INV_VIOLATION), i, inv_violation, cut(j)))
        if self.open_goals:
            res = self.kern.goals(Y, Yf, m, ar, m)
            undefined(res, self.kern.goal_props, lambda: self.open_goals, _GOAL_ERROR)
            for i, (v, u) in zip(self.kern.goal_props, res):
                p = props[i]
                if p not in self.open_goals:
                    continue
                good = _as_mask(v, m) if u is None else _as_mask(v, m) & ~u
                j = _first(good & stored)
                if j is not None:
                    def reached(p: Property = p) -> None:
                        if p in self.open_goals:
                            self.open_goals.remove(p)
                            r = self.results[p.name]
                            r.verdict = "holds"
                            r.counterexample = None
                            r.note = f"witness: {depth} steps"
                        return None
                    events.append((key(j, _GOAL), i, reached, cut(j)))
        self.profile["checks"] += time.perf_counter() - t
        return events

    # ---- initial states ----
    def _initial(self) -> None:
        kern = self.kern
        states = self.ev.initial_states()
        n0 = len(states)
        X0 = np.array(states, dtype=kern.dtype).reshape(n0, kern.width).T.copy()
        if self.symmetry is not None and n0:
            X0 = np.ascontiguousarray(self.symmetry.canonical_rows(X0.T).T)
        fps = kern.fingerprints.full(X0)
        first = np.zeros(n0, dtype=bool)
        first[_first_occurrences(fps)] = True
        passing, cerr = self._constraints(X0)
        stored = first & passing
        cum = np.cumsum(stored)
        events: list[Any] = []
        if cerr is not None:
            j = _first(cerr & first)
            if j is not None:
                def constraint_error(j: int = j) -> None:
                    st = tuple(int(x) for x in X0[:, j])
                    before = int(cum[j - 1]) if j else 0
                    first_stored = _first(stored)
                    try:
                        for c in self.ir.constraints:
                            if not self.ev.satisfies(c, st):
                                break
                    except ModelRuntimeError as err:
                        # As the explicit engine: the trace of the first stored state, if any.
                        self._raise(err, lambda: self.trace(None, [(-1, tuple(int(x) for x in X0[:, first_stored]))])
                                    if before and first_stored is not None else None)
                    return None
                events.append((j * 8 + _CONSTRAINT_ERROR, 0, constraint_error, (j + 1, j + 1)))
        events += self._state_events(X0, stored, key=lambda j, ph: j * 8 + ph, cut=lambda j: (j + 1, j + 1),
                                     parent=lambda j: None, via=lambda j: -1, depth=0, initial=True)
        if self.options.max_states is not None and n0:
            hit = np.flatnonzero(cum >= self.options.max_states)
            if len(hit):
                j = int(hit[0])
                events.append((j * 8 + _MAX, 0, lambda: "max_states", (j + 1, j + 1)))
        outcome = self._run_events(events)
        cut = outcome[1][0] if outcome is not None else n0
        self.total += cut
        keep = np.flatnonzero(stored[:cut])
        self.store.add_level(np.ascontiguousarray(X0[:, keep]), np.full(len(keep), -1, dtype=np.int32),
                             np.full(len(keep), -1, dtype=np.int32))
        self.visited.add_new(fps[keep])
        if self.recording:
            self._record_states(X0[:, keep], fps[keep])
        self._accelerate()
        self.frontier_fps = fps[keep]
        if outcome is not None:
            raise _Stop(outcome[0])

    # ---- levels and chunks ----
    def _levels(self) -> None:
        max_depth = self.options.max_depth
        level = 0
        while True:
            X = self.store.states[level]
            n = X.shape[1]
            if n == 0:
                return
            self.level = level
            last_level = max_depth is not None and level + 1 >= max_depth
            fps = self.frontier_fps
            base = self.store.starts[level]
            for s in range(0, n, self.chunk):
                e = min(n, s + self.chunk)
                self._chunk(np.ascontiguousarray(X[:, s:e]), fps[s:e], base, s, last_level)
                self.processed = base + e
                self._tick()
            if not self._close_level():
                return
            self.store.forget(level)     # expanded: its states are only needed for traces, which replay
            level += 1

    def _close_level(self) -> bool:
        """Store the level built so far; False if it is empty."""
        if not self.pending:
            return False
        states = np.concatenate([p[0] for p in self.pending], axis=1) if len(self.pending) > 1 else self.pending[0][0]
        parents = np.concatenate([p[1] for p in self.pending])
        via = np.concatenate([p[2] for p in self.pending])
        self.store.add_level(np.ascontiguousarray(states), parents, via)
        self.frontier_fps = np.concatenate(self.next_fps)
        self.pending, self.next_fps, self.pending_count = [], [], 0
        return True

    def _limit(self) -> str | None:
        """The time or memory limit that is exceeded now, if any."""
        opts = self.options
        if opts.time_limit is not None and time.perf_counter() - self.t0 >= opts.time_limit:
            return "time_limit"
        if opts.max_memory is not None and \
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 >= opts.max_memory:
            return "max_memory"
        return None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.progress is not None and now - self._last_report >= 1.0:
            self._last_report = now
            distinct = len(self.store) + self.pending_count
            self.progress(Progress(distinct, self.total, distinct - self.processed, self.level, now - self.t0))

    def _chunk(self, Xc: np.ndarray, pfp: np.ndarray, base: int, s: int, last_level: bool) -> None:
        """Expand the parents ``Xc`` (global indices ``base + s ...``)."""
        kern, K, prof = self.kern, self.K, self.profile
        n = Xc.shape[1]
        npad = 1 << max(0, (n - 1).bit_length())
        shift = npad.bit_length() - 1
        steps_on = bool(self.open_steps)
        want_moves = self.check_deadlock and self.results[DEADLOCK].verdict == "unknown"
        flat, counts, T, fp, segs, slow, moves = self._transitions(Xc, pfp, npad, want_moves, steps_on)

        # Parents the reference evaluator decides: it raises the spec error, or gives their successors.
        events: list[Any] = []
        g0 = base + s
        s_par: list[int] = []
        s_inst: list[int] = []
        s_succ: list[tuple[int, ...]] = []
        for p in np.flatnonzero(slow).tolist():
            st = tuple(int(x) for x in Xc[:, p])
            try:
                succ = self.slow.generate(st)
            except ModelRuntimeError as err:
                def gen_error(err: ModelRuntimeError = err, g: int = g0 + p) -> None:
                    self._raise(err, lambda: self.trace(g))
                events.append((p * (K + 1) * 8 + _GEN_ERROR, 0, gen_error, (p * K, p * K)))
                break
            for k, succ_t in succ:
                s_par.append(p)
                s_inst.append(k)
                s_succ.append(succ_t)
        S = len(s_par)
        s_ok = np.array(s_par, dtype=np.int64) * K + np.array(s_inst, dtype=np.int64)
        s_states = np.array(s_succ, dtype=kern.dtype).reshape(S, kern.width).T.copy()
        s_fp = kern.fingerprints.full(s_states) if S else np.zeros(0, dtype=np.uint64)

        def parent_state(p: int) -> tuple[int, ...]:
            return tuple(int(x) for x in Xc[:, p])

        # Deadlocks: parents without any transition.
        if want_moves:
            stuck = ~moves
            if S:
                stuck[np.array(s_par, dtype=np.intp)] = False
            p = _first(stuck)
            if p is not None:
                def deadlock(g: int = g0 + p) -> str | None:
                    if self.results[DEADLOCK].verdict == "unknown":
                        return self.violated(DEADLOCK, lambda: self.trace(g, name=DEADLOCK))
                    return None
                events.append((p * (K + 1) * 8 + _DEADLOCK, 0, deadlock, (p * K, p * K)))

        # Step properties on every transition.
        if steps_on:
            events += self._step_events(segs, s_ok, s_par, s_inst, s_succ, parent_state, g0)

        # Fingerprints not seen before, in discovery order; the first occurrence of each.
        t3 = time.perf_counter()
        fp_all = fp if not S else np.concatenate([fp, s_fp])
        wpos = None        # the transitions' places in fp_all, where known
        if self.compiled and self.symmetry is None and npad * K < 1 << 31:
            # Compiled: the chunk's fingerprints made distinct first (keeping the least order), then looked up.
            # Symmetry reduction takes the numpy path: it looks canonical fingerprints up again after building.
            wok, wpos = self.visited.first_new(fp_all, flat, npad, K, s_ok)  # type: ignore[attr-defined]
            wfp = fp_all[wpos]
            t5 = time.perf_counter()
            prof["visited"] += t5 - t3
        else:
            found = self.visited.contains(fp_all)
            t4 = time.perf_counter()
            prof["visited"] += t4 - t3
            cpos = np.flatnonzero(~found)
            fl = flat[cpos[cpos < T]]
            ok = (fl & (npad - 1)) * K + (fl >> shift)
            if S:
                ok = np.concatenate([ok, s_ok[cpos[cpos >= T] - T]])
            wok, wfp = self._first_new(fp_all, cpos, ok, npad * K)
            t5 = time.perf_counter()
            prof["dedup"] += t5 - t4
        Y = self._build(Xc, wok, segs, s_states, s_ok, slow if S else None, wpos)
        canonical_of = None      # under symmetry: (raw fingerprints, their representatives' fingerprints)
        if self.symmetry is not None and len(wok):
            raw = wfp
            Y, wok, wfp, cfp = self._canonical(Y, wok)
            canonical_of = (raw, cfp)
        m = len(wok)
        wpar = wok // K
        winst = wok - wpar * K
        t6 = time.perf_counter()
        prof["build"] += t6 - t5

        def tkey(j: int, phase: int) -> int:
            w = int(wok[j])
            return ((w // K) * (K + 1) + w % K + 1) * 8 + phase

        passing, cerr = self._constraints(Y)
        if cerr is not None:
            j = _first(cerr)
            if j is not None:
                def constraint_error(j: int = j) -> None:
                    st = tuple(int(x) for x in Y[:, j])
                    try:
                        for c in self.ir.constraints:
                            if not self.ev.satisfies(c, st):
                                break
                    except ModelRuntimeError as err:
                        self._raise(err, lambda: self.trace(g0 + int(wpar[j])))
                    return None
                events.append((tkey(j, _CONSTRAINT_ERROR), 0, constraint_error, (int(wok[j]) + 1, int(wok[j]))))
        if last_level:
            if passing.any():
                self.truncated = True
            stored = np.zeros(m, dtype=bool)
        else:
            stored = passing
            events += self._state_events(
                Y, stored, key=tkey, cut=lambda j: (int(wok[j]) + 1, int(wok[j]) + 1),
                parent=lambda j: g0 + int(wpar[j]), via=lambda j: int(winst[j]), depth=self.level + 1, initial=False)
            if self.options.max_states is not None:
                need = self.options.max_states - len(self.store) - self.pending_count
                idx = np.flatnonzero(stored)
                if need <= len(idx):
                    j = int(idx[max(need, 1) - 1])
                    events.append((tkey(j, _MAX), 0, lambda: "max_states", (int(wok[j]) + 1, int(wok[j]) + 1)))

        # Time and memory are checked after every 1024 expanded states, as the explicit engine does: a limit
        # exceeded now stops the run at the first such point in this chunk (before the next parent starts).
        limit = self._limit()
        if limit is not None:
            first_check = (g0 // _CHECK_EVERY + 1) * _CHECK_EVERY
            if first_check <= g0 + n:
                p = first_check - g0                 # the first parent not expanded
                events.append((p * (K + 1) * 8 - 1, 0, lambda: limit, (p * K, p * K)))
        outcome = self._run_events(events) if events else None
        t7 = time.perf_counter()
        prof["checks"] += t7 - t6

        if self.recording and outcome is None:
            self._record_edges(flat, npad, fp_all, s_ok, canonical_of, g0)

        # Commit what the sequential engine would have done before the stop (everything, without one).
        cut = outcome[1] if outcome is not None else None
        if cut is None:
            self.total += T + S
            self.fired += counts
            if S:
                np.add.at(self.fired, np.array(s_inst, dtype=np.intp), 1)
            keep = np.flatnonzero(stored)
        else:
            trans_cut, store_cut = cut
            for k, o0, o1, rows, _, _ in segs:
                c = int(np.searchsorted(rows, (trans_cut - k - 1) // K + 1))
                self.fired[k] += c
                self.total += c
            if S:
                mine = s_ok < trans_cut
                self.total += int(mine.sum())
                np.add.at(self.fired, np.array(s_inst, dtype=np.intp)[mine], 1)
            keep = np.flatnonzero(stored & (wok < store_cut))
        if len(keep):
            Ys = Y if len(keep) == m else np.take(Y, keep, axis=1)
            self.pending.append((Ys, (s + wpar[keep]).astype(np.int32), winst[keep]))
            self.pending_count += len(keep)
            f = wfp[keep]
            self.visited.add_new(f)
            self.next_fps.append(f)
            if self.recording:
                self._record_states(Ys, f)
            self.found += np.bincount(winst[keep], minlength=K)
            self._accelerate()
        prof["commit"] += time.perf_counter() - t7
        if outcome is not None:
            # As the explicit engine counts: the parent being expanded, and past it after max_states.
            reason = outcome[0]
            self.processed = g0 + outcome[2] + (1 if reason == "max_states" else 0)
            if reason in ("time_limit", "max_memory"):
                self.processed = g0 + trans_cut // K
            raise _Stop(reason)

    def _transitions(self, Xc: np.ndarray, pfp: np.ndarray, npad: int, want_moves: bool, steps_on: bool
                     ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, list[Any], np.ndarray, np.ndarray | None]:
        """Run the guard and transition kernels on the parents ``Xc`` (on the device, if there is one).

        Returns, on the host: the guard mask's set places in instance-major order (``flat``, each
        ``instance << log2(npad) | parent``), the transitions per instance, their number, their
        fingerprints, the segments ``(k, o0, o1, parents, writes, steps)`` per instance that fired, the
        parents the reference evaluator must decide (``slow``), and, when asked, which parents have some
        transition on a kernel. A parent is slow where a guard or a kernel would raise: its column is
        cleared and the kernels run again without it."""
        K, prof, dev = self.K, self.profile, self.device
        t = time.perf_counter()
        n = Xc.shape[1]
        shift = npad.bit_length() - 1
        if dev is None:
            kern, xp, up, down = self.kern, np, _same, _same
        else:
            kern, xp, up, down = self.dkern, dev.xp, dev.upload, dev.host
            Xc, pfp = up(Xc), up(pfp)
        R = self.arange[:n]
        G = self._mask(npad, n)
        flags = kern.guards(Xc, Xc.ravel(), n, R, n, G)
        slow = np.zeros(n, dtype=bool) if flags is None else np.array(down(flags), dtype=bool)
        t2 = time.perf_counter()
        prof["guards"] += t2 - t
        while True:
            if slow.any():
                G[:, up(np.flatnonzero(slow))] = False
            flat = xp.flatnonzero(G)
            off = down(xp.searchsorted(flat, up(np.arange(K + 1) << shift)))
            counts = np.diff(off)
            par = flat & (npad - 1)
            T = len(flat)
            fp = xp.empty(T, dtype=np.uint64)
            segs = []
            bad = []
            t3 = time.perf_counter()
            prof["nonzero"] += t3 - t2
            Xf = Xc.ravel()
            for k in np.flatnonzero(counts).tolist():
                o0, o1 = int(off[k]), int(off[k + 1])
                rows = par[o0:o1]
                writes, iss, steps = kern.trans[k](Xc, Xf, n, rows, o1 - o0, pfp, fp[o0:o1], steps_on)  # type: ignore
                if iss is not None and bool(iss.any()):
                    bad.append(down(rows[iss]))
                segs.append((k, o0, o1, rows, writes, steps))
            t2 = time.perf_counter()
            prof["transitions"] += t2 - t3
            if not bad:
                break
            slow[np.concatenate(bad)] = True
        # G lists exactly the transitions taken by kernels (the evaluator's parents' columns are cleared):
        # OR-ing its rows is a few times cheaper than counting every transition per parent.
        moves = down(G[:, :n].any(axis=0)) if want_moves else None
        if dev is not None:
            flat, fp = down(flat), down(fp)
            segs = [(k, o0, o1, down(rows), tuple((down(p), down(v)) for p, v in writes),
                     None if steps is None else tuple(None if r is None else (down(r[0]), down(r[1])) for r in steps))
                    for k, o0, o1, rows, writes, steps in segs]
            prof["download"] += time.perf_counter() - t2
        return flat, counts, T, fp, segs, slow, moves

    # ---- the state graph, for liveness ----
    def _record_states(self, Y: np.ndarray, fps: np.ndarray) -> None:
        """Stored states ``Y`` (in id order): their fingerprints and temporal predicates."""
        self.record.fps.append(fps)
        m = Y.shape[1]
        if not m:
            return
        res = self.kern.temporal(Y, Y.ravel(), m, np.arange(m), m)
        bits = np.empty((len(self.temporal_rows), m), dtype=bool)
        for row, i in enumerate(self.temporal_rows):
            v, u = res[i]
            if u is not None and u.any():       # the evaluator raises the reference engine's error
                p, w = self.kern.temporal_exprs[i]
                self.ev.holds(p, tuple(int(x) for x in Y[:, int(u.argmax())]), which=w)
            bits[row] = _as_mask(v, m)
        self.record.bits.append(bits)

    def _record_edges(self, flat: np.ndarray, npad: int, fp_all: np.ndarray, s_ok: np.ndarray,
                      canonical_of: tuple[np.ndarray, np.ndarray] | None, g0: int) -> None:
        """Every transition of the chunk, as (source id, instance, destination fingerprint); destinations are
        resolved to ids once the run is complete (a destination never stored is no edge).

        Under symmetry the quotient graph's edges go to representatives. A successor whose fingerprint the
        visited set holds is a stored representative already; every other one shares its fingerprint with a
        successor the chunk canonicalised (``canonical_of``), so no state is canonicalised twice."""
        K = self.K
        shift = npad.bit_length() - 1
        orders = np.concatenate([(flat & (npad - 1)) * K + (flat >> shift), s_ok]).astype(np.int64)
        dfp = fp_all
        if canonical_of is not None and len(canonical_of[0]):
            raw, cfp = canonical_of
            o = np.argsort(raw)
            pos = np.minimum(np.searchsorted(raw[o], fp_all), len(raw) - 1)
            dfp = np.where(raw[o][pos] == fp_all, cfp[o][pos], fp_all)
        par = orders // K
        self.record.src.append(g0 + par)
        self.record.label.append((orders - par * K).astype(np.int32))
        self.record.dst_fp.append(dfp)

    def _decide_temporal(self) -> None:
        graph, bits = self.record.resolve(self.K, len(self.temporal_rows))

        def initial_state(g: int) -> tuple[int, ...]:
            return self.store.trace(g, [], None, self.instances, self.ev).steps[0].state
        self.warnings += decide(self.ir, self.plan.temporal, self.results, graph, bits, self.instances, self.ev,
                                self.symmetry, initial_state)

    def _accelerate(self) -> None:
        """Switch to the compiled visited set once the run is large enough to repay loading numba (see
        :data:`NUMBA_AFTER`); it takes over the numpy set's table as it is. Without numba nothing changes."""
        if self._numba_tried or NUMBA_AFTER is None or len(self.visited) < NUMBA_AFTER:
            return
        self._numba_tried = True
        try:
            from .visited_numba import NumbaFingerprintSet, warm_up
        except ImportError:      # numba is optional (the ``fast`` extra)
            return
        t = time.perf_counter()
        try:
            warm_up()            # compile, or load from the cache, before the table is handed over
        except Exception as err:     # an accelerator that cannot compile here must not stop the check
            warnings.warn(f"kubecheck: the numba visited set is unavailable ({err}); using numpy", RuntimeWarning)
            return
        finally:
            self.profile["numba_load"] += time.perf_counter() - t
        self.visited = NumbaFingerprintSet.adopt(self.visited)
        self.compiled = True

    def _mask(self, npad: int, n: int) -> np.ndarray:
        """The guard mask for a chunk of ``n`` parents, reused across chunks: the guards overwrite every
        row they can make true on the first ``n`` columns; the padding after them must read false."""
        G = self._masks.get(npad)
        if G is None:
            xp = np if self.device is None else self.device.xp
            G = self._masks[npad] = xp.zeros((self.K, npad), dtype=bool)
            self._mask_used[npad] = n
        elif self._mask_used[npad] > n:
            G[:, n:] = False
        self._mask_used[npad] = n
        return G

    def _first_new(self, fp_all: np.ndarray, cpos: np.ndarray, ok: np.ndarray, ok_limit: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Among the transitions ``cpos`` (with their discovery order ``ok``), the first of each distinct
        fingerprint: (orders, fingerprints), in discovery order."""
        if not len(cpos):
            return ok, fp_all[:0]
        fpr = self.kern.fingerprints
        okbits = max(1, (ok_limit - 1).bit_length())
        if fpr.exact and fpr.bits + okbits <= 64:
            # Packed states are short: one plain sort of (state bits, order) puts each state's first
            # occurrence at the head of its run.
            key = fp_all[cpos] & np.uint64((1 << fpr.bits) - 1)
            key <<= np.uint64(okbits)
            key |= ok.view(np.uint64)
            key.sort()
            state = key >> np.uint64(okbits)
            head = np.empty(len(key), dtype=bool)
            head[0] = True
            np.not_equal(state[1:], state[:-1], out=head[1:])
            firsts = key[head]
            wok = (firsts & np.uint64((1 << okbits) - 1)).view(np.int64)
            o = np.argsort(wok)
            wok = wok[o]
            wfp = (firsts[o] >> np.uint64(okbits)) | np.uint64(fpr.marker)
            return wok, wfp
        # Otherwise sort by fingerprint, and take the least (order << 32 | position) of each run.
        best = ok << 32
        best |= cpos
        o = np.argsort(fp_all[cpos])
        fs = fp_all[cpos[o]]
        head = np.empty(len(fs), dtype=bool)
        head[0] = True
        np.not_equal(fs[1:], fs[:-1], out=head[1:])
        best = np.minimum.reduceat(best[o], np.flatnonzero(head))
        best.sort()
        return best >> 32, fp_all[best & 0xFFFFFFFF]

    def _step_events(self, segs: list[Any], s_ok: np.ndarray, s_par: list[int], s_inst: list[int],
                     s_succ: list[tuple[int, ...]], parent_state: Callable[[int], tuple[int, ...]],
                     g0: int) -> list[Any]:
        """The first violation of each open step property in the chunk, and the first transition where
        evaluating one raises."""
        K = self.K
        props = self.ir.properties
        t = time.perf_counter()
        first_bad: dict[int, int] = {}
        first_err: int | None = None
        for k, o0, o1, rows, _, steps in segs:
            if steps is None:
                continue
            for i, r in zip(self.kern.step_props, steps):
                if r is None:
                    continue
                bad, undef = r
                j = _first(undef)
                if j is not None:
                    okv = int(rows[j]) * K + k
                    first_err = okv if first_err is None else min(first_err, okv)
                if props[i] in self.open_steps:
                    j = _first(bad)
                    if j is not None:
                        okv = int(rows[j]) * K + k
                        if okv < first_bad.get(i, okv + 1):
                            first_bad[i] = okv
        slow_t: dict[int, tuple[int, ...]] = {}
        for x, (p, k, st_t) in enumerate(zip(s_par, s_inst, s_succ)):
            okv = int(s_ok[x])
            slow_t[okv] = st_t
            for i in self.kern.step_props:
                try:
                    holds = self.ev.holds(props[i], parent_state(p), st_t, 0, self.inst_component[k])
                except ModelRuntimeError:
                    first_err = okv if first_err is None else min(first_err, okv)
                    continue
                if not holds and props[i] in self.open_steps and okv < first_bad.get(i, okv + 1):
                    first_bad[i] = okv

        def succ_of(okv: int) -> tuple[int, ...]:
            if okv in slow_t:
                return slow_t[okv]
            return self.successor(parent_state(okv // K), okv % K)

        def key(okv: int, phase: int) -> int:
            return ((okv // K) * (K + 1) + okv % K + 1) * 8 + phase

        events: list[Any] = []
        if first_err is not None:
            def step_error(okv: int = first_err) -> None:
                if not self.open_steps:
                    return None
                p, k = okv // K, okv % K
                st, nxt = parent_state(p), succ_of(okv)
                for i in self.kern.step_props:
                    try:
                        self.ev.holds(props[i], st, nxt, 0, self.inst_component[k])
                    except ModelRuntimeError as err:
                        self._raise(err, lambda: self.trace(g0 + p))
                return None
            events.append((key(first_err, _STEP_ERROR), 0, step_error, (first_err + 1, first_err)))
        for i, okv in first_bad.items():
            def step_violation(okv: int = okv, prop: Property = props[i]) -> str | None:
                if prop not in self.open_steps:
                    return None
                self.open_steps.remove(prop)
                p, k = okv // K, okv % K
                return self.violated(prop.name, lambda: self.trace(g0 + p, [(k, succ_of(okv))], prop.name))
            events.append((key(okv, _STEP_VIOLATION), i, step_violation, (okv + 1, okv)))
        self.profile["steps"] += time.perf_counter() - t
        return events

    def _build(self, Xc: np.ndarray, wok: np.ndarray, segs: list[Any], s_states: np.ndarray, s_ok: np.ndarray,
               slow: np.ndarray | None, wpos: np.ndarray | None = None) -> np.ndarray:
        """The successor states of the transitions of discovery orders ``wok``: the parent's column, then the
        instance's writes (or the evaluator's successor, for a parent it decided). ``wpos``, the transitions'
        places among the chunk's fingerprints where known, spares a search for their places in the segments."""
        K = self.K
        m = len(wok)
        wpar = wok // K
        winst = wok - wpar * K
        Y = np.take(Xc, wpar, axis=1)
        Yf = Y.ravel()
        mine = np.ones(m, dtype=bool) if slow is None else ~slow[wpar]
        # Group by instance (a radix sort of small ints); within a group, parents ascend.
        order = np.argsort(winst.astype(np.int16 if K < (1 << 15) else np.int32), kind="stable")
        bounds = np.searchsorted(winst[order], np.arange(K + 1)).tolist()
        for k, o0, _, rows, writes, _ in segs:
            a0, a1 = bounds[k], bounds[k + 1]
            if a0 == a1:
                continue
            c = order[a0:a1]
            if slow is not None:
                c = c[mine[c]]
            if wpos is not None:     # a segment lists its parents in order, from o0 in the chunk's fingerprints
                j = wpos[c] - o0
            else:
                j = np.searchsorted(rows, wpar[c])       # the transitions' places in the instance's segment
            for pos, val in writes:
                v = val if isinstance(val, int) else val.take(j)
                if isinstance(pos, int):
                    Y[pos, c] = v
                else:
                    Yf[pos.take(j) * m + c] = v
        if slow is not None and not mine.all():
            cs = np.flatnonzero(~mine)
            Y[:, cs] = s_states[:, np.searchsorted(s_ok, wok[cs])]
        return Y

    def _canonical(self, Y: np.ndarray, wok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Symmetry reduction: replace each new state by its orbit's representative, and keep the first
        transition to each representative not seen before; also every state's representative's fingerprint."""
        assert self.symmetry is not None
        C = np.ascontiguousarray(self.symmetry.canonical_rows(Y.T).T)
        cfp = self.kern.fingerprints.full(C)
        fresh = np.flatnonzero(~self.visited.contains(cfp))
        keep = fresh[_first_occurrences(cfp[fresh])]
        return np.ascontiguousarray(C[:, keep]), wok[keep], cfp[keep], cfp


