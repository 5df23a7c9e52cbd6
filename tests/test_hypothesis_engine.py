"""The Hypothesis engine: it finds every bug the broken models expose, replayably and deterministically.

The broken variants and their (configuration, property) tables are imported from the
test modules that pin their shortest counterexamples; here each must be found by random
runs with the engine's default settings (derandomized), and its shrunk trace confirmed by
replay. Liveness-only variants (a temporal property is what they break) are left out:
random testing does not decide temporal properties.
"""

from __future__ import annotations


import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from kubecheck.cli import main
from kubecheck.errors import ConfigError
from kubecheck.evaluate import Evaluator
from kubecheck.explicit import Options
from kubecheck.hypothesis import (PropertyViolation, _CompiledKernel, _drop_steps, _Kernel, explore, state_machine)
from kubecheck.result import Step, Trace
from kubecheck.replay import replay
from kubecheck.spec.cluster import ClusterModel
from kubecheck.spec.controllers.replicaset import ReplicaSetModel
from kubecheck.spec.deployment_model import DeploymentModel
from kubecheck.spec.examples.mutex import Mutex
from kubecheck.spec.examples.water_jugs import WaterJugs
from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor

import test_spec_cluster
import test_spec_deployment
import test_spec_leader
import test_spec_namespace
import test_spec_node
import test_spec_replicaset
import test_spec_scheduler


def _found(model, prop):
    """Run the engine with its defaults on ``prop`` only; return its trace, confirmed by replay."""
    ir = model.ir
    r = explore(ir, Options(properties=(prop,)))
    assert r.engine == "hypothesis"
    assert r.properties[prop].verdict == "violated", r.properties[prop].note
    trace = r.properties[prop].counterexample
    assert trace.violation == prop
    check = replay(ir, trace)
    assert check.ok, check.error
    if prop == "deadlock_free":
        assert check.deadlock
    else:
        assert prop in check.violations
    return trace


# (model class, configuration, property): every safety bug the suite's broken variants expose.
BUGS = (
    [(v, c, p) for v, c, p, _ in test_spec_scheduler.VARIANTS]
    + [(v, c, p) for v, c, p, _ in test_spec_node.VARIANTS]
    + [(v, {}, "one_leader") for v in test_spec_leader.BROKEN]
    + [(v, c, p) for v, c, p, _ in test_spec_cluster.VARIANTS]
    + [(test_spec_deployment.IgnoresMaxSurge, test_spec_deployment.NO_SCALE, "scale_ups_within_surge_as_seen"),
       (test_spec_deployment.IgnoresMaxUnavailable, test_spec_deployment.NO_SCALE,
        "scale_downs_keep_availability_as_seen"),
       (test_spec_replicaset.WithoutExpectations, {}, "replicas_within_bounds"),
       (test_spec_namespace.RemovesWithFinalizer, {}, "finalized_namespace_is_empty"),
       (test_spec_namespace.AdmitsIntoTerminating, {}, "finalized_namespace_is_empty"),
       (test_spec_namespace.FinalizesOnCache, {}, "finalized_namespace_is_empty"),
       (test_spec_namespace.TokenOnlyWithAccount, {}, "active_token_only_with_account")]
)
# test_spec_endpoints's broken variants break `endpoints_list_only_ready_pods_once_caught_up`, and its own
# model, unbroken, violates `traffic_reaches_only_ready_pods`; both are below. Its other variants, and
# deployment's StopsOnceTheNewIsAvailable, namespace's SkipsObjects / TokenForAnySecret and replicaset's
# StopsAfterAFailedCreate break only temporal properties (liveness), which random testing does not decide.

# Bugs in the shipped models at their own configurations (findings the BFS engines report too).
FINDINGS = [
    (ReplicaSetAnchor, {}, "no_over_provision"),
    (WaterJugs, {}, "big_jug_never_4"),
    (ReplicaSetModel, {"expectation_timeouts": 1}, "replicas_within_bounds"),
    (DeploymentModel, {}, "availability_kept"),
]

