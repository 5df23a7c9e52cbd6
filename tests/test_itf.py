"""ITF traces: what is written, that it reads back exactly, and how bad files are refused.

The anchor model's no_over_provision counterexample is the running example; a small
inline model (``Ledger``) has a variable of every kind (map, set, record, queue, Option,
enum and integer keys) so that every value kind goes through ITF and back.
"""

from __future__ import annotations

import copy
import json
from enum import IntEnum

import jsonschema
import pytest

from kubecheck import NONE, Array, Bool, Constant, Domain, Int, Model, Option, Queue, Record, Set, Var, TraceError
from kubecheck import action, always, minimum, require
from kubecheck.evaluate import Evaluator
from kubecheck.explicit import explore
from kubecheck.itf import dumps_itf, itf_schema, itf_to_trace, load_itf, trace_to_itf, write_itf
from kubecheck.result import Step, Trace
from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor
from kubecheck.values import (MapValue, RecordValue, SeqValue, SetValue, Variant, decode_state, encode_state,
                              format_value)


@pytest.fixture(scope="module")
def anchor():
    ir = ReplicaSetAnchor().ir
    trace = explore(ir).properties["no_over_provision"].counterexample
    assert trace.length == 9
    return ir, trace


def _write(tmp_path, name, doc):
    path = str(tmp_path / name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=2) if not isinstance(doc, str) else doc)
    return path


# ---- the anchor counterexample ------------------------------------------------------------

def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(itf_schema())


def test_the_counterexample_validates_against_the_schema(anchor, tmp_path):
    ir, trace = anchor
    jsonschema.Draft202012Validator(itf_schema()).validate(trace_to_itf(ir, trace))
    path = str(tmp_path / "no_over_provision.itf.json")
    write_itf(path, ir, trace)
    assert load_itf(path) == trace_to_itf(ir, trace)


def test_write_read_write_is_byte_identical(anchor, tmp_path):
    ir, trace = anchor
    path = str(tmp_path / "a.itf.json")
    write_itf(path, ir, trace)
    with open(path, "rb") as f:
        first = f.read()
    again = itf_to_trace(ir, load_itf(path), path)
    assert dumps_itf(ir, again).encode("utf-8") == first
    assert first.endswith(b"}\n")


def test_decoding_gives_back_the_identical_trace(anchor, tmp_path):
    ir, trace = anchor
    path = str(tmp_path / "a.itf.json")
    write_itf(path, ir, trace)
    assert itf_to_trace(ir, load_itf(path), path) == trace


def test_the_initial_state_is_pinned(anchor):
    ir, trace = anchor
    state = trace_to_itf(ir, trace)["states"][0]
    none = '{"tag": "None", "value": {"#tup": []}}'
    assert json.dumps(state, ensure_ascii=False) == (
        '{"#meta": {"index": 0, "action": "init", "params": {}}, '
        '"status": {"#map": [["pod1", "ABSENT"], ["pod2", "ABSENT"], ["pod3", "ABSENT"]]}, '
        f'"node": {{"#map": [["pod1", {none}], ["pod2", {none}], ["pod3", {none}]]}}, '
        '"cache": {"#map": [["pod1", "ABSENT"], ["pod2", "ABSENT"], ["pod3", "ABSENT"]]}, '
        '"up": {"#set": ["node1", "node2"]}, '
        '"failures": {"#bigint": "0"}, '
        '"mbt::actionTaken": "init", '
        f'"mbt::nondetPicks": {{"pod": {none}, "node": {none}}}}}')


