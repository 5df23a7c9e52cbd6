"""The Deployment controller: rolls a Deployment's pods from one pod template to the next.

In Kubernetes, a Deployment declares ``replicas`` and a pod template ("Deployments" in
the Workloads docs). The Deployment controller (kube-controller-manager,
``pkg/controller/deployment``) gives each version of the template its own ReplicaSet,
named by the hash of the template (the ``pod-template-hash`` label), and numbers the
versions with a ``revision`` annotation. The ReplicaSet of the current template is the
*new* one; the others are *old*. With the RollingUpdate strategy, each sync of the
Deployment (``rolloutRolling`` in ``rolling.go``) does the first of these that applies:

1. If the new ReplicaSet does not exist, create it, with as many replicas as the surge
   allows (``NewRSNewReplicas``: the replicas of all ReplicaSets may reach
   ``replicas + maxSurge``, and the new one never needs more than ``replicas``).
2. ``reconcileNewReplicaSet``: scale the new ReplicaSet down to ``replicas`` if it has
   more, or up as far as the surge allows.
3. ``reconcileOldReplicaSets``: scale old ReplicaSets down, oldest first, while at least
   ``replicas - maxUnavailable`` pods stay available. It may first remove old pods that
   are not available at all (``cleanupUnhealthyReplicas``), within a budget
   ``maxScaledDown = allReplicas - minAvailable - newUnavailable`` that counts the new
   ReplicaSet's unavailable pods against it; then it scales old ReplicaSets down by what
   availability allows (``scaleDownOldReplicaSetsForRollingUpdate``).
4. When the rollout is complete, delete old ReplicaSets that have no replicas and no
   pods, beyond ``revisionHistoryLimit`` (``cleanupDeployment``).

Scaling a ReplicaSet is an update with the resourceVersion of the copy the controller
read, so an update based on a stale copy fails with 409 Conflict. The controller reads
Deployments, ReplicaSets and pods from kube-controller-manager's shared informer caches,
and it keeps no expectations for ReplicaSets: each sync works from what the caches show.

The model keeps one Deployment (stored existence, ``replicas`` and the revision of its
pod template, a counter that an image update raises by one) and ``maxSurge`` and
``maxUnavailable`` as constants. A ReplicaSet stores the revision of the template it was
created for, which is also its name: revision ``r`` lives in slot ``(r - 1) mod
replicaset_slots``, so two creations for one template collide (409 AlreadyExists) as two
creations under one hash name do. ``revisionHistoryLimit`` is 0: old ReplicaSets are
deleted as soon as the rollout is complete, which frees their slot. Each step of the
controller is the first write of a real sync, computed from the caches at that moment and
sent as one request through the API server. A ReplicaSet's available pods are the pods
the shared cache shows Running and owned by it. A scale is a conditional update: it
carries the replicas the controller saw, and the API server refuses it (409) if the
stored ReplicaSet has changed since. A deletion names the ReplicaSet (its revision) and
is unconditional, as the real one is. Users create the Deployment, scale it
(unconditionally, as ``kubectl scale`` does) and change its image, within budgets.

The controller guarantees the bounds in its own view: every write it sends keeps the
ReplicaSets it sees within ``replicas + maxSurge`` and the pods it sees available at
``replicas - maxUnavailable`` or more. The store can be outside both bounds, because the
view lags (``deployment_model.py`` has the properties and the counterexamples). Here the
controller is the only writer of ReplicaSet specs, and in the configurations checked
dropping the 409 check adds states but changes no verdict: a stale write repeats what a
fresh one would write. The check guards against the writers this model leaves out: status
updates, users or autoscalers scaling a ReplicaSet, a second controller after a leader
change.

Left out, and why:

- ReplicaSet status. The real controller reads ``status.availableReplicas`` and
  ``status.replicas``, which the ReplicaSet controller computes from the same shared pod
  cache and writes later; the model counts the cached pods directly. The real counts can
  be older than the cache, so runs in which a status lags the pod cache are not covered:
  this is the one place where the model sees *more* than the real controller.
- Proportional scaling. A scale of the Deployment while two ReplicaSets are active is a
  "scaling event" that the real controller spreads over the ReplicaSets in proportion to
  their sizes (``sync`` and ``scale`` in ``sync.go``, driven by the ``desired-replicas``
  annotation). The model handles every scale through the rolling path, which scales the
  new ReplicaSet and lets old ones drain. With a single active ReplicaSet both paths
  write the same value.
- Several writes in one sync. The real controller may write several ReplicaSets in one
  sync, updating its in-memory copies from the API responses; the model writes one per
  step and reads its cache again, and the cache can deliver the written object before
  the next write, which gives the real sequence.
- Deployment status, conditions, progress deadlines, pausing, rollback and the Recreate
  strategy: no property here reads them.
- A create the API server can only refuse. While the cache has not yet delivered the
  new ReplicaSet, the real controller sends its create again and gets AlreadyExists.
  When the stored slot is occupied, only this controller could empty it, and it is
  blocked on its own call, so that create is certainly refused; the refusal changes
  nothing, and the controller could equally have waited. The model leaves such a
  create out (the guard reads the store, as an oracle that no client has): it is a
  pair of steps with no effect whose only trace is a request slot that nothing else
  reads, and it floated through every later state, doubling the cluster's.
- minReadySeconds (0): a pod is available as soon as it runs.
- ``status.replicas == 0`` before an old ReplicaSet is deleted is read as "the cache
  shows no active pod of it", the count the ReplicaSet controller would write.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (Array, Bool, ConfigError, Constant, Int, Record, Var, action, any_of, count, maximum, minimum,
                       require, sum_of, when)

from ..apiserver import ApiServerCore
from ..objects import PodPhase
from .replicaset import (NO_RS_REQUEST, ReplicaSetCreateApi, ReplicaSetDeleteApi, ReplicaSetInformer, ReplicaSetStore,
                         ReplicaSetUpdateApi, ReplicaSets, RsClient, RsVerb, rs_request)

__all__ = ["DeployVerb", "DeploymentStore", "DeploymentApi", "DeploymentReplicaSetApi", "DeploymentInformer",
           "DeploymentUser", "DeploymentController", "DC"]

DC = RsClient.DEPLOYMENT_CONTROLLER


class DeployVerb(IntEnum):
    """What the user asks the API server about the Deployment (``NONE``: nothing outstanding)."""

    NONE = 0
    CREATE = 1     # kubectl create: store the Deployment
    UPDATE = 2     # kubectl scale / set image / apply: store a new spec


class DeploymentStore(ReplicaSetStore):
    """The stored Deployment, and the template revision of each ReplicaSet (etcd; written only by the API server)."""

    component = "etcd"
    owns = ()

    replicas = Constant(2, "the Deployment's spec.replicas when created (users scale within 0..replicas)", min=0)
    image_updates = Constant(1, "budget of image updates users make (each a new pod template)", min=0)

    etcd_deploy_exists = Var(Bool, init=False)                                         # the Deployment is stored
    etcd_deploy_replicas = Var(Int(0, replicas), init=0)                               # its spec.replicas
    etcd_deploy_revision = Var(Int(0, image_updates + 1), init=0)                      # its pod template's revision
    etcd_rs_revision = Var(Array(ReplicaSets, Int(0, image_updates + 1)), init=0)      # each ReplicaSet's revision

    rs_fields = ("exists", "replicas", "revision")

    def named(self, rs, revision):
        """``rs`` is the slot that holds the ReplicaSet of template ``revision``: its hash name."""
        n = self.replicaset_slots
        out = (rs == 0) & ((revision - 1) % n == 0)
        for i in range(1, n):
            out = out | ((rs == i) & ((revision - 1) % n == i))
        return out


def deploy_request() -> Record:
    """The type of the user's outstanding Deployment request."""
    return Record(
        verb=DeployVerb,                                          # what is asked
        replicas=Int(0, DeploymentStore.replicas),                # the spec.replicas of the manifest
        revision=Int(0, DeploymentStore.image_updates + 1),       # the revision of its pod template
    )