# The six-move water-jug solution is one of 16 states, deep on a narrow path: a uniform random walk reaches it in
# under 1% of 50-step runs; the engine's runs, which pass over steps back to a state already visited, find it.
FAST = {ReplicaSetAnchor, WaterJugs}


def _id(case):
    variant, config, prop = case
    return f"{variant.__name__}-{prop}" + ("-" + "-".join(f"{k}={v}" for k, v in config.items()) if config else "")


@pytest.mark.parametrize("variant, config, prop", [
    pytest.param(*case, id=_id(case), marks=[] if case[0] in FAST else [pytest.mark.slow])
    for case in BUGS + FINDINGS])
def test_every_bug_of_the_broken_models_is_found_and_replays(variant, config, prop):
    _found(variant(**config), prop)


def test_the_endpoints_bugs_are_found_and_replay():
    from kubecheck.spec.endpoints_model import EndpointsModel
    import test_spec_endpoints as ep
    _found(EndpointsModel(), "traffic_reaches_only_ready_pods")
    for variant in (ep.QueuesOnlyNewlyReadyPods, ep.WithoutStalenessCheck):
        _found(variant(), ep.CAUGHT_UP)


test_the_endpoints_bugs_are_found_and_replay = pytest.mark.slow(test_the_endpoints_bugs_are_found_and_replay)


def test_the_anchor_default_run():
    ir = ReplicaSetAnchor().ir
    r = explore(ir)
    assert r.engine == "hypothesis" and r.stopped_by == "examples"
    verdicts = {n: p.verdict for n, p in r.properties.items()}
    assert verdicts == {"node_consistency": "unknown", "no_over_provision": "violated",
                        "replicaset_converges": "not_checked", "replicas_running": "holds",
                        "deadlock_free": "unknown"}
    assert r.properties["node_consistency"].note.startswith("not violated in ")
    assert r.properties["node_consistency"].note.endswith(" walks of up to 50 steps")
    assert r.exit_code() == 1
    assert r.total_states > r.distinct_states > 0
    assert r.depth == 50
    assert all(c.fired > 0 for c in r.coverage)
    assert replay(ir, r.properties["no_over_provision"].counterexample).violations == {
        "no_over_provision": r.properties["no_over_provision"].counterexample.length}


def test_two_runs_give_the_same_result_and_trace():
    ir = ReplicaSetAnchor().ir
    a, b = explore(ir, examples=50, walks=500), explore(ir, examples=50, walks=500)
    assert a.properties["no_over_provision"].counterexample == b.properties["no_over_provision"].counterexample
    assert (a.distinct_states, a.total_states, a.depth) == (b.distinct_states, b.total_states, b.depth)
    assert [c.fired for c in a.coverage] == [c.fired for c in b.coverage]


def test_a_bug_the_walks_find_is_the_same_every_time():
    # One replica slot too many after an expectation timeout: the 200 examples miss it, the walks that follow find
    # it; walk, Hypothesis's shrink and the dropped steps give the same trace on every run.
    ir = ReplicaSetModel(expectation_timeouts=1).ir
    a, b = (explore(ir, Options(properties=("replicas_within_bounds",))) for _ in range(2))
    assert a.properties["replicas_within_bounds"].verdict == "violated"
    assert a.properties["replicas_within_bounds"].counterexample == b.properties["replicas_within_bounds"].counterexample
    assert (a.extra["examples"], a.extra["walks"], a.total_states) == (b.extra["examples"], b.extra["walks"],
                                                                       b.total_states)
    assert a.extra["walks"] > 0


def test_steps_the_violation_does_not_need_are_dropped():
    # The six-move water-jug solution, after a filling and emptying of the small jug that changes nothing.
    ir = WaterJugs().ir
    moves = ["fill_small_jug", "empty_small_jug", "fill_big_jug", "pour_big_into_small", "empty_small_jug",
             "pour_big_into_small", "fill_big_jug", "pour_big_into_small"]
    ev = Evaluator(ir)
    state = ev.initial_states()[0]
    steps = [Step(None, (), state)]
    for m in moves:
        state = ev.successor(next(a for a in ir.actions if a.name == m), state, ())
        steps.append(Step(m, (), state))
    long = Trace(ir.model, dict(ir.config), tuple(steps), "big_jug_never_4")
    short = _drop_steps(ir, _CompiledKernel(ir), long)
    assert [s.action for s in short.steps[1:]] == moves[2:]
    assert short.violation == "big_jug_never_4"
    assert replay(ir, short).violations == {"big_jug_never_4": 6}


