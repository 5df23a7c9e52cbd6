"""The reference explicit-state checker: breadth-first search over concrete states.

States are tuples of ints; the visited set maps each state to its discovery index, and
parent pointers (the discovering state and action instance) rebuild counterexamples. A
state's parent is the first state that discovered it, states are expanded in discovery
order and action instances in the IR's documented order, so the counterexample to each
property is the shortest one, and the same one every BFS engine returns.

One run gives a verdict for every property: a state that violates an invariant is still
expanded, and exploration goes on until the space is exhausted (unless ``first`` asks to
stop at the first violation, as TLC does by default). A run stopped by a limit or by
Ctrl-C reports what it explored and never reports a pass.
"""

from __future__ import annotations

import resource
import struct
import sys
import time
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .errors import ModelRuntimeError
from .evaluate import Evaluator
from .ir import IR, TEMPORAL_KINDS, Property
from .liveness import StateGraph
from .ownership import check_ownership
from .result import DEADLOCK, ActionCoverage, CheckResult, PropertyResult, Step, Trace
from .symmetry import Symmetry
from .temporal import decide, predicates

__all__ = ["Options", "Progress", "PropertyPlan", "explore"]



@dataclass(frozen=True)
class Options:
    """How to explore (limits and choices); see :class:`kubecheck.builder.Checker`."""

    properties: tuple[str, ...] | None = None   # None: every property
    first: bool = False                         # stop at the first violation
    max_states: int | None = None
    max_depth: int | None = None
    time_limit: float | None = None             # seconds
    max_memory: int | None = None               # MiB of resident memory (peak)
    check_deadlock: bool | None = None          # None: as the model says
    symmetry: bool = False                      # store one state per orbit of the model's symmetric domains
    device: Any = None                          # where the vectorized engine's kernels run (None: numpy)
    liveness: bool = False                      # record the state graph and decide temporal properties on it


@dataclass
class Progress:
    """A snapshot for progress reporting."""

    distinct: int
    total: int
    queue: int
    depth: int
    seconds: float


ProgressFn = Callable[[Progress], None]


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass
class PropertyPlan:
    """What a run checks, by kind, and the open verdicts it starts from (shared by every BFS engine)."""

    invariants: list[Property]
    goals: list[Property]
    steps: list[Property]
    temporal: list[Property]                   # decided on the recorded graph once the run is complete
    check_deadlock: bool
    results: dict[str, PropertyResult]
    warnings: list[str]

    @classmethod
    def of(cls, ir: IR, options: Options) -> "PropertyPlan":
        props = selected_properties(ir, options.properties)
        check_deadlock = ir.check_deadlock if options.check_deadlock is None else options.check_deadlock
        if options.properties is not None and DEADLOCK not in options.properties:
            check_deadlock = False
        results = {p.name: PropertyResult(p.name, p.kind, "unknown") for p in props}
        # Frame properties (only C writes V) are decided statically, for every state; a violated one stays
        # in the search, which looks for a trace that reaches the offending write.
        ownership = check_ownership(ir)
        for name, verdict in ownership.verdicts.items():
            if name in results:
                results[name].verdict, results[name].note = verdict, ownership.note(name)
        props = [p for p in props if results[p.name].verdict != "proved"]
        if check_deadlock:
            results[DEADLOCK] = PropertyResult(DEADLOCK, "deadlock", "unknown")
        warnings = []
        temporal = [p for p in props if p.kind in TEMPORAL_KINDS]
        if not options.liveness:
            for p in temporal:
                results[p.name].verdict = "not_checked"
                results[p.name].note = "temporal: checked with --liveness"
                warnings.append(f"property `{p.name}` ({p.kind}) is temporal; it is checked with --liveness, so it "
                                "was not checked.")
            temporal = []
        if temporal and ir.constraints:
            warnings.append("the model has state constraints: liveness is decided on the constrained graph, where a "
                            "behaviour that leaves the constraints is not followed, so a temporal verdict may not hold "
                            "for the unconstrained model.")
        return cls([p for p in props if p.kind == "always"], [p for p in props if p.kind == "sometimes"],
                   [p for p in props if p.kind == "step"], temporal, check_deadlock, results, warnings)

    def close(self, complete: bool, coverage: list[ActionCoverage]) -> None:
        """Decide what is still open once a run ends: only a complete run passes anything (and fails a goal it
        never reached), and it warns of actions that never fired."""
        for c in coverage:
            if c.woke:
                self.warnings.append(f"action `{c.name}` fired {c.fired:,} times, but the model declares it dormant at "
                                     f"this configuration ({c.dormant}): its `dormant_actions` is wrong; correct "
                                     "it, or the budget it names.")
        if not complete:
            return
        for r in self.results.values():
            if r.verdict == "unknown" and r.kind not in TEMPORAL_KINDS:     # temporal: decided on the graph
                r.verdict = "holds"
                if r.kind == "sometimes":
                    r.verdict = "violated"
                    r.note = "no reachable state satisfies it"
        for c in coverage:
            if c.fired == 0 and not c.dormant:
                self.warnings.append(f"action `{c.name}` never fired: its guard is false in every reachable state "
                                     "(usually a spec bug).")


