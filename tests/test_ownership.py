"""Ownership: frame properties proved or violated from the IR, and ``owns`` enforced, before any state is explored.

The Kubernetes models' ``single_writer_etcd`` is proved for every state; a component that
writes etcd itself violates it, named by action, variable and spec line; a conditional
write that Z3 shows can never change the store is allowed; a write outside ``owns`` that no
frame property covers is a spec error.
"""

from __future__ import annotations

import json

import pytest

from kubecheck import Array, Bool, Component, Domain, Model, Var, action, require, step_invariant, unchanged, when
from kubecheck.cli import main
from kubecheck.errors import SpecError
from kubecheck.ownership import check_ownership
from kubecheck.registry import MODELS, build_model
from test_spec_node import ControllerWritesTheStore
from test_spec_scheduler import SchedulerWritesTheStore

KUBERNETES = ("replicaset", "leader-election", "namespace", "scheduler", "endpoints", "deployment", "node-lifecycle",
              "cluster")


@pytest.mark.parametrize("name", MODELS)
def test_every_shipped_model_keeps_its_declarations(name):
    report = check_ownership(build_model(name, []).ir)
    assert report.verdicts == ({"single_writer_etcd": "proved"} if name in KUBERNETES else {})
    assert (report.violations, report.conditional) == ([], [])


def test_the_clusters_store_is_written_only_by_the_api_server():
    report = check_ownership(build_model("cluster", []).ir)
    frame = report.frames["single_writer_etcd"]
    assert frame.owners == ("apiserver",)
    assert frame.variables == ("etcd_pod_phase", "etcd_pod_node", "etcd_node_ready", "etcd_lease_holder",
                               "etcd_service_exists", "etcd_endpoints", "etcd_rs_exists", "etcd_rs_replicas",
                               "etcd_pod_owner", "etcd_deploy_exists", "etcd_deploy_replicas", "etcd_deploy_revision",
                               "etcd_rs_revision", "etcd_node_tainted")


def _line_of(text: str, module: str = "test_ownership") -> int:
    """The line of ``module`` (a test file) that holds ``text``."""
    with open(f"{__file__.rsplit('/', 1)[0]}/{module}.py") as f:
        return next(i for i, ln in enumerate(f, 1) if text in ln)


@pytest.mark.parametrize("variant, module, write, action_, component, variable", [
    (SchedulerWritesTheStore, "test_spec_scheduler", "s.etcd_pod_node[pod] = node", "scheduler_bind_pod", "scheduler",
     "etcd_pod_node"),
    (ControllerWritesTheStore, "test_spec_node", "s.etcd_node_ready[node] = False",
     "node_lifecycle_controller_mark_not_ready", "node_lifecycle_controller", "etcd_node_ready"),
])
def test_a_component_that_writes_the_store_itself_is_caught_without_exploring(variant, module, write, action_,
                                                                              component, variable):
    line = _line_of(write, module)
    report = check_ownership(variant().ir)     # the IR only: no state is explored
    assert report.verdicts == {"single_writer_etcd": "violated"}
    [v] = report.violations
    assert (v.action, v.variable, v.source, v.property) == (action_, variable, f"tests/{module}.py:{line}",
                                                            "single_writer_etcd")
    assert v.describe() == (f"tests/{module}.py:{line}: action `{action_}` of component `{component}` writes "
                            f"`{variable}`, which only `apiserver` may write")


def test_a_run_keeps_the_static_finding_and_adds_the_shortest_trace_to_it():
    result = SchedulerWritesTheStore().checker().properties("single_writer_etcd").run()
    found = result.properties["single_writer_etcd"]
    assert found.verdict == "violated"
    line = _line_of("s.etcd_pod_node[pod] = node", "test_spec_scheduler")
    assert found.note == (f"tests/test_spec_scheduler.py:{line}: action `scheduler_bind_pod` of component `scheduler` "
                          "writes `etcd_pod_node`, which only `apiserver` may write")
    assert found.counterexample.length == 4     # the pinned trace of tests/test_spec_scheduler.py


