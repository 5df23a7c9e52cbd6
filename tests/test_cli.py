"""The ``kubecheck`` command: exact results, exact reports, exact errors and exit codes.

Most tests call :func:`kubecheck.cli.main` in-process (output captured, so it is the plain,
deterministic form); a few run the installed console script in a subprocess, which is the
only way to test Ctrl-C and what a user's shell sees. Timings are never asserted: the
``seconds`` field and the report's ``time`` line are dropped before comparing.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kubecheck.cli import main
from kubecheck.errors import ConfigError
from kubecheck.explicit import Progress
from kubecheck.progress import ProgressReporter
from kubecheck.registry import DEFAULT_MODEL, MODELS, build_model, load_model

ANCHOR_KEYS = ("pods (default 3), nodes (default 2), max_failures (default 1), replicas (default 2)")

def _covered(kind: str, fired: int, new_states: int) -> dict:
    return {"component": "replica_set_anchor", "kind": kind, "fired": fired, "new_states": new_states, "dormant": None}


ANCHOR_COVERAGE = {
    "controller_create_pod": _covered("system", 10380, 1206),
    "controller_delete_pod": _covered("system", 1596, 334),
    "gc_remove_pod": _covered("system", 9402, 670),
    "informer_sync": _covered("system", 27153, 689),
    "scheduler_bind_pod": _covered("system", 20880, 6286),
    "kubelet_start_pod": _covered("system", 20880, 10668),
    "node_fail": _covered("fault", 16896, 2390),
    "node_recover": _covered("environment", 6680, 4909),
}

COUNTER_SPEC = '''\
"""A user's own spec, checked from its file."""
from kubecheck import Constant, Int, Model, Var, action, always, require, sometimes


class Counter(Model):
    """A counter that a worker increments up to a limit, then resets."""

    limit = Constant(3, "how far the counter may go", min=0)
    n = Var(Int(0, limit), init=0)          # the counter's value

    @action
    def worker_increment(self, s):
        require(s.n < self.limit)
        s.n = s.n + 1

    @action
    def worker_reset(self, s):
        require(s.n == self.limit)
        s.n = 0

    @always
    def bounded(self, s):
        return s.n <= self.limit

    @sometimes
    def reaches_limit(self, s):
        return s.n == self.limit
'''

OVERFLOW_SPEC = '''\
from kubecheck import Array, Constant, Domain, Int, Model, Var, action, always


class Overflow(Model):
    """A spec bug: a counter grows past its type."""

    slots = Constant(2, "slots")
    Slots = Domain("slot", size=slots)
    n = Var(Array(Slots, Int(0, 2)), init=0)

    @action(slot=Slots)
    def worker_bump(self, s, slot):
        s.n[slot] = s.n[slot] + 1

    @always
    def small(self, s):
        return s.n[0] <= 2