NO_DEPLOY_REQUEST = {"verb": DeployVerb.NONE, "replicas": 0, "revision": 0}
"""The empty Deployment request slot."""

NO_DC_RS_REQUEST = dict(NO_RS_REQUEST, revision=0)
"""The empty ReplicaSet request slot, with the revision field the Deployment controller's requests carry."""


class DeploymentApi(DeploymentStore, ApiServerCore):
    """Deployment creation and updates (``POST``/``PUT /apis/apps/v1/namespaces/{ns}/deployments``)."""

    component = "apiserver"
    owns = ("etcd_deploy_exists", "etcd_deploy_replicas", "etcd_deploy_revision", "deploy_request")

    deploy_request = Var(deploy_request(), init=NO_DEPLOY_REQUEST)   # the user's Deployment request in flight

    def _take_deploy(self, s, verb):
        """The user's request if it asks ``verb``; the slot is cleared (the call returns)."""
        req = s.deploy_request
        require(req.verb == verb)
        s.deploy_request = NO_DEPLOY_REQUEST
        return req

    @action
    def apiserver_create_deployment(self, s):
        """The API server stores the Deployment (409 AlreadyExists if it is stored already)."""
        req = self._take_deploy(s, DeployVerb.CREATE)
        ok = ~s.etcd_deploy_exists
        s.etcd_deploy_exists = True
        s.etcd_deploy_replicas = when(ok, req.replicas, s.etcd_deploy_replicas)
        s.etcd_deploy_revision = when(ok, req.revision, s.etcd_deploy_revision)

    @action
    def apiserver_update_deployment(self, s):
        """The API server stores the Deployment's new spec: replicas and pod template (404 if there is none)."""
        req = self._take_deploy(s, DeployVerb.UPDATE)
        ok = s.etcd_deploy_exists
        s.etcd_deploy_replicas = when(ok, req.replicas, s.etcd_deploy_replicas)
        s.etcd_deploy_revision = when(ok, req.revision, s.etcd_deploy_revision)


