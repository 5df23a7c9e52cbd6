"""The ReplicaSet controller: keeps the desired number of pods alive for every ReplicaSet.

In Kubernetes, a ReplicaSet is an API object with a ``spec.replicas`` and a pod template
("ReplicaSet" in the Workloads docs). The ReplicaSet controller (part of
kube-controller-manager) syncs one ReplicaSet at a time: it lists the active pods that
ReplicaSet owns (its ``ownerReferences`` name the ReplicaSet; ``FilterActivePods`` leaves
out failed and terminating pods), compares their number with ``spec.replicas``, and
creates or deletes pods, through the API server, to close the gap. A pod it creates
carries an owner reference to the ReplicaSet, set at creation. When it deletes, it ranks
the candidates and deletes the least useful first: pending before running. It reads
ReplicaSets and pods from the informer caches that kube-controller-manager shares
between its controllers, which lag behind the store, so after creating pods it would see
too few of them and create more. It prevents that with *expectations*, kept per
ReplicaSet: after a sync that creates (or deletes) n pods, it does not sync that
ReplicaSet again until its informer has shown it those n creations (or deletions), or
until the expectations expire after five minutes. A failed create lowers the expectation
at once.

The model keeps ReplicaSet *slots* (``replicaset_slots``): each slot is empty or holds
one ReplicaSet, stored with its replicas (``etcd_rs_*``); pods are stored with their
owner (``etcd_pod_owner``, set when the API server creates the pod, cleared when the pod
is gone). The shared caches hold each ReplicaSet's copy and each pod's owner beside its
phase. The controller keeps its expectations as the pods whose creation or deletion it
has not seen yet, each marked with the ReplicaSet it was for, and its pod event handler
lowers one when a delivery shows it met, as the real handlers do (``CreationObserved``,
``DeletionObserved``); the ReplicaSet it is
syncing; the burst of creates or deletes that sync planned; and its one request in
flight. A burst ends early when no slot is left that the cache shows free, or no pod left
to delete: the model's stand-in for creates that fail (a quota, an unreachable API
server), after which the real controller, too, syncs again later. Expectation expiry
(``ExpectationExpiry``) is a fault with a budget, default 0: with a watch delayed past
the TTL, the controller over-creates, the behaviour the TTL trades for liveness
(kubernetes/kubernetes issue 129795 reports it).

Left out, and why that is sound:

- Names and UIDs. A slot is an object's name. A pod's owner is fixed at creation, and
  pods are created only by this controller, so adoption and orphaning (which rewrite
  owner references) never apply. A slot is free for a new ReplicaSet once no pod names
  it as owner, so that a new ReplicaSet never counts an old one's pods as its own.
- The finer ranks of pods to delete. The real controller deletes unscheduled before
  scheduled, pending before running, unready before ready, newer before older; the
  model keeps pending before running, as the cache shows them, and leaves the choice
  among the rest free, which includes every choice the real ranking makes.
- Generated names. A real pod gets a fresh name from the API server (``generateName``),
  so a create can succeed while the cache still shows a deleted pod in every slot. The
  model creates only in a slot its cache shows free, which delays such a create until the
  cache shows the deletion: the same pods, created later.
- Slow-start batches. The real controller sends a burst's creates in parallel batches;
  the model sends them one at a time, each of which the real controller can also do.
- ReplicaSet status (``status.replicas``, ``availableReplicas``): this controller only
  writes it; its reader (the Deployment controller) counts the cached pods instead, see
  ``deployment.py``.
- A ReplicaSet's watch never drops here; the pod watch may (``faults.py``).

API requests about ReplicaSets travel through ``rs_requests``, one slot per
:class:`RsClient`, with the discipline of ``requests`` in ``apiserver.py``: a client
sends only when its slot is empty, and the API server serves the request and clears the
slot. The answer is not kept: the clients here re-read their caches instead. A pod
request's owner travels in ``pod_request_owner``, beside ``requests`` (``pod_request()``
in ``objects.py`` has no owner field).

Model ``replicaset``: a user creates one ReplicaSet with ``replicas`` replicas and may
scale it (``user_scales`` times) to any value from 0 to ``replicas``, so the controller
both creates and deletes pods.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (NONE, Array, Bool, ConfigError, Constant, Domain, Int, Model, Option, Record, Set, Var, action,
                       all_of, always, any_of, count, converges, maximum, require, sometimes, when)

from ..apiserver import ApiServerCore, PodCreateApi, PodDeleteApi
from ..etcd import Etcd
from ..faults import Faults
from ..informer import PodInformer
from ..objects import NO_REQUEST, Client, ClusterObjects, PodPhase, Response, Verb

__all__ = ["RsVerb", "RsClient", "ReplicaSetStore", "ReplicaSets", "rs_request", "NO_RS_REQUEST", "OwnedPodApi",
           "ReplicaSetApiCore", "ReplicaSetCreateApi", "ReplicaSetUpdateApi", "ReplicaSetDeleteApi",
           "ReplicaSetInformer", "ReplicaSetController", "ExpectationExpiry", "ReplicaSetUser", "ReplicaSetModel",
           "ACTIVE", "RSC"]

Pods = ClusterObjects.Pods
RSC = Client.REPLICASET_CONTROLLER
ACTIVE = (PodPhase.PENDING, PodPhase.RUNNING)


class RsVerb(IntEnum):
    """What a client asks the API server about a ReplicaSet (``NONE``: nothing outstanding)."""

    NONE = 0
    CREATE = 1      # create a ReplicaSet in a free slot (its name)
    UPDATE = 2      # set its spec.replicas (a scale); optionally conditional on what the client saw
    DELETE = 3      # delete it (its pods are left to the garbage collector)


class RsClient(IntEnum):
    """The clients that write ReplicaSets."""

    USER = 0                    # kubectl
    DEPLOYMENT_CONTROLLER = 1   # kube-controller-manager's Deployment controller


class ReplicaSetStore(Etcd):
    """The stored ReplicaSets and the owner of each pod (etcd; written only by the API server)."""

    component = "etcd"
    owns = ()

    replicaset_slots = Constant(1, "ReplicaSet slots: ReplicaSets that can exist at once", min=1)
    replicas = Constant(2, "spec.replicas the ReplicaSet is created with (users scale within 0..replicas)", min=0)

    ReplicaSets = Domain("rs", size=replicaset_slots)

    etcd_rs_exists = Var(Set(ReplicaSets), init=False)                          # slots that hold a ReplicaSet
    etcd_rs_replicas = Var(Array(ReplicaSets, Int(0, replicas)), init=0)        # each ReplicaSet's spec.replicas
    etcd_pod_owner = Var(Array(Pods, Option(ReplicaSets)), init=NONE)           # each pod's owning ReplicaSet

    rs_fields: tuple[str, ...] = ("exists", "replicas")
    """The fields of a stored ReplicaSet, ``etcd_rs_<field>``, and of its cached copy, ``cache_rs_<field>``."""

    def stored_active(self, s, rs):
        """Active (pending or running) pods the store shows owned by ``rs``."""
        return count(self.Pods, lambda p: s.etcd_pod_phase[p].isin(*ACTIVE) & (s.etcd_pod_owner[p] == rs))


ReplicaSets = ReplicaSetStore.ReplicaSets


def rs_request(**extra) -> Record:
    """The type of one outstanding ReplicaSet request; ``extra`` adds fields (the Deployment adds a revision)."""
    return Record(
        verb=RsVerb,                                  # what is asked
        rs=Option(ReplicaSets),                       # the slot it is about
        replicas=Int(0, ReplicaSetStore.replicas),    # the new spec.replicas, for a create or an update
        seen=Int(0, ReplicaSetStore.replicas),        # the spec.replicas the client saw (optimistic concurrency)
        conditional=Bool,                             # an update that must fail (409) if the object changed
        **extra,
    )


NO_RS_REQUEST = {"verb": RsVerb.NONE, "rs": NONE, "replicas": 0, "seen": 0, "conditional": False}
"""The empty request slot (every field at its default)."""


class OwnedPodApi(ReplicaSetStore, PodCreateApi, PodDeleteApi):
    """Pod creation that stores the owner reference, and deletion that clears it (to move into ``apiserver.py``)."""

    component = "apiserver"
    owns = ("etcd_pod_phase", "etcd_pod_owner", "requests", "responses", "pod_request_owner")

    pod_request_owner = Var(Array(Client, Option(ReplicaSets)), init=NONE)   # the owner of each client's pod request

    @action(client=Client)
    def apiserver_create_pod(self, s, client):
        """The API server handles a client's pod creation, storing the pod's owner with it."""
        req = s.requests[client]
        stored = req.valid & (s.etcd_pod_phase[req.pod] == PodPhase.ABSENT)
        s.etcd_pod_owner[req.pod] = when(stored, s.pod_request_owner[client], s.etcd_pod_owner[req.pod])
        s.pod_request_owner[client] = NONE
        self._serve_client(s, client, Verb.CREATE_POD, self._create_pod)

    def _delete_pod(self, s, req):
        """Delete a pod; an unbound one goes at once, and with it its owner reference."""
        gone = s.etcd_pod_phase[req.pod].isin(*ACTIVE, PodPhase.FAILED) & (s.etcd_pod_node[req.pod] == NONE)
        s.etcd_pod_owner[req.pod] = when(gone, NONE, s.etcd_pod_owner[req.pod])
        return super()._delete_pod(s, req)

    def _remove_pod(self, s, node, req):
        """Remove a terminated pod (its kubelet confirmed), and with it its owner reference; in models that include
        the kubelets' status API (``PodStatusApi``)."""
        gone = self.kubelets_pod(s, node, req) & (s.etcd_pod_phase[req.pod] == PodPhase.TERMINATING)
        s.etcd_pod_owner[req.pod] = when(gone, NONE, s.etcd_pod_owner[req.pod])
        return super()._remove_pod(s, node, req)