def test_the_header_and_an_action_step_are_pinned(anchor):
    ir, trace = anchor
    doc = trace_to_itf(ir, trace)
    assert list(doc) == ["#meta", "vars", "states"]
    assert doc["#meta"] == {
        "format": "ITF",
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "source": ir.source,
        "description": "kubecheck: replicaset-anchor violates no_over_provision",
        "model": "replicaset-anchor",
        "spec": "spec/replicaset_anchor.py:ReplicaSetAnchor",
        "config": {"pods": 3, "nodes": 2, "max_failures": 1, "replicas": 2},
        "violation": "no_over_provision",
        "varTypes": {"status": "pod -> PHASE", "node": "pod -> (None(UNIT) | Some(node))", "cache": "pod -> PHASE",
                     "up": "Set(node)", "failures": "Int"},
    }
    assert doc["vars"] == ["status", "node", "cache", "up", "failures", "mbt::actionTaken", "mbt::nondetPicks"]
    step = doc["states"][4]
    assert step["#meta"] == {"index": 4, "action": "scheduler_bind_pod", "params": {"pod": "pod1", "node": "node1"}}
    assert step["mbt::actionTaken"] == "scheduler_bind_pod"
    assert step["mbt::nondetPicks"] == {"pod": {"tag": "Some", "value": "pod1"},
                                        "node": {"tag": "Some", "value": "node1"}}
    assert step["node"]["#map"][0] == ["pod1", {"tag": "Some", "value": "node1"}]


def test_a_finite_trace_has_no_loop_and_a_lasso_has_one(anchor, tmp_path):
    ir, trace = anchor
    lasso = Trace(trace.model, trace.config, trace.steps, None, 3)
    doc = trace_to_itf(ir, lasso)
    assert doc["loop"] == 3
    assert doc["#meta"]["description"] == "kubecheck: trace of replicaset-anchor"
    assert doc["#meta"]["violation"] is None
    path = _write(tmp_path, "lasso.itf.json", doc)
    assert itf_to_trace(ir, load_itf(path), path) == lasso
    # The action that closes the cycle travels in the top-level #meta; a stutter is named as one.
    closed = Trace(trace.model, trace.config, trace.steps, None, 3, Step("node_fail", (("node", 1),),
                                                                        trace.steps[3].state))
    doc = trace_to_itf(ir, closed)
    assert doc["#meta"]["loopClosedBy"] == {"action": "node_fail", "params": {"node": "node2"}}
    assert itf_to_trace(ir, load_itf(_write(tmp_path, "closed.itf.json", doc)), path) == closed
    stutter = Trace(trace.model, trace.config, trace.steps, None, len(trace.steps) - 1)
    assert trace_to_itf(ir, stutter)["#meta"]["loopClosedBy"] == "stuttering"
    assert "loopClosedBy" not in trace_to_itf(ir, lasso)["#meta"]


# ---- the research examples (copies of shared/research/itf_examples/*.json) ----------------

EXAMPLE_SAFETY = """{
  "#meta": {
    "format": "ITF",
    "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
    "source": "replicaset_model.py",
    "description": "kubecheck: invariant AtMostDesiredPods violated",
    "varTypes": {
      "replicas": "Int",
      "pods": "Str -> PHASE",
      "nodes": "Set(Str)",
      "lastOwnerRef": "<<Str, Str>>",
      "pending": "Seq(Str)"
    }
  },
  "params": ["replicas"],
  "vars": ["pods", "nodes", "lastOwnerRef", "pending"],
  "states": [
    {
      "#meta": { "index": 0, "action": "init" },
      "replicas": { "#bigint": "1" },
      "pods": { "#map": [] },
      "nodes": { "#set": ["node-a"] },
      "lastOwnerRef": { "#tup": ["default", "rs-web"] },
      "pending": []
    },
    {
      "#meta": { "index": 1, "action": "ReconcileCreate" },
      "pods": { "#map": [ ["web-1", { "tag": "Pending", "value": { "#tup": [] } }] ] },
      "nodes": { "#set": ["node-a"] },
      "lastOwnerRef": { "#tup": ["default", "rs-web"] },
      "pending": ["web-1"]
    },
    {
      "#meta": { "index": 2, "action": "ReconcileCreate(stale cache)" },
      "pods": { "#map": [
        ["web-1", { "tag": "Pending", "value": { "#tup": [] } }],
        ["web-2", { "tag": "Pending", "value": { "#tup": [] } }]
      ] },
      "nodes": { "#set": ["node-a"] },
      "lastOwnerRef": { "#tup": ["default", "rs-web"] },
      "pending": ["web-1", "web-2"]
    }
  ]
}
"""

