"""Replay: re-execute a trace on the reference evaluator, and say what it shows.

A trace is only evidence if it is a real execution of the model: its first state is an
initial state, and each later state is exactly what its action (enabled in the state
before) produces. :func:`replay` checks that step by step with
:class:`~kubecheck.evaluate.Evaluator`, the definition every engine is tested against, and
reports which properties the trace violates and where, whether it ends in a deadlock, and
whether a lasso's cycle closes. For example::

    r = replay(ir, trace)
    r.ok, r.violations          # True, {"no_over_provision": 9}

    r = replay_file("no_over_provision.itf.json")   # the model and configuration from #meta
"""

from __future__ import annotations

import os

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import ModelRuntimeError, TraceError
from .evaluate import Evaluator
from .expr import Expr, show
from .ir import IR
from .result import Step, Trace
from .temporal import starved
from .values import format_value, scalar_value

__all__ = ["ReplayResult", "replay", "replay_file"]


@dataclass(frozen=True)
class ReplayResult:
    """What replaying a trace showed.

    - ``ok``: its states are a real execution of the model;
    - ``error``: why not, one paragraph naming the step;
    - ``steps``: how many actions were confirmed;
    - ``violations``: for each invariant (``always``) the first state index where it fails,
      and for each ``step`` property the first step index where (pre, post) fails;
    - ``deadlock``: no action is enabled in the final state;
    - ``loop_closes``: for a lasso, whether its cycle closes: the action the trace names (or,
      where it names none, some action) leads from the last state back to ``states[loop]``,
      or the loop starts at the last state, which then repeats forever (a stutter). None for
      a finite trace. A lasso whose cycle does not close is still ``ok`` as a finite
      execution, but it is no evidence of an infinite one;
    - ``closed_by``: the label of the action that closes the cycle (None for a stutter, and
      where the cycle does not close);
    - ``starved``: for a lasso that closes, the fair action instances its cycle starves
      (``kubecheck.temporal.starved``): empty for a fair behaviour; None otherwise.
    """

    ok: bool
    error: str | None
    steps: int
    violations: dict[str, int]
    deadlock: bool
    loop_closes: bool | None
    closed_by: str | None = None
    starved: tuple[str, ...] | None = None


class _Mismatch(Exception):
    """The trace is not an execution of the model; the message says where."""


def replay(ir: IR, trace: Trace) -> ReplayResult:
    """Re-execute ``trace`` on the reference evaluator of ``ir``.

    For example, a trace edited by hand reads ``step 4: action `scheduler_bind_pod(pod=pod1,
    node=node1)` leads to another state: `node[pod1]` becomes node1, but the trace has
    node2.``
    """
    ev = Evaluator(ir)
    states = [s.state for s in trace.steps]
    violations: dict[str, int] = {}
    at = confirmed = 0   # the step being checked (for messages), and the actions confirmed so far
    try:
        if not states:
            raise _Mismatch("the trace has no states.")
        if trace.loop is not None and not 0 <= trace.loop < len(states):
            raise _Mismatch(f"the loop starts at step {trace.loop}, but the trace's last step is {len(states) - 1}.")
        _check_width(ir, states)
        _check_initial(ev, states[0])
        _check_properties(ev, states, 0, violations, None)
        for at in range(1, len(states)):
            _check_step(ev, at, trace.steps[at], states[at - 1])
            confirmed = at
            _check_properties(ev, states, at, violations, ir.action(trace.steps[at].action or "").component)
        deadlock = not any(ev.enabled(a, states[-1], vals) for _, a, vals in ev.instances())
        loop_closes, closed_by, unfair = None, None, None
        if trace.loop is not None:
            loop_closes, closed_by = _loop_closes(ev, trace)
            unfair = tuple(starved(ir, ev, trace)) if loop_closes else None
    except _Mismatch as err:
        return ReplayResult(False, str(err), confirmed, violations, False, None)
    except ModelRuntimeError as err:
        # A hand-made state can drive the spec where no reachable state goes (an out-of-domain read).
        return ReplayResult(False, f"step {at}: {err}", confirmed, violations, False, None)
    return ReplayResult(True, None, confirmed, violations, deadlock, loop_closes, closed_by, unfair)


def _check_width(ir: IR, states: Sequence[tuple[int, ...]]) -> None:
    for i, st in enumerate(states):
        if len(st) != ir.width:
            raise _Mismatch(f"step {i}: the state has {len(st)} values, but a state of model `{ir.model}` in this "
                            f"configuration has {ir.width}; was the trace made with another configuration?")


def _check_initial(ev: Evaluator, state: tuple[int, ...]) -> None:
    """Step 0 is one of ``ev.initial_states()``: checked position by position (the same set,
    without enumerating it), so the message can name the location that is wrong."""
    for pos, choices in enumerate(ev.ir.init_choices):
        if state[pos] not in choices:
            t = ev.ir.scalar_type_at(pos)
            allowed = " or ".join(format_value(scalar_value(t, c)) for c in choices)
            raise _Mismatch(f"step 0 is not an initial state of model `{ev.ir.model}`: `{ev.location(pos)}` is "
                            f"{_show(ev, pos, state)}, but initially it is {allowed}.")
    for cond in ev.ir.init_conditions:
        if not ev.satisfies(cond, state):
            raise _Mismatch(f"step 0 is not an initial state of model `{ev.ir.model}`: it fails the initial "
                            f"condition {show(cond)}.")


