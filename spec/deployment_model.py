"""The deployment model: a Deployment rolled from one image to the next, and the bounds on its replicas.

A user (kubectl) creates a Deployment, scales it by one and changes its image, each within
a budget. The Deployment controller (``controllers/deployment.py``) creates a ReplicaSet
for each pod template and moves the replicas from the old ReplicaSet to the new one within
``max_surge`` and ``max_unavailable``; the ReplicaSet controller
(``controllers/replicaset.py``) creates and deletes the pods of each ReplicaSet. Both read
kube-controller-manager's shared caches and write through the API server. A watch may
drop (a fault) and the pod informer then relists.

Two stand-ins take the place of components this model leaves out; their names start with
``standin_``. Each is one step of the ``apiserver`` component, because it stands for a
request and its handling together:

- ``standin_pod_starts``: the scheduler binds a pending pod and its kubelet reports it
  Running (``scheduler.py`` and ``kubelet.py`` model that path). Here the pod stays
  unbound, so its deletion removes it at once: terminating pods, which the real
  controllers stop counting while they still run, are not in this model.
- ``standin_collect_orphan``: the garbage collector deletes a pod whose ReplicaSet is gone
  (a pod whose creation lands after the Deployment controller deleted its ReplicaSet).

The Kubernetes docs ("Deployments", rolling update) say that a rollout keeps at least
``replicas - maxUnavailable`` pods available and at most ``replicas + maxSurge`` pods
created. The controllers compute both bounds from their caches, so the model checks each
bound twice: as the controller sees the cluster when it decides (these hold), and as the
store shows it (these fail, for the reasons below, in Kubernetes as in the model).
``replicas`` in the properties is the largest value the Deployment has (users scale
within 0..replicas), so a scale-down the controllers have not acted on yet is not
counted against them.

- ``replicasets_within_surge`` (fails): the replicas of the stored ReplicaSets never sum
  to more than ``replicas + max_surge``. The Deployment controller keeps no expectations
  for ReplicaSets: when the image changes before its cache shows the ReplicaSet it has
  just created, it creates the new ReplicaSet as if there were no old one, with all the
  replicas (10 steps; 4 replicas asked for where 3 are allowed). The controller's code
  says as much about stale reads ("We may end up hitting this due to a slow cache").
- ``scale_ups_within_surge_as_seen`` (holds): every create or scale-up the controller
  sends keeps the ReplicaSets it sees within ``replicas + max_surge``.
- ``pods_within_surge`` (fails with ``max_surge=0``; holds in the default configuration,
  whose 3 pod slots cannot hold more than ``replicas + max_surge`` pods): while the
  ReplicaSets ask for at most ``replicas + max_surge`` pods, no more pods are active. The
  ReplicaSet controller syncs one ReplicaSet at a time, so an old ReplicaSet's pods can
  outlive its scale-down while the new one's are created. The docs note the same for
  terminating pods (kubernetes/website PR 31603; kubernetes/kubernetes issues 95498 and
  107920).
- ``availability_kept`` (fails): once the running pods reach ``replicas - max_unavailable``,
  no step takes them below it. The pod cache can lag a pod's Running status: the
  Deployment controller then counts that pod as unavailable and removes an "unhealthy"
  replica from the old ReplicaSet (``cleanupUnhealthyReplicas``), or a scale-down follows a
  user's scale, and the ReplicaSet controller, which deletes pending pods first as its
  cache shows them, deletes the pod that is in fact running (25 steps with a scale, 34 in a
  plain rollout). The model picks among equally ranked pods freely; the real controller
  deletes the newer one first, and the run where the newer pod is the one that started
  is the same run with the pods swapped.
- ``scale_downs_keep_availability_as_seen`` (holds): every scale-down the controller sends
  keeps, as it sees the pods, ``replicas - max_unavailable`` of them available.
- ``rollout_completes`` (sometimes): the last image's ReplicaSet is the only one left and
  runs all the replicas.
- ``deployment_converges`` (temporal: left to the liveness checker).

Default configuration: 2 replicas, max_surge 1, max_unavailable 0, 3 pod slots, 2
ReplicaSet slots, one image update, one scale, one dropped watch. Every action fires.
"""

from __future__ import annotations

from kubecheck import (NONE, Constant, Model, action, all_of, always, any_of, count, converges, require,
                       sometimes, step_invariant, sum_of, when)

from .apiserver import ApiServerCore
from .controllers.deployment import DC, DeploymentController, DeploymentUser
from .controllers.replicaset import ACTIVE, RSC, ReplicaSetController, ReplicaSetStore, RsVerb
from .faults import Faults
from .objects import ClusterObjects, PodPhase

__all__ = ["StandIns", "DeploymentModel"]

Pods = ClusterObjects.Pods


