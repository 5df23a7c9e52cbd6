"""The semantics of the spec language, pinned on small models (tests/language_models.py)."""

from __future__ import annotations

from enum import IntEnum

import pytest

from kubecheck import Array, Component, Constant, Domain, Int, Model, Var, action, always, count, require
from kubecheck.evaluate import Evaluator
from kubecheck.explicit import explore
from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor

from language_models import Grid, Phase, Pipeline, Pointer


def _summary(model):
    r = explore(model.ir)
    return (r.distinct_states, r.total_states, r.depth, {n: p.verdict for n, p in r.properties.items()})


def test_pipeline_counts_and_verdicts():
    assert _summary(Pipeline()) == (110, 247, 10, {
        "done_were_produced": "holds", "busy_workers_hold_a_job": "holds", "done_is_stable": "holds",
        "all_done": "holds", "deadlock_free": "violated"})


def test_pipeline_deadlock_is_the_shortest_run_to_quiescence():
    ir = Pipeline().ir
    tr = explore(ir).properties["deadlock_free"].counterexample
    assert tr.labels(ir) == [
        # the capacity-2 queue is full after two pushes, so the third waits for a take
        "producer_push(job=job1)", "producer_push(job=job2)", "worker_take(w=worker1)",
        "producer_push(job=job3)", "worker_take(w=worker2)", "worker_finish(w=worker1)",
        "worker_take(w=worker1)", "worker_finish(w=worker1)", "worker_finish(w=worker2)"]


def test_grid_and_pointer_counts():
    assert _summary(Grid()) == (7, 11, 4, {"tokens_conserved": "holds", "at_most_two_in_a_row": "holds",
                                           "stacked": "violated", "deadlock_free": "violated"})
    assert _summary(Pointer()) == (136, 588, 11, {"flag_means_some_two": "holds", "marks_never_decrease": "violated",
                                                  "deadlock_free": "holds"})


def test_step_invariant_counterexample_ends_with_the_breaking_step():
    ir = Pointer().ir
    trace = explore(ir).properties["marks_never_decrease"].counterexample
    # the flag is set by the second mark (it reads the pre-state), and only then may clear run
    assert trace.labels(ir) == ["user_point(k=slot1)", "user_mark", "user_mark", "user_clear"]


def _run(ir, steps):
    """Apply named action instances from the initial state with the reference evaluator."""
    ev = Evaluator(ir)
    st = ev.initial_states()[0]
    for name, vals in steps:
        a = ir.action(name)
        nxt = ev.successor(a, st, vals)
        assert nxt is not None, f"{name}{vals} is disabled"
        st = nxt
    return ev, st


def _value(ir, st, leaf, *index):
    return st[ir.leaf(leaf).position(index)]


def test_queue_is_fifo_and_vacated_slots_are_reset():
    ir = Pipeline().ir
    _, st = _run(ir, [("producer_push", (1,)), ("producer_push", (0,)), ("worker_take", (0,))])
    assert _value(ir, st, "worker.job", 0) == 1            # the oldest job, job2
    assert _value(ir, st, "queue.len") == 1
    assert _value(ir, st, "queue.items", 0) == 0           # job1 moved to the head
    assert _value(ir, st, "queue.items", 1) == 0           # the vacated slot holds the default again
    _, st2 = _run(ir, [("producer_push", (0,)), ("worker_take", (0,))])
    assert st2[ir.leaf("queue.items").offset:][:2] == (0, 0)


def test_push_on_a_full_queue_is_disabled_by_the_guard():
    ir = Pipeline(capacity=1).ir
    ev, st = _run(ir, [("producer_push", (0,))])
    assert ev.successor(ir.action("producer_push"), st, (1,)) is None


def test_updates_are_simultaneous_and_read_the_pre_state():
    class Swap(Model):
        a = Var(Int(0, 2), init=1)     # first register
        b = Var(Int(0, 2), init=2)     # second register

        @action
        def user_swap(self, s):
            s.a = s.b
            s.b = s.a

    ir = Swap().ir
    _, st = _run(ir, [("user_swap", ())])
    assert st == (2, 1)


def test_common_subexpressions_are_one_node():
    ir = ReplicaSetAnchor().ir
    create, delete = ir.action("controller_create_pod"), ir.action("controller_delete_pod")
    # guard = ((cached_active < R) & ...) ; the count node is shared, not rebuilt
    cached_in_create = create.guard.args[0].args[0]
    cached_in_delete = delete.guard.args[0].args[0].args[0]
    assert cached_in_create.op == "reduce" and cached_in_create is cached_in_delete