'''


ANCHOR_TEMPORAL = ("property `replicaset_converges` (converges) is temporal; it is checked with --liveness, so it "
                   "was not checked.")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *argv, "--json")
    assert err == ""
    data = json.loads(out)
    assert isinstance(data.pop("seconds"), float)
    # Deciding temporal properties takes time of its own, reported apart: only a --liveness run has it.
    liveness_seconds = data.pop("liveness_seconds")
    assert liveness_seconds is None or (isinstance(liveness_seconds, float) and "--liveness" in argv)
    return code, data


def counts(data: dict[str, Any]) -> tuple[str, int, int, int]:
    return data["stopped_by"], data["distinct_states"], data["total_states"], data["depth"]


def verdicts(data: dict[str, Any]) -> dict[str, str]:
    return {n: p["verdict"] for n, p in data["properties"].items()}


def without_time(report: str) -> str:
    lines = report.split("\n")
    assert sum(1 for line in lines if line.startswith("time ")) == 1
    return "\n".join(line for line in lines if not line.startswith("time "))


def console_script() -> str:
    here = Path(sys.executable).parent / "kubecheck"
    found = str(here) if here.exists() else shutil.which("kubecheck")
    assert found, "the `kubecheck` console script is not installed (pip install -e .)"
    return found


def write_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)


# ---- check: exact results -------------------------------------------------------------------

def test_check_json_anchor_is_the_whole_result(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", "replicaset-anchor")
    assert code == 1
    assert data == {
        "model": "replicaset-anchor",
        "config": {"pods": 3, "nodes": 2, "max_failures": 1, "replicas": 2},
        "engine": "vector",       # --engine auto, the default, picks the vectorized engine
        "symmetry": None,
        "stopped_by": "complete",
        "distinct_states": 27153,
        "total_states": 113868,
        "depth": 27,
        "bytes_per_state": 44.6,      # the vectorized engine's fingerprint table, parent links, last levels
        "bound": None,                # a symbolic engine's depth; breadth-first search has none
        "canonical": None,            # the facts a proof assumed; only an induction proof has them
        "coverage": ANCHOR_COVERAGE,
        "properties": {
            "node_consistency": {"verdict": "holds", "counterexample": None},
            "no_over_provision": {"verdict": "violated", "counterexample": {"length": 9, "itf": None}},
            "replicaset_converges": {"verdict": "not_checked", "counterexample": None},
            "replicas_running": {"verdict": "holds", "counterexample": None},
            "deadlock_free": {"verdict": "holds", "counterexample": None},
        },
        "warnings": [ANCHOR_TEMPORAL],
    }


def test_check_defaults_to_the_cluster_with_symmetry(capsys: pytest.CaptureFixture[str]) -> None:
    # The whole default run takes minutes (tests/test_spec_cluster.py pins smaller ones); the
    # first 2,000 orbits show which model and which options the default is.
    assert DEFAULT_MODEL == "cluster"
    code1, default = run_json(capsys, "check", "--max-states", "2000")
    code2, named = run_json(capsys, "check", "cluster", "--symmetry", "--max-states", "2000")
    assert (code1, default) == (code2, named)
    assert (code1, default["model"], default["stopped_by"], default["distinct_states"]) == (
        3, "cluster", "max_states", 2000)
    assert default["symmetry"] is not None


def test_one_property_that_holds_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", "replicaset-anchor", "--property", "node_consistency")
    assert code == 0
    assert counts(data) == ("complete", 27153, 113868, 27)
    assert data["properties"] == {"node_consistency": {"verdict": "holds", "counterexample": None}}


def test_state_limit_before_any_violation_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    # 500 states are 6 BFS levels; the over-provisioning bug needs 9 steps, so nothing is
    # violated yet and every verdict is open.
    code, data = run_json(capsys, "check", "replicaset-anchor", "--max-states", "500")
    assert code == 3
    assert counts(data) == ("max_states", 500, 1198, 6)
    assert verdicts(data) == {
        "node_consistency": "unknown", "no_over_provision": "unknown", "replicaset_converges": "not_checked",
        "replicas_running": "unknown", "deadlock_free": "unknown"}


def test_first_stops_at_the_first_violation_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", "replicaset-anchor", "--first")
    assert code == 1
    assert counts(data) == ("first_violation", 2974, 9561, 10)
    assert verdicts(data) == {
        "node_consistency": "unknown", "no_over_provision": "violated", "replicaset_converges": "not_checked",
        "replicas_running": "holds", "deadlock_free": "unknown"}


def test_config_pods_2(capsys: pytest.CaptureFixture[str]) -> None:
    # Two slots for two replicas: the stale cache cannot over-provision, and the controller converges.
    code, data = run_json(capsys, "check", "replicaset-anchor", "--config", "pods=2", "--liveness")
    assert code == 0
    assert data["config"] == {"pods": 2, "nodes": 2, "max_failures": 1, "replicas": 2}
    assert counts(data) == ("complete", 662, 2127, 12)
    assert verdicts(data) == {
        "node_consistency": "holds", "no_over_provision": "holds", "replicaset_converges": "holds",
        "replicas_running": "holds", "deadlock_free": "holds"}
    assert data["warnings"] == [
        "action `controller_delete_pod` never fired: its guard is false in every reachable state (usually a spec bug).",
        "action `gc_remove_pod` never fired: its guard is false in every reachable state (usually a spec bug).",
    ]


def test_repeated_config_key_last_wins_and_dashes_name_underscored_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", "replicaset-anchor", "--config", "pods=5", "--config", "pods=2", "--config", "max-failures=1", "--liveness")
    assert code == 0
    assert data["config"] == {"pods": 2, "nodes": 2, "max_failures": 1, "replicas": 2}
    assert data["distinct_states"] == 662


def test_json_prints_nothing_else_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "replicaset-anchor", "--config", "pods=2", "--liveness", "--json")
    assert (code, err) == (0, "")
    assert out.startswith("{\n  \"model\": \"replicaset-anchor\",\n") and out.endswith("\n}\n")
    json.loads(out)


@pytest.mark.parametrize("name, expected, code", [
    # TLC's TwoPhase.cfg with 3 RMs: 288 distinct, 1146 total, depth 11 (TLA+ Examples manifest).
    ("two-phase-commit", (("complete", 288, 1146, 11),
                          {"consistent": "holds", "all_committed": "holds", "deadlock_free": "holds"}), 0),
    ("mutex", (("complete", 20, 36, 6),
               {"mutual_exclusion": "holds", "someone_in_critical_section": "holds", "process1_enters": "not_checked",
                "process2_enters": "not_checked", "deadlock_free": "holds"}), 3),   # temporal: not checked yet
    ("water-jugs", (("complete", 16, 97, 8), {"big_jug_never_4": "violated", "deadlock_free": "holds"}), 1),
])
def test_every_shipped_example_checks_from_the_command_line(capsys: pytest.CaptureFixture[str], name: str,
                                                           expected: tuple[Any, dict[str, str]], code: int) -> None:
    got, data = run_json(capsys, "check", name)
    assert (got, data["model"]) == (code, name)
    assert (counts(data), verdicts(data)) == expected


def test_registry_names_every_model_by_its_own_name() -> None:
    assert list(MODELS) == ["replicaset-anchor", "mutex", "two-phase-commit", "water-jugs", "replicaset",
                            "leader-election", "namespace", "scheduler",
                            "endpoints", "deployment", "node-lifecycle", "cluster"]
    for name in MODELS:
        assert load_model(name).model_name() == name
    assert build_model("replicaset-anchor", ["pods=4", "replicas=3"]).config == \
        {"pods": 4, "nodes": 2, "max_failures": 1, "replicas": 3}


# ---- a user's own spec file -------------------------------------------------------------------

def test_user_spec_file_is_checked_like_a_shipped_model(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, monkeypatch, "counter.py", COUNTER_SPEC)
    code, data = run_json(capsys, "check", "counter.py:Counter")
    assert code == 0
    assert data == {
        "model": "counter", "config": {"limit": 3}, "engine": "vector", "symmetry": None, "stopped_by": "complete",
        "distinct_states": 4, "total_states": 5, "depth": 4, "bytes_per_state": 262150.5,  # a table's fixed size over 4 states
        "bound": None, "canonical": None,
        "coverage": {"worker_increment": {"component": "counter", "kind": "system", "fired": 3, "new_states": 3,
                                          "dormant": None},
                     "worker_reset": {"component": "counter", "kind": "system", "fired": 1, "new_states": 0,
                                      "dormant": None}},
        "properties": {"bounded": {"verdict": "holds", "counterexample": None},
                       "reaches_limit": {"verdict": "holds", "counterexample": None},
                       "deadlock_free": {"verdict": "holds", "counterexample": None}},
        "warnings": [],
    }
    # The class may be left out when the file defines exactly one model; --config works on it.
    code, data = run_json(capsys, "check", str(tmp_path / "counter.py"), "--config", "limit=5")
    assert (code, data["config"], data["distinct_states"], data["total_states"]) == (0, {"limit": 5}, 6, 7)


def test_user_spec_report_names_its_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, monkeypatch, "counter.py", COUNTER_SPEC)
    code, out, err = run(capsys, "check", "counter.py:Counter")
    assert (code, err) == (0, "")
    assert without_time(out) == """\
model    counter (counter.py:Counter)
config   limit=3
engine   vector
stopped  complete: every reachable state was explored
states   4 distinct, 5 total
depth    4 levels
memory   262,150 bytes per state (visited set and parent links)

Coverage
action             kind     fired   new states
─────────────────────────────────────────────────
worker_increment   system       3            3
worker_reset       system       1            0
every action fired (2)

Properties
property        kind        verdict   note
──────────────────────────────────────────────────────
bounded         always      holds
reaches_limit   sometimes   holds     witness: 3 steps
deadlock_free   deadlock    holds

OK: every property holds (3 checked)
"""


def test_spec_bug_found_while_exploring_shows_its_trace_and_exits_2(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, monkeypatch, "overflow.py", OVERFLOW_SPEC)
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "check", "overflow.py:Overflow", *extra)
        assert (code, out) == (2, "")
        assert err == """\
kubecheck: error: overflow.py:13: action `worker_bump(slot=slot1)` sets `n[slot1]` to 3, outside its type \
Int(0, 2). Guard the action so the value stays in range (counters that grow forever must be abstracted, never \
wrapped), or widen the type.
The state where it happened is reached by these steps:
step   action                    changes
─────────────────────────────────────────────────────────
   0   initial state             n = {slot1: 0, slot2: 0}
   1   worker_bump(slot=slot1)   n[slot1]: 0 -> 1
   2   worker_bump(slot=slot1)   n[slot1]: 1 -> 2
"""


# ---- errors: exact messages, exit 2, nothing on stdout ----------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["check", "nope"],
     "unknown model `nope`; the shipped models are: replicaset-anchor, mutex, two-phase-commit, water-jugs, "
     "replicaset, leader-election, namespace, scheduler, endpoints, deployment, node-lifecycle, cluster. "
     "To check a spec of your own, name its file and class: path/to/file.py:ClassName."),
    (["check", "replicaset-anchor", "--config", "foo=1"],
     f"model `replicaset-anchor` has no config key `foo`; its keys are: {ANCHOR_KEYS}."),
    (["check", "replicaset-anchor", "--config", "pods=abc"],
     "config key `pods` of model `replicaset-anchor` expects an integer (pod slots (N)); got 'abc'."),
    (["check", "replicaset-anchor", "--config", "pods"],
     f"--config expects KEY=VALUE; got `pods`. The keys of model `replicaset-anchor` are: {ANCHOR_KEYS}."),
    (["check", "replicaset-anchor", "--config", "pods=0"],
     "config key `pods` of model `replicaset-anchor` must be at least 1 (pod slots (N)); got 0."),
    (["check", "replicaset-anchor", "--property", "nope"],
     "model `replicaset-anchor` has no property `nope`; its properties are: node_consistency, no_over_provision, "
     "replicaset_converges, replicas_running, deadlock_free."),
    (["check", "missing.py:Spec"],
     "spec file `missing.py` does not exist; give the path of a Python file that defines the model, as "
     "path/to/file.py:ClassName."),
    (["check", "counter.py:Missing"],
     "`counter.py` has no class `Missing`; the Model subclasses it defines are: Counter."),
    (["check", "counter.py:Constant"],
     "`counter.py:Constant` is a class that does not subclass kubecheck.Model; name a class that subclasses "
     "kubecheck.Model (the file defines: Counter)."),
    (["check", "counter.py:require"],
     "`counter.py:require` is a function, not a model class; name a class that subclasses kubecheck.Model (the "
     "file defines: Counter)."),
    (["check", "broken.py:Broken"],
     "cannot import spec file `broken.py`: SyntaxError at line 5: invalid syntax. Fix the file and run again."),
    (["check", "raises.py:Spec"],
     "cannot import spec file `raises.py`: ModuleNotFoundError: No module named 'no_such_module_here' (raised at "
     "line 2 while the file ran). Fix the file and run again."),
    (["check", "two.py"],
     "`two.py` must define exactly one Model subclass to be named without a class, but it defines 2: A, B; name "
     "the class: two.py:ClassName."),
    (["replay", "trace.itf.json", "--config", "pods=2"],
     "--config needs --model: name the model the configuration is for."),
    (["replay", "missing.itf.json"],
     "trace file `missing.itf.json` does not exist; give the path of an .itf.json file."),
])
def test_bad_input_is_one_paragraph_on_stderr_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                                         message: str) -> None:
    write_spec(tmp_path, monkeypatch, "counter.py", COUNTER_SPEC)
    (tmp_path / "broken.py").write_text("from kubecheck import Model\n\n\nclass Broken(Model):\n    x = = 1\n")
    (tmp_path / "raises.py").write_text("# imports what is not there\nimport no_such_module_here\n")
    (tmp_path / "two.py").write_text("from kubecheck import Model\n\n\nclass A(Model):\n    pass\n\n\n"
                                     "class B(Model):\n    pass\n")
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == f"kubecheck: error: {message}\n"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "replicaset-anchor", "--max-states", "0")
    assert (code, out) == (2, "")
    assert err.endswith("kubecheck check: error: argument --max-states: must be positive; got 0\n")
    code, out, err = run(capsys, "check", "replicaset-anchor", "--engine", "nope")
    assert (code, out) == (2, "")
    assert "\nkubecheck check: error: argument --engine: invalid choice: 'nope' (choose from " in err
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("usage: kubecheck [-h] [--version] COMMAND ...\n")


# ---- list -------------------------------------------------------------------------------------

def test_list_shows_every_model_with_its_keys_and_properties(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list")
    assert (code, err) == (0, "")
    lines = out.split("\n")
    assert [line.split("  ")[0] for line in lines if line and not line.startswith(" ")] == list(MODELS)
    start = lines.index(next(line for line in lines if line.startswith("replicaset-anchor")))
    assert lines[start:start + 13] == [
        "replicaset-anchor  ReplicaSet reconciliation against a stale informer cache (the benchmark model).",
        "  config:",
        "    pods=3          pod slots (N); at least 1",
        "    nodes=2         nodes (K); at least 1",
        "    max_failures=1  node-failure budget (F); at least 0",
        "    replicas=2      desired replicas (R); at least 0",
        "  properties:",
        "    node_consistency      always",
        "    no_over_provision     always",
        "    replicaset_converges  converges",
        "    replicas_running      sometimes",
        "    deadlock_free         deadlock",
        "",
    ]
    assert "    resource_managers=3  resource managers taking part in the transaction; at least 1" in lines


def test_list_a_user_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, monkeypatch, "counter.py", COUNTER_SPEC)
    code, out, err = run(capsys, "list", "counter.py:Counter")
    assert (code, err) == (0, "")
    assert out == """\
counter.py:Counter  A counter that a worker increments up to a limit, then resets.
  config:
    limit=3  how far the counter may go; at least 0
  properties:
    bounded        always
    reaches_limit  sometimes
    deadlock_free  deadlock
"""


# ---- the report: exact text -------------------------------------------------------------------

ANCHOR_COUNTEREXAMPLE = """\
Counterexample: no_over_provision (always) violated after 9 steps
step   action                                     changes
─────────────────────────────────────────────────────────────────────────────────────────────────────
   0   initial state                              status = {pod1: ABSENT, pod2: ABSENT, pod3: ABSENT}
                                                  node = {pod1: none, pod2: none, pod3: none}
                                                  cache = {pod1: ABSENT, pod2: ABSENT, pod3: ABSENT}
                                                  up = {node1, node2}
                                                  failures = 0
   1   controller_create_pod(pod=pod1)            status[pod1]: ABSENT -> PENDING
   2   controller_create_pod(pod=pod2)            status[pod2]: ABSENT -> PENDING
   3   controller_create_pod(pod=pod3)            status[pod3]: ABSENT -> PENDING
   4   scheduler_bind_pod(pod=pod1, node=node1)   node[pod1]: none -> node1
   5   scheduler_bind_pod(pod=pod2, node=node1)   node[pod2]: none -> node1
   6   scheduler_bind_pod(pod=pod3, node=node1)   node[pod3]: none -> node1
   7   kubelet_start_pod(node=node1, pod=pod1)    status[pod1]: PENDING -> RUNNING
   8   kubelet_start_pod(node=node1, pod=pod2)    status[pod2]: PENDING -> RUNNING
   9   kubelet_start_pod(node=node1, pod=pod3)    status[pod3]: PENDING -> RUNNING
no_over_provision: Never more running pods than desired replicas (fails: the cache is stale).
"""


def test_anchor_report_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "replicaset-anchor")
    assert (code, err) == (1, "")
    assert without_time(out) == f"""\
model    replicaset-anchor
config   pods=3 nodes=2 max_failures=1 replicas=2
engine   vector
stopped  complete: every reachable state was explored
states   27,153 distinct, 113,868 total
depth    27 levels
memory   45 bytes per state (visited set and parent links)

Coverage
action                  kind           fired   new states
────────────────────────────────────────────────────────────
controller_create_pod   system        10,380        1,206
controller_delete_pod   system         1,596          334
gc_remove_pod           system         9,402          670
informer_sync           system        27,153          689
scheduler_bind_pod      system        20,880        6,286
kubelet_start_pod       system        20,880       10,668
node_fail               fault         16,896        2,390
node_recover            environment    6,680        4,909
every action fired (8)

{ANCHOR_COUNTEREXAMPLE}
Properties
property               kind        verdict       note
──────────────────────────────────────────────────────────────────────────────────
node_consistency       always      holds
no_over_provision      always      violated      counterexample: 9 steps
replicaset_converges   converges   not_checked   temporal: checked with --liveness
replicas_running       sometimes   holds         witness: 6 steps
deadlock_free          deadlock    holds

warning: {ANCHOR_TEMPORAL}

VIOLATED: no_over_provision
"""


# A counter whose resets have a budget: at 0 the reset is dormant, and the spec says so.
BUDGETED_RESET = COUNTER_SPEC.replace(
    "    n = Var(Int(0, limit), init=0)          # the counter's value\n",
    "    resets = Constant(0, \"budget of resets\", min=0)\n"
    "    n = Var(Int(0, limit), init=0)          # the counter's value\n"
    "    done = Var(Int(0, resets), init=0)      # resets so far\n").replace(
    "        require(s.n == self.limit)\n        s.n = 0\n",
    "        require(s.n == self.limit)\n        require(s.done < self.resets)\n"
    "        s.n = 0\n        s.done = s.done + 1\n").replace(
    "    @always\n",
    "    def dormant_actions(self):\n"
    "        return {\"worker_reset\": \"resets = 0\"} if self.resets == 0 else {}\n\n"
    "    @always\n", 1)


def test_report_lists_dormant_actions_apart_and_confirms_them(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, monkeypatch, "counter.py", BUDGETED_RESET)
    code, out, err = run(capsys, "check", "counter.py:Counter", "--no-deadlock")
    assert (code, err) == (0, "")
    lines = out.split("\n")
    assert "worker_reset       system       0            0   dormant: resets = 0" in lines
    assert "every action fired (1); 1 dormant at this configuration, none of which fired" in lines
    assert "warning" not in out
    # Raise the budget and the reset is live again, and fires.
    code, out, err = run(capsys, "check", "counter.py:Counter", "--config", "resets=1", "--no-deadlock")
    assert (code, err) == (0, "")
    assert "every action fired (2)" in out.split("\n")


def test_a_dormant_action_that_fires_is_an_error_in_the_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = BUDGETED_RESET.replace('{"worker_reset": "resets = 0"}', '{"worker_increment": "resets = 0"}')
    write_spec(tmp_path, monkeypatch, "counter.py", wrong)
    code, out, err = run(capsys, "check", "counter.py:Counter", "--no-deadlock")
    assert (code, err) == (2, "")
    lines = out.split("\n")
    assert "worker_increment   system       3            3   fired, but declared dormant (resets = 0)" in lines
    assert lines[-5:] == [
        "warning: action `worker_increment` fired 3 times, but the model declares it dormant at this configuration "
        "(resets = 0): its `dormant_actions` is wrong; correct it, or the budget it names.",
        "warning: action `worker_reset` never fired: its guard is false in every reachable state (usually a spec bug).",
        "",
        "SPEC ERROR: declared dormant, yet fired: worker_increment",
        "",
    ]


def test_a_dormant_action_the_model_lacks_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, monkeypatch, "counter.py", BUDGETED_RESET.replace('{"worker_reset"', '{"worker_rest"'))
    code, out, err = run(capsys, "check", "counter.py:Counter")
    assert (code, out) == (2, "")
    assert err == ("kubecheck: error: counter.py:5: `dormant_actions` of model `counter` names `worker_rest`, which is "
                   "not one of its actions; name an action the model declares (see its coverage).\n")


def test_report_flags_actions_that_never_fired_and_prints_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "replicaset-anchor", "--config", "pods=2", "--liveness")
    assert (code, err) == (0, "")
    lines = out.split("\n")
    assert "controller_delete_pod   system            0            0   never fired" in lines
    assert "gc_remove_pod           system            0            0   never fired" in lines
    assert lines[-5:] == [
        "warning: action `controller_delete_pod` never fired: its guard is false in every reachable state (usually "
        "a spec bug).",
        "warning: action `gc_remove_pod` never fired: its guard is false in every reachable state (usually a spec "
        "bug).",
        "",
        "OK: every property holds (5 checked)",
        "",
    ]


def test_partial_report_says_why_it_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "replicaset-anchor", "--max-states", "500")
    assert (code, err) == (3, "")
    lines = out.split("\n")
    assert lines[3:6] == [
        "stopped  stopped at the state limit (--max-states); open verdicts are unknown",
        "states   500 distinct, 1,198 total",
        "depth    6 levels",
    ]
    assert "controller_delete_pod   system            0            0   not fired yet" in lines
    assert "node_consistency       always      unknown       undecided: max_states" in lines
    assert lines[-2] == ("UNKNOWN: 4 of 5 verdicts undecided (stopped by max_states); nothing was violated in what "
                         "was explored")


def test_report_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    first = without_time(run(capsys, "check", "replicaset-anchor")[1])
    assert without_time(run(capsys, "check", "replicaset-anchor")[1]) == first


def test_progress_is_silent_on_a_pipe_unless_asked() -> None:
    snapshot = Progress(distinct=12345, total=40012, queue=3456, depth=12, seconds=2.0)
    pipe = io.StringIO()
    with ProgressReporter(pipe) as progress:
        progress(snapshot)
    assert (progress.reports, pipe.getvalue()) == (1, "")
    with ProgressReporter(pipe, "lines") as progress:
        progress(snapshot)
    assert pipe.getvalue() == "exploring: 12,345 distinct states (6,172/s), queue 3,456, depth 12, 2 s\n"


# ---- ITF output and replay ----------------------------------------------------------------------

def test_out_writes_one_itf_file_per_counterexample(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("kubecheck.itf", reason="kubecheck.itf (the ITF writer) is not written yet")
    out_dir = tmp_path / "traces"
    code, data = run_json(capsys, "check", "replicaset-anchor", "--out", str(out_dir))
    assert code == 1
    path = str(out_dir / "no_over_provision.itf.json")
    assert data["properties"]["no_over_provision"]["counterexample"] == {"length": 9, "itf": path}
    assert sorted(os.listdir(out_dir)) == ["no_over_provision.itf.json"]
    itf = json.loads(Path(path).read_text())
    assert len(itf["states"]) == 10
    # The plain report says where the trace went.
    code, out, _ = run(capsys, "check", "replicaset-anchor", "--out", str(out_dir))
    assert code == 1
    assert f"trace written to {path}" in out.split("\n")
    assert f"no_over_provision      always      violated      counterexample: 9 steps, {path}" in out.split("\n")


def test_replay_of_a_written_counterexample(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("kubecheck.itf", reason="kubecheck.itf (the ITF writer) is not written yet")
    pytest.importorskip("kubecheck.replay", reason="kubecheck.replay is not written yet")
    assert run_json(capsys, "check", "replicaset-anchor", "--out", str(tmp_path))[0] == 1
    path = str(tmp_path / "no_over_provision.itf.json")
    code, out, err = run(capsys, "replay", path)
    assert (code, err) == (0, "")
    assert out == f"""\
{path}: a real execution of the model (9 steps)
  violates no_over_provision at step 9
"""
    # A state edited by hand: not an execution (exit 1), and the message names the step.
    doc = json.loads(Path(path).read_text())
    doc["states"][9]["status"]["#map"][2][1] = "TERMINATING"
    edited = str(tmp_path / "edited.itf.json")
    Path(edited).write_text(json.dumps(doc))
    code, out, err = run(capsys, "replay", edited)
    assert (code, err) == (1, "")
    assert out == f"""\
{edited}: NOT an execution of the model
  step 9: action `kubelet_start_pod(node=node1, pod=pod3)` leads to another state: `status[pod3]` becomes RUNNING, \
but the trace has TERMINATING.
  (the first 8 steps replay)
"""
    # A trace of another configuration, or a malformed file: exit 2.
    code, out, err = run(capsys, "replay", path, "--model", "replicaset-anchor", "--config", "pods=2")
    assert (code, out) == (2, "")
    assert err.startswith(f"kubecheck: error: {path}: the trace was made with the configuration ")
    Path(edited).write_text('{"vars": []}')
    code, out, err = run(capsys, "replay", edited)
    assert (code, out) == (2, "")
    assert err.startswith(f"kubecheck: error: {edited}: ")


def test_a_lasso_shows_its_cycle_and_replays_as_a_fair_behaviour(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    models = Path(__file__).parent / "liveness_models.py"
    assert json.loads(run(capsys, "check", f"{models}:SemaphoreMutex", "--liveness", "--json")[1])[
        "liveness_seconds"] >= 0
    code, out, _ = run(capsys, "check", f"{models}:SemaphoreMutex", "--liveness", "--out", str(tmp_path))
    assert code == 1
    assert re.search(r"^time +\d+\.\d\d s, .*; liveness \d+\.\d\d s$", out, re.M)
    # The step that closes the cycle is shown, marked "back", with its changes.
    lines = [line.rstrip() for line in out.split("\n")]
    start = lines.index("1 loop   process_request(process=process1)            pc[process1]: IDLE -> WAITING")
    assert lines[start + 2:start + 5] == [
        "     3   process_enter(process=process2)              pc[process2]: WAITING -> CRITICAL",
        "  back   process_exit(process=process2)               pc[process2]: CRITICAL -> IDLE",
        "         (back to step 1: the loop repeats forever)"]
    path = tmp_path / "process1_enters.itf.json"
    assert json.loads(path.read_text())["#meta"]["loopClosedBy"] == {"action": "process_exit",
                                                                     "params": {"process": "process2"}}
    code, out, err = run(capsys, "replay", str(path))
    assert (code, err) == (0, "")
    assert out == f"""\
{path}: a real execution of the model (3 steps)
  violates no property
  its loop closes: process_exit(process=process2) leads from the last state back to the loop's start
  its cycle is fair: it starves no fair action
"""
    # A convergence lasso that stutters: its last state repeats, and nothing fair is enabled there.
    code, out, _ = run(capsys, "check", f"{models}:LeakyReplicaSet", "--liveness", "--out", str(tmp_path))
    assert code == 1
    assert "         (step 4 repeats forever: no fair action is enabled there)" in out.split("\n")
    path = tmp_path / "replicaset_converges.itf.json"
    code, out, err = run(capsys, "replay", str(path))
    assert (code, out, err) == (0, f"""\
{path}: a real execution of the model (4 steps)
  violates no property
  ends in a deadlock: no action is enabled in its last state
  its loop stutters: the last state repeats forever
  its cycle is fair: it starves no fair action
""", "")
    # The same lasso without the fairness it relied on is not a fair behaviour: replay says what it starves.
    doc = json.loads((tmp_path / "process1_enters.itf.json").read_text())
    doc["loop"], doc["#meta"]["loopClosedBy"] = 3, "stuttering"
    unfair = tmp_path / "unfair.itf.json"
    unfair.write_text(json.dumps(doc))
    code, out, err = run(capsys, "replay", str(unfair))
    assert (code, out.split("\n")[-3:], err) == (0, [
        "  its loop stutters: the last state repeats forever",
        "  its cycle is not fair: it starves process_exit(process=process2)", ""], "")


# ---- the console script: what a shell sees --------------------------------------------------------

def test_console_script_json_and_exit_code() -> None:
    proc = subprocess.run([console_script(), "check", "replicaset-anchor", "--json"], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr) == (1, "")
    data = json.loads(proc.stdout)
    assert (data["distinct_states"], data["total_states"], data["depth"]) == (27153, 113868, 27)
    assert data["properties"]["no_over_provision"]["counterexample"] == {"length": 9, "itf": None}


def test_console_script_error_has_no_traceback() -> None:
    proc = subprocess.run([console_script(), "check", "replicaset-anchor", "--config", "pods=abc"], capture_output=True, text=True,
                          timeout=300)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("kubecheck: error: config key `pods` of model `replicaset-anchor` expects an integer "
                           "(pod slots (N)); got 'abc'.\n")


def test_python_dash_m_runs_the_same_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "kubecheck", "check", "replicaset-anchor", "--property", "node_consistency",
                           "--max-states", "500", "--json"], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr) == (3, "")
    assert json.loads(proc.stdout)["stopped_by"] == "max_states"


def test_ctrl_c_prints_the_partial_report_and_exits_3() -> None:
    # A configuration far too large to finish; --progress makes the progress lines appear on a
    # pipe, so the test interrupts only once exploring has started. The child gets the default
    # SIGINT disposition (a shell's background job would inherit "ignore"), and --time-limit
    # ends it anyway if the signal is lost (then the `stopped` line below fails, not the machine).
    proc = subprocess.Popen([console_script(), "check", "replicaset-anchor", "--config", "pods=6", "--config",
                             "nodes=3", "--property", "node_consistency", "--progress", "--time-limit", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue[str] = queue.Queue()
    err_lines: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("exploring: "):
                break
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    stderr = "".join(err_lines)
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert re.match(r"exploring: [\d,]+ distinct states \([\d,]+/s\), queue [\d,]+, depth \d+, \d+ s\n",
                    err_lines[0])
    out = stdout.split("\n")
    assert out[3] == "stopped  interrupted (Ctrl-C): a partial result; open verdicts are unknown"
    assert re.fullmatch(r"states   [1-9][\d,]* distinct, [\d,]+ total", out[4])
    assert "node_consistency   always   unknown   undecided: interrupted" in out
    assert out[-2] == ("UNKNOWN: 1 of 1 verdicts undecided (stopped by interrupted); nothing was violated in what "
                       "was explored")


def test_a_user_spec_trace_replays_from_the_file_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The ITF file records the spec's file and class (#meta.spec), so `replay` needs no --model.
    write_spec(tmp_path, monkeypatch, "overflow_free.py", COUNTER_SPEC.replace("return s.n <= self.limit",
                                                                                "return s.n < self.limit"))
    out_dir = tmp_path / "traces"
    code, _, _ = run(capsys, "check", "overflow_free.py:Counter", "--out", str(out_dir), "--quiet")
    assert code == 1
    doc = json.loads((out_dir / "bounded.itf.json").read_text())
    assert doc["#meta"]["spec"] == f"{tmp_path / 'overflow_free.py'}:Counter"
    monkeypatch.chdir("/")
    path = out_dir / "bounded.itf.json"
    code, out, err = run(capsys, "replay", str(path))
    assert (code, out, err) == (0, f"{path}: a real execution of the model (3 steps)\n  violates bounded at step 3\n", "")


def test_max_memory_prints_the_partial_report_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", "replicaset-anchor", "--config", "pods=4", "--max-memory", "1")
    assert (code, data["stopped_by"], data["distinct_states"], data["total_states"]) == (3, "max_memory", 2409, 6797)


def test_a_project_spec_file_with_relative_imports_is_checked_by_path(capsys: pytest.CaptureFixture[str]) -> None:
    import kubecheck.spec.controllers.replicaset as rs
    by_path = run_json(capsys, "check", f"{rs.__file__}:ReplicaSetModel")
    by_name = run_json(capsys, "check", "replicaset")
    assert by_path == by_name and by_path[1]["model"] == "replicaset"


# ---- engine choice ---------------------------------------------------------------------------

def test_both_engines_give_the_same_result_and_say_which_ran(capsys: pytest.CaptureFixture[str]) -> None:
    results = {}
    for engine in ("explicit", "vector", "auto"):
        code, data = run_json(capsys, "check", "replicaset-anchor", "--engine", engine)
        assert code == 1
        results[engine] = (data.pop("engine"), data.pop("bytes_per_state"), data)
    assert [results[e][0] for e in ("explicit", "vector", "auto")] == ["explicit", "vector", "vector"]
    assert results["explicit"][2] == results["vector"][2] == results["auto"][2]


def test_auto_falls_back_to_the_explicit_engine_where_the_vectorized_one_does_not_compile(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import kubecheck.vector as vector

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise vector.VectorUnsupported("action `scheduler_bind_pod` uses a construct it cannot compile")

    monkeypatch.setattr(vector, "explore", refuse)
    code, data = run_json(capsys, "check", "two-phase-commit")
    assert (code, data["engine"]) == (0, "explicit")
    assert data["warnings"][0] == (
        "the vectorized engine does not compile this model (action `scheduler_bind_pod` uses a construct it cannot "
        "compile); the explicit engine explored it instead.")
    code, out, err = run(capsys, "check", "two-phase-commit", "--engine", "vector")
    assert (code, out) == (2, "")
    assert "action `scheduler_bind_pod` uses a construct it cannot compile" in err


# ---- device --------------------------------------------------------------------------------------

def test_device_cuda_is_refused_in_one_sentence_where_cupy_is_missing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)         # as on a machine without CuPy
    code, out, err = run(capsys, "check", "replicaset-anchor", "--device", "cuda")
    assert (code, out, err) == (2, "", "kubecheck: error: --device cuda runs the kernels through CuPy, which is not "
                                "installed: install the build for this machine's CUDA (for example `pip install "
                                "cupy-cuda12x`), or leave --device out to run on the CPU.\n")


def test_device_cuda_is_refused_where_cupy_finds_no_gpu(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import types
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    code, out, err = run(capsys, "check", "replicaset-anchor", "--device", "cuda")
    assert (code, out, err) == (2, "", "kubecheck: error: --device cuda: CuPy is installed but this machine has no "
                                "CUDA GPU; leave --device out to run on the CPU.\n")


def test_a_device_is_refused_with_the_explicit_engine_and_reported_with_the_vectorized_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    from device_emulator import emulated_device
    model = build_model("replicaset-anchor", [])
    with pytest.raises(ConfigError) as err:
        model.checker().engine("explicit")._with(device=emulated_device()).run()
    assert str(err.value) == ("--device emulated runs the vectorized engine's kernels; the explicit engine runs on "
                              "the CPU only: use --engine vector or auto.")
    on_device = model.checker()._with(device=emulated_device()).run()
    on_host = model.checker().run()
    assert on_device.extra["device"] == "emulated" and on_host.extra["device"] == "cpu"
    assert on_device.to_json() | {"seconds": 0} == on_host.to_json() | {"seconds": 0}
    assert (on_device.extra["profile"].keys() - on_host.extra["profile"].keys()) == {"download"}
