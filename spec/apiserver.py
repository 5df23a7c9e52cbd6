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
control-plane clients through ``requests``, indexed by :class:`~.objects.Client`.
"""

from __future__ import annotations

from typing import Any

from kubecheck import NONE, Array, Var, action, require, step_invariant, unchanged, when

from .etcd import ETCD_VARIABLES, Etcd
from .objects import NO_REQUEST, Client, ClusterObjects, PodPhase, Response, Verb, pod_request

__all__ = ["ApiServer"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class ApiServer(Etcd):
    """Serves pod requests from clients and kubelets; the only writer of etcd."""

    component = "apiserver"
    owns = ETCD_VARIABLES + ("requests", "responses", "kubelet_requests", "kubelet_responses")

    requests = Var(Array(Client, pod_request()), init=NO_REQUEST)          # each client's request in flight
    responses = Var(Array(Client, Response), init=Response.NONE)           # the answer to each client's last request
    kubelet_requests = Var(Array(Nodes, pod_request()), init=NO_REQUEST)   # each kubelet's request in flight
    kubelet_responses = Var(Array(Nodes, Response), init=Response.NONE)    # the answer to each kubelet's last request

    # ---- the effect of each verb, shared by the client and kubelet handlers ----

    def _create_pod(self, s: Any, req: Any) -> Any:
        """Store a new pending pod in an empty slot; 409 if the slot holds one (AlreadyExists)."""
        ok = req.valid & (s.etcd_pod_phase[req.pod] == PodPhase.ABSENT)
        s.etcd_pod_phase[req.pod] = when(ok, PodPhase.PENDING, s.etcd_pod_phase[req.pod])
        return when(~req.valid, Response.INVALID, when(ok, Response.OK, Response.CONFLICT))

    def _delete_pod(self, s: Any, req: Any) -> Any:
        """Delete a pod: a bound pod terminates first (graceful deletion), an unbound one goes at once."""
        phase, node = s.etcd_pod_phase[req.pod], s.etcd_pod_node[req.pod]
        ok = phase.isin(PodPhase.PENDING, PodPhase.RUNNING, PodPhase.FAILED)
        s.etcd_pod_phase[req.pod] = when(ok, when(node == NONE, PodPhase.ABSENT, PodPhase.TERMINATING), phase)
        return when(ok, Response.OK, Response.CONFLICT)

    def _bind_pod(self, s: Any, req: Any) -> Any:
        """Bind a pending, unbound pod to a node (a pods/binding subresource create); 409 otherwise."""
        ok = (s.etcd_pod_phase[req.pod] == PodPhase.PENDING) & (s.etcd_pod_node[req.pod] == NONE)
        s.etcd_pod_node[req.pod] = when(ok, req.node, s.etcd_pod_node[req.pod])
        return when(ok, Response.OK, Response.CONFLICT)

    def _set_pod_phase(self, s: Any, req: Any) -> Any:
        """Update a pod's phase if it is still what the client saw (optimistic concurrency)."""
        ok = s.etcd_pod_phase[req.pod] == req.seen
        s.etcd_pod_phase[req.pod] = when(ok, req.phase, s.etcd_pod_phase[req.pod])
        return when(ok, Response.OK, Response.CONFLICT)

    def _remove_pod(self, s: Any, req: Any) -> Any:
        """Remove a terminated pod's object, freeing its slot."""
        ok = s.etcd_pod_phase[req.pod] == PodPhase.TERMINATING
        s.etcd_pod_phase[req.pod] = when(ok, PodPhase.ABSENT, s.etcd_pod_phase[req.pod])
        s.etcd_pod_node[req.pod] = when(ok, NONE, s.etcd_pod_node[req.pod])
        return when(ok, Response.OK, Response.CONFLICT)

    def _serve(self, s: Any, verb: Verb, req: Any, respond: Any, clear: Any) -> None:
        require(req.verb == verb)
        handler = {Verb.CREATE_POD: self._create_pod, Verb.DELETE_POD: self._delete_pod,
                   Verb.BIND_POD: self._bind_pod, Verb.SET_POD_PHASE: self._set_pod_phase,
                   Verb.REMOVE_POD: self._remove_pod}[verb]
        respond(handler(s, req))
        clear()

    # ---- actions: one per verb and kind of client ----

    @action(client=Client)
    def apiserver_create_pod(self, s, client):
        """The API server handles a client's pod creation."""
        self._serve_client(s, client, Verb.CREATE_POD)

    @action(client=Client)
    def apiserver_delete_pod(self, s, client):
        """The API server handles a client's pod deletion."""
        self._serve_client(s, client, Verb.DELETE_POD)

    @action(client=Client)
    def apiserver_bind_pod(self, s, client):
        """The API server handles a binding (from the scheduler)."""
        self._serve_client(s, client, Verb.BIND_POD)

    @action(node=Nodes)
    def apiserver_update_pod_status(self, s, node):
        """The API server handles a kubelet's pod status update."""
        self._serve_kubelet(s, node, Verb.SET_POD_PHASE)

    @action(node=Nodes)
    def apiserver_remove_pod(self, s, node):
        """The API server handles a kubelet's confirmation that a terminating pod has stopped."""
        self._serve_kubelet(s, node, Verb.REMOVE_POD)

    def _serve_client(self, s: Any, client: Any, verb: Verb) -> None:
        def respond(r: Any) -> None:
            s.responses[client] = r

        def clear() -> None:
            s.requests[client] = NO_REQUEST
        self._serve(s, verb, s.requests[client], respond, clear)

    def _serve_kubelet(self, s: Any, node: Any, verb: Verb) -> None:
        def respond(r: Any) -> None:
            s.kubelet_responses[node] = r

        def clear() -> None:
            s.kubelet_requests[node] = NO_REQUEST
        self._serve(s, verb, s.kubelet_requests[node], respond, clear)

    # ---- properties ----

    @step_invariant
    def single_writer_etcd(self, pre, post, step):
        """Every step that changes etcd is an API server action."""
        return step.by("apiserver") | unchanged(pre, post, *self.etcd_variables())
