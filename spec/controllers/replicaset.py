"""The ReplicaSet controller: keeps the desired number of pods alive.

In Kubernetes, the ReplicaSet controller (part of kube-controller-manager) compares the
number of active pods a ReplicaSet owns with its ``spec.replicas`` and creates or deletes
pods, through the API server, to close the gap ("ReplicaSet" in the Workloads docs). It
reads pods from its informer cache, which lags behind the store, so after creating pods
it would see too few of them and create more. It prevents that with *expectations*: after
a sync that creates (or deletes) n pods, it does not sync that ReplicaSet again until its
informer has shown it those n creations (or deletions), or until the expectations expire
after five minutes. A failed create lowers the expectation at once.

The model keeps one ReplicaSet with a constant ``replicas`` (scaling arrives with the
Deployment controller), the controller's expectations as the set of pods whose creation
or deletion it has not seen yet, the burst of creates or deletes of the current sync,
and its one request in flight. A pod is *active* when it is pending or running (the
controller's ``FilterActivePods`` leaves out failed and terminating pods). Which surplus
pod to delete is left nondeterministic (the real controller ranks them); every choice is
explored. Expectation expiry is a fault with a budget, default 0: with a watch delayed
past the TTL, the controller over-creates, the behaviour the TTL trades for liveness.
"""

from __future__ import annotations

from kubecheck import (NONE, Constant, Int, Model, Option, Set, Var, action, all_of, always, count, eventually_always,
                       maximum, require, sometimes, when)

from ..apiserver import PodCreateApi, PodDeleteApi
from ..faults import Faults
from ..informer import PodInformer
from ..objects import NO_REQUEST, Client, ClusterObjects, PodPhase, Response, Verb

__all__ = ["ReplicaSetController", "ReplicaSetModel"]

Pods = ClusterObjects.Pods
RSC = Client.REPLICASET_CONTROLLER
ACTIVE = (PodPhase.PENDING, PodPhase.RUNNING)