def test_few_runs_are_discarded():
    # One rule, drawing among the enabled actions: Hypothesis has no run to discard for want of an enabled rule
    # (with a rule per action, its swarm testing made 328 runs for 100 examples).
    r = explore(Mutex().ir, examples=100, steps=20, walks=0)
    assert r.extra["examples"] <= 130


def test_a_seed_is_deterministic_too():
    ir = ReplicaSetAnchor().ir
    a, b = explore(ir, examples=30, seed=7, walks=500), explore(ir, examples=30, seed=7, walks=500)
    assert a.properties["no_over_provision"].counterexample == b.properties["no_over_provision"].counterexample
    assert a.total_states == b.total_states


def test_first_stops_at_the_first_violation_and_time_limit_stops_the_run():
    ir = ReplicaSetAnchor().ir
    r = explore(ir, Options(first=True))
    assert r.stopped_by == "first_violation"
    assert r.violated() == ["no_over_provision"]
    r = explore(ir, Options(time_limit=0.5, properties=("node_consistency",)), examples=10**6)
    assert r.stopped_by == "time_limit"
    assert r.properties["node_consistency"].verdict == "unknown"


@pytest.mark.parametrize("kernel_class", [_Kernel, _CompiledKernel])
def test_the_fast_guards_are_the_evaluators_along_random_runs(kernel_class):
    # Both kernels (numpy guards; the compiled successor function) must agree with the reference evaluator on every
    # instance of every state visited.
    for model in (ReplicaSetAnchor(), Mutex(), test_spec_scheduler.SchedulerIgnoresTaints()):
        ir = model.ir
        ev = Evaluator(ir)
        kernel = kernel_class(ir)
        state = ev.initial_states()[0]
        kernel.load(state)
        for step in range(40):
            enabled = []
            for ai, a in enumerate(ir.actions):
                fast = set(kernel.enabled_instances(ai).tolist())
                slow = {k for k, vals in enumerate(a.instances()) if ev.enabled(a, state, vals)}
                assert fast == slow, (ir.model, step, a.name)
                assert kernel.any_enabled(ai) == bool(slow)
                enabled += [(ai, k) for k in sorted(fast)]
            for p in ir.properties:
                if p.kind in ("always", "sometimes"):
                    assert kernel.holds(p) == ev.holds(p, state)
            assert kernel.deadlocked() == (not enabled)
            if not enabled:
                break
            ai, k = enabled[(step * 7919) % len(enabled)]
            assert kernel.values(ai, k) == list(ir.actions[ai].instances())[k]
            post, arr, changed = kernel.successor(ir.actions[ai], kernel.values(ai, k))
            assert post == ev.successor(ir.actions[ai], state, kernel.values(ai, k))
            if arr is not None:
                assert list(arr) == list(post)
            kernel.take(post, arr, changed)
            state = post


def test_the_generated_machine_runs_under_pytest_with_the_users_settings():
    # A model whose invariants hold: the machine runs to the end.
    machine = state_machine(Mutex())
    run_state_machine_as_test(machine, settings=settings(max_examples=20, stateful_step_count=15, deadline=None,
                                                         database=None, derandomize=True,
                                                         phases=(Phase.generate, Phase.shrink)))
    assert issubclass(machine.TestCase, object) and machine.__name__ == "MutexMachine"
    # A broken one: Hypothesis fails with the violation and its trace.
    with pytest.raises(PropertyViolation) as caught:
        run_state_machine_as_test(state_machine(ReplicaSetAnchor()), settings=settings(
            max_examples=200, stateful_step_count=30, deadline=None, database=None, derandomize=True,
            phases=(Phase.generate, Phase.shrink)))
    assert caught.value.property == "no_over_provision"
    assert replay(ReplicaSetAnchor().ir, caught.value.trace).violations["no_over_provision"] == \
        caught.value.trace.length


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match=r"^`examples` of the Hypothesis engine must be a positive integer; got 0\.$"):
        explore(ReplicaSetAnchor().ir, examples=0)
    with pytest.raises(ConfigError, match=r"^`walks` of the Hypothesis engine must be a non-negative integer \(or None: "
                                          r"the default\); got -1\.$"):
        explore(ReplicaSetAnchor().ir, walks=-1)
    with pytest.raises(ConfigError, match=r"^--symmetry is not supported by the Hypothesis engine"):
        ReplicaSetAnchor().checker().hypothesis().symmetry().run()