class ReplicaSetApiCore(ReplicaSetStore, ApiServerCore):
    """The ReplicaSet request slots, and what identifies and stores a ReplicaSet (hooks for richer objects)."""

    component = "apiserver"
    owns = ("etcd_rs_exists", "etcd_rs_replicas", "rs_requests")

    rs_requests = Var(Array(RsClient, rs_request()), init=NO_RS_REQUEST)   # each client's ReplicaSet request in flight

    no_rs_request = NO_RS_REQUEST

    def _take_rs(self, s, client, verb):
        """The request of ``client`` if it asks ``verb``; the slot is cleared (the call returns)."""
        req = s.rs_requests[client]
        require(req.verb == verb)
        s.rs_requests[client] = self.no_rs_request
        return req

    def _names(self, s, req):
        """The slot holds the ReplicaSet the request names."""
        return s.etcd_rs_exists[req.rs]

    def _slot_free(self, s, rs):
        """A name can be taken again once its ReplicaSet and the pods that name it as owner are gone."""
        return ~s.etcd_rs_exists[rs] & all_of(self.Pods, lambda p: s.etcd_pod_owner[p] != rs)

    def _store_rs(self, s, req, ok):
        """Where ``ok``, store the ReplicaSet the request describes."""
        s.etcd_rs_exists[req.rs] = s.etcd_rs_exists[req.rs] | ok
        s.etcd_rs_replicas[req.rs] = when(ok, req.replicas, s.etcd_rs_replicas[req.rs])

    def _remove_rs(self, s, req, ok):
        """Where ``ok``, empty the slot."""
        s.etcd_rs_exists[req.rs] = s.etcd_rs_exists[req.rs] & ~ok
        s.etcd_rs_replicas[req.rs] = when(ok, 0, s.etcd_rs_replicas[req.rs])


