"""Namespaces: the API server's namespace lifecycle and the namespace controller.

In Kubernetes, a namespace holds namespaced objects (pods, config maps, secrets, service
accounts, ...). When it is created, the API server gives it phase ``Active`` and the
finalizer ``kubernetes`` in ``spec.finalizers``. Deleting it does not remove it: the API
server sets its deletion timestamp and phase ``Terminating`` and keeps it while any
finalizer remains. The NamespaceLifecycle admission plugin refuses to create objects in
a terminating namespace (403, cause ``NamespaceTerminating``) or in one that does not
exist. The namespace controller (kube-controller-manager, ``pkg/controller/namespace``)
is woken by its namespace informer; for a namespace being deleted it GETs the namespace
live, deletes every kind of content through the API server, LISTs each kind live to see
what remains (and requeues while anything does), and only when nothing remains removes
its ``kubernetes`` finalizer through the ``/finalize`` subresource. With the finalizer
list empty, the API server removes the namespace (inside that update, or on the
controller's follow-up DELETE). A DELETE of a namespace that has no finalizers at all
removes it at once.

The model keeps, per namespace (a ``Namespaces`` slot, identified by its name), its
stored phase, whether the ``kubernetes`` finalizer is present, and how many objects of
each namespaced :class:`Resource` it holds: generic objects created by a user, the
``default`` ServiceAccount and its token (``serviceaccount.py``). Objects of one resource are
interchangeable, so a count stands for a set of names; a namespace holds at most
``objects_per_namespace`` generic objects (a create beyond that is a name collision,
409) and at most one account and one token. Metadata finalizers on the contents, other
namespace finalizers, UIDs and timestamps are left out. The controller picks what to
delete from the shared cache (a stale entry gets 404; an object the cache does not show
yet waits for its event), where the real one sends a deletecollection for every resource:
both only remove contents, and the finalizer waits for a live list either way.

Requests travel through ``ns_requests``, one slot per :class:`NsClient`, with the same
discipline as ``requests`` in ``apiserver.py``: a client sends only when its slot is
empty, and the API server serves the request and clears the slot. The answer is not kept:
every client here ignores it (the real controllers ignore AlreadyExists, NotFound and
NamespaceTerminating errors and re-read their caches), so it would only multiply states.
The API server's handlers below are its *generic* handling of namespaces and of every
namespaced resource (one registry path per verb); they belong to the ``apiserver``
component, and they are the only writers of the ``etcd_ns_`` variables.

Controllers read the shared informer cache of kube-controller-manager (one cache per
resource, shared by every controller in the process): an event brings one object's cached
copy up to its stored value, at any time after the change, as in ``informer.py``. The
namespace controller's live GET and LIST are quorum reads through the API server; each is
modelled as a read of the store in the step that sends the request it decides. No
behaviour is lost: the real controller does nothing else between the read and its
request, so a real run is a run of the model whose request is sent at the moment of the
read, with every other step still free to fall before that request is served.

Soundness: the API server handles each request in one step and admission reads the
namespace's stored phase in that step; the real NamespaceLifecycle plugin reads a cache
(with a live lookup for namespaces deleted recently), so the model does not cover an
object admitted against a stale namespace cache. The removal of a finalized namespace is
a step of its own, which admits more interleavings than the real atomic update. The model
deletes a namespace's generic objects before its account and token; the real controller
deletes every resource in one pass, in discovery order. Neither order matters to the
properties: the finalizer waits for a live list that shows every resource empty.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import NONE, Array, Constant, Domain, Int, Option, Record, Set, Var, action, all_of, require, when

from ..apiserver import ApiServerCore
from ..etcd import Etcd

__all__ = ["NsPhase", "Resource", "NsVerb", "NsClient", "NSC", "Namespaces", "ns_request", "NO_NS_REQUEST",
           "NAMESPACE_ETCD_VARIABLES", "send", "NamespaceStore", "NamespaceApi", "NamespaceInformer",
           "NamespaceController"]


class NsPhase(IntEnum):
    """A namespace's stored phase (``ABSENT``: no namespace by that name)."""

    ABSENT = 0
    ACTIVE = 1
    TERMINATING = 2      # deletion requested; removed once its finalizers are gone


class Resource(IntEnum):
    """The namespaced resources the model stores."""

    OBJECT = 0            # a generic object a user creates (a ConfigMap, a Pod, ...)
    SERVICE_ACCOUNT = 1   # the ``default`` ServiceAccount
    TOKEN = 2             # its token Secret


class NsVerb(IntEnum):
    """What a client asks the API server about namespaces and their contents."""

    NONE = 0
    CREATE_NAMESPACE = 1
    DELETE_NAMESPACE = 2
    FINALIZE_NAMESPACE = 3   # PUT /finalize without the ``kubernetes`` finalizer
    CREATE = 4               # create one object of a resource in a namespace
    DELETE = 5               # delete one object of a resource from a namespace