class DeploymentReplicaSetApi(DeploymentStore, ReplicaSetCreateApi, ReplicaSetUpdateApi, ReplicaSetDeleteApi):
    """The ReplicaSet API for ReplicaSets that carry a template revision (their pod-template-hash name)."""

    component = "apiserver"
    owns = ("etcd_rs_exists", "etcd_rs_replicas", "etcd_rs_revision", "rs_requests")

    rs_requests = Var(Array(RsClient, rs_request(revision=Int(0, DeploymentStore.image_updates + 1))),
                      init=NO_DC_RS_REQUEST)   # each client's ReplicaSet request in flight, with its template revision

    no_rs_request = NO_DC_RS_REQUEST

    def _names(self, s, req):
        """The slot holds the ReplicaSet of the request's template (the name is the template's hash)."""
        return super()._names(s, req) & (s.etcd_rs_revision[req.rs] == req.revision)

    def _store_rs(self, s, req, ok):
        super()._store_rs(s, req, ok)
        s.etcd_rs_revision[req.rs] = when(ok, req.revision, s.etcd_rs_revision[req.rs])

    def _remove_rs(self, s, req, ok):
        super()._remove_rs(s, req, ok)
        s.etcd_rs_revision[req.rs] = when(ok, 0, s.etcd_rs_revision[req.rs])


class DeploymentInformer(ReplicaSetInformer, DeploymentStore):
    """kube-controller-manager's shared Deployment cache, and the revision in its ReplicaSet cache."""

    component = "informer"
    owns = ("cache_deploy_exists", "cache_deploy_replicas", "cache_deploy_revision", "cache_rs_revision")

    cache_rs_revision = Var(Array(ReplicaSets, Int(0, DeploymentStore.image_updates + 1)), init=0)  # cached revisions
    cache_deploy_exists = Var(Bool, init=False)                                     # the cache shows the Deployment
    cache_deploy_replicas = Var(Int(0, DeploymentStore.replicas), init=0)           # its cached spec.replicas
    cache_deploy_revision = Var(Int(0, DeploymentStore.image_updates + 1), init=0)  # its cached template revision

    @action
    def informer_deliver_deployment_event(self, s):
        """A watch event brings the cached copy of the Deployment up to date."""
        require((s.cache_deploy_exists != s.etcd_deploy_exists) | (s.cache_deploy_replicas != s.etcd_deploy_replicas)
                | (s.cache_deploy_revision != s.etcd_deploy_revision))
        s.cache_deploy_exists = s.etcd_deploy_exists
        s.cache_deploy_replicas = s.etcd_deploy_replicas
        s.cache_deploy_revision = s.etcd_deploy_revision


