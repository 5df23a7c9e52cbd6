"""The cluster model: every component together, from a posted Deployment to a Service's endpoints.

This model composes the control plane the way a cluster runs it. A user (kubectl) posts a
Deployment and a Service (``controllers/deployment.py``, ``controllers/endpoints.py``).
The API server validates and stores them (``apiserver.py``, ``etcd.py``). The Deployment
controller creates a ReplicaSet and the ReplicaSet controller its pods
(``controllers/replicaset.py``), both reading kube-controller-manager's shared caches
(``informer.py``). The scheduler binds each pod to a node that fits (``scheduler.py``).
The kubelet on that node pulls the image and starts the pod through the container
runtime, and reports it Running (``kubelet.py``, ``runtime.py``). The endpoints controller
lists the ready pods for the Service, and kube-proxy programs the first node's rules from
that list (``kubeproxy.py``). Kubelets heartbeat, and the node lifecycle controller marks a
silent node NotReady, taints it and evicts its pods (``controllers/node.py``). The
controller manager runs ``replicas_per_role`` replicas that elect a leader through a Lease
(``leader.py``); only while a replica leads do the four controllers act.

Faults, each with a budget: a node crash (``node_crashes``), a dropped watch of the
controller manager or the scheduler (``watch_disconnects``), a lost lease renewal
(``lease_losses``), a kubelet partition (``kubelet_partitions``), a failed image pull
(``image_pull_failures``), and late heartbeats (``late_heartbeats``). Users may scale
the Deployment and change its image (``user_scales``, ``image_updates``).

What the composition adds to the component models:

- Controllers act only under a leader: every step of the Deployment, ReplicaSet,
  endpoints and node lifecycle controllers happens while a controller-manager replica
  leads and holds an unexpired Lease (``controllers_act_only_under_a_leader``). The
  controllers' memory (caches, expectations, a sync in progress) is kept across a
  handover, as if the new leader had inherited it; a real new leader starts with empty
  expectations and freshly listed caches. With ``lease_losses=0`` (the default) the first
  leader keeps the Lease, so no handover happens.
- The endpoints controller reads the controller manager's shared pod informer, as the
  ReplicaSet and Deployment controllers do (one SharedInformerFactory per process), so a
  pod event reaches all three at once and runs each one's handler. The shared copy keeps
  whether a running pod is ready: a pod on a NotReady node reads as not yet running,
  which is also what makes it unavailable to the Deployment controller. The endpoints
  model, with no other controller, keeps the controller's own cache. Sharing the cache
  halved the cluster's states.
- Running pods are on running, Ready nodes (``running_pods_on_ready_nodes``). This holds
  here because no kubelet is partitioned and heartbeats are on time; the node lifecycle
  model shows it failing under a partition.
- The Deployment's pods stay within ``replicas + max_surge`` (``pods_within_surge``).
- Kubelets relist after a partition heals, as in the node lifecycle model; a crashed
  node's kubelet never does. Pods never name their node (``pinned_pods`` must be 0): the
  Deployment's one template names none.
- Coverage: the actions a budget or setting left at 0 gives no cause to fire are declared
  dormant (``dormant_actions``, 24 at the default, each with its setting); the other 39
  all fire at the default, and every run confirms that no dormant one does.

The properties the components declare hold here too: single-writer etcd, no lost update,
one leader, the scheduler's filters, where pods run, and what the node lifecycle
controller decides. The endpoints model's property (the endpoints list only ready pods
once the controller has caught up) is declared on that model and not yet here.

Size. Each pod goes through about twenty steps (creation, binding, start, status,
endpoints, rules), and the steps of the pods, of the caches that follow them and of the
faults interleave freely. The model merges the steps that no other component observes
(docs/model.md, "Steps that no other component observes are merged"), and pod slots and
controller-manager replicas are symmetric (``--symmetry``). The default configuration (2
nodes, 3 pod slots, a Deployment of 2 replicas, 2 controller-manager replicas, one node
crash, one dropped watch) has 2,582,005 orbits, and every safety property holds. A
Deployment of one replica in one pod slot has 1,322 states without faults and 18,382
with the node crash.
"""

