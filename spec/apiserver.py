"""The API server: the front end of the control plane and the only client of etcd.

In Kubernetes, every component (controllers, the scheduler, kubelets, kubectl) reads and
writes cluster state through the API server. It authenticates and validates each
request, rejects a malformed object before anything is stored, runs admission, and
writes etcd. Writes use optimistic concurrency: an update based on a stale read is
refused with 409 Conflict, and the client must read again and retry. The API server also
serves watches, from which informers keep their caches (``informer.py``).

The model keeps, for each client, one outstanding request and the answer to the last
one. Real clients block on their calls, so one in flight per client is faithful. The
API server takes a request, validates it, checks its precondition against what is
stored, and either writes etcd and answers OK, or answers CONFLICT or INVALID and
stores nothing. Authentication, authorization and admission plugins are left out: they
only reject requests, and a rejected request behaves like an invalid one.

Kubelets send their requests through ``kubelet_requests``, indexed by node, and the
control-plane clients through ``requests``, indexed by :class:`~.objects.Client`. The
handlers of each verb are a mixin (``PodCreateApi``, ...), and a client component
includes the handlers for the verbs it sends; ``ApiServer`` is all of them.
"""

from __future__ import annotations

from typing import Any

from kubecheck import NONE, Array, Option, Var, action, all_of, require, step_invariant, unchanged, when

from .etcd import ETCD_VARIABLES, Etcd
from .objects import NO_REQUEST, Client, ClusterObjects, PodPhase, Response, Verb, pod_request