class StandIns(ReplicaSetStore, ApiServerCore):
    """Stand-ins for the scheduler with the kubelets and for the garbage collector: a request and its handling each."""

    component = "apiserver"
    owns = ("etcd_pod_phase", "etcd_pod_owner")

    @action(pod=Pods, fairness="weak")
    def standin_pod_starts(self, s, pod):
        """Stand-in for the scheduler and the kubelet: a pending pod starts running (its status is written)."""
        require(s.etcd_pod_phase[pod] == PodPhase.PENDING)
        s.etcd_pod_phase[pod] = PodPhase.RUNNING

    @action(pod=Pods, fairness="weak")
    def standin_collect_orphan(self, s, pod):
        """Stand-in for the garbage collector: a pod whose owning ReplicaSet is gone is deleted."""
        owner = s.etcd_pod_owner[pod]
        require(s.etcd_pod_phase[pod].isin(*ACTIVE))
        require((owner != NONE) & ~s.etcd_rs_exists[owner])
        s.etcd_pod_phase[pod] = PodPhase.ABSENT
        s.etcd_pod_owner[pod] = NONE


class DeploymentModel(Faults, DeploymentUser, DeploymentController, ReplicaSetController, StandIns, Model):
    """One Deployment that a user creates, scales and re-images; the Deployment and ReplicaSet controllers."""

    name = "deployment"
    symmetric = ("pod", "node")  # pod slots and nodes are interchangeable (--symmetry)
    watchers = (RSC,)

    pod_slots = Constant(3, "pod slots: pods that can exist at once", min=1)
    replicaset_slots = Constant(2, "ReplicaSet slots: ReplicaSets that can exist at once", min=1)

    # ---- what the store shows ----

    def active_pods(self, s):
        """Pending or running pods in the store (every pod here belongs to the Deployment)."""
        return count(self.Pods, lambda p: s.etcd_pod_phase[p].isin(*ACTIVE))

    def running_pods(self, s):
        """Running pods in the store: the available ones (minReadySeconds 0)."""
        return count(self.Pods, lambda p: s.etcd_pod_phase[p] == PodPhase.RUNNING)

    def rolled_out(self, s):
        """The only ReplicaSet is the current template's, with all the replicas, each running, and no other pod."""
        want = s.etcd_deploy_replicas
        return (s.etcd_deploy_exists
                & all_of(self.ReplicaSets, lambda r: s.etcd_rs_exists[r].implies(
                    (s.etcd_rs_revision[r] == s.etcd_deploy_revision) & (s.etcd_rs_replicas[r] == want)
                    & (self.stored_active(s, r) == want)))
                & any_of(self.ReplicaSets, lambda r: s.etcd_rs_exists[r])
                & (self.active_pods(s) == want) & (self.running_pods(s) == want))

    # ---- properties ----

    @always
    def replicasets_within_surge(self, s):
        """The stored ReplicaSets never ask for more than replicas + max_surge pods in all."""
        return sum_of(self.ReplicaSets, lambda r: s.etcd_rs_replicas[r]) <= self.replicas + self.max_surge

    @step_invariant
    def scale_ups_within_surge_as_seen(self, pre, post):
        """Every write the Deployment controller sends that raises a ReplicaSet keeps the ReplicaSets it sees within
        replicas + max_surge."""
        req = post.rs_requests[DC]
        sent = (pre.rs_requests[DC].verb == RsVerb.NONE) & (req.verb != RsVerb.NONE)
        raising = req.replicas > when(req.verb == RsVerb.CREATE, 0, pre.cache_rs_replicas[req.rs])
        others = sum_of(self.ReplicaSets, lambda r: when(r != req.rs, pre.cache_rs_replicas[r], 0))
        return (sent & raising).implies(others + req.replicas <= pre.cache_deploy_replicas + self.max_surge)

    @always
    def pods_within_surge(self, s):
        """While the ReplicaSets ask for at most replicas + max_surge pods, no more pods are active (fails: the
        ReplicaSet controller creates new pods and deletes old ones asynchronously)."""
        bound = self.replicas + self.max_surge
        asked = sum_of(self.ReplicaSets, lambda r: s.etcd_rs_replicas[r])
        return (asked <= bound).implies(self.active_pods(s) <= bound)

    @step_invariant
    def availability_kept(self, pre, post):
        """No step takes the running pods from at least replicas - max_unavailable to below it."""
        floor = post.etcd_deploy_replicas - self.max_unavailable
        return (self.running_pods(pre) >= floor).implies(self.running_pods(post) >= floor)

    @step_invariant
    def scale_downs_keep_availability_as_seen(self, pre, post):
        """Every scale-down the Deployment controller sends that leaves a ReplicaSet fewer replicas than the pods it
        sees available keeps, as it sees them, replicas - max_unavailable available pods."""
        req = post.rs_requests[DC]
        sent = (pre.rs_requests[DC].verb == RsVerb.NONE) & (req.verb == RsVerb.UPDATE)
        losing = req.replicas < self.available(pre, req.rs)
        others = sum_of(self.ReplicaSets, lambda r: when((r != req.rs) & (pre.cache_rs_replicas[r] > 0),
                                                         self.available(pre, r), 0))
        return (sent & losing).implies(others + req.replicas >= pre.cache_deploy_replicas - self.max_unavailable)

    @sometimes
    def rollout_completes(self, s):
        """The last image is rolled out: its ReplicaSet alone runs all the replicas, and the old one is gone."""
        return (s.etcd_deploy_revision == self.image_updates + 1) & (s.etcd_deploy_replicas > 0) & self.rolled_out(s)

    @converges
    def deployment_converges(self, s):
        """Once users and faults stop, the Deployment is rolled out to its current template and stays so."""
        return True, s.etcd_deploy_exists.implies(self.rolled_out(s))