class ReplicaSetCreateApi(ReplicaSetApiCore):
    """ReplicaSet creation (``POST /apis/apps/v1/namespaces/{ns}/replicasets``)."""

    component = "apiserver"

    @action(client=RsClient)
    def apiserver_create_replicaset(self, s, client):
        """The API server stores a new ReplicaSet under a free name (409 AlreadyExists otherwise)."""
        req = self._take_rs(s, client, RsVerb.CREATE)
        self._store_rs(s, req, self._slot_free(s, req.rs))


class ReplicaSetUpdateApi(ReplicaSetApiCore):
    """ReplicaSet updates (``PUT .../replicasets/{name}``, and the scale subresource)."""

    component = "apiserver"

    @action(client=RsClient)
    def apiserver_update_replicaset(self, s, client):
        """The API server sets a ReplicaSet's replicas; a conditional update fails (409) if it changed since read."""
        req = self._take_rs(s, client, RsVerb.UPDATE)
        ok = self._names(s, req) & (~req.conditional | (s.etcd_rs_replicas[req.rs] == req.seen))
        s.etcd_rs_replicas[req.rs] = when(ok, req.replicas, s.etcd_rs_replicas[req.rs])


class ReplicaSetDeleteApi(ReplicaSetApiCore):
    """ReplicaSet deletion (``DELETE .../replicasets/{name}``, background propagation)."""

    component = "apiserver"

    @action(client=RsClient)
    def apiserver_delete_replicaset(self, s, client):
        """The API server removes a ReplicaSet (404 if the name holds none); the garbage collector takes its pods."""
        req = self._take_rs(s, client, RsVerb.DELETE)
        self._remove_rs(s, req, self._names(s, req))