__all__ = ["ApiServerCore", "PodCreateApi", "PodDeleteApi", "PodBindApi", "PodStatusApi", "ApiServer"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class ApiServerCore(Etcd):
    """The request slots, the shared handling of a request, and ``single_writer_etcd``.

    The handlers for each verb are mixins below; a client component includes the ones for
    the verbs it sends, so a model holds only the API server actions it can use.
    """

    component = "apiserver"
    owns = ETCD_VARIABLES + ("requests", "responses", "kubelet_requests")

    requests = Var(Array(Client, pod_request()), init=NO_REQUEST)          # each client's request in flight
    responses = Var(Array(Client, Response), init=Response.NONE)           # the answer to each client's last request
    kubelet_requests = Var(Array(Nodes, pod_request()), init=NO_REQUEST)   # each kubelet's request in flight

    def _serve_client(self, s: Any, client: Any, verb: Verb, handler: Any) -> None:
        req = s.requests[client]
        require(req.verb == verb)
        s.responses[client] = handler(s, req)
        s.requests[client] = NO_REQUEST

    def _serve_kubelet(self, s: Any, node: Any, verb: Verb, handler: Any) -> None:
        """Handle a kubelet's request. Its answer is not kept: the kubelet's status manager acts on the pod it
        next sees in its cache, whatever the answer was, so no reader tells one answer from another."""
        req = s.kubelet_requests[node]
        require(req.verb == verb)
        handler(s, node, req)
        s.kubelet_requests[node] = NO_REQUEST

    @step_invariant
    def single_writer_etcd(self, pre, post, step):
        """Every step that changes etcd is an API server action."""
        return step.by("apiserver") | unchanged(pre, post, *self.etcd_variables())


class PodCreateApi(ApiServerCore):
    """Pod creation (``POST /api/v1/namespaces/{ns}/pods``)."""

    component = "apiserver"

    def _create_pod(self, s: Any, req: Any) -> Any:
        """Store a new pending pod in an empty slot, bound to the node its manifest names (spec.nodeName),
        if any; 409 if the slot holds one (AlreadyExists)."""
        ok = req.valid & (s.etcd_pod_phase[req.pod] == PodPhase.ABSENT)
        s.etcd_pod_phase[req.pod] = when(ok, PodPhase.PENDING, s.etcd_pod_phase[req.pod])
        s.etcd_pod_node[req.pod] = when(ok, req.node, s.etcd_pod_node[req.pod])
        return when(~req.valid, Response.INVALID, when(ok, Response.OK, Response.CONFLICT))

    @action(client=Client)
    def apiserver_create_pod(self, s, client):
        """The API server handles a client's pod creation."""
        self._serve_client(s, client, Verb.CREATE_POD, self._create_pod)


class PodDeleteApi(ApiServerCore):
    """Pod deletion (``DELETE .../pods/{name}``), graceful for bound pods."""

    component = "apiserver"

    def _delete_pod(self, s: Any, req: Any) -> Any:
        """Delete a pod: a bound pod terminates first (graceful deletion), an unbound one goes at once."""
        phase, node = s.etcd_pod_phase[req.pod], s.etcd_pod_node[req.pod]
        ok = phase.isin(PodPhase.PENDING, PodPhase.RUNNING, PodPhase.FAILED)
        s.etcd_pod_phase[req.pod] = when(ok, when(node == NONE, PodPhase.ABSENT, PodPhase.TERMINATING), phase)
        return when(ok, Response.OK, Response.CONFLICT)

    @action(client=Client)
    def apiserver_delete_pod(self, s, client):
        """The API server handles a client's pod deletion."""
        self._serve_client(s, client, Verb.DELETE_POD, self._delete_pod)


class PodBindApi(ApiServerCore):
    """Binding (``POST .../pods/{name}/binding``), the scheduler's one write."""

    component = "apiserver"

    def _bind_pod(self, s: Any, req: Any) -> Any:
        """Bind a pending, unbound pod to a node; 409 otherwise."""
        ok = (s.etcd_pod_phase[req.pod] == PodPhase.PENDING) & (s.etcd_pod_node[req.pod] == NONE)
        s.etcd_pod_node[req.pod] = when(ok, req.node, s.etcd_pod_node[req.pod])
        return when(ok, Response.OK, Response.CONFLICT)

    binding_refused = Var(Option(Pods), init=NONE)   # the pod whose Binding was refused (409), until its sender reads it

    @action(client=Client)
    def apiserver_bind_pod(self, s, client):
        """The API server handles a binding (from the scheduler, the one client that binds); only a refusal is
        answered, since an accepted binding leaves its sender nothing to do."""
        req = s.requests[client]
        require(req.verb == Verb.BIND_POD)
        accepted = self._bind_pod(s, req) == Response.OK
        s.binding_refused = when(accepted, NONE, req.pod)
        s.requests[client] = NO_REQUEST


class PodStatusApi(ApiServerCore):
    """Kubelets' pod status updates (``PUT .../pods/{name}/status``) and final removal."""

    component = "apiserver"
    owns = ("kubelet_cache_pod_phase",)   # a removal reaches the kubelet's cache in the same step (kubelet.py, Lipton)

    def kubelets_pod(self, s: Any, node: Any, req: Any) -> Any:
        """The pod a kubelet writes is still the one it ran: a kubelet's writes carry the pod's UID as a
        precondition, and the model tells a pod from a later one in the same slot by its binding (a later pod
        is unbound or bound elsewhere; one bound to the same node again is one the kubelet may run)."""
        return s.etcd_pod_node[req.pod] == node

    def _set_pod_phase(self, s: Any, node: Any, req: Any) -> Any:
        """Update a pod's phase if it is still the kubelet's pod, in the phase the kubelet saw (optimistic
        concurrency)."""
        ok = self.kubelets_pod(s, node, req) & (s.etcd_pod_phase[req.pod] == req.seen)
        s.etcd_pod_phase[req.pod] = when(ok, req.phase, s.etcd_pod_phase[req.pod])
        return when(ok, Response.OK, Response.CONFLICT)

    def _remove_pod(self, s: Any, node: Any, req: Any) -> Any:
        """Remove the kubelet's terminated pod's object, freeing its slot."""
        ok = self.kubelets_pod(s, node, req) & (s.etcd_pod_phase[req.pod] == PodPhase.TERMINATING)
        s.etcd_pod_phase[req.pod] = when(ok, PodPhase.ABSENT, s.etcd_pod_phase[req.pod])
        s.etcd_pod_node[req.pod] = when(ok, NONE, s.etcd_pod_node[req.pod])
        return when(ok, Response.OK, Response.CONFLICT)

    @step_invariant
    def no_lost_update(self, pre, post):
        """No update is lost under concurrent writers: once a pod's deletion is stored (Terminating), no status update
        that a kubelet based on an older read overwrites it; the pod stays Terminating until it is removed."""
        return all_of(self.Pods, lambda p: (pre.etcd_pod_phase[p] == PodPhase.TERMINATING).implies(
            post.etcd_pod_phase[p].isin(PodPhase.TERMINATING, PodPhase.ABSENT)))

    @action(node=Nodes)
    def apiserver_update_pod_status(self, s, node):
        """The API server handles a kubelet's pod status update."""
        self._serve_kubelet(s, node, Verb.SET_POD_PHASE, self._set_pod_phase)

    @action(node=Nodes)
    def apiserver_remove_pod(self, s, node):
        """The API server handles a kubelet's confirmation that a terminating pod has stopped."""
        self._serve_kubelet(s, node, Verb.REMOVE_POD, self._remove_pod)


class ApiServer(PodCreateApi, PodDeleteApi, PodBindApi, PodStatusApi):
    """The whole pod API: every handler."""

    component = "apiserver"
