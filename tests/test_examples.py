"""The example models: exact state counts, verdicts and counterexamples.

Every figure is checked twice: on the default successor engine and on the reference
evaluator (:class:`kubecheck.explicit.EvaluatorSuccessors`), which must agree on all of
it, coverage and warnings included. Counts that other tools publish are cited where
they are compared.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubecheck.builder import Checker
from kubecheck.explicit import EvaluatorSuccessors, explore
from kubecheck.result import CheckResult
from kubecheck.spec.examples.mutex import Mutex
from kubecheck.spec.examples.two_phase import TwoPhaseCommit
from kubecheck.spec.examples.water_jugs import WaterJugs


def summary(result: CheckResult, checker: Checker) -> dict[str, Any]:
    """Everything a run found, in a form two runs can be compared by."""
    ir = checker.model.ir
    return {
        "stopped_by": result.stopped_by,
        "distinct_states": result.distinct_states,
        "total_states": result.total_states,
        "depth": result.depth,
        "verdicts": {n: p.verdict for n, p in result.properties.items()},
        "notes": {n: p.note for n, p in result.properties.items() if p.note},
        "counterexamples": {n: p.counterexample.labels(ir) for n, p in result.properties.items()
                            if p.counterexample is not None},
        "coverage": [(c.name, c.fired, c.new_states) for c in result.coverage],
        "dormant": {c.name: c.dormant for c in result.coverage if c.dormant},
        "woke": [c.name for c in result.coverage if c.woke],
        "warnings": list(result.warnings),
        "exit_code": result.exit_code(),
    }


def run_both(checker: Checker) -> tuple[CheckResult, dict[str, Any]]:
    """Run ``checker`` on the default engine and on the reference evaluator; they must agree.

    Returns the default engine's result and the summary both share.
    """
    fast = checker.run()
    ir = checker.model.ir
    ref = explore(ir, checker.options, successors=EvaluatorSuccessors(ir))
    got = summary(fast, checker)
    assert got == summary(ref, checker), "the default engine and the reference evaluator disagree"
    return fast, got


def counts(s: dict[str, Any]) -> tuple[str, int, int, int]:
    return s["stopped_by"], s["distinct_states"], s["total_states"], s["depth"]


def shortest_counterexample(model: Any, prop: str) -> list[str]:
    """The steps of the shortest run that violates ``prop`` (which must be violated)."""
    found = model.checker().properties(prop).first().run().properties[prop]
    assert found.verdict == "violated"
    labels = found.counterexample.labels(model.ir)
    assert found.counterexample.length == len(labels)
    return labels


# ---- mutex ----------------------------------------------------------------------------------

def peterson_by_hand() -> tuple[int, int, int, bool]:
    """Peterson's algorithm explored by a plain BFS, apart from kubecheck.

    Returns (distinct states, states generated, levels, whether both were ever inside).
    """
    noncritical, flag_raised, waiting, critical = range(4)

    def successors(state):
        flags, turn, pcs = state
        for p in (0, 1):
            other = 1 - p
            if pcs[p] == noncritical:
                yield flags[:p] + (True,) + flags[p + 1:], turn, pcs[:p] + (flag_raised,) + pcs[p + 1:]
            elif pcs[p] == flag_raised:
                yield flags, other, pcs[:p] + (waiting,) + pcs[p + 1:]
            elif pcs[p] == waiting and (not flags[other] or turn == p):
                yield flags, turn, pcs[:p] + (critical,) + pcs[p + 1:]
            elif pcs[p] == critical:
                yield flags[:p] + (False,) + flags[p + 1:], turn, pcs[:p] + (noncritical,) + pcs[p + 1:]

    level = {((False, False), turn, (noncritical, noncritical)): 1 for turn in (0, 1)}
    queue, generated = list(level), len(level)
    for state in queue:
        for t in successors(state):
            generated += 1
            if t not in level:
                level[t] = level[state] + 1
                queue.append(t)
    return len(level), generated, max(level.values()), any(s[2] == (critical, critical) for s in level)


def test_mutex_counts_and_verdicts():
    _, s = run_both(Mutex().checker())
    assert counts(s) == ("complete", 20, 36, 6)
    assert peterson_by_hand() == (20, 36, 6, False)
    assert s["verdicts"] == {
        "mutual_exclusion": "holds",
        "someone_in_critical_section": "holds",
        "process1_enters": "not_checked",
        "process2_enters": "not_checked",
        "deadlock_free": "holds",
    }
    assert s["notes"] == {"someone_in_critical_section": "witness: 3 steps",
                          "process1_enters": "temporal: checked with --liveness", "process2_enters": "temporal: checked with --liveness"}
    assert s["counterexamples"] == {}
    assert s["warnings"] == [
        "property `process1_enters` (leads_to) is temporal; it is checked with --liveness, so it was not checked.",
        "property `process2_enters` (leads_to) is temporal; it is checked with --liveness, so it was not checked.",
    ]
    assert s["exit_code"] == 3   # a property left unchecked is not a pass


def test_mutex_declares_fairness_and_liveness():
    ir = Mutex().ir
    assert [(a.name, a.param_names(), a.fairness) for a in ir.actions] == [
        ("process_set_flag", ("process",), None),
        ("process_give_turn", ("process", "other"), "weak"),
        ("process_enter", ("process", "other"), "weak"),
        ("process_exit", ("process",), "weak"),
    ]
    assert [(p.name, p.kind) for p in ir.properties] == [
        ("mutual_exclusion", "always"),
        ("someone_in_critical_section", "sometimes"),
        ("process1_enters", "leads_to"),
        ("process2_enters", "leads_to"),
    ]


# ---- two-phase commit -----------------------------------------------------------------------

TWO_PHASE_HOLDS = {"consistent": "holds", "all_committed": "holds", "deadlock_free": "holds"}


@pytest.mark.parametrize("rms, distinct, total, depth", [
    (1, 12, 20, 5),
    (2, 56, 154, 8),
    # TLA+ Examples, transaction_commit/manifest.json, TwoPhase.cfg (RM = {r1, r2, r3}):
    # distinctStates 288, totalStates 1146, stateDepth 11; Stateright's examples/2pc.rs
    # asserts 288 unique states for rms 0..3. TLC counts every generated state, initial
    # and repeated ones included, and its depth counts states on the longest BFS path;
    # kubecheck counts both the same way, so all three figures match.
    (3, 288, 1146, 11),
])
def test_two_phase_commit_counts(rms, distinct, total, depth):
    _, s = run_both(TwoPhaseCommit(resource_managers=rms).checker())
    assert counts(s) == ("complete", distinct, total, depth)
    assert s["verdicts"] == TWO_PHASE_HOLDS
    # Committing takes every RM preparing, the TM hearing each, the commit, each RM hearing it.
    assert s["notes"] == {"all_committed": f"witness: {3 * rms + 1} steps"}
    assert s["warnings"] == []
    assert s["exit_code"] == 0


def test_two_phase_commit_never_deadlocks():
    # Deadlock checking stays on: once the TM has decided, the "receive" actions of its
    # decision stay enabled (receiving a message twice is allowed), and until then it may abort.
    assert TwoPhaseCommit.check_deadlock is True
    assert TwoPhaseCommit().ir.check_deadlock is True


# ---- water jugs -----------------------------------------------------------------------------

DIE_HARD_SOLUTION = [
    "fill_big_jug",             # small 0, big 5
    "pour_big_into_small",      # small 3, big 2
    "empty_small_jug",          # small 0, big 2
    "pour_big_into_small",      # small 2, big 0
    "fill_big_jug",             # small 2, big 5
    "pour_big_into_small",      # small 3, big 4
]


def test_water_jugs_finds_the_six_move_solution():
    result, s = run_both(WaterJugs().checker())
    assert counts(s) == ("complete", 16, 97, 8)
    assert s["verdicts"] == {"big_jug_never_4": "violated", "deadlock_free": "holds"}
    assert s["counterexamples"] == {"big_jug_never_4": DIE_HARD_SOLUTION}
    trace = result.properties["big_jug_never_4"].counterexample
    assert trace.violation == "big_jug_never_4"
    assert [step.state for step in trace.steps] == [(0, 0), (0, 5), (3, 2), (0, 2), (2, 0), (2, 5), (3, 4)]
    assert s["exit_code"] == 1


def test_water_jugs_first_violation_stops_early_with_the_same_solution():
    _, s = run_both(WaterJugs().checker().first())
    assert counts(s) == ("first_violation", 14, 73, 7)
    assert s["verdicts"] == {"big_jug_never_4": "violated", "deadlock_free": "unknown"}
    assert s["counterexamples"] == {"big_jug_never_4": DIE_HARD_SOLUTION}