class DeploymentUser(DeploymentApi):
    """kubectl: creates the Deployment, scales it and updates its image, within budgets."""

    component = "user"
    owns = ("deploy_request", "user_scaled", "user_updated_image")

    user_scales = Constant(1, "budget of scales users make (kubectl scale)", min=0)

    actions_paid_by = {"user_scales": ("user_scale_deployment",), "image_updates": ("user_update_image",)}

    user_scaled = Var(Int(0, user_scales), init=0)                                 # scales sent so far
    user_updated_image = Var(Int(0, DeploymentStore.image_updates), init=0)        # image updates sent so far

    def can_send(self, s):
        """kubectl has no command in flight."""
        return s.deploy_request.verb == DeployVerb.NONE

    @action(kind="environment")
    def user_create_deployment(self, s):
        """A user creates the Deployment with ``replicas`` replicas and the first pod template."""
        require(self.can_send(s))
        require(~s.etcd_deploy_exists)
        s.deploy_request = {"verb": DeployVerb.CREATE, "replicas": self.replicas, "revision": 1}

    @action(kind="environment")
    def user_scale_deployment(self, s):
        """A user scales the Deployment by one (kubectl scale): down from replicas, or back up to it."""
        require(self.can_send(s))
        require(s.user_scaled < self.user_scales)
        require(s.etcd_deploy_exists)
        down = s.etcd_deploy_replicas == self.replicas
        require(~down | (s.etcd_deploy_replicas > 0))
        to = when(down, s.etcd_deploy_replicas - 1, self.replicas)
        s.deploy_request = {"verb": DeployVerb.UPDATE, "replicas": to, "revision": s.etcd_deploy_revision}
        s.user_scaled = s.user_scaled + 1

    @action(kind="environment")
    def user_update_image(self, s):
        """A user changes the Deployment's image (kubectl set image): a new pod template, the next revision."""
        require(self.can_send(s))
        require(s.user_updated_image < self.image_updates)
        require(s.etcd_deploy_exists)
        s.deploy_request = {"verb": DeployVerb.UPDATE, "replicas": s.etcd_deploy_replicas,
                            "revision": s.etcd_deploy_revision + 1}
        s.user_updated_image = s.user_updated_image + 1


