"""The endpoints controller: joins a Service to its ready pods in an Endpoints object.

In Kubernetes, a Service with a label selector gets a virtual IP, and the endpoints
controller (kube-controller-manager, ``pkg/controller/endpoint``) keeps the list of pods
behind it. It watches Services and Pods. Any change to a Service, or to a pod a Service
selects, puts the Service's key in a work queue; a worker takes the key, lists the
selected pods from its informer cache, and builds the addresses: a pod whose Ready
condition is True goes in ``addresses``, one that is not ready in ``notReadyAddresses``,
and terminal or terminating pods are left out. It compares the result with the Endpoints
object in its own cache and, if they differ, writes it through the API server with the
resourceVersion of that cached copy: a stale copy gets 409 Conflict, and the key is
queued again. After a successful write, the controller records that the copy it replaced
is outdated; a sync that still finds that copy in its cache fails and is retried, rather
than comparing against it. A sync that trusted its own outdated copy could find "nothing
to do" and leave a wrong Endpoints object in place, and nothing would correct it: the
controller does not sync on Endpoints updates. A pod's Ready condition is set by its
kubelet from the readiness probes and set to False by the node lifecycle controller when
the pod's node goes NotReady. EndpointSlices are the newer form of the same list (slices of
at most 100 endpoints, each with ready, serving and terminating conditions, written by the
EndpointSlice controller); kube-proxy reads either.

The model keeps one Service, created by a user, whose selector matches every pod slot, and
its Endpoints object as the set of ready addresses (``etcd_endpoints``). The controller's
caches of pods, the Service and the Endpoints object are its own (``epc_cache_*``), each
fed by a delivery action that brings one object's copy up to its stored value, at any time
after the change, as in ``informer.py``. A pod's Ready condition is True when it is Running
on a node whose Ready condition is True (``pod_ready``). The work queue holds one key, so it
is a flag; the request slot holds one update in flight (the worker blocks on its call),
with the content the controller saw, and the API server stores it only if the stored object
still has that content. From sending an update until its informer delivers a newer copy of
the Endpoints object, the controller does not sync (the staleness check).

Left out, and why that is sound:

- Pod events that do not change whether a pod is running and ready. The controller's copy
  of a pod keeps only that bit, which is all a sync reads. Such an event only queues the
  key for a sync that finds nothing to do, so leaving it out removes no write and no
  reachable Endpoints object.
- ``notReadyAddresses``, ports and subsets. kube-proxy routes only to ``addresses``; the
  model stores exactly that set.
- The difference between no Endpoints object and an empty one. The model starts with an
  empty one, where the controller would first create it. A create refused because the
  object exists is a write refused on a stale read, like the update's 409, so the model
  admits every behaviour of both calls.
- The delay of the node lifecycle controller. In the model a pod's Ready condition turns
  False in the step its node goes NotReady; in Kubernetes it turns False later. Either
  way the endpoints controller learns it from a pod event that may come arbitrarily late,
  so the model's controller can list a pod on a NotReady node exactly as the real one can.
- Resource versions. Content comparison, as in ``etcd.py``: the model accepts every write
  Kubernetes accepts and a few more (ABA). With one controller and the staleness check,
  the precondition never refuses a write in this model (the tests check it): a sync sends
  only when the controller's copy shows the stored object. It protects against a second
  writer, such as a second controller-manager during a leader handover, which this model
  leaves out.
- Retries after a 409 while the copy is still outdated, and the rate limiter. The model
  waits for the newer copy instead; the retries it leaves out would all be refused, and a
  retry may otherwise happen at any time.
- Dropped watches. A relist brings every copy up to date at once; the per-object
  deliveries reach the same copies one after another.
- Service deletion and selector changes: the Service is created once and never changes.
"""

from __future__ import annotations

from kubecheck import Array, Bool, Record, Set, Var, action, all_of, any_of, require, when

from ..apiserver import ApiServerCore
from ..etcd import Etcd
from ..objects import ClusterObjects, PodPhase, Response