def test_action_order_and_write_sets():
    ir = ReplicaSetAnchor().ir
    assert [a.name for a in ir.actions] == [
        "controller_create_pod", "controller_delete_pod", "gc_remove_pod", "informer_sync",
        "scheduler_bind_pod", "kubelet_start_pod", "node_fail", "node_recover"]
    assert ir.action("node_fail").writes == frozenset({"up", "failures", "status", "node"})
    assert [a.kind for a in ir.actions if a.kind != "system"] == ["fault", "environment"]
    # parameters in signature order, instances lexicographic in that order
    kubelet = ir.action("kubelet_start_pod")
    assert kubelet.param_names() == ("node", "pod")
    assert list(kubelet.instances())[:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]


def test_components_compose_and_name_their_actions():
    class Store(Component):
        owns = ("value",)
        value = Var(Int(0, 1), init=0)   # the stored value

        @action
        def store_write(self, s):
            require(s.value == 0)
            s.value = 1

    class Watcher(Component):
        seen = Var(Int(0, 1), init=0)    # what the watcher last saw

        @action
        def watcher_observe(self, s):
            s.seen = s.value

    class Both(Store, Watcher, Model):
        pass

    ir = Both().ir
    assert [(a.name, a.component) for a in ir.actions] == [("watcher_observe", "watcher"),
                                                          ("store_write", "store")]
    # A mixin without `owns` owns what it declares; a model class without it writes what it likes.
    assert ir.components == {"watcher": ("seen",), "store": ("value",), "both": None}
    # (seen, value): (0, 0) -> write -> (0, 1) -> observe -> (1, 1); seen=1 before value=1 is unreachable
    assert explore(ir).distinct_states == 3


def test_constants_size_types_and_domains():
    class Sized(Model):
        n = Constant(2, "slots", min=1)
        Slots = Domain("slot", size=n)
        used = Var(Array(Slots, Int(0, n + 1)), init=0)   # a counter per slot, up to n+1

        @action(k=Slots)
        def user_bump(self, s, k):
            require(s.used[k] < self.n + 1)
            s.used[k] = s.used[k] + 1

        @always
        def bounded(self, s):
            return count(self.Slots, lambda k: s.used[k] > self.n + 1) == 0

    assert explore(Sized(n=1).ir).distinct_states == 3
    assert explore(Sized(n=2).ir).distinct_states == 16
    assert Sized(n=3).ir.leaf("used").elem.describe() == "Int(0, 4)"


def test_a_value_leaving_its_interval_is_an_error_in_the_compiled_path_too():
    from kubecheck.errors import ModelRuntimeError

    class Overflow(Model):
        n = Var(Int(0, 2), init=0)   # grows without a guard

        @action
        def user_increment(self, s):
            s.n = s.n + 1

    with pytest.raises(ModelRuntimeError) as e:
        explore(Overflow().ir)
    assert "sets `n` to 3, outside its type Int(0, 2)" in str(e.value)
    assert e.value.trace.labels(Overflow().ir) == ["user_increment", "user_increment"]


class Light(IntEnum):
    RED = 0
    GREEN = 1


def test_enums_and_phase_values_show_by_name():
    assert Phase(1).name == "BUSY"
    from kubecheck.types import enum_type
    assert enum_type(Light).show(1) == "GREEN"


def test_a_step_property_can_ask_which_component_acted():
    from language_models import Registers
    ir = Registers().ir
    r = explore(ir)
    assert (r.distinct_states, {n: p.verdict for n, p in r.properties.items()}) == (
        9, {"single_writer": "violated", "deadlock_free": "holds"})
    assert r.properties["single_writer"].counterexample.labels(ir) == ["writer_set(v=2)", "reader_copy",
                                                                       "reader_scribble"]


def test_step_by_names_only_components_of_the_model():
    from kubecheck import SpecError, step_invariant

    class Typo(Model):
        x = Var(Int(0, 1), init=0)   # a bit

        @action
        def user_flip(self, s):
            s.x = 1 - s.x

        @step_invariant
        def only_users(self, pre, post, step):
            return step.by("usr")

    with pytest.raises(SpecError) as e:
        Typo().ir
    assert str(e.value).endswith("in property `only_users`: step.by('usr') names no component of this model; its "
                                 "components are typo.")


def test_a_model_can_gate_every_action_of_a_component():
    from language_models import Registers

    class Gated(Registers):
        """The reader may act only once the writer has written 2."""

        def gate(self, s, component):
            return (s.value == 2) if component == "reader" else None

    ir = Gated().ir
    assert ir.action("reader_copy").requires[0][0] is ir.action("reader_scribble").requires[0][0]
    r = explore(ir)
    # reader_copy now waits for value == 2, so copy is 0 or 2: (value, copy) ranges over {0,1,2} x {0,2}
    assert (r.distinct_states, r.properties["single_writer"].counterexample.labels(ir)) == (
        6, ["writer_set(v=2)", "reader_copy", "reader_scribble"])