class ReplicaSetInformer(PodInformer, ReplicaSetStore):
    """kube-controller-manager's shared caches: ReplicaSets, and each pod's owner beside its phase."""

    component = "informer"
    owns = ("cache_pod_phase", "cache_pod_node", "cache_pod_owner", "cache_rs_exists", "cache_rs_replicas")

    cache_pod_owner = Var(Array(Client, Array(Pods, Option(ReplicaSets))), init=NONE)   # each client's view of owners
    cache_rs_exists = Var(Set(ReplicaSets), init=False)                                # the cached ReplicaSets
    cache_rs_replicas = Var(Array(ReplicaSets, Int(0, ReplicaSetStore.replicas)), init=0)  # their cached spec.replicas

    # ---- what the caches show ----

    def cached_owner(self, s, pod):
        """The owner of ``pod`` as the controller-manager's cache shows it."""
        return s.cache_pod_owner[RSC][pod]

    def cached_pod_phase(self, s, pod):
        """The phase of ``pod`` as the controller-manager's cache shows it."""
        return s.cache_pod_phase[RSC][pod]

    def rs_cache_stale(self, s, rs):
        """Some field of the cached copy of ``rs`` differs from the stored one."""
        out = s.cache_rs_exists[rs] != s.etcd_rs_exists[rs]
        for f in self.rs_fields[1:]:
            out = out | (getattr(s, f"cache_rs_{f}")[rs] != getattr(s, f"etcd_rs_{f}")[rs])
        return out

    # ---- the pod events now carry the owner too ----

    def cached_view(self, client, phase, node):
        """The controller manager's cache keeps no pod's node: none of its controllers reads one."""
        phase, node = super().cached_view(client, phase, node)
        return phase, when(client == RSC, NONE, node)

    def cache_stale(self, s, client, pod):
        """The owner is compared too: a slot can hold another ReplicaSet's pod in the same phase."""
        return super().cache_stale(s, client, pod) | (s.cache_pod_owner[client][pod] != s.etcd_pod_owner[pod])

    def refresh(self, s, client, pod):
        super().refresh(s, client, pod)
        s.cache_pod_owner[client][pod] = s.etcd_pod_owner[pod]

    @action(rs=ReplicaSets)
    def informer_deliver_replicaset_event(self, s, rs):
        """A watch event brings one ReplicaSet's cached copy up to date."""
        require(self.rs_cache_stale(s, rs))
        for f in self.rs_fields:
            getattr(s, f"cache_rs_{f}")[rs] = getattr(s, f"etcd_rs_{f}")[rs]