def _check_step(ev: Evaluator, i: int, step: Step, pre: tuple[int, ...]) -> None:
    """Step ``i``'s action is enabled in ``pre`` and produces exactly step ``i``'s state."""
    try:
        a = ev.ir.action(step.action or "")
    except KeyError:
        raise _Mismatch(f"step {i}: `{step.action}` is not an action of model `{ev.ir.model}`.") from None
    given = dict(step.params)
    if set(given) != set(a.param_names()):
        raise _Mismatch(f"step {i}: action `{a.name}` takes the parameters {', '.join(a.param_names()) or 'none'}; "
                        f"the step gives {', '.join(given) or 'none'}.")
    for p in a.params:
        if given[p.data] not in p.type.values():
            raise _Mismatch(f"step {i}: parameter `{p.data}` of action `{a.name}` is {given[p.data]}, outside its "
                            f"domain {p.type.describe()}.")
    vals = tuple(given[n] for n in a.param_names())
    label = ev.label(a, vals)
    if not ev.enabled(a, pre, vals):
        false = [c for c in _conjuncts(a.guard) if not ev.eval(c, pre, ev.params(a, vals))]
        raise _Mismatch(f"step {i}: action `{label}` is not enabled in the state before it (step {i - 1}): its "
                        f"guard {show(false[0]) if false else show(a.guard)} is false there.")
    post = ev.apply(a, pre, vals)
    if post != step.state:
        pos = next(k for k in range(len(post)) if post[k] != step.state[k])
        raise _Mismatch(f"step {i}: action `{label}` leads to another state: `{ev.location(pos)}` becomes "
                        f"{_show(ev, pos, post)}, but the trace has {_show(ev, pos, step.state)}.")


def _conjuncts(e: Expr) -> list[Expr]:
    """The ``require(...)`` conditions of a guard (the operands of its ``&`` tree)."""
    return _conjuncts(e.args[0]) + _conjuncts(e.args[1]) if e.op == "and" else [e]


def _show(ev: Evaluator, pos: int, state: tuple[int, ...]) -> str:
    return format_value(scalar_value(ev.ir.scalar_type_at(pos), state[pos]))


def _check_properties(ev: Evaluator, states: Sequence[tuple[int, ...]], i: int, violations: dict[str, int],
                      acting: str | None) -> None:
    """Record the first index where each invariant, and each step property, fails.

    ``acting`` is the component of the action that took step ``i`` (step properties may ask).
    """
    for p in ev.ir.properties:
        if p.name in violations:
            continue
        if p.kind == "always" and not ev.holds(p, states[i]):
            violations[p.name] = i
        elif p.kind == "step" and i > 0 and not ev.holds(p, states[i - 1], states[i], acting=acting):
            violations[p.name] = i


def _loop_closes(ev: Evaluator, trace: Trace) -> tuple[bool, str | None]:
    """Whether the lasso's cycle closes, and the label of the action that closes it."""
    if trace.stutters:
        return True, None
    last, target = trace.steps[-1].state, trace.steps[trace.loop].state
    if trace.closing is not None:
        a = ev.ir.action(trace.closing.action or "")
        vals = tuple(v for _, v in trace.closing.params)
        return (True, ev.label(a, vals)) if ev.successor(a, last, vals) == target else (False, None)
    for _, a, vals in ev.instances():
        if ev.successor(a, last, vals) == target:
            return True, ev.label(a, vals)
    return False, None


def replay_file(path: str, model_instance: Any = None) -> ReplayResult:
    """Load the ITF file at ``path`` and replay it.

    The model is ``model_instance`` if given, else the one the file's ``#meta.model`` names
    (a shipped model), or else the file and class its ``#meta.spec`` names, found with
    :func:`kubecheck.registry.load_model` and configured with ``#meta.config``.
    """
    from .itf import itf_to_trace, load_itf

    doc = load_itf(path)
    if model_instance is None:
        meta = doc.get("#meta", {})
        name, config = meta.get("model"), meta.get("config", {})
        if not isinstance(name, str) or not isinstance(config, dict):
            raise TraceError(f"{path}: the trace does not name its model (\"#meta\".model and \"#meta\".config), "
                             "so it cannot be replayed on its own; give the model explicitly.")
        from .registry import MODELS, load_model
        spec = meta.get("spec")
        if name not in MODELS and isinstance(spec, str) and ":" in spec:
            # A user's own spec: its file, relative to the project root when it is one of ours.
            from .model import PROJECT_ROOT
            file, _, cls = spec.rpartition(":")
            name = f"{os.path.join(PROJECT_ROOT, file)}:{cls}"
        model_instance = load_model(name)(**config)
    ir = model_instance.ir
    return replay(ir, itf_to_trace(ir, doc, path))