def test_the_builder_runs_it():
    r = ReplicaSetAnchor().checker().hypothesis(examples=20, steps=20).first().run()
    assert r.engine == "hypothesis" and r.extra["steps"] == 20
    assert r.properties["no_over_provision"].verdict == "violated"


# ---- the command line -------------------------------------------------------------------------

def test_cli_finds_the_anchor_bug_writes_itf_and_replays(tmp_path, capsys):
    out = tmp_path / "traces"
    assert main(["check", "replicaset-anchor", "--engine", "hypothesis", "--out", str(out), "--quiet"]) == 1
    path = out / "no_over_provision.itf.json"
    assert path.is_file()
    assert "engine   hypothesis" in capsys.readouterr().out
    assert main(["replay", str(path)]) == 0
    assert "violates no_over_provision" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--examples", "5"], "--examples sets how the Hypothesis engine runs the model; add --engine hypothesis, or "
                          "drop --examples."),
    (["--steps", "5", "--engine", "explicit"], "--steps sets how the Hypothesis engine runs the model; add --engine "
                                              "hypothesis, or drop --steps."),
    (["--seed", "1"], "--seed sets how the Hypothesis engine runs the model; add --engine hypothesis, or drop --seed."),
    (["--walks", "0"], "--walks sets how the Hypothesis engine runs the model; add --engine hypothesis, or drop "
                       "--walks."),
    (["--engine", "hypothesis", "--symmetry"], "--symmetry is not supported by the Hypothesis engine, which runs the "
                                               "model at random; use --engine explicit, vector or auto with "
                                               "--symmetry."),
    (["--engine", "hypothesis", "--liveness"], "--liveness is not supported by the Hypothesis engine, which runs the "
                                               "model at random; use --engine explicit, vector or auto with "
                                               "--liveness."),
    (["--engine", "hypothesis", "--device", "cuda"], "--device is not supported by the Hypothesis engine, which runs "
                                                     "the model at random; use --engine explicit, vector or auto "
                                                     "with --device."),
])
def test_cli_usage_errors(argv, message, capsys):
    assert main(["check", "replicaset-anchor"] + argv) == 2
    assert capsys.readouterr().err == f"kubecheck: error: {message}\n"


# ---- a cluster far too large to explore --------------------------------------------------------

LARGE = dict(nodes=50, pod_slots=200, replicas=200, node_cpu=8)


@pytest.mark.slow
def test_a_fifty_node_cluster_runs_a_hundred_examples_of_fifty_steps():
    ir = ClusterModel(**LARGE).ir
    assert ir.instance_count() == 62264 and ir.width == 44942
    reports = []
    # Its time (about 12 s on two cores, docs/engines.md) is a figure, not something a test asserts.
    r = explore(ir, Options(), reports.append, examples=100, steps=50)
    assert reports and reports[-1].total <= r.total_states
    assert r.stopped_by == "examples" and r.depth == 50
    fired = {c.name: c.fired for c in r.coverage}
    assert fired["scheduler_bind_pod"] > 0
    assert fired["kubelet_start_pod"] > 0
    assert fired["replicaset_controller_create_pod"] > 0
    verdicts = {n: p.verdict for n, p in r.properties.items()}
    assert r.violated() == []
    assert {v for n, v in verdicts.items() if ir.property(n).kind in ("always", "step")} <= {"unknown", "proved"}
    assert verdicts["cluster_converges"] == "not_checked"