def empty_coverage(ir: IR) -> list[ActionCoverage]:
    """One row per action, nothing fired yet, with the model's reason for each action it declares dormant."""
    return [ActionCoverage(a.name, a.component, a.kind, dormant=ir.dormant.get(a.name, "")) for a in ir.actions]


def selected_properties(ir: IR, names: Sequence[str] | None) -> list[Property]:
    if names is None:
        return list(ir.properties)
    by = {p.name: p for p in ir.properties}
    return [by[n] for n in names if n in by]


def explore(ir: IR, options: Options = Options(), progress: ProgressFn | None = None,
            successors: Any = None) -> CheckResult:
    """Explore the model's reachable states breadth-first and check its properties.

    ``successors`` is an object with ``instances`` (a list of (action index, values)) and
    ``generate(state) -> list[(instance, successor)]``; by default the compiled Python
    successor function of :mod:`kubecheck.pycompile`, checked against the reference
    evaluator in the test suite.
    """
    ev = Evaluator(ir)
    symmetry = Symmetry(ir) if options.symmetry else None
    canonical = symmetry.canonical if symmetry is not None else None
    if successors is None:
        successors = default_successors(ir)
    instances = successors.instances
    holds = getattr(successors, "holds", ev.holds)
    # Compiled checks over every property of a kind (IR indices), where the successor function has them.
    failing_invariants = getattr(successors, "failing_invariants", None)
    reached_goals = getattr(successors, "reached_goals", None)
    step_checks = getattr(successors, "step_checks", None)
    plan = PropertyPlan.of(ir, options)
    invariants, goals, steps = plan.invariants, plan.goals, plan.steps
    check_deadlock, results, warnings = plan.check_deadlock, plan.results, plan.warnings

    coverage = empty_coverage(ir)
    inst_component = [ir.actions[ai].component for ai, _ in instances]
    fired = [0] * len(instances)      # transitions per action instance
    found = [0] * len(instances)      # new states per action instance
    constraints = ir.constraints
    max_states = options.max_states

    # States are stored packed (one byte per position where the types allow): a tuple of
    # 200 small ints takes 1.7 kB, its packed bytes about 250 bytes, and hash only once.
    pack, unpack = state_codec(ir)
    states: list[bytes] = []
    index: dict[bytes, int] = {}
    parent = array("q")
    via = array("q")
    level_starts = [0]
    total = 0
    open_inv = list(invariants)
    open_goals = list(goals)
    open_steps = list(steps)
    # For liveness: every transition between stored states (self-loops are not steps).
    recording = bool(plan.temporal)
    esrc, edst, elab = array("q"), array("q"), array("i")

    def trace_to(i: int, extra: tuple[int, tuple[int, ...]] | None = None, name: str | None = None) -> Trace:
        chain = []
        while i >= 0:
            chain.append(i)
            i = parent[i]
        chain.reverse()
        out = []
        for k in chain:
            inst = via[k]
            if inst < 0:
                out.append(Step(None, (), unpack(states[k])))
            else:
                ai, vals = instances[inst]
                a = ir.actions[ai]
                out.append(Step(a.name, tuple(zip(a.param_names(), vals)), unpack(states[k])))
        if extra is not None:
            ai, vals = instances[extra[0]]
            a = ir.actions[ai]
            out.append(Step(a.name, tuple(zip(a.param_names(), vals)), extra[1]))
        tr = Trace(ir.model, dict(ir.config), tuple(out), name)
        return symmetry.concretize(tr, ir, ev.successor) if symmetry is not None else tr

    def violated(name: str, tr: Trace) -> None:
        r = results[name]
        r.verdict = "violated"
        r.counterexample = tr
        if options.first:
            raise _Stop("first_violation")

    def check_state(i: int, st: tuple[int, ...]) -> None:
        try:
            _check_state(i, st)
        except ModelRuntimeError as err:
            if err.trace is None:
                err.trace = trace_to(i)
            raise

    def _check_state(i: int, st: tuple[int, ...]) -> None:
        if failing_invariants is None:
            bad = [p for p in open_inv if not holds(p, st)]
        else:
            bad = [ir.properties[j] for j in failing_invariants(st) if ir.properties[j] in open_inv]
        for p in bad:
            open_inv.remove(p)
            violated(p.name, trace_to(i, name=p.name))
        if not open_goals:
            return
        if reached_goals is None:
            good = [p for p in open_goals if holds(p, st)]
        else:
            good = [ir.properties[j] for j in reached_goals(st) if ir.properties[j] in open_goals]
        for p in good:
            open_goals.remove(p)
            results[p.name].verdict = "holds"
            results[p.name].counterexample = None
            results[p.name].note = f"witness: {len(trace_to(i).steps) - 1} steps"

    def add_initial(st: tuple[int, ...]) -> None:
        if canonical is not None:
            st = canonical(st)
        key = pack(*st)
        if key in index or (constraints and not all(ev.satisfies(c, st) for c in constraints)):
            return
        states.append(key)
        index[key] = len(states) - 1
        parent.append(-1)
        via.append(-1)
        check_state(len(states) - 1, st)

    t0 = time.perf_counter()
    stopped = "complete"
    last_report = t0
    i = 0
    try:
        for st in ev.initial_states():
            total += 1
            add_initial(st)
            if options.max_states is not None and len(states) >= options.max_states:
                raise _Stop("max_states")
        level_starts.append(len(states))
        level = 0
        max_depth = options.max_depth
        last_level = max_depth is not None and max_depth <= 1
        truncated = False
        while i < len(states):
            if i == level_starts[-1]:
                level += 1
                level_starts.append(len(states))
                # The last allowed level is still expanded (to know whether anything lies
                # beyond it), but nothing new past it is stored.
                last_level = max_depth is not None and level + 1 >= max_depth
            st = unpack(states[i])
            succ = successors.generate(st)
            if not succ and check_deadlock and results[DEADLOCK].verdict == "unknown":
                violated(DEADLOCK, trace_to(i, name=DEADLOCK))
            for inst, t in succ:
                total += 1
                fired[inst] += 1
                if open_steps:
                    if step_checks is None:
                        bad = [p for p in open_steps if not holds(p, st, t, 0, inst_component[inst])]
                    else:
                        check = step_checks[inst]
                        bad = [] if check is None else \
                            [ir.properties[j] for j in check(st, t) if ir.properties[j] in open_steps]
                    for p in bad:
                        open_steps.remove(p)
                        violated(p.name, trace_to(i, (inst, t), p.name))
                key = pack(*t)
                known = index.get(key)
                if known is None and canonical is not None:
                    rep = canonical(t)
                    if rep is not t:
                        t, key = rep, pack(*rep)
                        known = index.get(key)
                if known is not None:
                    if recording and known != i:
                        esrc.append(i)
                        edst.append(known)
                        elab.append(inst)
                    continue
                if constraints and not all(ev.satisfies(c, t) for c in constraints):
                    continue
                if last_level:
                    truncated = True
                    continue
                j = len(states)
                if recording:
                    esrc.append(i)
                    edst.append(j)
                    elab.append(inst)
                states.append(key)
                index[key] = j
                parent.append(i)
                via.append(inst)
                found[inst] += 1
                if open_inv or open_goals:
                    check_state(j, t)
                if max_states is not None and j + 1 >= max_states:
                    i += 1
                    raise _Stop("max_states")
            i += 1
            if i & 1023 == 0:
                now = time.perf_counter()
                if options.time_limit is not None and now - t0 >= options.time_limit:
                    raise _Stop("time_limit")
                if options.max_memory is not None and _rss_mib() >= options.max_memory:
                    raise _Stop("max_memory")
                if progress is not None and now - last_report >= 1.0:
                    last_report = now
                    progress(Progress(len(states), total, len(states) - i, level, now - t0))
        if truncated:
            stopped = "max_depth"
    except _Stop as stop:
        stopped = stop.reason
    except KeyboardInterrupt:
        stopped = "interrupted"
    except ModelRuntimeError as err:
        if err.trace is None:
            err.trace = trace_to(i) if i < len(states) else None
        raise
    seconds = time.perf_counter() - t0
    for k, (ai, _) in enumerate(instances):
        coverage[ai].fired += fired[k]
        coverage[ai].new_states += found[k]

    # Levels: the initial states are level 0; depth counts the levels explored.
    depth = _levels(level_starts, len(states))
    plan.close(stopped == "complete", coverage)
    liveness_seconds = None
    if recording and stopped == "complete":
        t_live = time.perf_counter()
        preds = predicates(plan.temporal)
        bits = np.zeros((len(preds), len(states)), dtype=bool)
        for k, key in enumerate(states):
            st = unpack(key)
            for row, (p, w) in enumerate(preds):
                bits[row, k] = holds(p, st, which=w)
        n0 = level_starts[1] if len(level_starts) > 1 else len(states)
        graph = StateGraph(len(states), np.arange(n0, dtype=np.int64), np.frombuffer(esrc, dtype=np.int64),
                           np.frombuffer(edst, dtype=np.int64), np.frombuffer(elab, dtype=np.int32), len(instances))
        warnings += decide(ir, plan.temporal, results, graph, bits, instances, ev, symmetry,
                           lambda g: unpack(states[g]))
        liveness_seconds = time.perf_counter() - t_live
    extra: dict[str, Any] = {"processed": i, "bytes_per_state": _bytes_per_state(states, index, parent, via)}
    if liveness_seconds is not None:
        extra["liveness_seconds"] = liveness_seconds
    if symmetry is not None:
        extra["symmetry"] = {"domains": list(symmetry.domains), "renamings": symmetry.size}
    return CheckResult(ir.model, dict(ir.config), "explicit", stopped, len(states), total, depth, seconds,
                       coverage, results, warnings, extra)


