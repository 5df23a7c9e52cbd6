"""The endpoints model: a Service, its ready pods, the endpoints controller and kube-proxy.

A user creates one Service. Pods come and go, a node goes NotReady, the endpoints
controller keeps the Service's Endpoints object listing the ready pods
(``controllers/endpoints.py``), kube-proxy programs a node's rules from that object
(``kubeproxy.py``), and clients send connections through the rules.

The scheduler, kubelets and the node lifecycle controller are not part of this model.
Their effect on the store is made by three environment actions that stand in for them.
Each is an ``apiserver`` action, because it writes etcd as the API server does when it
serves those components' requests:

- ``pod_becomes_ready``: an empty pod slot gets a pod that is bound to a Ready node, runs
  and passes its readiness probe (creation, scheduling, the kubelet's start and its status
  update, as one step);
- ``pod_stops``: a running pod is deleted and starts terminating (graceful deletion), at
  most ``pod_deletions`` pods in all;
- ``node_becomes_not_ready``: the node lifecycle controller marks a node NotReady, at most
  ``node_failures`` nodes in all; nodes do not recover.

Pod slots are not reused: a terminating pod keeps its slot, which stands for that pod's
address, so a listed address never turns into another pod. The kubelet's confirmation and
the removal of the pod are left out: a removed pod, like a terminating one, must get no
traffic, and it could only be listed longer, never less.

Only the kube-proxy of the first ``kube_proxies`` nodes (default one) is explored. Each
node's kube-proxy reads only the stored endpoints and writes only its own rules,
and every property here is about one node's rules at a time, so the runs of one node's
kube-proxy are the same whether or not the others run; nodes are interchangeable for it.
A second one would only interleave independent steps (33,119 states instead of 11,151).

What Kubernetes guarantees here is eventual. The endpoints lag the pods (the controller's
caches lag the store), and each node's rules lag the endpoints. So a pod that has just
stopped can still be listed and can still receive connections:
``traffic_reaches_only_ready_pods`` fails, and the tests pin the shortest such run. The
safety property that holds is ``endpoints_list_only_ready_pods_once_caught_up``: the
endpoints list a pod that is not ready only while the endpoints controller has not caught
up with it (its copy of the pod is stale, the Service's key is queued, or its update is in
flight). Convergence says the rest: once pods stop changing, the endpoints list exactly the
ready pods, and every node's rules list exactly the endpoints.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import Constant, Model, Var, action, all_of, always, count, converges, require, sometimes, when

from .controllers.endpoints import EndpointsController, ServiceUser
from .etcd import ETCD_VARIABLES
from .kubeproxy import KubeProxy
from .objects import ClusterObjects, PodPhase

__all__ = ["Traffic", "EndpointsWorld", "EndpointsModel"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class Traffic(IntEnum):
    """Where the last connection to the Service went."""

    NONE = 0        # none sent yet
    SERVED = 1      # to a pod that runs and is ready
    LOST = 2        # to a pod that is not running and ready: refused, or timed out


class EndpointsWorld(ServiceUser, EndpointsController, KubeProxy):
    """The user, clients, and the stand-ins for the scheduler, kubelets and node lifecycle controller."""

    component = "world"
    owns = ("service_request", "traffic") + ETCD_VARIABLES   # written by its user, apiserver and client actions

    pod_deletions = Constant(1, "budget of pods deleted", min=0)
    node_failures = Constant(1, "budget of nodes that go NotReady", min=0)

    traffic = Var(Traffic, init=Traffic.NONE)     # where the last connection to the Service went

    @action(pod=Pods, node=Nodes, kind="environment", component="apiserver")
    def pod_becomes_ready(self, s, pod, node):
        """Stand-in for the scheduler and kubelet: a new pod bound to a Ready node runs and is ready."""
        require(s.etcd_pod_phase[pod] == PodPhase.ABSENT)
        require(s.etcd_node_ready[node])
        s.etcd_pod_phase[pod] = PodPhase.RUNNING
        s.etcd_pod_node[pod] = node

    @action(pod=Pods, kind="environment", component="apiserver")
    def pod_stops(self, s, pod):
        """Stand-in for a user's deletion: a running pod starts terminating."""
        require(s.etcd_pod_phase[pod] == PodPhase.RUNNING)
        require(count(self.Pods, lambda p: s.etcd_pod_phase[p] == PodPhase.TERMINATING) < self.pod_deletions)
        s.etcd_pod_phase[pod] = PodPhase.TERMINATING

    @action(node=Nodes, kind="environment", component="apiserver")
    def node_becomes_not_ready(self, s, node):
        """Stand-in for the node lifecycle controller: a node that stopped heartbeating is marked NotReady."""
        require(s.etcd_node_ready[node])
        require(count(self.Nodes, lambda n: ~s.etcd_node_ready[n]) < self.node_failures)
        s.etcd_node_ready[node] = False

    @action(node=Nodes, pod=Pods, kind="environment", component="client")
    def client_sends_request(self, s, node, pod):
        """A client on a node connects to the Service, and the node's rules send it to one of their backends."""
        require(s.proxy_routes[node][pod])
        s.traffic = when(self.pod_ready(s, pod), Traffic.SERVED, Traffic.LOST)


class EndpointsModel(EndpointsWorld, Model):
    """One Service, its endpoints controller, kube-proxy on the first node, and pods that come and go."""

    name = "endpoints"
    symmetric = ("pod",)        # pod slots are interchangeable; nodes are not (kube-proxy runs on the first)

    kube_proxies = Constant(1, "nodes whose kube-proxy is explored (the first ones)", min=0)

    @always
    def endpoints_list_only_ready_pods_once_caught_up(self, s):
        """The endpoints list a pod that is not ready only while the controller has not caught up with it."""
        return all_of(self.Pods, lambda p: (s.etcd_endpoints[p] & ~self.pod_ready(s, p)).implies(
            self.behind_on(s, p)))

    @always
    def traffic_reaches_only_ready_pods(self, s):
        """No connection reaches a pod that is not running and ready (fails: endpoints and rules lag the pods)."""
        return s.traffic != Traffic.LOST

    @sometimes
    def traffic_reaches_a_ready_pod(self, s):
        """Some connection through the rules reaches a ready pod (the model is not vacuous)."""
        return s.traffic == Traffic.SERVED

    @converges
    def endpoints_converges(self, s):
        """Once pods stop changing, the endpoints list exactly the ready pods and every node's rules follow them."""
        return True, all_of(self.Pods, lambda p: (s.etcd_endpoints[p] == self.wanted_endpoints(s, p))
                      & all_of(self.Nodes, lambda n: self.runs_kube_proxy(n).implies(
                          s.proxy_routes[n][p] == s.etcd_endpoints[p])))