from __future__ import annotations

from kubecheck import (ConfigError, Constant, Model, all_of, always, any_of, count, converges, sometimes,
                       step_invariant, when)

from .controllers.deployment import DeploymentController, DeploymentUser
from .controllers.endpoints import EndpointsController, ServiceUser
from .controllers.node import KubeletHeartbeat, NodeLeaseClock, NodeLifecycleController
from .controllers.replicaset import ACTIVE, RSC, ReplicaSetController
from .faults import Faults
from .kubeproxy import KubeProxy
from .leader import LeaseAge, PromptLeaders, Role
from .objects import Client, ClusterObjects, PodPhase
from .scheduler import Scheduler

__all__ = ["ClusterModel", "LEADER_GATED"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods
CM = Role.CONTROLLER_MANAGER
LEADER_GATED = ("deployment_controller", "replicaset_controller", "endpoints_controller", "node_lifecycle_controller")
"""The components of kube-controller-manager that act only while one of its replicas leads."""


class ClusterModel(Faults, NodeLeaseClock, NodeLifecycleController, KubeletHeartbeat, Scheduler, DeploymentUser,
                   DeploymentController, ReplicaSetController, ServiceUser, EndpointsController, KubeProxy,
                   PromptLeaders, Model):
    """A small whole cluster: a Deployment behind a Service, HA controller managers, the scheduler and kubelets
    (2,582,005 orbits with --symmetry)."""

    name = "cluster"
    symmetric = ("pod", "replica")  # pod slots and controller-manager replicas (nodes are not: kube-proxy)
    watchers = (RSC, Client.SCHEDULER)     # the controller manager's shared pod informer, and the scheduler's
    roles = (CM,)                          # the controller manager elects a leader; the scheduler runs one replica

    # The defaults of the component models, set for this cluster.
    pod_slots = Constant(3, "pod slots: the replicas, and a replacement for a pod lost with its node", min=1)
    node_cpu = Constant(2, "CPU each node can allocate (status.allocatable.cpu)", min=0)
    tainted_nodes = Constant(0, "nodes, the first ones, with a NoSchedule taint", min=0)
    pinned_pods = Constant(0, "must be 0: the Deployment's pod template names no node (spec.nodeName)", min=0)
    image_updates = Constant(0, "budget of image updates users make (each a new pod template)", min=0)
    user_scales = Constant(0, "budget of scales users make (kubectl scale)", min=0)
    image_pull_failures = Constant(0, "budget of image pulls that fail", min=0)
    kubelet_partitions = Constant(0, "budget of kubelet partitions (cut off from the API server, heals later)", min=0)
    lease_losses = Constant(0, "budget of lost lease renewals (fault: leader lease loss)", min=0)
    kube_proxies = Constant(1, "nodes whose kube-proxy is explored (the first ones)", min=0)

    # The leader's work is the four controllers' actions, gated below, not an abstract act.
    leader_act = None
    acts_only_while_holding_lease = None

    # The endpoints controller reads kube-controller-manager's shared pod informer, as the
    # ReplicaSet and Deployment controllers do, rather than a cache of its own.
    endpoints_informer_deliver_pod_event = None

    def stored_view(self, s, client, pod):
        """The shared cache keeps whether a running pod is ready: a pod on a NotReady node reads as not yet running
        (the node lifecycle controller sets its Ready condition False, and the pod is not available)."""
        phase, node = super().stored_view(s, client, pod)
        unready = (client == RSC) & (phase == PodPhase.RUNNING) & ~s.etcd_node_ready[s.etcd_pod_node[pod]]
        return when(unready, PodPhase.PENDING, phase), node

    def seen_ready(self, s, pod):
        """The shared cache shows the pod running and ready."""
        return s.cache_pod_phase[RSC][pod] == PodPhase.RUNNING

    def readiness_changes(self, s, client, pod):
        """A delivery of ``pod`` to the shared cache changes whether the cache shows it ready."""
        shown = self.stored_view(s, client, pod)[0] == PodPhase.RUNNING
        return (client == RSC) & (self.seen_ready(s, pod) != shown)

    def run_handlers(self, s, client, pods):
        """On the shared cache every controller's handler runs: the endpoints controller queues the Service if a
        delivered pod's readiness changed."""
        super().run_handlers(s, client, pods)
        changed = self.readiness_changes(s, client, pods[0])
        for pod in pods[1:]:
            changed = changed | self.readiness_changes(s, client, pod)
        s.epc_queued = s.epc_queued | (s.epc_cache_service & changed)

    def gate(self, s, component):
        """The controllers of kube-controller-manager act only while one of its replicas leads."""
        if component in LEADER_GATED:
            return s.leading[CM].any()
        return None

    def validate_config(self):
        super().validate_config()
        if self.pinned_pods:
            raise ConfigError(f"pinned_pods ({self.pinned_pods}) must be 0 in the cluster: its pods come from the "
                              "Deployment's one template, which names no node; the scheduling and node-lifecycle "
                              "models check pods that name their node.")

    def dormant_actions(self):
        """The actions that only a budget or a setting left at 0 gives cause to fire (24 at the default), each
        with that setting; every run confirms the list (docs/model.md, "Dormant actions")."""
        c = self.config
        rollout = c["user_scales"] + c["image_updates"]
        comeback = c["kubelet_partitions"] + c["late_heartbeats"]     # a NotReady node that is Ready again
        cpu_per_node = c["node_cpu"] // c["pod_cpu"]
        plain_pods = not (c["tainted_nodes"] or c["affinity_nodes"] or c["anti_affinity"])
        room_for_all = plain_pods and c["replicas"] <= cpu_per_node * (c["nodes"] - c["node_crashes"])
        why = [
            # Without a new pod template there is no old ReplicaSet.
            (c["image_updates"], "image_updates = 0",
             ["deployment_controller_scale_down_old_replicaset",
              "deployment_controller_delete_old_replicaset", "apiserver_delete_replicaset"]),
            # The Deployment keeps its size, so no pod is deleted, and a Binding is refused only for a deleted pod.
            (rollout, "user_scales = image_updates = 0",
             ["apiserver_update_deployment", "deployment_controller_scale_new_replicaset",
              "apiserver_update_replicaset", "replicaset_controller_delete_pod", "apiserver_delete_pod",
              "scheduler_forget_pod"]),
            # Only a partition breaks the watch of a kubelet that lives on.
            (c["kubelet_partitions"], "kubelet_partitions = 0", ["informer_relist_kubelet"]),
            # Only a crashed or cut-off kubelet's lease surely goes stale.
            (c["node_crashes"] + c["kubelet_partitions"], "node_crashes = kubelet_partitions = 0",
             ["clock_expire_node_lease"]),
            (c["node_crashes"] + comeback, "node_crashes = kubelet_partitions = late_heartbeats = 0",
             ["node_lifecycle_controller_mark_not_ready", "apiserver_mark_node_not_ready",
              "node_lifecycle_controller_taint_node", "apiserver_taint_node", "node_lifecycle_controller_evict_pod",
              "apiserver_evict_pod"]),
            # Only a crash makes a node NotReady, and for good.
            (comeback, "kubelet_partitions = late_heartbeats = 0",
             ["kubelet_send_heartbeat", "apiserver_store_heartbeat", "node_lifecycle_controller_untaint_node",
              "apiserver_untaint_node"]),
            # Pods end only by eviction from a crashed node, whose kubelet never stops them.
            (rollout + comeback, "user_scales = image_updates = kubelet_partitions = late_heartbeats = 0",
             ["kubelet_stop_pod", "apiserver_remove_pod"]),
            # A burst of creations stops early only when no slot is free, and with no pod ending or failing every
            # slot a pod holds counts toward the replicas, which the slots can hold.
            (rollout + comeback + c["node_crashes"] + c["image_pull_failures"],
             "no budget or setting ends or fails a pod", ["replicaset_controller_end_burst"]),
            # The live pods are at most the replicas, and the nodes no crash takes have room for them all.
            (not room_for_all or rollout + comeback, "the replicas fit on the nodes no crash takes",
             ["scheduler_mark_unschedulable"]),
            # Kubelet admission refuses only a pod that skipped the scheduler: the scheduler's cache shows every pod
            # a kubelet runs until its removal, so the scheduler places a pod only where the kubelet has room.
            (False, "every pod passes the scheduler (pinned_pods = 0)", ["kubelet_reject_pod"]),
        ]
        dormant = super().dormant_actions()
        dormant.update((action, reason) for wakes, reason, actions in why if not wakes for action in actions)
        return dormant

    # ---- what the cluster shows ----

    def active_pods(self, s):
        """Pending or running pods in the store (every pod here belongs to the Deployment)."""
        return count(self.Pods, lambda p: s.etcd_pod_phase[p].isin(*ACTIVE))

    def serving(self, s, pod):
        """The pod runs on a live node, the Endpoints list it, and the first node's rules route to it."""
        return ((s.etcd_pod_phase[pod] == PodPhase.RUNNING) & ~s.node_down[s.etcd_pod_node[pod]]
                & s.etcd_endpoints[pod] & s.proxy_routes[0][pod])

    def replicas_serve(self, s):
        """As many pods as the Deployment's replicas run, listed and routed: the seed's flow has completed."""
        return count(self.Pods, lambda p: self.serving(s, p)) == self.replicas

    # ---- properties ----

    @step_invariant
    def controllers_act_only_under_a_leader(self, pre, post, step):
        """Every step of a controller-manager controller is taken while some replica leads and holds its Lease,
        unexpired."""
        by_controller = step.by(LEADER_GATED[0])
        for component in LEADER_GATED[1:]:
            by_controller = by_controller | step.by(component)
        holder = pre.etcd_lease_holder[CM]
        return by_controller.implies(any_of(self.Replicas, lambda i: pre.leading[CM][i] & (holder == i))
                                     & (pre.lease_age[CM] != LeaseAge.EXPIRED))

    @always
    def running_pods_on_ready_nodes(self, s):
        """A pod's containers run only on a node that is up and whose Ready condition the store shows True."""
        return all_of(self.Nodes, lambda n: all_of(self.Pods, lambda p: self.runs(s, n, p).implies(
            ~s.node_down[n] & s.etcd_node_ready[n])))

    @always
    def pods_within_surge(self, s):
        """The Deployment never has more than replicas + max_surge pending or running pods."""
        return self.active_pods(s) <= self.replicas + self.max_surge

    @sometimes
    def deployment_serves(self, s):
        """The seed's flow completes: the Deployment's replicas all run, listed and routed."""
        return self.replicas_serve(s)

    @sometimes
    def replacement_serves_after_a_crash(self, s):
        """A node has crashed, and the replicas all run, listed and routed, on the nodes left."""
        return s.node_down.any() & self.replicas_serve(s)

    def room_for_replicas(self, s):
        """The pod slots not held for good can hold the replicas. A pod evicted from a crashed node stays
        Terminating for ever, as in a cluster without a cloud provider or the out-of-service taint, and keeps its
        name; a real controller's next pod takes a fresh name, while the model's slots are its only names."""
        stuck = count(self.Pods, lambda p: (s.etcd_pod_phase[p] == PodPhase.TERMINATING)
                      & s.node_down[s.etcd_pod_node[p]])
        return self.pod_slots - stuck >= s.etcd_deploy_replicas

    @converges
    def cluster_converges(self, s):
        """Once users and faults stop, the Deployment's replicas run on live nodes, and the Endpoints list exactly
        the ready pods (wherever the pod slots leave room for them)."""
        return self.room_for_replicas(s), ((self.active_pods(s) == s.etcd_deploy_replicas)
                & all_of(self.Pods, lambda p: s.etcd_pod_phase[p].isin(*ACTIVE).implies(
                    (s.etcd_pod_phase[p] == PodPhase.RUNNING) & ~s.node_down[s.etcd_pod_node[p]]))
                & all_of(self.Pods, lambda p: s.etcd_endpoints[p] == self.wanted_endpoints(s, p)))
