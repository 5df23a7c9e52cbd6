"""The scheduling model: users create pods, the scheduler places them, kubelets run them.

This model composes the path a pod takes from ``kubectl create`` to running containers:
users (``users.py``) create and delete pods through the API server; the scheduler
(``scheduler.py``) binds each pending pod to a node that fits, by CPU, taints and
tolerations, node affinity and pod anti-affinity; the kubelet on that node
(``kubelet.py``) admits the pod, has the container runtime (``runtime.py``) pull its
image and start it, reports it Running, or reports it Failed when it cannot run it; and
when the pod is deleted the kubelet stops it and confirms. Pods that name their node
bypass the scheduler, so kubelet admission is what keeps a node from being overcommitted.
Watches may drop (a fault), and informers then relist.

The default configuration has 2 nodes, the first one tainted, and 2 pod slots: the
first pod goes through the scheduler and tolerates nothing, so it can only run on the
second node; the second pod names its node. Users create 2 pods, delete 1 and post 1
malformed pod; 1 image pull and 1 watch may fail. It has 40,968 distinct states
(171,587 generated, 24 levels, under a second on the default engine). Every action fires,
and every property holds; each fails, with a pinned shortest counterexample, when one
guard is removed (``tests/test_spec_scheduler.py``). Deadlocks are not checked: a settled
cluster waits for change.
"""

from __future__ import annotations

from kubecheck import Model, any_of, sometimes

from .faults import KubeletWatchFaults
from .kubelet import Kubelet
from .objects import Client, ClusterObjects, PodPhase
from .scheduler import Scheduler, Unschedulable
from .users import Users

__all__ = ["SchedulingModel"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class SchedulingModel(KubeletWatchFaults, Users, Scheduler, Kubelet, Model):
    """Users, the scheduler, kubelets and container runtimes, over the API server and informers."""

    name = "scheduler"
    watchers = (Client.SCHEDULER,)
    kubelets_watch = True

    # Only a dropped watch breaks a kubelet's here.
    actions_paid_by = {"watch_disconnects": ("informer_relist_kubelet",)}

    @sometimes
    def a_pod_runs(self, s):
        """Some pod reaches Running (so the model is not vacuous)."""
        return any_of(self.Pods, lambda p: s.etcd_pod_phase[p] == PodPhase.RUNNING)

    @sometimes
    def a_pod_fits_nowhere(self, s):
        """The scheduler leaves some pod pending with a reason."""
        return any_of(self.Pods, lambda p: s.scheduler_unschedulable[p] != Unschedulable.NONE)
