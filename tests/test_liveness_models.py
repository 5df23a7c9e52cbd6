"""Liveness verdicts that turn on fairness or on one missing action (tests/liveness_models.py).

The acceptance lines of the liveness issue, each as a pair of models that differ in one
respect: Peterson's mutex starves a process without fairness and not with weak
fairness; a ReplicaSet-like controller that drops the action handling a failed create
never converges, and converges with it; a semaphore mutex, whose entry is enabled only
intermittently, starves a process under weak fairness and not under strong fairness.

Every figure is computed by the explicit and by the vectorized engine, which must agree
on all of it, counterexample traces included (tests/liveness_checks.py). A lasso is pinned
as its step labels, its ``loop`` (where the cycle starts; the last index for a stuttering
lasso), the step that closes it and its states; the engines report the shortest one: a
breadth-first prefix, then the shortest fair cycle or a stop where no fair action is
enabled.
"""

from __future__ import annotations

from kubecheck import Model
from kubecheck.result import CheckResult
from kubecheck.spec.examples.mutex import Mutex, Pc

from liveness_checks import check
from liveness_models import (LeakyReplicaSet, Lock, RetryingReplicaSet, SemaphoreMutex, StrongSemaphoreMutex,
                             UnfairPeterson)


def states(result: CheckResult, prop: str) -> list[tuple[int, ...]]:
    """The states of ``prop``'s counterexample, initial state first."""
    return [step.state for step in result.properties[prop].counterexample.steps]


def declarations(model: Model) -> list[tuple[str, tuple[str, ...], str, str | None]]:
    """Each action's name, parameters, kind and fairness."""
    return [(a.name, a.param_names(), a.kind, a.fairness) for a in model.ir.actions]


# ---- Peterson's mutex: no fairness versus weak fairness -----------------------------------------

PETERSON_SAFETY = {"mutual_exclusion": "holds", "someone_in_critical_section": "holds", "deadlock_free": "holds"}


def test_peterson_without_fairness_starves_a_process():
    result, s = check(UnfairPeterson())
    assert s["counts"] == ("complete", 20, 36, 6)
    assert s["verdicts"] == dict(PETERSON_SAFETY, process1_enters="violated", process2_enters="violated")
    # The process raises its flag, then the behaviour stops: one step, then stuttering forever.
    assert s["lassos"] == {
        "process1_enters": (["process_set_flag(process=process1)"], 1, None),
        "process2_enters": (["process_set_flag(process=process2)"], 1, None),
    }
    # (flag[process1], flag[process2], turn, pc[process1], pc[process2]), from the initial state where turn
    # is process1.
    assert states(result, "process1_enters") == [(0, 0, 0, Pc.NONCRITICAL, Pc.NONCRITICAL),
                                                 (1, 0, 0, Pc.FLAG_RAISED, Pc.NONCRITICAL)]
    assert states(result, "process2_enters") == [(0, 0, 0, Pc.NONCRITICAL, Pc.NONCRITICAL),
                                                 (0, 1, 0, Pc.NONCRITICAL, Pc.FLAG_RAISED)]
    assert s["warnings"] == []


def test_peterson_with_weak_fairness_does_not_starve():
    fair, unfair = declarations(Mutex()), declarations(UnfairPeterson())
    assert [d[:3] for d in fair] == [d[:3] for d in unfair]           # the same actions, fairness aside
    assert [d[3] for d in unfair] == [None, None, None, None]
    assert [d[3] for d in fair] == [None, "weak", "weak", "weak"]
    _, s = check(Mutex())
    assert s["counts"] == ("complete", 20, 36, 6)
    assert s["verdicts"] == dict(PETERSON_SAFETY, process1_enters="holds", process2_enters="holds")
    assert s["lassos"] == {}
    assert s["warnings"] == []


# ---- a ReplicaSet-like controller: a dropped error path versus a retried create -----------------

def test_replicaset_that_drops_the_failed_create_never_converges():
    result, s = check(LeakyReplicaSet())
    assert s["counts"] == ("complete", 10, 13, 5)
    assert s["verdicts"] == {"replicaset_converges": "violated"}
    # Two creates; one pod stored, the other create fails; then nothing the controller or the
    # API server may do is enabled, and the behaviour stutters one pod short.
    assert s["lassos"] == {"replicaset_converges": (
        ["replicaset_create_pod", "replicaset_create_pod", "apiserver_store_pod", "apiserver_fail_create"], 4, None)}
    # (pods, creating, failed)
    assert states(result, "replicaset_converges") == [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 1, 0), (1, 0, 1)]
    assert s["warnings"] == []


def test_replicaset_that_handles_the_failed_create_converges():
    assert declarations(RetryingReplicaSet()) == declarations(LeakyReplicaSet()) + [
        ("replicaset_handle_create_error", (), "system", "weak")]
    _, s = check(RetryingReplicaSet())
    assert s["counts"] == ("complete", 10, 17, 5)
    assert s["verdicts"] == {"replicaset_converges": "holds"}
    assert s["lassos"] == {}
    assert s["warnings"] == []


# ---- a semaphore mutex: weak fairness versus strong fairness ------------------------------------

def test_semaphore_mutex_under_weak_fairness_starves_a_process():
    result, s = check(SemaphoreMutex())
    assert s["counts"] == ("complete", 8, 15, 4)
    assert s["verdicts"] == {"process1_enters": "violated", "process2_enters": "violated", "deadlock_free": "holds"}
    # One process requests; the cycle from there: the other requests and enters (and, closing the
    # cycle, leaves). The waiter's entry is disabled while the other is inside, so weak fairness
    # does not force it.
    assert s["lassos"] == {
        "process1_enters": (["process_request(process=process1)", "process_request(process=process2)",
                             "process_enter(process=process2)"], 1, "process_exit(process=process2)"),
        "process2_enters": (["process_request(process=process2)", "process_request(process=process1)",
                             "process_enter(process=process1)"], 1, "process_exit(process=process1)"),
    }
    # (pc[process1], pc[process2])
    assert states(result, "process1_enters") == [(Lock.IDLE, Lock.IDLE), (Lock.WAITING, Lock.IDLE),
                                                 (Lock.WAITING, Lock.WAITING), (Lock.WAITING, Lock.CRITICAL)]
    assert states(result, "process2_enters") == [(Lock.IDLE, Lock.IDLE), (Lock.IDLE, Lock.WAITING),
                                                 (Lock.WAITING, Lock.WAITING), (Lock.CRITICAL, Lock.WAITING)]
    assert s["warnings"] == []


def test_semaphore_mutex_under_strong_fairness_does_not_starve():
    strong, weak = declarations(StrongSemaphoreMutex()), declarations(SemaphoreMutex())
    assert [d[:3] for d in strong] == [d[:3] for d in weak]           # the same actions, fairness aside
    assert [d[3] for d in weak] == [None, "weak", "weak"]
    assert [d[3] for d in strong] == [None, "strong", "weak"]
    _, s = check(StrongSemaphoreMutex())
    assert s["counts"] == ("complete", 8, 15, 4)
    assert s["verdicts"] == {"process1_enters": "holds", "process2_enters": "holds", "deadlock_free": "holds"}
    assert s["lassos"] == {}
    assert s["warnings"] == []