class NsClient(IntEnum):
    """The clients that send namespace requests."""

    USER = 0
    NAMESPACE_CONTROLLER = 1
    SERVICEACCOUNT_CONTROLLER = 2
    TOKEN_CONTROLLER = 3


class NamespaceStore(Etcd):
    """The stored namespaces and their contents (etcd; written only by the API server)."""

    component = "etcd"
    owns = ()

    namespaces = Constant(1, "namespace names a user can create", min=1)
    objects_per_namespace = Constant(1, "generic objects a namespace can hold at once", min=1)

    Namespaces = Domain("ns", size=namespaces)

    etcd_ns_phase = Var(Array(Namespaces, NsPhase), init=NsPhase.ABSENT)     # each namespace's stored phase
    etcd_ns_finalizer = Var(Set(Namespaces), init=False)                     # spec.finalizers holds "kubernetes"
    etcd_ns_content = Var(Array(Namespaces, Array(Resource, Int(0, objects_per_namespace))),
                          init=0)                                            # the stored objects of each resource

    def capacity(self, resource):
        """How many objects of ``resource`` a namespace can hold: one account and one token."""
        return when(resource == Resource.OBJECT, self.objects_per_namespace, 1)

    def stored_empty(self, s, ns):
        """The namespace holds no object of any resource (what a live LIST of every resource shows)."""
        return all_of(Resource, lambda k: s.etcd_ns_content[ns][k] == 0)


Namespaces = NamespaceStore.Namespaces
NSC = NsClient.NAMESPACE_CONTROLLER


def ns_request() -> Record:
    """The type of one outstanding namespace request (a client has at most one)."""
    return Record(
        verb=NsVerb,                              # what is asked
        resource=Resource,                        # the resource, for CREATE and DELETE
        ns=Option(Namespaces),                    # the namespace it is about
    )


NO_NS_REQUEST = {"verb": NsVerb.NONE, "resource": Resource.OBJECT, "ns": NONE}
"""The empty request slot (every field at its default)."""

NAMESPACE_ETCD_VARIABLES = ("etcd_ns_phase", "etcd_ns_finalizer", "etcd_ns_content")


def send(verb: NsVerb, ns, resource=Resource.OBJECT) -> dict:
    """A request record, for a client's request slot."""
    return {"verb": verb, "resource": resource, "ns": ns}


class NamespaceApi(NamespaceStore, ApiServerCore):
    """The API server's generic handling of namespaces and namespaced kinds, with NamespaceLifecycle admission."""

    component = "apiserver"
    owns = NAMESPACE_ETCD_VARIABLES + ("ns_requests",)

    ns_requests = Var(Array(NsClient, ns_request()), init=NO_NS_REQUEST)   # each client's namespace request in flight

    def _take(self, s, client, verb):
        """The request of ``client`` if it asks ``verb``; the slot is cleared (the call returns)."""
        req = s.ns_requests[client]
        require(req.verb == verb)
        s.ns_requests[client] = NO_NS_REQUEST
        return req

    @action(client=NsClient, fairness="weak")
    def apiserver_create_namespace(self, s, client):
        """The API server creates a namespace, Active with the "kubernetes" finalizer (409 if it exists)."""
        req = self._take(s, client, NsVerb.CREATE_NAMESPACE)
        ok = s.etcd_ns_phase[req.ns] == NsPhase.ABSENT
        s.etcd_ns_phase[req.ns] = when(ok, NsPhase.ACTIVE, s.etcd_ns_phase[req.ns])
        s.etcd_ns_finalizer[req.ns] = s.etcd_ns_finalizer[req.ns] | ok

    @action(client=NsClient, fairness="weak")
    def apiserver_delete_namespace(self, s, client):
        """The API server marks an active namespace Terminating, or removes it at once if it has no finalizer."""
        req = self._take(s, client, NsVerb.DELETE_NAMESPACE)
        phase = s.etcd_ns_phase[req.ns]
        terminating = when(s.etcd_ns_finalizer[req.ns], NsPhase.TERMINATING, NsPhase.ABSENT)
        s.etcd_ns_phase[req.ns] = when(phase == NsPhase.ACTIVE, terminating, phase)

    @action(client=NsClient, fairness="weak")
    def apiserver_finalize_namespace(self, s, client):
        """The API server drops the "kubernetes" finalizer of a namespace that exists (the /finalize subresource)."""
        req = self._take(s, client, NsVerb.FINALIZE_NAMESPACE)
        exists = s.etcd_ns_phase[req.ns] != NsPhase.ABSENT
        s.etcd_ns_finalizer[req.ns] = s.etcd_ns_finalizer[req.ns] & ~exists

    @action(ns=Namespaces, fairness="weak")
    def apiserver_remove_namespace(self, s, ns):
        """The API server removes a terminating namespace once its finalizers are gone."""
        require(s.etcd_ns_phase[ns] == NsPhase.TERMINATING)
        require(~s.etcd_ns_finalizer[ns])
        s.etcd_ns_phase[ns] = NsPhase.ABSENT

    @action(client=NsClient, fairness="weak")
    def apiserver_create_content(self, s, client):
        """The API server stores a new namespaced object; admission refuses it unless its namespace is Active."""
        req = self._take(s, client, NsVerb.CREATE)
        stored = s.etcd_ns_content[req.ns][req.resource]
        admitted = s.etcd_ns_phase[req.ns] == NsPhase.ACTIVE         # NamespaceLifecycle: 404 absent, 403 terminating
        ok = admitted & (stored < self.capacity(req.resource))       # 409 AlreadyExists otherwise
        s.etcd_ns_content[req.ns][req.resource] = when(ok, stored + 1, stored)

    @action(client=NsClient, fairness="weak")
    def apiserver_delete_content(self, s, client):
        """The API server deletes one object of a resource, whatever its namespace's phase (404 if there is none)."""
        req = self._take(s, client, NsVerb.DELETE)
        stored = s.etcd_ns_content[req.ns][req.resource]
        s.etcd_ns_content[req.ns][req.resource] = when(stored > 0, stored - 1, stored)


