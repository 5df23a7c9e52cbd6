"""The namespace model: users create and delete namespaces, the control plane cleans up.

A user (kubectl) creates namespaces, creates objects in them and deletes namespaces,
each within a budget from the configuration. The API server stores namespaces and their
contents and admits creations only into active namespaces; the namespace controller
empties a terminating namespace and removes its finalizer; the service account and token
controllers give every active namespace its ``default`` account and a token
(``controllers/namespace.py``, ``controllers/serviceaccount.py``).

The user sends any request at any time, within its budgets, one at a time; the API
server refuses what does not apply (a namespace that exists, an object in a namespace
that is not active). The budgets count requests sent, refused or not. The default
configuration (one namespace name, created and deleted up to twice, one object) lets a
namespace be deleted and created again, so stale caches and requests still in flight
from the first namespace meet the second.

``namespace_not_gone_while_contents_remain`` is the property the finalizer exists for:
a namespace is never removed while objects in it remain in the store. A token does not
always come with its account: a token creation in flight can land in a namespace created
again under the same name (the real token controller deletes it later, its account's UID
not matching), so "a token exists only with its account" is not claimed as an invariant;
the convergence properties say that every active namespace ends up with both.
"""

from __future__ import annotations

from kubecheck import (Constant, Int, Model, Var, action, all_of, always, any_of, converges, require,
                       sometimes)

from .controllers.namespace import (NamespaceApi, NamespaceController, Namespaces, NsClient, NsPhase, NsVerb, Resource,
                                    send)
from .controllers.serviceaccount import ServiceAccountController, TokenController

__all__ = ["NamespaceUser", "NamespaceModel"]

USER = NsClient.USER


class NamespaceUser(NamespaceApi):
    """A user who creates namespaces and objects in them, and deletes namespaces, within budgets."""

    component = "user"
    owns = ("ns_requests", "user_ns_creates", "user_object_creates", "user_ns_deletes")

    namespace_creations = Constant(2, "budget of namespace creations the user sends", min=0)
    object_creations = Constant(1, "budget of object creations the user sends", min=0)
    namespace_deletions = Constant(2, "budget of namespace deletions the user sends", min=0)

    user_ns_creates = Var(Int(0, namespace_creations), init=0)        # namespace creations sent so far
    user_object_creates = Var(Int(0, object_creations), init=0)       # object creations sent so far
    user_ns_deletes = Var(Int(0, namespace_deletions), init=0)        # namespace deletions sent so far

    def _ask(self, s, sent: str, budget: int, request: dict) -> None:
        """Send ``request`` when the user's last call has returned and the budget counted by ``sent`` allows."""
        require(s.ns_requests[USER].verb == NsVerb.NONE)
        require(getattr(s, sent) < budget)
        s.ns_requests[USER] = request
        setattr(s, sent, getattr(s, sent) + 1)

    @action(ns=Namespaces, kind="environment")
    def user_create_namespace(self, s, ns):
        """The user asks for a namespace to be created."""
        self._ask(s, "user_ns_creates", self.namespace_creations, send(NsVerb.CREATE_NAMESPACE, ns))

    @action(ns=Namespaces, kind="environment")
    def user_create_object(self, s, ns):
        """The user asks for an object to be created in a namespace."""
        self._ask(s, "user_object_creates", self.object_creations, send(NsVerb.CREATE, ns, Resource.OBJECT))

    @action(ns=Namespaces, kind="environment")
    def user_delete_namespace(self, s, ns):
        """The user asks for a namespace to be deleted."""
        self._ask(s, "user_ns_deletes", self.namespace_deletions, send(NsVerb.DELETE_NAMESPACE, ns))


class NamespaceModel(NamespaceUser, ServiceAccountController, TokenController, NamespaceController, Model):
    """Namespace deletion with finalizers, and the default account and token of every namespace."""

    name = "namespace"
    symmetric = ("ns", "pod")   # namespaces and pod slots are interchangeable (--symmetry)

    def holds(self, s, ns, resource):
        return s.etcd_ns_content[ns][resource] > 0

    @always
    def namespace_not_gone_while_contents_remain(self, s):
        """An absent namespace holds no objects, no service account and no token in the store."""
        return all_of(Namespaces, lambda ns: (s.etcd_ns_phase[ns] == NsPhase.ABSENT).implies(self.stored_empty(s, ns)))

    @always
    def finalized_namespace_is_empty(self, s):
        """A terminating namespace whose finalizer is gone is empty (so removing it loses nothing)."""
        return all_of(Namespaces, lambda ns: ((s.etcd_ns_phase[ns] == NsPhase.TERMINATING) & ~s.etcd_ns_finalizer[ns])
                      .implies(self.stored_empty(s, ns)))

    @always
    def active_namespace_keeps_finalizer(self, s):
        """Every active namespace carries the "kubernetes" finalizer."""
        return all_of(Namespaces, lambda ns: (s.etcd_ns_phase[ns] == NsPhase.ACTIVE).implies(s.etcd_ns_finalizer[ns]))

    @sometimes
    def namespace_deleted_after_having_contents(self, s):
        """Some namespace is gone while the shared cache still shows objects in it: it had contents, removed first."""
        return any_of(Namespaces, lambda ns: (s.etcd_ns_phase[ns] == NsPhase.ABSENT)
                      & (s.cache_ns_content[ns][Resource.OBJECT] > 0))

    @sometimes
    def default_account_and_token_created(self, s):
        """Some active namespace has its default account and its token."""
        return any_of(Namespaces, lambda ns: (s.etcd_ns_phase[ns] == NsPhase.ACTIVE)
                      & self.holds(s, ns, Resource.SERVICE_ACCOUNT) & self.holds(s, ns, Resource.TOKEN))

    @converges
    def serviceaccount_converges(self, s):
        """Once users stop, every active namespace ends up with its default account and token, for good (the
        service account and token controllers)."""
        return True, all_of(Namespaces, lambda ns: (s.etcd_ns_phase[ns] == NsPhase.ACTIVE)
                      .implies(self.holds(s, ns, Resource.SERVICE_ACCOUNT) & self.holds(s, ns, Resource.TOKEN)))

    @converges
    def namespace_converges(self, s):
        """Once users stop, no namespace stays terminating: each is emptied and removed."""
        return True, all_of(Namespaces, lambda ns: s.etcd_ns_phase[ns] != NsPhase.TERMINATING)
