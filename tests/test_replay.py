"""Replay: a trace is re-executed on the reference evaluator, and every lie in it is named."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kubecheck import Bool, Constant, Int, Model, TraceError, Var, action, always, require, step_invariant
from kubecheck.explicit import explore
from kubecheck.itf import itf_to_trace, load_itf, trace_to_itf, write_itf
from kubecheck.replay import ReplayResult, replay, replay_file
from kubecheck.result import Step, Trace
from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor


@pytest.fixture(scope="module")
def anchor():
    ir = ReplicaSetAnchor().ir
    return ir, explore(ir).properties["no_over_provision"].counterexample


def _with_step(trace, i, **changes):
    steps = list(trace.steps)
    steps[i] = dataclasses.replace(steps[i], **changes)
    return dataclasses.replace(trace, steps=tuple(steps))


# ---- the anchor counterexample ------------------------------------------------------------

def test_replay_confirms_the_real_counterexample(anchor):
    ir, trace = anchor
    assert replay(ir, trace) == ReplayResult(ok=True, error=None, steps=9, violations={"no_over_provision": 9},
                                             deadlock=False, loop_closes=None)


def test_replay_file_confirms_it_from_the_file(anchor, tmp_path):
    ir, trace = anchor
    path = str(tmp_path / "no_over_provision.itf.json")
    write_itf(path, ir, trace)
    assert replay_file(path, ReplicaSetAnchor()) == replay(ir, trace)


def test_replay_file_finds_the_model_and_configuration_from_the_file(anchor, tmp_path):
    ir = ReplicaSetAnchor(pods=2, replicas=1).ir
    trace = explore(ir).properties["no_over_provision"].counterexample
    path = str(tmp_path / "small.itf.json")
    write_itf(path, ir, trace)
    assert replay_file(path) == ReplayResult(ok=True, error=None, steps=trace.length,
                                             violations={"no_over_provision": trace.length}, deadlock=False,
                                             loop_closes=None)


def test_a_file_that_does_not_name_its_model_needs_one(anchor, tmp_path):
    ir, trace = anchor
    doc = trace_to_itf(ir, trace)
    del doc["#meta"]["model"]
    path = str(tmp_path / "anonymous.itf.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    with pytest.raises(TraceError) as err:
        replay_file(path)
    assert str(err.value) == (f'{path}: the trace does not name its model ("#meta".model and "#meta".config), so it '
                              "cannot be replayed on its own; give the model explicitly.")


def test_a_tampered_state_names_the_step_and_the_variable(anchor, tmp_path):
    ir, trace = anchor
    doc = trace_to_itf(ir, trace)
    doc["states"][4]["node"]["#map"][0][1] = {"tag": "Some", "value": "node2"}
    path = str(tmp_path / "tampered.itf.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    assert replay_file(path, ReplicaSetAnchor()) == ReplayResult(
        ok=False, steps=3, violations={}, deadlock=False, loop_closes=None,
        error="step 4: action `scheduler_bind_pod(pod=pod1, node=node1)` leads to another state: `node[pod1]` "
              "becomes node1, but the trace has node2.")


def test_a_disabled_action_names_the_step_the_action_and_its_false_guard(anchor):
    ir, trace = anchor
    # Step 7 starts pod1 on node1; say it was node2, where pod1 is not bound.
    bad = _with_step(trace, 7, params=(("node", 1), ("pod", 0)))
    result = replay(ir, bad)
    assert not result.ok and result.steps == 6
    assert result.error == ("step 7: action `kubelet_start_pod(node=node2, pod=pod1)` is not enabled in the state "
                            "before it (step 6): its guard (node[pod] == node) is false there.")


def test_a_wrong_initial_state_names_the_location(anchor):
    ir, trace = anchor
    state = list(trace.steps[0].state)
    state[-1] = 1   # failures
    result = replay(ir, _with_step(trace, 0, state=tuple(state)))
    assert result == ReplayResult(ok=False, steps=0, violations={}, deadlock=False, loop_closes=None,
                                  error="step 0 is not an initial state of model `replicaset-anchor`: `failures` is "
                                        "1, but initially it is 0.")


def test_an_unknown_action_and_missing_parameters_are_named(anchor):
    ir, trace = anchor
    assert replay(ir, _with_step(trace, 2, action="controller_make_pod")).error == \
        "step 2: `controller_make_pod` is not an action of model `replicaset-anchor`."
    assert replay(ir, _with_step(trace, 2, params=())).error == \
        "step 2: action `controller_create_pod` takes the parameters pod; the step gives none."


# ---- deadlocks, step properties and lassos, on a tiny model -------------------------------

class Toggle(Model):
    """A counter that stops at its limit, and a switch that flips while the counter runs."""

    name = "toggle"
    limit = Constant(2, "where the counter stops", min=1)

    n = Var(Int(0, limit), init=0)       # the counter
    on = Var(Bool, init=False)           # the switch

    @action(fairness="weak")
    def worker_increment(self, s):
        """The worker counts up to the limit (weakly fair: it does not stop short of it for ever)."""
        require(s.n < self.limit)
        s.n = s.n + 1

    @action
    def worker_flip(self, s):
        """The worker flips the switch, until the counter reaches its limit."""
        require(s.n < self.limit)
        s.on = ~s.on

    @always
    def below_limit(self, s):
        """The counter never reaches its limit (fails)."""
        return s.n < self.limit

    @step_invariant
    def never_switched_on(self, pre, post):
        """The switch never goes from off to on (fails)."""
        return ~(~pre.on & post.on)


def _toggle_trace(*steps, loop=None, closing=None):
    """A hand-written trace: (action, n, on) per step, the first action None; ``closing`` the action back to
    ``steps[loop]``."""
    states = tuple(Step(a, (), (n, on)) for a, n, on in steps)
    back = None if closing is None else Step(closing, (), states[loop].state)
    return Trace("toggle", {"limit": 2}, states, None, loop, back)


def test_a_deadlock_at_the_end_is_reported():
    ir = Toggle().ir
    trace = _toggle_trace((None, 0, 0), ("worker_increment", 1, 0), ("worker_increment", 2, 0))
    assert replay(ir, trace) == ReplayResult(ok=True, error=None, steps=2, violations={"below_limit": 2},
                                             deadlock=True, loop_closes=None)


def test_a_step_property_fails_at_the_step_that_breaks_it():
    ir = Toggle().ir
    trace = _toggle_trace((None, 0, 0), ("worker_increment", 1, 0), ("worker_flip", 1, 1), ("worker_flip", 1, 0))
    assert replay(ir, trace).violations == {"never_switched_on": 2}


def test_a_lasso_whose_cycle_closes():
    ir = Toggle().ir
    trace = _toggle_trace((None, 0, 0), ("worker_flip", 0, 1), ("worker_flip", 0, 0), loop=1)
    # Flipping for ever starves the counter, whose increment is enabled throughout and weakly fair.
    assert replay(ir, trace) == ReplayResult(ok=True, error=None, steps=2, violations={"never_switched_on": 1},
                                             deadlock=False, loop_closes=True, closed_by="worker_flip",
                                             starved=("worker_increment",))


def test_the_action_a_lasso_names_must_close_it():
    ir = Toggle().ir
    named = _toggle_trace((None, 0, 0), ("worker_flip", 0, 1), loop=0, closing="worker_flip")
    assert (replay(ir, named).loop_closes, replay(ir, named).closed_by) == (True, "worker_flip")
    wrong = _toggle_trace((None, 0, 0), ("worker_flip", 0, 1), loop=0, closing="worker_increment")
    assert (replay(ir, wrong).loop_closes, replay(ir, wrong).closed_by, replay(ir, wrong).starved) == \
        (False, None, None)


def test_a_lasso_whose_cycle_does_not_close():
    ir = Toggle().ir
    trace = _toggle_trace((None, 0, 0), ("worker_flip", 0, 1), ("worker_increment", 1, 1), loop=0)
    # The steps are a real execution, but not the infinite one the lasso claims.
    assert replay(ir, trace) == ReplayResult(ok=True, error=None, steps=2, violations={"never_switched_on": 1},
                                             deadlock=False, loop_closes=False)


def test_a_stuttering_lasso_is_fair_only_where_no_fair_action_is_enabled():
    ir = Toggle().ir
    at_limit = _toggle_trace((None, 0, 0), ("worker_increment", 1, 0), ("worker_increment", 2, 0), loop=2)
    assert replay(ir, at_limit) == ReplayResult(ok=True, error=None, steps=2, violations={"below_limit": 2},
                                                deadlock=True, loop_closes=True, closed_by=None, starved=())
    short = _toggle_trace((None, 0, 0), ("worker_increment", 1, 0), loop=1)
    assert (replay(ir, short).loop_closes, replay(ir, short).starved) == (True, ("worker_increment",))


def test_a_lasso_round_trips_through_a_file_and_replays(tmp_path):
    model = Toggle()
    for trace in (_toggle_trace((None, 0, 0), ("worker_flip", 0, 1), loop=0, closing="worker_flip"),
                  _toggle_trace((None, 0, 0), ("worker_increment", 1, 0), ("worker_increment", 2, 0), loop=2)):
        path = str(tmp_path / "lasso.itf.json")
        write_itf(path, model.ir, trace)
        assert itf_to_trace(model.ir, load_itf(path), path) == trace
        assert replay_file(path, model).loop_closes is True