class ReplicaSetController(ReplicaSetInformer, OwnedPodApi):
    """Creates and deletes pods, through the API server, until each ReplicaSet's active pods number its replicas."""

    component = "replicaset_controller"
    owns = ("rsc_expect_add", "rsc_expect_del", "rsc_to_create", "rsc_to_delete", "rsc_syncing", "rsc_inflight",
            "requests", "responses", "pod_request_owner")

    rsc_expect_add = Var(Array(Pods, Option(ReplicaSets)), init=NONE)  # pods it created (and for whom), not seen yet
    rsc_expect_del = Var(Array(Pods, Option(ReplicaSets)), init=NONE)  # pods it deleted (and for whom), not seen go yet
    rsc_to_create = Var(Int(0, ClusterObjects.pod_slots), init=0)      # creates left in the current sync
    rsc_to_delete = Var(Int(0, ClusterObjects.pod_slots), init=0)      # deletes left in the current sync
    rsc_syncing = Var(Option(ReplicaSets), init=NONE)                  # the ReplicaSet the current sync is for
    rsc_inflight = Var(Option(Pods), init=NONE)                        # the pod of its request awaiting an answer

    def validate_config(self) -> None:
        if self.replicas > self.pod_slots:
            raise ConfigError(f"replicas ({self.replicas}) cannot exceed pod_slots ({self.pod_slots}): the "
                              "ReplicaSet could never reach its desired count; raise pod_slots.")
        super().validate_config()

    # ---- what the controller sees ----

    def cached_active(self, s, rs):
        """Active pods of ``rs`` as the controller's cache shows them."""
        return count(self.Pods, lambda p: self.cached_pod_phase(s, p).isin(*ACTIVE) & (self.cached_owner(s, p) == rs))

    def expectations_met(self, s, rs):
        """Every creation and deletion it expects for ``rs`` has reached its cache."""
        return all_of(self.Pods, lambda p: (s.rsc_expect_add[p] != rs) & (s.rsc_expect_del[p] != rs))

    def refresh(self, s, client, pod):
        """The controller's pod event handlers lower its expectations as its cache shows them met: a pod it created
        appears (``CreationObserved``), a pod it deleted is gone or terminating (``DeletionObserved``). Lowering
        on the event, not by comparing the cache later, is what keeps a new pod under a deleted pod's name from
        reading as the deletion undone."""
        super().refresh(s, client, pod)
        phase, _ = self.stored_view(s, client, pod)
        mine = client == RSC
        s.rsc_expect_add[pod] = when(mine & (phase != PodPhase.ABSENT), NONE, s.rsc_expect_add[pod])
        s.rsc_expect_del[pod] = when(mine & ~phase.isin(*ACTIVE), NONE, s.rsc_expect_del[pod])

    def forget_expectations(self, s, rs):
        """Drop every expectation kept for ``rs``."""
        s.rsc_expect_add.set_all(lambda p: when(s.rsc_expect_add[p] == rs, NONE, s.rsc_expect_add[p]))
        s.rsc_expect_del.set_all(lambda p: when(s.rsc_expect_del[p] == rs, NONE, s.rsc_expect_del[p]))

    def idle(self, s):
        return (s.rsc_to_create == 0) & (s.rsc_to_delete == 0) & (s.rsc_inflight == NONE)

    def deletion_candidate(self, s, pod):
        """``pod`` is an active pod of the ReplicaSet being synced, not already being deleted."""
        return (self.cached_pod_phase(s, pod).isin(*ACTIVE) & (self.cached_owner(s, pod) == s.rsc_syncing)
                & (s.rsc_expect_del[pod] == NONE))

    # ---- actions ----

    # Strongly fair: the work queue hands out keys in order, so a ReplicaSet whose sync keeps becoming possible
    # (between other syncs) gets its turn; weak fairness would let another key's syncs starve it.
    @action(rs=ReplicaSets, fairness="strong")
    def replicaset_controller_sync(self, s, rs):
        """With a cached ReplicaSet's expectations met, the controller compares its active pods with its replicas and
        plans a burst."""
        require(self.expectations_met(s, rs))
        self.plan_burst(s, rs)

    def plan_burst(self, s, rs):
        """The sync's work once it may run: compare active pods with replicas and plan creates or deletes."""
        require(self.idle(s))
        require(s.cache_rs_exists[rs])
        active, replicas = self.cached_active(s, rs), s.cache_rs_replicas[rs]
        require(active != replicas)
        s.rsc_to_create = maximum(replicas - active, 0)
        s.rsc_to_delete = maximum(active - replicas, 0)
        s.rsc_syncing = rs
        self.forget_expectations(s, rs)

    @action(pod=Pods, fairness="weak")
    def replicaset_controller_create_pod(self, s, pod):
        """The controller asks the API server to create a pod owned by the ReplicaSet it syncs, in a slot its cache
        shows empty."""
        require(s.rsc_to_create > 0)
        require(s.rsc_inflight == NONE)
        require(s.requests[RSC].verb == Verb.NONE)
        require(self.cached_pod_phase(s, pod) == PodPhase.ABSENT)
        require(s.rsc_expect_add[pod] == NONE)
        s.requests[RSC] = dict(NO_REQUEST, verb=Verb.CREATE_POD, pod=pod)
        s.pod_request_owner[RSC] = s.rsc_syncing
        s.rsc_expect_add[pod] = s.rsc_syncing
        s.rsc_to_create = s.rsc_to_create - 1
        s.rsc_inflight = pod

    @action(pod=Pods, fairness="weak")
    def replicaset_controller_delete_pod(self, s, pod):
        """The controller asks the API server to delete an active pod of the ReplicaSet it syncs, pending ones first."""
        require(s.rsc_to_delete > 0)
        require(s.rsc_inflight == NONE)
        require(s.requests[RSC].verb == Verb.NONE)
        require(self.deletion_candidate(s, pod))
        require((self.cached_pod_phase(s, pod) == PodPhase.PENDING)
                | ~any_of(self.Pods, lambda q: self.deletion_candidate(s, q)
                          & (self.cached_pod_phase(s, q) == PodPhase.PENDING)))
        s.requests[RSC] = dict(NO_REQUEST, verb=Verb.DELETE_POD, pod=pod)
        s.rsc_expect_del[pod] = s.rsc_syncing
        s.rsc_to_delete = s.rsc_to_delete - 1
        s.rsc_inflight = pod

    @action(fairness="weak")
    def replicaset_controller_handle_response(self, s):
        """The controller reads the API server's answer; a failed call lowers its expectation at once."""
        require(s.rsc_inflight != NONE)
        require(s.responses[RSC] != Response.NONE)
        failed = s.responses[RSC] != Response.OK
        pod = s.rsc_inflight
        s.rsc_expect_add[pod] = when(failed, NONE, s.rsc_expect_add[pod])
        s.rsc_expect_del[pod] = when(failed, NONE, s.rsc_expect_del[pod])
        s.rsc_syncing = when((s.rsc_to_create == 0) & (s.rsc_to_delete == 0), NONE, s.rsc_syncing)
        s.rsc_inflight = NONE
        s.responses[RSC] = Response.NONE

    @action(fairness="weak")
    def replicaset_controller_end_burst(self, s):
        """The rest of the burst fails: no slot the cache shows free is left to create in, or no pod left to delete."""
        require(s.rsc_inflight == NONE)
        require(s.requests[RSC].verb == Verb.NONE)
        no_slot = all_of(self.Pods, lambda p: (self.cached_pod_phase(s, p) != PodPhase.ABSENT)
                         | (s.rsc_expect_add[p] != NONE))
        no_pod = ~any_of(self.Pods, lambda p: self.deletion_candidate(s, p))
        require(((s.rsc_to_create > 0) & no_slot) | ((s.rsc_to_delete > 0) & no_pod))
        s.rsc_to_create = 0
        s.rsc_to_delete = 0
        s.rsc_syncing = NONE