__all__ = ["EndpointsStore", "EndpointsApi", "ServiceUser", "EndpointsInformer", "EndpointsController", "endpoints_request",
           "NO_ENDPOINTS_REQUEST", "ENDPOINTS_ETCD_VARIABLES"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


def endpoints_request() -> Record:
    """The type of the endpoints controller's update in flight."""
    return Record(
        pending=Bool,               # sent, not yet handled by the API server
        endpoints=Set(Pods),        # the addresses it asks to store
        seen=Set(Pods),             # the addresses its cached copy showed (optimistic concurrency)
    )


NO_ENDPOINTS_REQUEST = {"pending": False, "endpoints": False, "seen": False}
"""The empty request slot (every field at its default)."""

ENDPOINTS_ETCD_VARIABLES = ("etcd_service_exists", "etcd_endpoints")


class EndpointsStore(Etcd):
    """The stored Service and its Endpoints object (etcd; written only by the API server)."""

    component = "etcd"
    owns = ()

    etcd_service_exists = Var(Bool, init=False)       # the Service is stored (its selector matches every pod slot)
    etcd_endpoints = Var(Set(Pods), init=False)       # the Endpoints object's ready addresses

    def pod_ready(self, s, pod):
        """The pod's Ready condition: it runs, on a node whose Ready condition is True."""
        return (s.etcd_pod_phase[pod] == PodPhase.RUNNING) & s.etcd_node_ready[s.etcd_pod_node[pod]]

    def wanted_endpoints(self, s, pod):
        """Whether a fully caught-up endpoints controller would list the pod."""
        return s.etcd_service_exists & self.pod_ready(s, pod)


class EndpointsApi(EndpointsStore, ApiServerCore):
    """The API server's handling of Service creation and of the endpoints controller's updates."""

    component = "apiserver"
    owns = ENDPOINTS_ETCD_VARIABLES + ("service_request", "epc_request", "epc_response")

    service_request = Var(Bool, init=False)                                    # a user's Service creation in flight
    epc_request = Var(endpoints_request(), init=NO_ENDPOINTS_REQUEST)          # the endpoints controller's update
    epc_response = Var(Response, init=Response.NONE)                           # a 409 the controller has not read

    def seen_is_stored(self, s):
        """The stored addresses are still those the controller's cached copy showed."""
        return all_of(self.Pods, lambda p: s.etcd_endpoints[p] == s.epc_request.seen[p])

    def store_endpoints(self, s, ok):
        """Store the requested addresses if ``ok``, else answer 409, and clear the request slot.

        An OK is not kept: the worker's call returns and it has nothing left to do, so
        reading an OK would be a step that changes nothing any other component reads. A
        409 requeues the key, and the next sync takes it."""
        req = s.epc_request
        s.etcd_endpoints.set_all(lambda p: when(ok, req.endpoints[p], s.etcd_endpoints[p]))
        s.epc_response = when(ok, Response.NONE, Response.CONFLICT)
        s.epc_request = NO_ENDPOINTS_REQUEST

    @action(fairness="weak")
    def apiserver_create_service(self, s):
        """The API server stores the user's Service (AlreadyExists leaves it as it is)."""
        require(s.service_request)
        s.etcd_service_exists = True
        s.service_request = False

    @action(fairness="weak")
    def apiserver_update_endpoints(self, s):
        """The API server stores the controller's addresses if the object is still what it saw, or answers 409."""
        require(s.epc_request.pending)
        self.store_endpoints(s, self.seen_is_stored(s))


class ServiceUser(EndpointsApi):
    """kubectl: creates the Service once (``kubectl expose``)."""

    component = "user"
    owns = ("service_request",)

    @action(kind="environment")
    def user_create_service(self, s):
        """The user creates the Service once, having seen with a consistent read that it does not exist."""
        require(~s.etcd_service_exists)
        require(~s.service_request)
        s.service_request = True


class EndpointsInformer(EndpointsStore):
    """The endpoints controller's watch-fed caches, and the event handlers that queue the Service's key."""

    component = "informer"
    owns = ("epc_cache_pod_ready", "epc_cache_service", "epc_cache_endpoints", "epc_queued", "epc_endpoints_outdated")

    epc_cache_pod_ready = Var(Set(Pods), init=False)                          # the pods its copies show running and ready
    epc_cache_service = Var(Bool, init=False)                                 # its copy shows the Service
    epc_cache_endpoints = Var(Set(Pods), init=False)                          # its copy of the Endpoints object
    epc_queued = Var(Bool, init=False)                                        # the Service's key waits in its queue
    epc_endpoints_outdated = Var(Bool, init=False)                            # its copy predates its own last update

    @action(pod=Pods, fairness="weak")
    def endpoints_informer_deliver_pod_event(self, s, pod):
        """A watch event that changes whether a pod is running and ready reaches the controller's copy of the pod and
        queues the Service that selects it."""
        require(s.epc_cache_pod_ready[pod] != self.pod_ready(s, pod))
        s.epc_cache_pod_ready[pod] = self.pod_ready(s, pod)
        s.epc_queued = s.epc_queued | s.epc_cache_service

    @action(fairness="weak")
    def endpoints_informer_deliver_service_event(self, s):
        """The new Service reaches the controller's cache and its key is queued."""
        require(s.epc_cache_service != s.etcd_service_exists)
        s.epc_cache_service = s.etcd_service_exists
        s.epc_queued = True

    @action(fairness="weak")
    def endpoints_informer_deliver_endpoints_event(self, s):
        """An Endpoints update reaches the controller's cache (it queues nothing: only deletions do)."""
        require(any_of(self.Pods, lambda p: s.epc_cache_endpoints[p] != s.etcd_endpoints[p]))
        s.epc_cache_endpoints = s.etcd_endpoints
        s.epc_endpoints_outdated = False


class EndpointsController(EndpointsInformer, EndpointsApi):
    """Writes, through the API server, the Endpoints of the Service: the pods its caches show ready."""

    component = "endpoints_controller"
    owns = ("epc_queued", "epc_endpoints_outdated", "epc_request", "epc_response")

    # ---- what the controller sees ----

    def seen_ready(self, s, pod):
        """Its copy shows the pod running with its Ready condition True."""
        return s.epc_cache_pod_ready[pod]

    def cached_endpoints_current(self, s):
        """Its copy of the Endpoints object lists exactly the pods it sees ready."""
        return all_of(self.Pods, lambda p: s.epc_cache_endpoints[p] == self.seen_ready(s, p))

    def can_sync_service(self, s):
        """The key is queued, or its last update got a 409 (which requeues it), and no call is outstanding."""
        return (s.epc_queued | (s.epc_response == Response.CONFLICT)) & ~s.epc_request.pending

    def behind_on(self, s, pod):
        """The controller has not caught up with ``pod``: its copy is stale, or a sync or a call is pending."""
        stale = self.seen_ready(s, pod) != self.pod_ready(s, pod)
        return stale | s.epc_queued | s.epc_request.pending | (s.epc_response != Response.NONE)

    # ---- actions ----

    @action(fairness="weak")
    def endpoints_controller_sync(self, s):
        """The controller takes the key and, its copy of the Endpoints differing from what it sees, sends an update."""
        require(self.can_sync_service(s))
        require(~s.epc_endpoints_outdated)
        require(~self.cached_endpoints_current(s))
        self.send_update(s)

    def send_update(self, s):
        """Take the key and send the pods the controller sees ready, with the copy of the Endpoints it saw."""
        s.epc_request = {"pending": True, "endpoints": lambda p: self.seen_ready(s, p),
                         "seen": lambda p: s.epc_cache_endpoints[p]}
        s.epc_queued = False
        s.epc_response = Response.NONE
        s.epc_endpoints_outdated = True

    @action(fairness="weak")
    def endpoints_controller_skip_sync(self, s):
        """The controller takes the key and finds its copy of the Endpoints already lists the pods it sees ready."""
        require(self.can_sync_service(s))
        require(~s.epc_endpoints_outdated)
        require(self.cached_endpoints_current(s))
        s.epc_queued = False
        s.epc_response = Response.NONE
