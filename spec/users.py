"""Users: people and scripts that create and delete pods with kubectl.

In Kubernetes, a user describes a pod in a manifest and ``kubectl apply`` or
``kubectl create`` sends it to the API server, which validates it and stores it;
``kubectl delete`` asks for its deletion. A manifest may name its node in
``spec.nodeName``, which bypasses the scheduler: the pod is stored bound, and the
kubelet of that node admits or refuses it. A malformed manifest is refused with 422
Invalid and nothing is stored.

The model keeps how many creations, deletions and malformed posts users have made, each
bounded by a budget in the configuration, so that the environment stops acting and
the space stays finite. Users read the store directly: ``kubectl get`` is a consistent
read through the API server. They write only their own request and answer slots, and
wait for the answer to one command before sending the next, as kubectl does. Which pod
slots name their node is part of the pod spec (``pinned_pods`` in ``scheduler.py``);
the node is the user's choice.
"""

from __future__ import annotations

from kubecheck import Constant, Int, Var, action, require, step_invariant, unchanged, when

from .apiserver import PodCreateApi, PodDeleteApi
from .objects import NO_REQUEST, Client, ClusterObjects, PodPhase, Response, Verb
from .scheduler import Placement

__all__ = ["Users"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods
USER = Client.USER


class Users(PodCreateApi, PodDeleteApi, Placement):
    """kubectl: creates pods (some naming their node), posts malformed ones, and deletes pods, within budgets."""

    component = "user"
    owns = ("user_created", "user_deleted", "user_posted_invalid", "requests", "responses")

    user_creates = Constant(2, "budget of pods users create", min=0)
    user_deletes = Constant(1, "budget of pods users delete", min=0)
    user_invalid_posts = Constant(1, "budget of malformed pods users post", min=0)

    user_created = Var(Int(0, user_creates), init=0)                # pods created so far
    user_deleted = Var(Int(0, user_deletes), init=0)                # pods deleted so far
    user_posted_invalid = Var(Int(0, user_invalid_posts), init=0)   # malformed pods posted so far

    actions_paid_by = {"user_creates": ("user_create_pod", "user_create_pod_on_node"),
                       "user_invalid_posts": ("user_create_invalid_pod",), "user_deletes": ("user_delete_pod",)}

    def command(self, s, sent, budget, **request):
        """Send one kubectl command, if none is in flight and the budget counted by ``sent`` allows one more.

        The answer to the last command has been read, so it is cleared.
        """
        require(s.requests[USER].verb == Verb.NONE)
        require(getattr(s, sent) < budget)
        s.requests[USER] = dict(NO_REQUEST, **request)
        s.responses[USER] = Response.NONE
        setattr(s, sent, getattr(s, sent) + 1)

    def free(self, s, pod):
        """``kubectl get`` shows no pod under this name."""
        return s.etcd_pod_phase[pod] == PodPhase.ABSENT

    # ---- actions ----

    @action(pod=Pods, kind="environment")
    def user_create_pod(self, s, pod):
        """A user creates a pod, for the scheduler to place, under a name that is free."""
        require(~self.pinned(pod) & self.free(s, pod))
        self.command(s, "user_created", self.user_creates, verb=Verb.CREATE_POD, pod=pod)

    @action(pod=Pods, node=Nodes, kind="environment")
    def user_create_pod_on_node(self, s, pod, node):
        """A user creates a pod whose manifest names its node (spec.nodeName), under a name that is free."""
        require(self.pinned(pod) & self.free(s, pod))
        self.command(s, "user_created", self.user_creates, verb=Verb.CREATE_POD, pod=pod, node=node)

    @action(pod=Pods, kind="environment")
    def user_create_invalid_pod(self, s, pod):
        """A user posts a malformed pod (it fails validation) under a name that is free."""
        require(self.free(s, pod))
        self.command(s, "user_posted_invalid", self.user_invalid_posts, verb=Verb.CREATE_POD, pod=pod, valid=False)

    @action(pod=Pods, kind="environment")
    def user_delete_pod(self, s, pod):
        """A user deletes a pod that is pending, running or failed."""
        require(s.etcd_pod_phase[pod].isin(PodPhase.PENDING, PodPhase.RUNNING, PodPhase.FAILED))
        self.command(s, "user_deleted", self.user_deletes, verb=Verb.DELETE_POD, pod=pod)

    # ---- properties ----

    @step_invariant
    def invalid_pods_are_never_stored(self, pre, post, step):
        """The API server answers a malformed pod with 422 Invalid and stores nothing."""
        req = pre.requests[USER]
        served = (step.by("apiserver") & (req.verb == Verb.CREATE_POD) & ~req.valid
                  & (post.requests[USER].verb == Verb.NONE))
        return served.implies(unchanged(pre, post, *self.etcd_variables()) & (post.responses[USER] == Response.INVALID))