class ReplicaSetController(PodInformer, PodCreateApi, PodDeleteApi):
    """Creates and deletes pods, through the API server, until the active ones number ``replicas``."""

    component = "replicaset_controller"
    owns = ("rsc_expect_add", "rsc_expect_del", "rsc_to_create", "rsc_to_delete", "rsc_inflight", "rsc_expiries",
            "requests", "responses")

    replicas = Constant(2, "desired replicas (the ReplicaSet's spec.replicas)", min=0)
    expectation_timeouts = Constant(0, "budget of expectation expiries (the five-minute TTL)", min=0)

    rsc_expect_add = Var(Set(Pods), init=False)                        # pods it created and has not seen yet
    rsc_expect_del = Var(Set(Pods), init=False)                        # pods it deleted and has not seen go yet
    rsc_to_create = Var(Int(0, ClusterObjects.pod_slots), init=0)      # creates left in the current sync
    rsc_to_delete = Var(Int(0, ClusterObjects.pod_slots), init=0)      # deletes left in the current sync
    rsc_inflight = Var(Option(Pods), init=NONE)                        # the pod of its request awaiting an answer
    rsc_expiries = Var(Int(0, expectation_timeouts), init=0)           # expectation expiries so far

    def validate_config(self) -> None:
        from kubecheck import ConfigError
        if self.replicas > self.pod_slots:
            raise ConfigError(f"replicas ({self.replicas}) cannot exceed pod_slots ({self.pod_slots}): the "
                              "ReplicaSet could never reach its desired count; raise pod_slots.")

    # ---- what the controller sees ----

    def cached_active(self, s):
        """Active pods as the controller's cache shows them."""
        return count(self.Pods, lambda p: s.cache_pod_phase[RSC][p].isin(*ACTIVE))

    def expectations_met(self, s):
        """Every creation and deletion it expects has reached its cache."""
        return all_of(self.Pods, lambda p:
                      (s.rsc_expect_add[p].implies(s.cache_pod_phase[RSC][p] != PodPhase.ABSENT))
                      & (s.rsc_expect_del[p].implies(~s.cache_pod_phase[RSC][p].isin(*ACTIVE))))

    def idle(self, s):
        return (s.rsc_to_create == 0) & (s.rsc_to_delete == 0) & (s.rsc_inflight == NONE)

    # ---- actions ----

    @action(fairness="weak")
    def replicaset_controller_sync(self, s):
        """With its expectations met, the controller compares active pods with replicas and plans a burst."""
        require(self.idle(s))
        require(self.expectations_met(s))
        active = self.cached_active(s)
        require(active != self.replicas)
        s.rsc_to_create = maximum(self.replicas - active, 0)
        s.rsc_to_delete = maximum(active - self.replicas, 0)
        s.rsc_expect_add = False
        s.rsc_expect_del = False

    @action(pod=Pods, fairness="weak")
    def replicaset_controller_create_pod(self, s, pod):
        """The controller asks the API server to create a pod in a slot its cache shows empty."""
        require(s.rsc_to_create > 0)
        require(s.rsc_inflight == NONE)
        require(s.requests[RSC].verb == Verb.NONE)
        require(s.cache_pod_phase[RSC][pod] == PodPhase.ABSENT)
        require(~s.rsc_expect_add[pod])
        s.requests[RSC] = dict(NO_REQUEST, verb=Verb.CREATE_POD, pod=pod)
        s.rsc_expect_add[pod] = True
        s.rsc_to_create = s.rsc_to_create - 1
        s.rsc_inflight = pod

    @action(pod=Pods, fairness="weak")
    def replicaset_controller_delete_pod(self, s, pod):
        """The controller asks the API server to delete one of the active pods its cache shows."""
        require(s.rsc_to_delete > 0)
        require(s.rsc_inflight == NONE)
        require(s.requests[RSC].verb == Verb.NONE)
        require(s.cache_pod_phase[RSC][pod].isin(*ACTIVE))
        require(~s.rsc_expect_del[pod])
        s.requests[RSC] = dict(NO_REQUEST, verb=Verb.DELETE_POD, pod=pod)
        s.rsc_expect_del[pod] = True
        s.rsc_to_delete = s.rsc_to_delete - 1
        s.rsc_inflight = pod

    @action(fairness="weak")
    def replicaset_controller_handle_response(self, s):
        """The controller reads the API server's answer; a failed call lowers its expectation at once."""
        require(s.rsc_inflight != NONE)
        require(s.responses[RSC] != Response.NONE)
        failed = s.responses[RSC] != Response.OK
        s.rsc_expect_add[s.rsc_inflight] = when(failed, False, s.rsc_expect_add[s.rsc_inflight])
        s.rsc_expect_del[s.rsc_inflight] = when(failed, False, s.rsc_expect_del[s.rsc_inflight])
        s.rsc_inflight = NONE
        s.responses[RSC] = Response.NONE

    @action(kind="fault")
    def replicaset_controller_expectations_expire(self, s):
        """Expectations not met within their TTL are dropped, so a lost event cannot block the controller."""
        require(s.rsc_expiries < self.expectation_timeouts)
        require(~self.expectations_met(s))
        s.rsc_expect_add = False
        s.rsc_expect_del = False
        s.rsc_expiries = s.rsc_expiries + 1


class ReplicaSetModel(Faults, ReplicaSetController, Model):
    """One ReplicaSet, its controller with expectations, the API server, etcd and an informer."""

    name = "replicaset"
    watchers = (RSC,)

    pod_slots = Constant(3, "pod slots: pods that can exist at once", min=1)

    def stored_active(self, s):
        return count(self.Pods, lambda p: s.etcd_pod_phase[p].isin(*ACTIVE))

    @always
    def replicas_within_bounds(self, s):
        """Never more active pods than replicas: expectations stop a stale cache from over-creating."""
        return self.stored_active(s) <= self.replicas

    @sometimes
    def replicas_reached(self, s):
        """Some state has exactly ``replicas`` active pods (the model is not vacuous)."""
        return self.stored_active(s) == self.replicas

    @eventually_always
    def replicaset_converges(self, s):
        """Once faults stop, the active pods number ``replicas`` and stay so."""
        return self.stored_active(s) == self.replicas
