"""kube-proxy: programs each node's Service routing from the Service's endpoints.

In Kubernetes, kube-proxy runs on every node. It watches Services and their endpoints
(EndpointSlices; the Endpoints object in older releases) through informers, and its
event handlers record the changes. A sync loop, rate-limited, then rewrites the node's
packet rules (iptables chains, IPVS virtual servers or nftables sets) so that a
connection to a Service's virtual IP is sent to one of the ready endpoints, picked at
random. It programs only what it has received: an endpoint that has stopped stays in the
rules until the endpoints object changes, kube-proxy receives the change and its next
sync runs. A connection sent meanwhile to a pod that is gone is refused or times out.

The model keeps, per node, the backends its rules send the Service's traffic to
(``proxy_routes``). A sync rewrites them from the Endpoints object as the node's watch
delivered it, which is the stored object at the moment of delivery. Which backend a
connection takes is left nondeterministic, so every choice is explored. A model may
explore the kube-proxy of only the first ``kube_proxies`` nodes: one node's kube-proxy
reads only the stored endpoints and writes only its own rules, so for properties about one
node's rules at a time the other nodes' kube-proxies only add independent interleavings.

Left out, and why that is sound:

- kube-proxy's Service cache. The one Service is never deleted or changed, and its
  endpoints are non-empty only after it exists, so rules for no Service and rules with no
  backends route the same traffic: none.
- kube-proxy's copy of the endpoints between the watch and the sync (the change tracker),
  and the rate limiter: the delivery and the sync that reads it are one step here. The
  copy is read by nothing but the sync, so a sync that comes later than its delivery
  reaches the rules only later, which a delivery taken later also does: the rules may
  still hold any earlier stored value, in the order the store had them. An earlier
  version kept the copy: the same verdicts, more states, and every pinned trace through
  kube-proxy one step longer.
- Conntrack entries of established connections, session affinity, topology-aware
  routing and the traffic policies. They choose among the programmed backends, or keep
  a connection on one, and never add a backend the rules do not hold.
"""

from __future__ import annotations

from kubecheck import Array, Constant, Set, Var, action, any_of, require

from .controllers.endpoints import EndpointsStore
from .objects import ClusterObjects

__all__ = ["KubeProxy"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class KubeProxy(EndpointsStore):
    """On each node, the rules kube-proxy programmed from the Endpoints its watch delivered."""

    component = "kube_proxy"
    owns = ("proxy_routes",)

    kube_proxies = Constant(2, "nodes whose kube-proxy is explored (the first ones)", min=0)

    proxy_routes = Var(Array(Nodes, Set(Pods)), init=False)            # the backends each node's rules send traffic to

    def validate_config(self) -> None:
        from kubecheck import ConfigError
        super().validate_config()
        if self.kube_proxies > self.nodes:
            raise ConfigError(f"kube_proxies ({self.kube_proxies}) cannot exceed nodes ({self.nodes}): kube-proxy "
                              "runs once per node; raise nodes.")

    def runs_kube_proxy(self, node):
        """The node's kube-proxy is explored (one of the first ``kube_proxies`` nodes)."""
        return node.isin(*range(self.kube_proxies))

    @action(node=Nodes, fairness="weak")
    def kube_proxy_sync_rules(self, s, node):
        """A node's kube-proxy receives the Endpoints from its watch and rewrites its rules from them."""
        require(self.runs_kube_proxy(node))
        require(any_of(self.Pods, lambda p: s.proxy_routes[node][p] != s.etcd_endpoints[p]))
        s.proxy_routes[node] = s.etcd_endpoints