EXAMPLE_LASSO = """{
  "#meta": { "format": "ITF", "description": "kubecheck: liveness EventuallyReady violated (lasso)" },
  "vars": ["phase", "restarts"],
  "states": [
    { "#meta": { "index": 0 }, "phase": "Pending",          "restarts": 0 },
    { "#meta": { "index": 1 }, "phase": "Running",          "restarts": 0 },
    { "#meta": { "index": 2 }, "phase": "CrashLoopBackOff", "restarts": { "#bigint": "1" } }
  ],
  "loop": 1
}
"""


@pytest.mark.parametrize("text", [EXAMPLE_SAFETY, EXAMPLE_LASSO], ids=["safety", "lasso"])
def test_the_research_examples_validate(text, tmp_path):
    path = _write(tmp_path, "example.itf.json", text)
    assert load_itf(path) == json.loads(text)


# ---- corrupted files are refused, each with one exact paragraph ---------------------------

def test_a_truncated_file_names_the_line_and_column(anchor, tmp_path):
    ir, trace = anchor
    text = "\n".join(dumps_itf(ir, trace).splitlines()[:41])
    path = _write(tmp_path, "cut.itf.json", text)
    with pytest.raises(TraceError) as err:
        load_itf(path)
    assert str(err.value) == (f"{path}: invalid JSON at line 41, column 18: Expecting value. An ITF trace is one "
                              "JSON object (Apalache ADR-015); check that the file is complete.")


def test_a_missing_file_is_named(tmp_path):
    path = str(tmp_path / "nowhere.itf.json")
    with pytest.raises(TraceError) as err:
        load_itf(path)
    assert str(err.value) == f"{path}: cannot read the trace file (No such file or directory)."


