"""The namespace model: pinned figures, and each guard of namespace deletion shown to matter.

With liveness, both engines find that both convergence properties hold at the default
configuration; a controller bug that only convergence catches is pinned, as a lasso, for each.
"""

from __future__ import annotations

import pytest

from kubecheck import ConfigError, action, all_of, always, require, when
from kubecheck.explicit import explore
from kubecheck.spec.controllers.namespace import NSC, Namespaces, NsClient, NsPhase, NsVerb, Resource, send
from kubecheck.spec.controllers.serviceaccount import TC
from kubecheck.spec.namespace_model import NamespaceModel
from liveness_checks import check

NOT_GONE = "namespace_not_gone_while_contents_remain"


def verdicts(result):
    return {n: p.verdict for n, p in result.properties.items()}


HOLDS = {"single_writer_etcd": "proved", NOT_GONE: "holds", "finalized_namespace_is_empty": "holds",
         "active_namespace_keeps_finalizer": "holds", "namespace_deleted_after_having_contents": "holds",
         "default_account_and_token_created": "holds", "serviceaccount_converges": "not_checked",
         "namespace_converges": "not_checked"}
CONVERGES = dict(HOLDS, serviceaccount_converges="holds", namespace_converges="holds")   # checked with liveness


def test_default_configuration():
    ir = NamespaceModel().ir
    r = explore(ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 14924, 61820, 44)
    assert verdicts(r) == HOLDS
    # The reference evaluator agrees: tests/test_engines.py cross-checks this configuration.


def test_every_action_fires():
    r = explore(NamespaceModel().ir)
    assert [c.name for c in r.coverage if c.fired == 0] == []
    assert r.warnings == [
        "property `serviceaccount_converges` (converges) is temporal; it is checked with --liveness, so it "
        "was not checked.",
        "property `namespace_converges` (converges) is temporal; it is checked with --liveness, so it "
        "was not checked."]


def test_two_namespaces():
    r = explore(NamespaceModel(namespaces=2, namespace_creations=1, namespace_deletions=1).ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 3972, 14491, 30)
    assert verdicts(r) == HOLDS


class RemovesWithFinalizer(NamespaceModel):
    """Broken in one named way: the API server removes a terminating namespace without waiting for its finalizer."""

    name = "namespace-removed-with-finalizer"

    @action(ns=Namespaces, fairness="weak")
    def apiserver_remove_namespace(self, s, ns):
        require(s.etcd_ns_phase[ns] == NsPhase.TERMINATING)
        s.etcd_ns_phase[ns] = NsPhase.ABSENT


def test_removing_a_namespace_before_its_finalizer_orphans_its_objects():
    ir = RemovesWithFinalizer().ir
    r = explore(ir)
    assert verdicts(r) == dict(HOLDS, **{NOT_GONE: "violated", "finalized_namespace_is_empty": "violated",
                                         "active_namespace_keeps_finalizer": "violated"})
    assert r.properties[NOT_GONE].counterexample.labels(ir) == [
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "user_create_object(ns=ns1)", "apiserver_create_content(client=USER)",
        "user_delete_namespace(ns=ns1)", "apiserver_delete_namespace(client=USER)",
        "apiserver_remove_namespace(ns=ns1)"]


class AdmitsIntoTerminating(NamespaceModel):
    """Broken in one named way: admission lets objects into a terminating namespace (no NamespaceLifecycle)."""

    name = "namespace-admits-into-terminating"

    @action(client=NsClient, fairness="weak")
    def apiserver_create_content(self, s, client):
        req = self._take(s, client, NsVerb.CREATE)
        stored = s.etcd_ns_content[req.ns][req.resource]
        admitted = s.etcd_ns_phase[req.ns] != NsPhase.ABSENT
        ok = admitted & (stored < self.capacity(req.resource))
        s.etcd_ns_content[req.ns][req.resource] = when(ok, stored + 1, stored)


def test_admitting_objects_into_a_terminating_namespace_orphans_them():
    # The object arrives after the controller's live list found the namespace empty.
    ir = AdmitsIntoTerminating().ir
    r = explore(ir)
    assert verdicts(r) == dict(HOLDS, **{NOT_GONE: "violated", "finalized_namespace_is_empty": "violated"})
    assert r.properties[NOT_GONE].counterexample.labels(ir) == [
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "user_delete_namespace(ns=ns1)", "apiserver_delete_namespace(client=USER)",
        "informer_deliver_namespace_event(ns=ns1)", "namespace_controller_finalize(ns=ns1)",
        "apiserver_finalize_namespace(client=NAMESPACE_CONTROLLER)",
        "user_create_object(ns=ns1)", "apiserver_create_content(client=USER)",
        "apiserver_remove_namespace(ns=ns1)"]


