"""The objects of a Kubernetes cluster that every component shares: kinds, phases, clients.

Kubernetes keeps all cluster state as API objects (Pods, Nodes, ReplicaSets, ...) in
etcd, behind the API server. The model keeps object *slots*: a configured number of pod
slots and nodes, each slot empty or holding one object, so that a bounded model can
still create and delete objects. Names, labels, UIDs and timestamps are left out; an
object is identified by its slot.

Every component of ``spec/`` derives from :class:`ClusterObjects`, so the constants and
domains below are declared once and shared.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import Component, Constant, Domain, NONE, Option, Record

__all__ = ["PodPhase", "Verb", "Response", "Client", "ClusterObjects", "pod_request", "NO_REQUEST"]


class PodPhase(IntEnum):
    """A pod's lifecycle as the store records it (``Absent``: the slot holds no pod)."""

    ABSENT = 0        # no pod in this slot
    PENDING = 1       # accepted by the API server, not running yet
    RUNNING = 2       # its containers run on its node
    FAILED = 3        # its node cannot run it (image pull failure, no resources)
    TERMINATING = 4   # deletion requested; the kubelet stops it, then it is removed


class Verb(IntEnum):
    """What a client asks the API server to do (``NONE``: nothing outstanding)."""

    NONE = 0
    CREATE_POD = 1       # create a pod in an empty slot
    DELETE_POD = 2       # delete a pod (graceful: bound pods terminate first)
    BIND_POD = 3         # bind a pending pod to a node (the scheduler's Binding)
    SET_POD_PHASE = 4    # update a pod's status phase (kubelets)
    REMOVE_POD = 5       # remove a terminated pod's object (the kubelet confirms termination)


class Response(IntEnum):
    """The API server's answer to a client's last request."""

    NONE = 0        # no answer yet (or none asked)
    OK = 1          # stored in etcd
    CONFLICT = 2    # 409: the object changed since the client read it, or exists already
    INVALID = 3     # 422: the object failed validation; nothing was stored


class Client(IntEnum):
    """The control-plane clients of the API server (kubelets are indexed by node)."""

    USER = 0                    # kubectl
    REPLICASET_CONTROLLER = 1   # kube-controller-manager's ReplicaSet controller
    SCHEDULER = 2               # kube-scheduler


def pod_request() -> Record:
    """The type of one outstanding pod request (a client has at most one)."""
    from kubecheck import Bool
    return Record(
        verb=Verb,                       # what is asked
        pod=Option(ClusterObjects.Pods),   # the pod slot it is about
        node=Option(ClusterObjects.Nodes),  # the node, for a binding or a pod that names its node
        phase=PodPhase,                  # the new phase, for a status update
        seen=PodPhase,                   # the phase the client last saw (optimistic concurrency)
        valid=Bool,                      # whether the object passes validation
    )


NO_REQUEST = {"verb": Verb.NONE, "pod": NONE, "node": NONE, "phase": PodPhase.ABSENT, "seen": PodPhase.ABSENT,
              "valid": True}
"""The empty request slot (every field at its default, so no leftover value makes a new state)."""


class ClusterObjects(Component):
    """The sizes of the cluster, shared by every component.

    A converged control plane is quiescent: every controller waits for a change. A state
    where no action is enabled is therefore not an error here, and deadlock checking is off;
    convergence (a liveness property) says what must eventually happen instead.
    """

    component = "objects"
    check_deadlock = False
    # Every control-plane process keeps running: a step it can take, and keeps being able to take, is
    # eventually taken (weak fairness of each system action instance). Users and faults get none.
    fairness = "weak"

    nodes = Constant(2, "nodes", min=1)
    pod_slots = Constant(2, "pod slots: pods that can exist at once", min=1)

    Nodes = Domain("node", size=nodes)
    Pods = Domain("pod", size=pod_slots)
