"""etcd, the cluster store: a consistent key-value store that holds every API object.

In Kubernetes, etcd stores the state of every object, and only the API server talks to
it: components read and write cluster state through the API server, never through etcd
(see "Kubernetes Components" and "Operating etcd clusters for Kubernetes" in the docs).
Every write makes a new revision, and watchers receive the changes in revision order.

The model keeps the stored content of each object slot. It leaves out revisions and
resourceVersions as numbers. What a resourceVersion is used for is to ask whether an
object has changed since a client read it (optimistic concurrency, watch resumption),
and the model answers that question by comparing content: a request carries what the
client saw, and the API server compares it with what is stored. Content equality admits
every behaviour that version equality admits, and a few more: a write may be accepted
after an object changed and changed back (ABA). So every safety property that holds here
holds with real resourceVersions, and no counter has to be bounded or wrapped. Watch
ordering lives in ``informer.py``.

etcd has no actions of its own: only the API server writes these variables, which the
property ``single_writer_etcd`` checks on every step.
"""

from __future__ import annotations

from kubecheck import NONE, Array, Option, Set, Var

from .objects import ClusterObjects, PodPhase

__all__ = ["Etcd", "ETCD_VARIABLES"]


class Etcd(ClusterObjects):
    """The stored objects: pods and nodes (controllers add their own kinds)."""

    component = "etcd"
    owns = ()

    etcd_pod_phase = Var(Array(ClusterObjects.Pods, PodPhase), init=PodPhase.ABSENT)    # each pod slot's stored phase
    etcd_pod_node = Var(Array(ClusterObjects.Pods, Option(ClusterObjects.Nodes)), init=NONE)  # spec.nodeName
    etcd_node_ready = Var(Set(ClusterObjects.Nodes), init=True)     # nodes whose Ready condition is True


    @classmethod
    def etcd_variables(cls) -> tuple[str, ...]:
        """Every stored variable of the model: the ``etcd_`` ones, whichever component declares them."""
        return tuple(n for k in reversed(cls.__mro__) for n in vars(k) if n.startswith("etcd_")
                     and isinstance(vars(k)[n], Var))


ETCD_VARIABLES = ("etcd_pod_phase", "etcd_pod_node", "etcd_node_ready")
"""The variables this file declares; components that store other kinds add ``etcd_<kind>_...``."""