class NamespaceInformer(NamespaceStore):
    """kube-controller-manager's shared informers for namespaces and their contents (one cache for its controllers)."""

    component = "namespace_informer"
    owns = ("cache_ns_phase", "cache_ns_content")

    cache_ns_phase = Var(Array(Namespaces, NsPhase), init=NsPhase.ABSENT)     # the cached phase of each namespace
    cache_ns_content = Var(Array(Namespaces, Array(Resource, Int(0, NamespaceStore.objects_per_namespace))),
                           init=0)                                           # the cached objects of each resource

    def cached_empty(self, s, ns):
        """The cache shows no object of any resource in the namespace."""
        return all_of(Resource, lambda k: s.cache_ns_content[ns][k] == 0)

    @action(ns=Namespaces, fairness="weak")
    def informer_deliver_namespace_event(self, s, ns):
        """A watch event brings one namespace's cached copy up to date."""
        require(s.cache_ns_phase[ns] != s.etcd_ns_phase[ns])
        s.cache_ns_phase[ns] = s.etcd_ns_phase[ns]

    @action(ns=Namespaces, resource=Resource, fairness="weak")
    def informer_deliver_content_event(self, s, ns, resource):
        """A watch event brings the cached objects of one resource in one namespace up to date."""
        require(s.cache_ns_content[ns][resource] != s.etcd_ns_content[ns][resource])
        s.cache_ns_content[ns][resource] = s.etcd_ns_content[ns][resource]


class NamespaceController(NamespaceInformer, NamespaceApi):
    """Empties a terminating namespace through the API server, then removes its "kubernetes" finalizer."""

    component = "namespace_controller"
    owns = ("ns_requests",)

    def idle(self, s):
        return s.ns_requests[NSC].verb == NsVerb.NONE

    def live_terminating(self, s, ns):
        """A live GET shows the namespace Terminating, still with the controller's finalizer."""
        return (s.etcd_ns_phase[ns] == NsPhase.TERMINATING) & s.etcd_ns_finalizer[ns]

    @action(ns=Namespaces, resource=Resource, fairness="weak")
    def namespace_controller_delete_content(self, s, ns, resource):
        """The controller deletes what its cache shows in a terminating namespace: objects, then account and token."""
        require(self.idle(s))
        require(s.cache_ns_phase[ns] == NsPhase.TERMINATING)
        require(self.live_terminating(s, ns))
        require(s.cache_ns_content[ns][resource] > 0)
        require((resource == Resource.OBJECT) | (s.cache_ns_content[ns][Resource.OBJECT] == 0))
        s.ns_requests[NSC] = send(NsVerb.DELETE, ns, resource)

    @action(ns=Namespaces, fairness="weak")
    def namespace_controller_finalize(self, s, ns):
        """When a live list shows the terminating namespace empty, the controller removes its finalizer."""
        require(self.idle(s))
        require(s.cache_ns_phase[ns] == NsPhase.TERMINATING)
        require(self.live_terminating(s, ns))
        require(self.stored_empty(s, ns))
        s.ns_requests[NSC] = send(NsVerb.FINALIZE_NAMESPACE, ns)
