"""Liveness runs on both engines, compared: the helper every liveness test uses.

``check(model)`` runs ``model`` with ``--liveness`` on the explicit and on the vectorized
engine, asserts that they agree on everything (counts, verdicts, lassos, warnings, whole
counterexample traces), replays every lasso on the reference evaluator (it must be an
execution whose cycle closes and which starves no fair action instance), and returns the
explicit engine's result with the summary both share. A lasso is summarised as its step
labels, ``loop`` (where the cycle starts; the last index for a stuttering lasso) and the
label of the step that closes it (None where it stutters).
"""

from __future__ import annotations

from typing import Any

from kubecheck import Model
from kubecheck.ir import IR
from kubecheck.replay import replay
from kubecheck.report import step_label
from kubecheck.result import CheckResult, Trace

__all__ = ["check", "summary", "lasso"]


def lasso(trace: Trace, ir: IR) -> tuple[list[str], int, str | None]:
    """A lasso's step labels, where its cycle starts, and the action that closes it (None: it stutters)."""
    assert trace.loop is not None, "not a lasso"
    return trace.labels(ir), trace.loop, None if trace.closing is None else step_label(ir, trace.closing)


def summary(result: CheckResult, ir: IR) -> dict[str, Any]:
    """Everything a liveness run found, in a form two runs can be compared by."""
    return {
        "counts": (result.stopped_by, result.distinct_states, result.total_states, result.depth),
        "verdicts": {n: p.verdict for n, p in result.properties.items()},
        "lassos": {n: lasso(p.counterexample, ir) for n, p in result.properties.items()
                   if p.counterexample is not None and p.counterexample.loop is not None},
        "warnings": list(result.warnings),
    }


def check(model: Model, symmetry: bool = False) -> tuple[CheckResult, dict[str, Any]]:
    """Check ``model`` with liveness on the explicit and on the vectorized engine; they must agree.

    Returns the explicit engine's result and the summary both share.
    """
    explicit = model.checker().engine("explicit").symmetry(symmetry).liveness().run()
    vector = model.checker().engine("vector").symmetry(symmetry).liveness().run()
    assert (explicit.engine, vector.engine) == ("explicit", "vector")
    got = summary(explicit, model.ir)
    assert summary(vector, model.ir) == got, "the explicit and the vectorized engine disagree"
    for name, p in explicit.properties.items():
        assert vector.properties[name].counterexample == p.counterexample, name
        if p.counterexample is not None and p.counterexample.loop is not None:
            replayed = replay(model.ir, p.counterexample)
            assert (replayed.ok, replayed.loop_closes, replayed.starved) == (True, True, ()), name
    return explicit, got