def test_a_proved_frame_property_is_not_checked_again_while_exploring():
    result = build_model("scheduler", []).checker().properties("single_writer_etcd").run()
    assert result.properties["single_writer_etcd"].verdict == "proved"
    assert result.properties["single_writer_etcd"].note == ("proved for every state, before exploring: only "
                                                            "apiserver actions write its 3 variables")
    assert result.exit_code() == 0


# ---- a small store, its API server, and a client that may write it conditionally ------------------

Keys = Domain("key", 2)


class Store(Component):
    component = "apiserver"
    owns = ("stored",)

    stored = Var(Array(Keys, Bool), init=False)     # what the store holds per key

    @action(key=Keys)
    def apiserver_store(self, s, key):
        require(~s.stored[key])
        s.stored[key] = True

    @step_invariant
    def single_writer(self, pre, post, step):
        return step.by("apiserver") | unchanged(pre, post, "stored")


class Client(Component):
    owns = ("seen",)

    seen = Var(Array(Keys, Bool), init=False)       # what the client has read

    @action(key=Keys)
    def client_read(self, s, key):
        require(s.stored[key] & ~s.seen[key])
        s.seen[key] = True
        s.stored[key] = when(~s.stored[key], True, s.stored[key])   # a write its guard makes a no-op


class GuardedClientModel(Store, Client, Model):
    pass


class WritingClient(Client):
    component = "client"
    @action(key=Keys)
    def client_read(self, s, key):
        require(~s.seen[key])
        s.seen[key] = True
        s.stored[key] = when(~s.stored[key], True, s.stored[key])   # here the store may change


class WritingClientModel(Store, WritingClient, Model):
    pass


class ClientWritesItsNeighbour(Client):
    component = "client"
    @action(key=Keys)
    def client_forget(self, s, key):
        require(s.seen[key])
        s.seen[key] = False
        s.gossip[key] = True


class Gossip(Component):
    gossip = Var(Array(Keys, Bool), init=False)     # owned by the gossip component: it declares it


class UndeclaredWriteModel(Store, Gossip, ClientWritesItsNeighbour, Model):
    pass


def test_a_conditional_write_that_z3_shows_never_changes_the_store_is_allowed():
    report = check_ownership(GuardedClientModel().ir)
    assert report.verdicts == {"single_writer": "proved"}
    assert report.conditional == [("client_read", "stored")]


def test_a_conditional_write_that_can_change_the_store_violates_it():
    report = check_ownership(WritingClientModel().ir)
    assert report.verdicts == {"single_writer": "violated"}
    [v] = report.violations
    assert v.describe().endswith("action `client_read` of component `client` writes `stored`, which only "
                                 "`apiserver` may write")


UNDECLARED = ("tests/test_ownership.py:{line}: action `client_forget` of component `client` writes `gossip`, which "
              "only `gossip` may write. A component writes only what it owns: add `gossip` to the `owns` of component "
              "`client` if it is its to write, or send the change to an owner instead (as controllers ask the API "
              "server to write etcd).")


def test_a_write_outside_owns_is_a_spec_error_before_exploring():
    with pytest.raises(SpecError) as err:
        UndeclaredWriteModel().checker().run()
    assert str(err.value) == UNDECLARED.format(line=_line_of("s.gossip[key] = True"))


def test_the_command_line_reports_the_static_violation(capsys):
    code = main(["check", f"{__file__}:WritingClientModel", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["properties"]["single_writer"] == {"verdict": "violated", "counterexample": {"length": 1, "itf": None}}


def test_prove_reports_the_same_static_verdicts(capsys):
    code = main(["prove", "scheduler", "--property", "single_writer_etcd", "--depth", "1", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["properties"]["single_writer_etcd"]) == (0, {"verdict": "proved", "counterexample": None})
    code = main(["prove", f"{__file__}:WritingClientModel", "--property", "single_writer", "--depth", "1", "--json"])
    data = json.loads(capsys.readouterr().out)
    # Violated by the ownership check, and BMC still finds the trace that reaches the write.
    assert (code, data["properties"]["single_writer"]) == (1, {"verdict": "violated",
                                                                "counterexample": {"length": 1, "itf": None}})
