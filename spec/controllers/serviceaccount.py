"""The service account and token controllers: a default account, and its token, in every namespace.

In Kubernetes, the service account controller (kube-controller-manager,
``pkg/controller/serviceaccount``) watches namespaces and service accounts and, for every
namespace whose phase is ``Active``, creates the ``default`` ServiceAccount when its
cache does not show one (and again after it is deleted). It ignores AlreadyExists and the
NamespaceTerminating refusal, and does nothing in a namespace that is not active. The
token controller (``tokens_controller.go``, the legacy, secret-based tokens) watches
service accounts and secrets: for an account whose cache shows no token, it GETs the
account live, and only if the live copy matches its cache creates a token Secret for it;
for a token whose account its cache no longer shows, it looks the account up live and
deletes the token if the account is gone. Both controllers read the informer caches that
kube-controller-manager shares among its controllers.

The model keeps one ``default`` account and one token per namespace (``Resource`` in
``namespace.py``), counted in ``etcd_ns_content`` and read through the shared cache
``cache_ns_content``. A live GET is a read of the store in the step that acts on it, as
in the namespace controller. UIDs are left out: a token left over from an account that
was deleted, found in an account recreated under the same name, counts as that account's
token; the real controller would delete it and create another, which ends in the same
stored state (one account, one token). Every create goes through the API server, whose
admission refuses it in a namespace that is not active.
"""

from __future__ import annotations

from kubecheck import action, require

from .namespace import NamespaceApi, NamespaceInformer, Namespaces, NsClient, NsPhase, NsVerb, Resource, send

__all__ = ["ServiceAccountController", "TokenController"]

SAC, TC = NsClient.SERVICEACCOUNT_CONTROLLER, NsClient.TOKEN_CONTROLLER
ACCOUNT, TOKEN = Resource.SERVICE_ACCOUNT, Resource.TOKEN


class ServiceAccountController(NamespaceInformer, NamespaceApi):
    """Creates the ``default`` ServiceAccount in every active namespace that lacks it."""

    component = "serviceaccount_controller"
    owns = ("ns_requests",)

    @action(ns=Namespaces, fairness="weak")
    def serviceaccount_controller_create_account(self, s, ns):
        """The controller asks for the default account in a namespace its cache shows active and without one."""
        require(s.ns_requests[SAC].verb == NsVerb.NONE)
        require(s.cache_ns_phase[ns] == NsPhase.ACTIVE)
        require(s.cache_ns_content[ns][ACCOUNT] == 0)
        s.ns_requests[SAC] = send(NsVerb.CREATE, ns, ACCOUNT)


class TokenController(NamespaceInformer, NamespaceApi):
    """Creates a token for every service account, and deletes the tokens of accounts that are gone."""

    component = "token_controller"
    owns = ("ns_requests",)

    @action(ns=Namespaces, fairness="weak")
    def token_controller_create_token(self, s, ns):
        """For an account its cache shows without a token, and that a live GET finds, the controller creates one."""
        require(s.ns_requests[TC].verb == NsVerb.NONE)
        require(s.cache_ns_content[ns][ACCOUNT] > 0)
        require(s.cache_ns_content[ns][TOKEN] == 0)
        require(s.etcd_ns_content[ns][ACCOUNT] > 0)
        s.ns_requests[TC] = send(NsVerb.CREATE, ns, TOKEN)

    @action(ns=Namespaces, fairness="weak")
    def token_controller_delete_token(self, s, ns):
        """For a token whose account is gone from its cache and from a live GET, the controller deletes the token."""
        require(s.ns_requests[TC].verb == NsVerb.NONE)
        require(s.cache_ns_content[ns][TOKEN] > 0)
        require(s.cache_ns_content[ns][ACCOUNT] == 0)
        require(s.etcd_ns_content[ns][ACCOUNT] == 0)
        s.ns_requests[TC] = send(NsVerb.DELETE, ns, TOKEN)