class ExpectationExpiry(ReplicaSetController):
    """The expectations TTL, as a fault with a budget: an expectation not met in five minutes is dropped."""

    component = "replicaset_controller"
    owns = ("rsc_expect_add", "rsc_expect_del", "rsc_expiries")

    expectation_timeouts = Constant(0, "budget of expectation expiries (the five-minute TTL)", min=0)

    rsc_expiries = Var(Int(0, expectation_timeouts), init=0)           # expectation expiries so far

    actions_paid_by = {"expectation_timeouts": ("replicaset_controller_expectations_expire",)}

    @action(rs=ReplicaSets, kind="fault")
    def replicaset_controller_expectations_expire(self, s, rs):
        """A ReplicaSet's expectations not met within their TTL are dropped, so a lost event cannot block it."""
        require(s.rsc_expiries < self.expectation_timeouts)
        require(~self.expectations_met(s, rs))
        self.forget_expectations(s, rs)
        s.rsc_expiries = s.rsc_expiries + 1


class ReplicaSetUser(ReplicaSetCreateApi, ReplicaSetUpdateApi):
    """kubectl: creates a ReplicaSet with ``replicas`` replicas, and scales it within a budget."""

    component = "user"
    owns = ("rs_requests", "user_scaled")

    user_scales = Constant(1, "budget of scales users make (kubectl scale)", min=0)

    user_scaled = Var(Int(0, user_scales), init=0)     # scales sent so far

    def can_send(self, s):
        """kubectl has no command in flight."""
        return s.rs_requests[RsClient.USER].verb == RsVerb.NONE

    @action(rs=ReplicaSets, kind="environment")
    def user_create_replicaset(self, s, rs):
        """A user creates a ReplicaSet with ``replicas`` replicas under a free name."""
        require(self.can_send(s))
        require(~s.etcd_rs_exists[rs])
        s.rs_requests[RsClient.USER] = dict(NO_RS_REQUEST, verb=RsVerb.CREATE, rs=rs, replicas=self.replicas)

    @action(rs=ReplicaSets, to=Int(0, ReplicaSetStore.replicas), kind="environment")
    def user_scale_replicaset(self, s, rs, to):
        """A user scales a ReplicaSet to another number of replicas (unconditionally, as kubectl scale does)."""
        require(self.can_send(s))
        require(s.user_scaled < self.user_scales)
        require(s.etcd_rs_exists[rs])
        require(s.etcd_rs_replicas[rs] != to)
        s.rs_requests[RsClient.USER] = dict(NO_RS_REQUEST, verb=RsVerb.UPDATE, rs=rs, replicas=to)
        s.user_scaled = s.user_scaled + 1