class DeploymentController(DeploymentInformer, DeploymentReplicaSetApi):
    """Rolls the Deployment's ReplicaSets toward its current template, within maxSurge and maxUnavailable."""

    component = "deployment_controller"
    owns = ("rs_requests",)

    max_surge = Constant(1, "maxSurge: pods the rollout may add above replicas", min=0)
    max_unavailable = Constant(0, "maxUnavailable: pods the rollout may take below replicas", min=0)

    def validate_config(self) -> None:
        super().validate_config()
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ConfigError("max_surge and max_unavailable cannot both be 0 (the API server refuses such a "
                              "Deployment: the rollout could never move); raise one of them.")
        if self.image_updates > 0 and self.replicaset_slots < 2:
            raise ConfigError(f"replicaset_slots ({self.replicaset_slots}) must be at least 2 when image_updates is "
                              "above 0: the new ReplicaSet needs a slot while the old one drains.")

    # ---- what the controller sees (every read is of the shared caches) ----

    def is_new(self, s, rs):
        """The cache shows ``rs`` as the ReplicaSet of the Deployment's current template."""
        return s.cache_rs_exists[rs] & (s.cache_rs_revision[rs] == s.cache_deploy_revision)

    def is_old(self, s, rs):
        """The cache shows ``rs`` as a ReplicaSet of an earlier template."""
        return s.cache_rs_exists[rs] & (s.cache_rs_revision[rs] != s.cache_deploy_revision)

    def is_active_old(self, s, rs):
        """An old ReplicaSet that still has replicas (``FilterActiveReplicaSets``)."""
        return self.is_old(s, rs) & (s.cache_rs_replicas[rs] > 0)

    def older(self, s, a, b):
        """Both are old and ``a`` was created first (the controller scales the oldest first)."""
        return self.is_old(s, a) & self.is_old(s, b) & (s.cache_rs_revision[a] < s.cache_rs_revision[b])

    def available(self, s, rs):
        """Pods of ``rs`` the cache shows running (``status.availableReplicas``, minReadySeconds 0)."""
        return count(self.Pods, lambda p: (self.cached_owner(s, p) == rs)
                     & (self.cached_pod_phase(s, p) == PodPhase.RUNNING))

    def pods_of(self, s, rs):
        """Active pods of ``rs`` as the cache shows them (``status.replicas``)."""
        return count(self.Pods, lambda p: (self.cached_owner(s, p) == rs)
                     & self.cached_pod_phase(s, p).isin(PodPhase.PENDING, PodPhase.RUNNING))

    def total_replicas(self, s):
        return sum_of(self.ReplicaSets, lambda r: s.cache_rs_replicas[r])

    def new_exists(self, s):
        return any_of(self.ReplicaSets, lambda r: self.is_new(s, r))

    def new_replicas(self, s):
        return sum_of(self.ReplicaSets, lambda r: when(self.is_new(s, r), s.cache_rs_replicas[r], 0))

    def new_available(self, s):
        return sum_of(self.ReplicaSets, lambda r: when(self.is_new(s, r), self.available(s, r), 0))

    def min_available(self, s):
        return s.cache_deploy_replicas - self.max_unavailable

    # ---- reconcileNewReplicaSet ----

    def new_rs_target(self, s):
        """The new ReplicaSet's replicas after this sync (``NewRSNewReplicas``; 0 replicas when not created yet)."""
        want, new, total = s.cache_deploy_replicas, self.new_replicas(s), self.total_replicas(s)
        max_total = want + self.max_surge
        grow = when(total >= max_total, new, new + minimum(max_total - total, want - new))
        return when(new >= want, want, grow)

    def new_settled(self, s):
        """The new ReplicaSet exists and reconcileNewReplicaSet has nothing to write."""
        return self.new_exists(s) & (self.new_rs_target(s) == self.new_replicas(s))

    # ---- reconcileOldReplicaSets ----

    def max_scaled_down(self, s):
        """``allPodsCount - minAvailable - newRSUnavailablePodCount``."""
        return (self.total_replicas(s) - self.min_available(s)
                - (self.new_replicas(s) - self.new_available(s)))

    def unhealthy(self, s, rs):
        """An active old ReplicaSet's replicas that are not available (negative if more pods run than it wants)."""
        return when(self.is_active_old(s, rs), s.cache_rs_replicas[rs] - self.available(s, rs), 0)

    def unhealthy_before(self, s, rs):
        """Unavailable replicas of the active old ReplicaSets older than ``rs``."""
        return sum_of(self.ReplicaSets, lambda j: when(self.older(s, j, rs), maximum(self.unhealthy(s, j), 0), 0))

    def cleanup_fails(self, s):
        """cleanupUnhealthyReplicas reaches an old ReplicaSet with more available pods than replicas and errs."""
        return any_of(self.ReplicaSets, lambda r: self.is_active_old(s, r) & (self.unhealthy(s, r) < 0)
                      & (self.unhealthy_before(s, r) < self.max_scaled_down(s)))

    def cleanup(self, s, rs):
        """How many unavailable replicas cleanupUnhealthyReplicas takes from ``rs``, oldest first, within the budget."""
        left = maximum(self.max_scaled_down(s) - self.unhealthy_before(s, rs), 0)
        return minimum(maximum(self.unhealthy(s, rs), 0), left)

    def after_cleanup(self, s, rs):
        return when(self.is_active_old(s, rs), s.cache_rs_replicas[rs] - self.cleanup(s, rs), 0)

    def scale_down(self, s, rs):
        """How many more replicas scaleDownOldReplicaSetsForRollingUpdate takes from ``rs``, oldest first."""
        available = sum_of(self.ReplicaSets, lambda r: when(self.is_active_old(s, r), self.available(s, r), 0))
        budget = available + self.new_available(s) - self.min_available(s)
        before = sum_of(self.ReplicaSets, lambda j: when(self.older(s, j, rs), self.after_cleanup(s, j), 0))
        return when(budget > 0, minimum(self.after_cleanup(s, rs), maximum(budget - before, 0)), 0)

    def old_rs_target(self, s, rs):
        """The replicas of old ReplicaSet ``rs`` after this sync."""
        return s.cache_rs_replicas[rs] - self.cleanup(s, rs) - self.scale_down(s, rs)

    def old_rs_scales(self, s, rs):
        """reconcileOldReplicaSets writes ``rs``: the new one is settled, old ones have replicas, the budget allows."""
        old_total = sum_of(self.ReplicaSets, lambda r: when(self.is_old(s, r), s.cache_rs_replicas[r], 0))
        return (self.new_settled(s) & (old_total > 0) & (self.max_scaled_down(s) > 0) & ~self.cleanup_fails(s)
                & self.is_active_old(s, rs) & (self.old_rs_target(s, rs) < s.cache_rs_replicas[rs]))

    # ---- cleanupDeployment ----

    def complete(self, s):
        """``DeploymentComplete``: the new ReplicaSet has all the replicas, all pods are its, and all are available."""
        want = s.cache_deploy_replicas
        pods = sum_of(self.ReplicaSets, lambda r: when(s.cache_rs_exists[r], self.pods_of(s, r), 0))
        new_pods = sum_of(self.ReplicaSets, lambda r: when(self.is_new(s, r), self.pods_of(s, r), 0))
        return (self.new_replicas(s) == want) & (new_pods == want) & (pods == want) & (self.new_available(s) == want)

    # ---- sending ----

    def can_sync_deployment(self, s):
        """The controller has no call in flight and its cache shows the Deployment."""
        return (s.rs_requests[DC].verb == RsVerb.NONE) & s.cache_deploy_exists

    def send_rs_request(self, s, **request):
        s.rs_requests[DC] = dict(NO_DC_RS_REQUEST, **request)

    def send_scale(self, s, rs, replicas):
        """An update of ``rs`` to ``replicas``, conditional on the copy the controller read."""
        self.send_rs_request(s, verb=RsVerb.UPDATE, rs=rs, replicas=replicas, seen=s.cache_rs_replicas[rs], conditional=True,
                  revision=s.cache_rs_revision[rs])

    # ---- actions ----

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_create_replicaset(self, s, rs):
        """The controller creates the ReplicaSet of the current template, with as many replicas as the surge allows."""
        require(self.can_sync_deployment(s))
        require(~self.new_exists(s))
        require(self.named(rs, s.cache_deploy_revision))
        require(~s.etcd_rs_exists[rs])   # else AlreadyExists is certain: a refused call that changes nothing
        self.send_rs_request(s, verb=RsVerb.CREATE, rs=rs, replicas=self.new_rs_target(s), revision=s.cache_deploy_revision)

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_scale_new_replicaset(self, s, rs):
        """The controller scales the new ReplicaSet toward replicas, up only as far as maxSurge allows."""
        require(self.can_sync_deployment(s))
        require(self.is_new(s, rs))
        require(self.new_rs_target(s) != s.cache_rs_replicas[rs])
        self.send_scale(s, rs, self.new_rs_target(s))

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_scale_down_old_replicaset(self, s, rs):
        """The controller scales an old ReplicaSet down, as far as maxUnavailable allows."""
        require(self.can_sync_deployment(s))
        require(self.old_rs_scales(s, rs))
        self.send_scale(s, rs, self.old_rs_target(s, rs))

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_delete_old_replicaset(self, s, rs):
        """When the rollout is complete, the controller deletes an old ReplicaSet with no replicas and no pods."""
        require(self.can_sync_deployment(s))
        require(self.new_settled(s))
        require(~any_of(self.ReplicaSets, lambda r: self.old_rs_scales(s, r)))
        require(self.complete(s))
        require(self.is_old(s, rs) & (s.cache_rs_replicas[rs] == 0) & (self.pods_of(s, rs) == 0))
        self.send_rs_request(s, verb=RsVerb.DELETE, rs=rs, revision=s.cache_rs_revision[rs])
