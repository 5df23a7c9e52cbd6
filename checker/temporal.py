"""Deciding a run's temporal properties from the state graph its BFS recorded.

Both engines record every transition between stored states (source id, destination id, action
instance) and, for each stored state, the value of every predicate a temporal property names.
Once a run is complete, :func:`decide` hands them to :mod:`kubecheck.liveness` and turns each
lasso it returns into a :class:`~kubecheck.result.Trace` with ``loop`` set, by replaying its
actions from its initial state through the reference evaluator (so a lasso is an execution of the
model, and the engines' traces agree to the step).

Fairness is per action instance, TLA+'s ``\\A p: WF_vars(A(p))``: an action declared
``fairness="weak"`` with parameters is fair for each value of its parameters on its own.
Environment and fault actions have none. With symmetry reduction the graph is the quotient, in
which one instance stands for all its renamings; fairness is then per action (``WF_vars(\\E p:
A(p))``), a weaker assumption, so a verdict that holds there holds per instance too. A lasso
found there is renamed into a real execution and checked per instance (:func:`starved`): one
that is fair per instance is a violation; one that starves an instance leaves the property
unknown, and the run says to decide it without ``--symmetry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .evaluate import Evaluator
from .ir import IR, TEMPORAL_KINDS, Property
from .liveness import Fairness, Lasso, StateGraph, check_always_eventually, check_converges, check_eventually, \
    check_eventually_always, check_leads_to
from .result import PropertyResult, Step, Trace
from .symmetry import Symmetry

__all__ = ["temporal_properties", "predicates", "fairness", "GraphRecord", "decide", "lasso_trace", "starved"]


def temporal_properties(props: Sequence[Property]) -> list[Property]:
    """The properties among ``props`` decided on the state graph."""
    return [p for p in props if p.kind in TEMPORAL_KINDS]


def predicates(props: Sequence[Property]) -> list[tuple[Property, int]]:
    """Every (property, expression index) whose value per state the liveness check needs, in order."""
    return [(p, w) for p in props for w in range(len(p.exprs))]


def fairness(ir: IR, instances: Sequence[tuple[int, tuple[int, ...]]], per_action: bool) -> Fairness:
    """Fairness groups over action instances (labels): one group per fair instance, or per fair action."""
    group = np.full(len(instances), -1, dtype=np.int32)
    strong: list[bool] = []
    ids: dict[object, int] = {}
    for k, (ai, vals) in enumerate(instances):
        a = ir.actions[ai]
        if a.fairness is None or a.kind != "system":
            continue
        key = ai if per_action else (ai, vals)
        if key not in ids:
            ids[key] = len(strong)
            strong.append(a.fairness == "strong")
        group[k] = ids[key]
    return Fairness(group, np.array(strong, dtype=bool))


@dataclass
class GraphRecord:
    """What the vectorized engine records for liveness, chunk by chunk: the stored states' fingerprints (in
    id order) and temporal predicates, and every transition as (source id, instance, destination
    fingerprint). Destinations are resolved to ids once the run is complete; one never stored (outside
    a state constraint) is no edge, and neither is a self-loop."""

    fps: list[np.ndarray] = field(default_factory=list)
    bits: list[np.ndarray] = field(default_factory=list)     # (predicates, states) chunks, in id order
    src: list[np.ndarray] = field(default_factory=list)
    dst_fp: list[np.ndarray] = field(default_factory=list)
    label: list[np.ndarray] = field(default_factory=list)

    def resolve(self, labels: int, predicates: int) -> tuple[StateGraph, np.ndarray]:
        """The state graph (the first chunk of states is the initial ones) and the predicate bits."""
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
        fps, src, dfp, lab = (cat(self.fps, np.uint64), cat(self.src, np.int64), cat(self.dst_fp, np.uint64),
                              cat(self.label, np.int32))
        order = np.argsort(fps)
        pos = np.minimum(np.searchsorted(fps[order], dfp), max(len(fps) - 1, 0))
        dst = order[pos] if len(fps) else np.zeros(0, dtype=np.int64)
        edge = (fps[dst] == dfp) & (dst != src) if len(fps) else np.zeros(0, dtype=bool)
        n0 = len(self.fps[0]) if self.fps else 0
        graph = StateGraph(len(fps), np.arange(n0, dtype=np.int64), src[edge], dst[edge].astype(np.int64),
                           lab[edge], labels)
        bits = np.concatenate(self.bits, axis=1) if self.bits else np.zeros((predicates, 0), dtype=bool)
        return graph, bits


def decide(ir: IR, props: Sequence[Property], results: dict[str, PropertyResult], graph: StateGraph,
           bits: np.ndarray, instances: Sequence[tuple[int, tuple[int, ...]]], ev: Evaluator,
           symmetry: Symmetry | None, initial_state: Callable[[int], tuple[int, ...]]) -> list[str]:
    """Decide ``props`` (temporal, in IR order) on ``graph``; set their results; return warnings.

    ``bits[i]`` is the value per state of the i-th of :func:`predicates`, and ``initial_state(id)`` a
    stored initial state's values. Under ``symmetry`` the graph's states are orbit representatives: a
    lasso is replayed on representatives, then renamed into a real execution."""
    symmetric = symmetry is not None

    def successor(st: tuple[int, ...], k: int) -> tuple[int, ...]:
        ai, vals = instances[k]
        t = ev.successor(ir.actions[ai], st, vals)
        assert t is not None, "a recorded transition the reference evaluator does not take"
        return t if symmetry is None else symmetry.canonical(t)
    finish = None if symmetry is None else (lambda tr: symmetry.concretize_lasso(tr, ir, ev.successor))
    fair = fairness(ir, instances, per_action=symmetric)
    system = np.array([ir.actions[ai].kind == "system" for ai, _ in instances], dtype=bool)
    column = {(p.name, w): i for i, (p, w) in enumerate(predicates(props))}
    warnings: list[str] = []
    for p in props:
        x = [bits[column[(p.name, w)]] for w in range(len(p.exprs))]
        if p.kind == "eventually":
            lasso = check_eventually(graph, x[0], fair)
        elif p.kind == "always_eventually":
            lasso = check_always_eventually(graph, x[0], fair)
        elif p.kind == "eventually_always":
            lasso = check_eventually_always(graph, x[0], fair)
        elif p.kind == "leads_to":
            lasso = check_leads_to(graph, x[0], x[1], fair)
        else:
            lasso = check_converges(graph, x[0], x[1], fair, system)
        r = results[p.name]
        if lasso is None:
            r.verdict = "holds"
            continue
        trace = lasso_trace(ir, lasso, instances, initial_state, successor, p.name, finish)
        unfair = starved(ir, ev, trace) if symmetric else []
        if not unfair:
            r.verdict, r.counterexample = "violated", trace
            continue
        # Fair per action only: no evidence against fairness per instance, and no proof either.
        r.verdict, r.note = "unknown", "symmetry: only a lasso fair per action"
        warnings.append(f"property `{p.name}` is unknown: on the symmetry-reduced graph fairness is per action "
                        f"rather than per instance, and the only lasso found there starves {', '.join(unfair)}; "
                        "run without --symmetry to decide it.")
    return warnings


def lasso_trace(ir: IR, lasso: Lasso, instances: Sequence[tuple[int, tuple[int, ...]]],
                initial_state: Callable[[int], tuple[int, ...]],
                successor: Callable[[tuple[int, ...], int], tuple[int, ...]], name: str,
                finish: Callable[[Trace], Trace] | None) -> Trace:
    """The lasso as a trace: its actions replayed from its initial state, ``loop`` where the cycle starts and
    ``closing`` the step back to it (None where the lasso stutters)."""
    def step(st: tuple[int, ...], k: int) -> Step:
        ai, vals = instances[int(k)]
        a = ir.actions[ai]
        return Step(a.name, tuple(zip(a.param_names(), vals)), successor(st, int(k)))
    steps = [Step(None, (), initial_state(int(lasso.states[0])))]
    for k in lasso.labels:
        steps.append(step(steps[-1].state, k))
    closing = None if lasso.closing is None else step(steps[-1].state, lasso.closing)
    tr = Trace(ir.model, dict(ir.config), tuple(steps), name, lasso.loop, closing)
    return tr if finish is None else finish(tr)


def starved(ir: IR, ev: Evaluator, trace: Trace) -> list[str]:
    """The fair action instances that a lasso's cycle starves, as labels (``[]`` for a fair lasso).

    Fairness is per instance, as the model declares it: a weakly fair instance enabled in every
    cycle state, or a strongly fair one enabled in some cycle state, must be taken in the cycle.
    Enabled means that its guard holds and it changes the state (a step to the same state is no
    step). A stuttering lasso's cycle is its last state, in which no step is taken.
    """
    assert trace.loop is not None, "a finite trace has no cycle"
    cycle = [s.state for s in trace.steps[trace.loop:]]
    taken = {(s.action, s.params) for s in trace.steps[trace.loop + 1:]}
    if trace.closing is not None:
        taken.add((trace.closing.action, trace.closing.params))
    out = []
    for _, a, vals in ev.instances():
        if a.fairness is None or a.kind != "system" or (a.name, tuple(zip(a.param_names(), vals))) in taken:
            continue
        enabled = [(t := ev.successor(a, st, vals)) is not None and t != tuple(st) for st in cycle]
        if all(enabled) if a.fairness == "weak" else any(enabled):
            out.append(ev.label(a, vals))
    return out