class FinalizesOnCache(NamespaceModel):
    """Broken in one named way: the namespace controller trusts its informer cache instead of a live list."""

    name = "namespace-finalized-on-cache"

    @action(ns=Namespaces, fairness="weak")
    def namespace_controller_finalize(self, s, ns):
        require(self.idle(s))
        require(s.cache_ns_phase[ns] == NsPhase.TERMINATING)
        require(self.live_terminating(s, ns))
        require(self.cached_empty(s, ns))
        s.ns_requests[NSC] = send(NsVerb.FINALIZE_NAMESPACE, ns)


def test_a_controller_that_finalizes_on_a_stale_cache_orphans_objects():
    # The namespace's Terminating event reaches the cache before the object's creation does.
    ir = FinalizesOnCache().ir
    r = explore(ir)
    assert verdicts(r) == dict(HOLDS, **{NOT_GONE: "violated", "finalized_namespace_is_empty": "violated"})
    assert r.properties[NOT_GONE].counterexample.labels(ir) == [
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "user_create_object(ns=ns1)", "apiserver_create_content(client=USER)",
        "user_delete_namespace(ns=ns1)", "apiserver_delete_namespace(client=USER)",
        "informer_deliver_namespace_event(ns=ns1)", "namespace_controller_finalize(ns=ns1)",
        "apiserver_finalize_namespace(client=NAMESPACE_CONTROLLER)", "apiserver_remove_namespace(ns=ns1)"]


class TokenOnlyWithAccount(NamespaceModel):
    """Not an invariant of Kubernetes: a token can outlive its account, even in an active namespace."""

    name = "namespace-token-only-with-account"

    @always
    def active_token_only_with_account(self, s):
        return all_of(Namespaces, lambda ns: ((s.etcd_ns_phase[ns] == NsPhase.ACTIVE)
                                              & self.holds(s, ns, Resource.TOKEN))
                      .implies(self.holds(s, ns, Resource.SERVICE_ACCOUNT)))


def test_a_token_created_before_a_namespace_was_deleted_can_land_in_its_successor():
    # The token controller's create is in flight while the namespace is emptied, removed and
    # created again; it lands in the new namespace, which has no account yet. (The real
    # controller deletes it later: its account's UID does not match.) So the model does not
    # claim "a token exists only with its account"; convergence says it ends up so.
    ir = TokenOnlyWithAccount().ir
    r = explore(ir)
    assert verdicts(r) == dict(HOLDS, active_token_only_with_account="violated")
    assert r.properties["active_token_only_with_account"].counterexample.labels(ir) == [
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "informer_deliver_namespace_event(ns=ns1)", "serviceaccount_controller_create_account(ns=ns1)",
        "apiserver_create_content(client=SERVICEACCOUNT_CONTROLLER)",
        "informer_deliver_content_event(ns=ns1, resource=SERVICE_ACCOUNT)", "token_controller_create_token(ns=ns1)",
        "user_delete_namespace(ns=ns1)", "apiserver_delete_namespace(client=USER)",
        "informer_deliver_namespace_event(ns=ns1)",
        "namespace_controller_delete_content(ns=ns1, resource=SERVICE_ACCOUNT)",
        "apiserver_delete_content(client=NAMESPACE_CONTROLLER)", "namespace_controller_finalize(ns=ns1)",
        "apiserver_finalize_namespace(client=NAMESPACE_CONTROLLER)", "apiserver_remove_namespace(ns=ns1)",
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "apiserver_create_content(client=TOKEN_CONTROLLER)"]


# ---- convergence: checked with liveness on both engines ---------------------------------------------

def test_default_configuration_converges():
    _, s = check(NamespaceModel())
    assert s["counts"] == ("complete", 14924, 61820, 44)
    assert s["verdicts"] == CONVERGES
    assert s["lassos"] == {}
    assert s["warnings"] == []