def _bytes_per_state(states: list[bytes], index: dict[bytes, int], parent: array, via: array) -> float | None:
    """What the visited set and the parent links hold per stored state (packed states, the index, the
    discovery list and the parent and action columns)."""
    if not states:
        return None
    total = (sys.getsizeof(index) + sys.getsizeof(states) + len(states) * sys.getsizeof(states[0])
             + len(parent) * parent.itemsize + len(via) * via.itemsize)
    return round(total / len(states), 1)


def state_codec(ir: IR) -> tuple[Callable[..., bytes], Callable[[bytes], tuple[int, ...]]]:
    """``(pack, unpack)``: a state tuple to compact bytes and back, in the narrowest fixed width that holds
    every position's declared interval."""
    lo = min((lf.elem.lo for lf in ir.leaves), default=0)
    hi = max((lf.elem.hi for lf in ir.leaves), default=0)
    code = next(c for c, bits in (("b", 8), ("h", 16), ("i", 32), ("q", 64))
                if -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1)))
    fmt = struct.Struct(f"<{ir.width}{code}")
    return fmt.pack, fmt.unpack


def _levels(level_starts: list[int], n: int) -> int:
    starts = sorted(set(s for s in level_starts if s < n))
    return len(starts)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def default_successors(ir: IR) -> Any:
    """The compiled successor function where available, else the reference evaluator."""
    try:
        from .pycompile import compile_successors
    except ImportError:
        return EvaluatorSuccessors(ir)
    return compile_successors(ir)


class EvaluatorSuccessors:
    """Successors computed by the reference evaluator (slow; the definition)."""

    def __init__(self, ir: IR) -> None:
        self.ev = Evaluator(ir)
        self.instances = [(ai, vals) for ai, _, vals in self.ev.instances()]
        self._acts = [(k, ir.actions[ai], vals) for k, (ai, vals) in enumerate(self.instances)]

    def generate(self, state: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
        out = []
        for k, a, vals in self._acts:
            t = self.ev.successor(a, state, vals)
            if t is not None:
                out.append((k, t))
        return out
