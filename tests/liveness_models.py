"""Small models whose liveness verdicts turn on fairness or on one missing action.

Each comes in two versions that differ in one respect, and the two get opposite
verdicts: Peterson's mutex without and with weak fairness (spec/examples/mutex.py), a
ReplicaSet-like controller without and with the action that handles a failed create, and
a semaphore mutex under weak and under strong fairness. tests/test_liveness_models.py pins their state counts,
verdicts and lassos on both engines.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import Array, Constant, Domain, Int, Model, Var, action, any_of, converges, leads_to, require
from kubecheck.model import ActionDecl
from kubecheck.spec.examples.mutex import Mutex

__all__ = ["UnfairPeterson", "LeakyReplicaSet", "RetryingReplicaSet", "Lock", "SemaphoreMutex",
           "StrongSemaphoreMutex"]


def _refair(decl: ActionDecl, fairness: str | None) -> ActionDecl:
    """``decl`` declared again with ``fairness``: same parameters, kind, guard and updates."""
    return action(kind=decl.kind, fairness=fairness, **decl.params)(decl.fn)


# ---- Peterson's mutex: no fairness versus weak fairness ----------------------------------------

class UnfairPeterson(Mutex):
    """Peterson's two-process mutex with no fairness at all: a process may starve.

    The algorithm of spec/examples/mutex.py, whose steps after raising the flag are weakly
    fair, with that fairness taken away (20 states either way). No action is fair, so a
    behaviour may stop anywhere: after process1 raises its flag, nothing makes anyone move
    again, and process1 waits forever. ``process1_enters`` is violated by that one-step
    lasso (the flag raised, then stuttering), and ``process2_enters`` by its mirror image.
    With the fairness of spec/examples/mutex.py both hold: once a waiter's
    ``process_enter`` is enabled it stays enabled (the other can only give the turn away),
    so weak fairness takes it.
    """

    name = "unfair-peterson"

    process_give_turn = _refair(Mutex.process_give_turn, None)
    process_enter = _refair(Mutex.process_enter, None)
    process_exit = _refair(Mutex.process_exit, None)


# ---- a ReplicaSet-like controller: a dropped error path versus a retried create ---------------

class LeakyReplicaSet(Model):
    """A ReplicaSet-like controller that never recreates a pod whose create failed.

    The controller creates pods up to ``replicas``, counting the creates it has sent and not
    yet seen answered as pods on their way (Kubernetes' "expectations"). The API server
    stores a pod or, as a fault, fails the create. This controller has no action for the
    failed create's error: it keeps expecting that pod and never creates it again. Once
    faults stop, a fair reconciler must reach ``replicas`` pods, but here one failed create
    leaves it one short for good: ``replicaset_converges`` is violated by a lasso that
    creates two pods, sees one stored and the other fail, and then stops with one pod,
    where neither the controller nor the API server has a step left (10 states).
    """

    name = "leaky-replicaset"
    check_deadlock = False              # the controller is meant to fall quiet once it has converged
    fairness = "weak"                   # the controller and the API server keep running

    replicas = Constant(2, "desired replicas", min=1)

    pods = Var(Int(0, replicas), init=0)        # pods the API server has stored
    creating = Var(Int(0, replicas), init=0)    # create calls in flight
    failed = Var(Int(0, replicas), init=0)      # failed creates whose error the controller has not handled

    @action
    def replicaset_create_pod(self, s):
        """The controller creates a pod unless it already has or expects enough of them."""
        require(s.pods + s.creating + s.failed < self.replicas)
        s.creating = s.creating + 1

    @action
    def apiserver_store_pod(self, s):
        """The API server stores a pod that was created (the controller sees it)."""
        require(s.creating > 0)
        s.creating = s.creating - 1
        s.pods = s.pods + 1

    @action(kind="fault")
    def apiserver_fail_create(self, s):
        """A create call fails (the API server is overloaded, a webhook refuses it)."""
        require(s.creating > 0)
        s.creating = s.creating - 1
        s.failed = s.failed + 1

    @converges
    def replicaset_converges(self, s):
        """Once faults stop, the controller reaches ``replicas`` pods and stays there (the desired
        state, the ReplicaSet's spec, never changes in this model)."""
        return True, s.pods == self.replicas


class RetryingReplicaSet(LeakyReplicaSet):
    """The same controller with the action it was missing: it handles a failed create.

    Handling the error drops the failed pod from the controller's expectations (what
    Kubernetes' ReplicaSet controller does on a create error), so its next step creates
    the pod again. With faults stopped, every behaviour of the fair controller and API
    server ends with ``replicas`` pods stored: ``replicaset_converges`` holds, on the same
    10 states.
    """

    name = "retrying-replicaset"

    @action
    def replicaset_handle_create_error(self, s):
        """The controller handles a failed create: it no longer expects that pod."""
        require(s.failed > 0)
        s.failed = s.failed - 1


# ---- a semaphore mutex: weak fairness versus strong fairness ---------------------------------

class Lock(IntEnum):
    """Where a process is with respect to the semaphore."""

    IDLE = 0            # outside, not interested
    WAITING = 1         # waits for the semaphore
    CRITICAL = 2        # holds it, inside the critical section


class SemaphoreMutex(Model):
    """Two processes share a critical section through a semaphore: weakly fair, one may starve.

    A waiting process enters when the semaphore is free, that is, when no process is
    inside; nothing orders the waiters (C. Baier and J.-P. Katoen, *Principles of Model
    Checking*, 2008, sec. 3.5, fairness). Entering and leaving are weakly fair, so a
    process inside eventually leaves. But ``process_enter`` of a waiting process is
    enabled only intermittently: the other process can request, enter and leave forever,
    and each time it is inside the waiter's entry is disabled, which weak fairness
    allows. So both ``leads_to`` properties are violated, each by a lasso whose cycle is
    the other process going round (8 states).
    """

    name = "semaphore-mutex"

    Processes = Domain("process", size=2)

    pc = Var(Array(Processes, Lock), init=Lock.IDLE)       # each process's place (the semaphore is implied)

    @action(process=Processes)
    def process_request(self, s, process):
        """A process starts waiting for the semaphore (it need not ever want to)."""
        require(s.pc[process] == Lock.IDLE)
        s.pc[process] = Lock.WAITING

    @action(process=Processes, fairness="weak")
    def process_enter(self, s, process):
        """A waiting process takes the semaphore when it is free."""
        require(s.pc[process] == Lock.WAITING)
        require(~any_of(self.Processes, lambda p: s.pc[p] == Lock.CRITICAL))
        s.pc[process] = Lock.CRITICAL

    @action(process=Processes, fairness="weak")
    def process_exit(self, s, process):
        """A process leaves the critical section and releases the semaphore."""
        require(s.pc[process] == Lock.CRITICAL)
        s.pc[process] = Lock.IDLE

    @leads_to
    def process1_enters(self, s):
        """Once process1 waits, it eventually enters its critical section."""
        return s.pc[0] == Lock.WAITING, s.pc[0] == Lock.CRITICAL

    @leads_to
    def process2_enters(self, s):
        """Once process2 waits, it eventually enters its critical section."""
        return s.pc[1] == Lock.WAITING, s.pc[1] == Lock.CRITICAL


class StrongSemaphoreMutex(SemaphoreMutex):
    """The same semaphore mutex with strongly fair entry: no process starves.

    Strong fairness asks that an action enabled infinitely often, not only continuously,
    be taken: a waiting process's entry is enabled every time the other process leaves,
    so it must eventually be taken. Both ``leads_to`` properties hold on the same 8 states.
    """

    name = "strong-semaphore-mutex"

    process_enter = _refair(SemaphoreMutex.process_enter, "strong")