class ReplicaSetModel(Faults, ReplicaSetUser, ExpectationExpiry, Model):
    """One ReplicaSet that a user creates and scales; its controller with expectations; the API server, etcd, caches."""

    name = "replicaset"
    symmetric = ("pod", "node")  # pod slots and nodes are interchangeable (--symmetry)
    watchers = (RSC,)

    pod_slots = Constant(3, "pod slots: pods that can exist at once", min=1)

    def dormant_actions(self):
        dormant = super().dormant_actions()
        # Deleted pods leave at once here (no kubelet holds them) and expectations keep the active pods within the
        # replicas, so a burst of creations always finds a free slot. An expired expectation lets the controller
        # over-create, and fill the slots.
        if self.pod_slots > self.replicas and self.expectation_timeouts == 0:
            dormant["replicaset_controller_end_burst"] = "pod_slots > replicas, with expectation_timeouts = 0"
        return dormant

    @always
    def replicas_within_bounds(self, s):
        """Never more active pods than the most replicas asked for: expectations stop a stale cache over-creating."""
        return all_of(self.ReplicaSets, lambda rs: self.stored_active(s, rs) <= self.replicas)

    @sometimes
    def replicas_reached(self, s):
        """Some state has exactly ``replicas`` active pods (the model is not vacuous)."""
        return any_of(self.ReplicaSets, lambda rs: s.etcd_rs_exists[rs] & (self.stored_active(s, rs) == self.replicas))

    @converges
    def replicaset_converges(self, s):
        """Once faults and users stop, each ReplicaSet's active pods number its replicas and stay so."""
        return True, all_of(self.ReplicaSets, lambda rs:
                      s.etcd_rs_exists[rs].implies(self.stored_active(s, rs) == s.etcd_rs_replicas[rs]))