# (what is done to the anchor counterexample's ITF document, the whole message; <file> is its path)
CORRUPTIONS = {
    "a state missing a variable": (
        lambda d: d["states"][3].pop("status"),
        '<file>: state 3 has no value for variable `status`; ITF requires every state to give every variable in '
        '"vars".'),
    "a string where an integer belongs": (
        lambda d: d["states"][3].update(failures="one"),
        '<file>: state 3: variable `failures` expects an integer in 0..1; got the string "one".'),
    "a misspelt enum member": (
        lambda d: d["states"][3]["status"]["#map"][1].__setitem__(1, "RUNING"),
        '<file>: state 3: variable `status` at [pod2] expects a Phase (ABSENT, PENDING, RUNNING or TERMINATING); '
        'got the string "RUNING".'),
    "a bigint with letters": (
        lambda d: d["states"][3].update(failures={"#bigint": "1x"}),
        '<file>: states[3].failures["#bigint"] is "1x"; expected a decimal integer as a string, such as "-42" (an '
        'optional minus sign, then digits).'),
    "no vars": (
        lambda d: d.pop("vars"),
        '<file>: the top-level object has no "vars" (the names of the state variables, an array of strings).'),
    "an unknown variable": (
        lambda d: d["vars"].append("replicas"),
        '<file>: "vars" names `replicas`, which is not a variable of model `replicaset-anchor` (its variables are '
        'status, node, cache, up, failures).'),
    "a record field starting with #": (
        lambda d: d["states"][2].update(failures={"#int": "1"}),
        '<file>: states[2].failures has the key "#int"; expected one of "#bigint", "#tup", "#set", "#map" and '
        '"#unserializable" (record fields must not start with \'#\').'),
    "an integer too large for JSON": (
        lambda d: d["states"][2].update(failures=2**60),
        '<file>: states[2].failures is 1152921504606846976; expected an integer within ±(2^53-1); write larger ones '
        'as {"#bigint": "..."}.'),
    "an unknown action": (
        lambda d: d["states"][2].update({"mbt::actionTaken": "create"}),
        '<file>: state 2: `create` is not an action of model `replicaset-anchor` (its actions are '
        'controller_create_pod, controller_delete_pod, gc_remove_pod, informer_sync, scheduler_bind_pod, '
        'kubelet_start_pod, node_fail, node_recover).'),
    "a parameter outside its domain": (
        lambda d: d["states"][2]["mbt::nondetPicks"].update(pod={"tag": "Some", "value": "pod9"}),
        '<file>: state 2: parameter `pod` of action `controller_create_pod` expects a pod (pod1..pod3); got the '
        'string "pod9".'),
    "another configuration": (
        lambda d: d["#meta"]["config"].update(pods=4),
        '<file>: the trace was made with the configuration {"pods": 4, "nodes": 2, "max_failures": 1, '
        '"replicas": 2}, but the model is configured with {"pods": 3, "nodes": 2, "max_failures": 1, '
        '"replicas": 2}; replay it with the trace\'s configuration.'),
    "a loop past the last state": (
        lambda d: d.update(loop=10),
        '<file>: "loop" is 10, but the last state is 9; the loop must start at a state of the trace.'),
    "a stutter that is not at the end": (
        lambda d: (d.update(loop=3), d["#meta"].update(loopClosedBy="stuttering")),
        '<file>: "#meta".loopClosedBy says the lasso stutters, but its loop starts at state 3, not at the last '
        'state (9); a stuttering lasso repeats its last state.'),
    "a loop closed by nothing readable": (
        lambda d: (d.update(loop=3), d["#meta"].update(loopClosedBy=["node_fail"])),
        '<file>: "#meta".loopClosedBy is ["node_fail"]; expected "stuttering" or an object with the "action" (a '
        'name) and "params" that lead from the last state back to the loop\'s first.'),
    "a loop closed by an unknown action": (
        lambda d: (d.update(loop=3), d["#meta"].update(loopClosedBy={"action": "node_reboot", "params": {}})),
        '<file>: "#meta".loopClosedBy: `node_reboot` is not an action of model `replicaset-anchor`.'),
    "a loop closed with the wrong parameters": (
        lambda d: (d.update(loop=3), d["#meta"].update(loopClosedBy={"action": "node_fail", "params": {}})),
        '<file>: "#meta".loopClosedBy: action `node_fail` takes the parameters node; the trace gives none.'),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupted_file_is_refused_with_one_exact_paragraph(case, anchor, tmp_path):
    ir, trace = anchor
    change, message = CORRUPTIONS[case]
    doc = copy.deepcopy(trace_to_itf(ir, trace))
    change(doc)
    path = _write(tmp_path, "bad.itf.json", doc)
    with pytest.raises(TraceError) as err:
        itf_to_trace(ir, load_itf(path), path)
    assert str(err.value) == message.replace("<file>", path)


def test_without_mbt_variables_the_action_comes_from_the_state_meta(anchor, tmp_path):
    ir, trace = anchor
    doc = trace_to_itf(ir, trace)
    doc["vars"] = doc["vars"][:-2]
    for state in doc["states"]:
        del state["mbt::actionTaken"], state["mbt::nondetPicks"]
    path = _write(tmp_path, "plain.itf.json", doc)
    assert itf_to_trace(ir, load_itf(path), path) == trace


# ---- every kind of value, through a small inline model --------------------------------------

class Kind(IntEnum):
    """What a log entry records."""

    ADD = 0
    DROP = 1


class Ledger(Model):
    """Workers claim items; each claim is logged in a bounded queue that an auditor drains."""

    name = "ledger"
    items = Constant(2, "item slots", min=1)
    Items = Domain("item", size=items)
    Workers = Domain("worker", size=2)

    owner = Var(Array(Items, Option(Workers)), init=NONE)        # Options inside a map
    held = Var(Set(Items), init=False)                           # a set
    last = Var(Record(kind=Kind, item=Items, count=Int(0, 3), fresh=Bool),
               init={"kind": Kind.ADD, "item": 0, "count": 0, "fresh": True})   # a record
    log = Var(Queue(Record(kind=Kind, item=Items), 2))           # a queue of records
    holder = Var(Option(Workers), init=NONE)                     # a bare Option
    tally = Var(Array(Kind, Int(0, 3)), init=0)                  # enum keys
    bits = Var(Array(Int(0, 1), Bool), init=False)               # integer keys

    @action(worker=Workers, item=Items)
    def worker_claim(self, s, worker, item):
        """A worker claims a free item and logs it."""
        require(~s.held[item])
        require(~s.log.is_full)
        s.held[item] = True
        s.owner[item] = worker
        s.holder = worker
        s.log.push({"kind": Kind.ADD, "item": item})
        s.last = {"kind": Kind.ADD, "item": item, "count": minimum(s.last.count + 1, 3), "fresh": False}
        s.tally[Kind.ADD] = minimum(s.tally[Kind.ADD] + 1, 3)

    @action
    def auditor_drain(self, s):
        """The auditor takes the oldest log entry."""
        require(~s.log.is_empty)
        s.log.pop()

    @action(bit=Int(0, 1), on=bool)
    def clerk_mark(self, s, bit, on):
        """A clerk sets a bit."""
        s.bits[bit] = on

    @always
    def short_log(self, s):
        """The log never fills up (fails)."""
        return s.log.len < 2


def _run(ir, *calls):
    """The trace of ``calls`` ((action, {param: value})) from the first initial state."""
    ev = Evaluator(ir)
    state = ev.initial_states()[0]
    steps = [Step(None, (), state)]
    for name, params in calls:
        a = ir.action(name)
        vals = tuple(params[n] for n in a.param_names())
        state = ev.successor(a, state, vals)
        assert state is not None, name
        steps.append(Step(name, tuple(zip(a.param_names(), vals)), state))
    return Trace(ir.model, dict(ir.config), tuple(steps))


@pytest.fixture(scope="module")
def ledger():
    ir = Ledger().ir
    trace = _run(ir, ("worker_claim", {"worker": 0, "item": 1}), ("worker_claim", {"worker": 1, "item": 0}),
                 ("auditor_drain", {}), ("clerk_mark", {"bit": 1, "on": 1}))
    return ir, trace


def test_every_value_kind_decodes(ledger):
    ir, trace = ledger
    values = decode_state(ir, trace.steps[-1].state)
    assert values == {
        "owner": MapValue((("item1", Variant("Some", "worker2")), ("item2", Variant("Some", "worker1")))),
        "held": SetValue(("item1", "item2")),
        "last": RecordValue((("kind", "ADD"), ("item", "item1"), ("count", 2), ("fresh", False))),
        "log": SeqValue((RecordValue((("kind", "ADD"), ("item", "item1"))),)),
        "holder": Variant("Some", "worker2"),
        "tally": MapValue((("ADD", 2), ("DROP", 0))),
        "bits": MapValue(((0, False), (1, True))),
    }
    assert {k: format_value(v) for k, v in values.items()} == {
        "owner": "{item1: worker2, item2: worker1}",
        "held": "{item1, item2}",
        "last": "{kind: ADD, item: item1, count: 2, fresh: false}",
        "log": "[{kind: ADD, item: item1}]",
        "holder": "worker2",
        "tally": "{ADD: 2, DROP: 0}",
        "bits": "{0: false, 1: true}",
    }
    assert format_value(decode_state(ir, trace.steps[0].state)["holder"]) == "none"
    for step in trace.steps:
        assert encode_state(ir, decode_state(ir, step.state)) == step.state


def test_every_value_kind_is_written_as_itf(ledger):
    ir, trace = ledger
    doc = trace_to_itf(ir, trace)
    assert doc["#meta"]["varTypes"] == {
        "owner": "item -> (None(UNIT) | Some(worker))", "held": "Set(item)",
        "last": "{ kind: KIND, item: item, count: Int, fresh: Bool }", "log": "Seq({ kind: KIND, item: item })",
        "holder": "None(UNIT) | Some(worker)", "tally": "KIND -> Int", "bits": "Int -> Bool",
    }
    none = {"tag": "None", "value": {"#tup": []}}
    assert doc["states"][4] == {
        "#meta": {"index": 4, "action": "clerk_mark", "params": {"bit": {"#bigint": "1"}, "on": True}},
        "owner": {"#map": [["item1", {"tag": "Some", "value": "worker2"}],
                           ["item2", {"tag": "Some", "value": "worker1"}]]},
        "held": {"#set": ["item1", "item2"]},
        "last": {"kind": "ADD", "item": "item1", "count": {"#bigint": "2"}, "fresh": False},
        "log": [{"kind": "ADD", "item": "item1"}],
        "holder": {"tag": "Some", "value": "worker2"},
        "tally": {"#map": [["ADD", {"#bigint": "2"}], ["DROP", {"#bigint": "0"}]]},
        "bits": {"#map": [[{"#bigint": "0"}, False], [{"#bigint": "1"}, True]]},
        "mbt::actionTaken": "clerk_mark",
        "mbt::nondetPicks": {"worker": none, "item": none, "bit": {"tag": "Some", "value": {"#bigint": "1"}},
                             "on": {"tag": "Some", "value": True}},
    }
    assert doc["states"][0]["holder"] == none


def test_every_value_kind_round_trips_through_itf(ledger, tmp_path):
    ir, trace = ledger
    path = str(tmp_path / "ledger.itf.json")
    write_itf(path, ir, trace)
    again = itf_to_trace(ir, load_itf(path), path)
    assert again == trace
    assert dumps_itf(ir, again) == dumps_itf(ir, trace)


def test_a_counterexample_of_the_inline_model_round_trips(tmp_path):
    ir = Ledger().ir
    trace = explore(ir).properties["short_log"].counterexample
    path = str(tmp_path / "short_log.itf.json")
    write_itf(path, ir, trace)
    assert itf_to_trace(ir, load_itf(path), path) == trace


# ---- values that do not fit their type ----------------------------------------------------

def _refuse(ir, state, **changes):
    values = decode_state(ir, state)
    values.update(changes)
    with pytest.raises(TraceError) as err:
        encode_state(ir, values)
    return str(err.value)


def test_values_that_do_not_fit_are_named(ledger):
    ir, trace = ledger
    st = trace.steps[-1].state
    rec = RecordValue((("kind", "ADD"), ("item", "item1")))
    assert _refuse(ir, st, log=SeqValue((rec, rec, rec))) == "variable `log` holds 3 items, more than its capacity 2."
    assert _refuse(ir, st, log=SeqValue((RecordValue((("kind", "ADD"),)),))) == \
        "variable `log` at [0] has no field `item`."
    assert _refuse(ir, st, last=RecordValue((("kind", "ADD"), ("item", "item1"), ("count", 2), ("fresh", False),
                                             ("extra", 1)))) == \
        "variable `last` has the field `extra`, which its type lacks (fields: kind, item, count, fresh)."
    assert _refuse(ir, st, last=RecordValue((("kind", "ADD"), ("item", "item1"), ("count", 4), ("fresh", False)))) == \
        "variable `last` at .count expects an integer in 0..3; got the integer 4."
    assert _refuse(ir, st, held=SetValue(("item3",))) == \
        'variable `held` has the member "item3", but its members must each be an item (item1 or item2).'
    assert _refuse(ir, st, held=MapValue(())) == "variable `held` expects a set of type Set(item); got a map."
    assert _refuse(ir, st, tally=MapValue((("ADD", 1),))) == "variable `tally` has no entry for DROP."
    assert _refuse(ir, st, holder="worker1") == \
        'variable `holder` expects None, or Some of a worker (worker1 or worker2); got the string "worker1".'
    assert _refuse(ir, st, bits=MapValue(((0, False), (1, 1)))) == \
        "variable `bits` at [1] expects a boolean (true or false); got the integer 1."
    assert _refuse(ir, st, colour="red") == \
        "`colour` is not a variable of model `ledger` (its variables are owner, held, last, log, holder, tally, bits)."