class SkipsObjects(NamespaceModel):
    """Broken in one named way: the namespace controller does not discover generic objects, so never deletes them."""

    name = "namespace-skips-objects"

    @action(ns=Namespaces, resource=Resource, fairness="weak")
    def namespace_controller_delete_content(self, s, ns, resource):
        require(self.idle(s))
        require(s.cache_ns_phase[ns] == NsPhase.TERMINATING)
        require(self.live_terminating(s, ns))
        require(s.cache_ns_content[ns][resource] > 0)
        require((resource != Resource.OBJECT) & (s.cache_ns_content[ns][Resource.OBJECT] == 0))
        s.ns_requests[NSC] = send(NsVerb.DELETE, ns, resource)


def test_a_controller_that_skips_a_kind_of_content_leaves_its_namespace_terminating():
    _, s = check(SkipsObjects(namespace_creations=1, namespace_deletions=1))
    assert s["counts"] == ("complete", 1335, 4466, 27)
    # Every safety property still holds; no namespace that held an object is ever removed.
    assert s["verdicts"] == dict(CONVERGES, namespace_converges="violated",
                                 namespace_deleted_after_having_contents="violated")
    # A namespace with an object is deleted (its cache goes from absent to Terminating, so no account is
    # made). The object is never deleted, so the live list never shows the namespace empty and its
    # finalizer stays: nothing fair is left to do, and the namespace stays Terminating for ever.
    assert s["lassos"] == {"namespace_converges": ([
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "user_create_object(ns=ns1)", "apiserver_create_content(client=USER)",
        "informer_deliver_content_event(ns=ns1, resource=OBJECT)",
        "user_delete_namespace(ns=ns1)", "apiserver_delete_namespace(client=USER)",
        "informer_deliver_namespace_event(ns=ns1)"], 8, None)}
    assert s["warnings"] == []


class TokenForAnySecret(NamespaceModel):
    """Broken in one named way: the token controller takes any Secret in the namespace, a user's too, for the token."""

    name = "namespace-token-for-any-secret"

    @action(ns=Namespaces, fairness="weak")
    def token_controller_create_token(self, s, ns):
        require(s.ns_requests[TC].verb == NsVerb.NONE)
        require(s.cache_ns_content[ns][Resource.SERVICE_ACCOUNT] > 0)
        require((s.cache_ns_content[ns][Resource.TOKEN] == 0) & (s.cache_ns_content[ns][Resource.OBJECT] == 0))
        require(s.etcd_ns_content[ns][Resource.SERVICE_ACCOUNT] > 0)
        s.ns_requests[TC] = send(NsVerb.CREATE, ns, Resource.TOKEN)


def test_a_token_controller_that_skips_a_namespace_leaves_its_account_without_a_token():
    _, s = check(TokenForAnySecret(namespace_creations=1, namespace_deletions=1))
    assert s["counts"] == ("complete", 1639, 5588, 30)
    assert s["verdicts"] == dict(CONVERGES, serviceaccount_converges="violated")
    # The default account lands, then a user's object; once the cache shows the object, the token
    # controller takes it for the account's token and skips the namespace: the active namespace keeps an
    # account without a token, with nothing fair left to do.
    assert s["lassos"] == {"serviceaccount_converges": ([
        "user_create_namespace(ns=ns1)", "apiserver_create_namespace(client=USER)",
        "informer_deliver_namespace_event(ns=ns1)", "serviceaccount_controller_create_account(ns=ns1)",
        "apiserver_create_content(client=SERVICEACCOUNT_CONTROLLER)",
        "informer_deliver_content_event(ns=ns1, resource=SERVICE_ACCOUNT)",
        "user_create_object(ns=ns1)", "apiserver_create_content(client=USER)",
        "informer_deliver_content_event(ns=ns1, resource=OBJECT)"], 9, None)}
    assert s["warnings"] == []


@pytest.mark.parametrize("config, message", [
    ({"namespaces": 0}, "config key `namespaces` of model `namespace` must be at least 1 (namespace names a user can "
                        "create); got 0."),
    ({"objects_per_namespace": 0}, "config key `objects_per_namespace` of model `namespace` must be at least 1 "
                                   "(generic objects a namespace can hold at once); got 0."),
    ({"namespace_deletions": -1}, "config key `namespace_deletions` of model `namespace` must be at least 0 (budget "
                                  "of namespace deletions the user sends); got -1."),
    ({"replicas": 1}, "model `namespace` has no config key `replicas`; its keys are: nodes, pod_slots, namespaces, "
                      "objects_per_namespace, namespace_creations, object_creations, namespace_deletions."),
])
def test_bad_configurations_are_refused_before_exploring(config, message):
    with pytest.raises(ConfigError) as e:
        NamespaceModel(**config)
    assert str(e.value) == message
