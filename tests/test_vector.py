"""The vectorized engine returns exactly the explicit engine's results, on every model.

The explicit engine (kubecheck.explicit) is the contract: the same counts, depth, coverage,
verdicts and shortest counterexamples, the same stops with their counts cut at the same
point, and the same runtime errors with the same messages and traces. Only the timing,
the engine's name and what it reports in ``extra`` (its memory per state) may differ.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import kubecheck.vector.engine as vector_engine
from kubecheck import (NONE, Array, Domain, Int, Model, ModelRuntimeError, Option, Var, action, all_of, always, any_of,
                       constraint, count, initially, maximum, minimum, one_of, require, sometimes, step_invariant, sum_of,
                       when)
from kubecheck import explicit, vector
from kubecheck.errors import KubecheckError
from kubecheck.explicit import Options
from kubecheck.expr import Expr
from kubecheck.ir import TEMPORAL_KINDS, Property
from kubecheck.replay import replay
from kubecheck.types import Bool
from kubecheck.vector.visited import FingerprintSet

from language_models import Pointer, PointerBase, Registers
from test_engines import CASES, _id, _model
from test_spec_errors import GuardedRead, UnguardedRead, counter_model, increment

_ENGINE_SPECIFIC = ("seconds", "liveness_seconds", "engine", "bytes_per_state")


def _json(result):
    j = result.to_json()
    for k in _ENGINE_SPECIFIC:
        j.pop(k, None)
    return j


def assert_same(ir, options=Options()):
    """Both engines give the same result (or raise the same error, with the same trace)."""
    try:
        expected = explicit.explore(ir, options)
    except KubecheckError as err:
        with pytest.raises(type(err)) as got:
            vector.explore(ir, options)
        assert str(got.value) == str(err)
        assert getattr(got.value, "trace", None) == getattr(err, "trace", None)
        return err
    result = vector.explore(ir, options)
    assert result.engine == "vector"
    assert _json(result) == _json(expected)
    for name, p in expected.properties.items():
        q = result.properties[name]
        assert q.counterexample == p.counterexample, name
        assert q.note == p.note, name
    return result


# ---- every model of the cross-check ----------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=_id)
def test_same_result_as_the_explicit_engine(case):
    assert_same(_model(*case).ir)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_same_result_when_stopped_early(case):
    """``first``, ``max_states`` in the middle of a level, and ``max_depth`` cut the run where the
    explicit engine cuts it, in the middle of a chunk."""
    ir = _model(*case).ir
    full = explicit.explore(ir)
    for options in (Options(first=True), Options(max_states=max(1, full.distinct_states // 3)),
                    Options(max_states=max(1, full.distinct_states // 3), first=True),
                    Options(max_depth=max(1, full.depth // 2))):
        assert_same(ir, options)


@pytest.mark.parametrize("case", [c for c in CASES if _model(*c).ir.symmetric], ids=_id)
def test_same_result_with_symmetry_reduction(case):
    ir = _model(*case).ir
    assert_same(ir, Options(symmetry=True))
    assert_same(ir, Options(symmetry=True, first=True))


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_small_chunks_change_nothing(monkeypatch, chunk):
    """Several chunks per level: duplicates across chunks, and stops inside a later chunk."""
    monkeypatch.setattr(vector_engine, "CHUNK", chunk)
    for spec, config in (("replicaset-anchor", {}), (Pointer, {})):
        ir = _model(spec, config).ir
        full = explicit.explore(ir)
        assert_same(ir)
        for k in (2, 3, 5):
            assert_same(ir, Options(max_states=full.distinct_states // k))
        assert_same(ir, Options(first=True))


def test_property_selection_and_deadlock_switch():
    ir = _model("replicaset-anchor", {}).ir
    for p in ir.properties:
        assert_same(ir, Options(properties=(p.name,)))
        assert_same(ir, Options(properties=(p.name, "deadlock_free"), first=True))
    assert_same(ir, Options(properties=()))
    assert_same(ir, Options(check_deadlock=False))
    assert_same(_model(Pointer, {}).ir, Options(check_deadlock=True, first=True))


def test_max_states_stop_reports_no_pass():
    ir = _model("replicaset-anchor", {}).ir
    result = assert_same(ir, Options(max_states=1000, liveness=True))
    assert result.stopped_by == "max_states"
    assert result.distinct_states == 1000
    # No safety or temporal property passes on an incomplete run (a goal reached has its witness and holds).
    assert {p.verdict for p in result.properties.values() if p.kind != "sometimes"} <= {"unknown", "violated"}
    assert result.properties["deadlock_free"].verdict == "unknown"
    assert result.exit_code() != 0


def test_anchor_with_four_pods():
    """432,389 states: the chunked path at scale (several 64 k chunks per level)."""
    ir = _model("replicaset-anchor", {"pods": 4}).ir
    result = assert_same(ir)
    assert (result.distinct_states, result.total_states, result.depth) == (432389, 2162258, 35)


def test_time_and_memory_limits_are_checked_every_1024_states_as_in_the_explicit_engine():
    """A limit already exceeded stops both engines after the same 1024 expanded states."""
    ir = _model("replicaset-anchor", {"pods": 4}).ir
    for options in (Options(max_memory=1), Options(time_limit=1e-9), Options(max_memory=1, first=True)):
        result = assert_same(ir, options)
        assert (result.distinct_states, result.total_states, result.extra["processed"]) == (2409, 6797, 1024)
    assert assert_same(ir, Options(max_memory=1)).stopped_by == "max_memory"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_stop_with_small_chunks(monkeypatch, case):
    """Every ``max_states`` cut point class, ``max_depth``, each property alone, symmetry: with chunks of 37
    states, so that stops, duplicates and first occurrences straddle chunks. (About four minutes.)"""
    monkeypatch.setattr(vector_engine, "CHUNK", 37)
    ir = _model(*case).ir
    full = explicit.explore(ir)
    n = full.distinct_states
    options = [Options(first=True), Options(check_deadlock=False), Options(check_deadlock=True), Options(max_depth=1),
               Options(max_depth=2), Options(max_depth=full.depth), Options(max_depth=full.depth + 1)]
    for ms in sorted({0, 1, 2, 3, 5, n // 7, n // 3, n // 2, n - 1, n, n + 1}):
        options += [Options(max_states=ms), Options(max_states=ms, first=True)]
    for p in ir.properties:
        options += [Options(properties=(p.name,)), Options(properties=(p.name, "deadlock_free"), first=True)]
    if ir.symmetric:
        options += [Options(symmetry=True, first=True), Options(symmetry=True, max_states=n // 5)]
    for o in options:
        assert_same(ir, o)


# ---- storage and fingerprint variants ------------------------------------------------------

Cells = Domain("cell", size=3)
Quads = Domain("quad", size=4)


class Wide(Model):
    """int16 storage, every arithmetic operator, Bool-indexed arrays, Int-range parameters."""

    x = Var(Int(-150, 300), init=0)                 # needs int16
    y = Var(Int(0, 7), init=1)                      # a Collatz-like counter
    flags = Var(Array(Bool, Bool), init=False)      # indexed by a Bool
    hist = Var(Array(Int(1, 3), Int(0, 5)), init=0) # indexed by an Int range
    ptr = Var(Option(Cells), init=NONE)             # a pointer
    vals = Var(Array(Cells, Int(-3, 3)), init=0)    # signed values
    t = Var(Int(0, 5), init=0)                      # steps taken (bounds the state space)

    @action(d=Int(1, 3))
    def user_add(self, s, d):
        require((s.t < 5) & (s.x + d * 100 <= 300))
        s.t = s.t + 1
        s.x = s.x + d * 100
        s.hist[d] = minimum(s.hist[d] + 1, 5)

    @action
    def user_halve(self, s):
        require((s.t < 5) & (s.x > 0))
        s.t = s.t + 1
        s.x = -(s.x // 2)
        s.y = (s.y * 3 + 1) % 8

    @action(b=Bool)
    def user_flag(self, s, b):
        require((s.t < 5) & ((s.flags[b] != s.flags[~b]) | (s.y > 3)))
        s.t = s.t + 1
        s.flags[s.y > 4] = ~s.flags[s.y > 4]

    @action(k=Cells)
    def user_point(self, s, k):
        require((s.t < 5) & (s.ptr != k))
        s.t = s.t + 1
        s.ptr = k
        s.vals[k] = maximum(-3, minimum(3, when(s.ptr == NONE, 0, s.vals[s.ptr] - 1)))

    @action
    def user_spread(self, s):
        require((s.t < 5) & (s.ptr != NONE))
        s.t = s.t + 1
        s.vals.set_all(lambda c: when(c == s.ptr, s.vals[c], -s.vals[c]))

    @always
    def bounded(self, s):
        return (sum_of(Int(1, 3), lambda i: s.hist[i]) <= 15) & (count(Cells, lambda c: s.vals[c] != 0) <= 3)

    @always
    def nested(self, s):
        return all_of(Cells, lambda c: any_of(Cells, lambda d: (s.vals[c] - s.vals[d] <= 6) | (c == d)))

    @sometimes
    def far(self, s):
        return (s.x == -150) | (s.x == 300)

    @step_invariant
    def pointer_moves_alone(self, pre, post):
        return (post.ptr == pre.ptr) | (post.x == pre.x)


class HugeExact(Model):
    """A leaf with more values than a fingerprint table holds: computed, exactly packed fingerprints."""

    n = Var(Int(0, 200000), init=0)   # a wide counter
    b = Var(Bool, init=False)          # a toggle

    @action
    def user_step(self, s):
        require(s.n <= 150000)
        s.n = s.n + 50000 - when(s.b, 49999, 0)
        s.b = ~s.b


class HugeHashed(Model):
    """Wide leaves, more than 63 bits: computed tabulation fingerprints."""

    a = Var(Array(Quads, Int(0, 100000)), init=0)   # four wide counters

    @action(k=Quads)
    def user_bump(self, s, k):
        require(s.a[k] < 99990)
        s.a[k] = s.a[k] + 33333

    @always
    def small_sum(self, s):
        return sum_of(Quads, lambda c: s.a[c]) <= 300000


@pytest.mark.parametrize("cls, storage, scheme", [(Wide, "int16", "pack"), (HugeExact, "int32", "pack"),
                                                  (HugeHashed, "int32", "tabulation")], ids=lambda x: str(x))
def test_wide_values_and_computed_fingerprints(monkeypatch, cls, storage, scheme):
    ir = cls().ir
    kernels = vector.compile_model(ir)
    assert (kernels.storage, kernels.fingerprints.scheme) == (storage, scheme)
    result = assert_same(ir)
    assert_same(ir, Options(max_states=result.distinct_states // 2, first=True))
    monkeypatch.setattr(vector_engine, "CHUNK", 3)
    assert_same(ir)


# ---- runtime errors: the evaluator's message, at the explicit engine's state ------------------

def test_value_out_of_range_raises_the_explicit_engines_error():
    model = counter_model(worker_increment=increment)()
    err = assert_same(model.ir)
    assert isinstance(err, ModelRuntimeError)
    assert "sets `x` to 4, outside its type Int(0, 3)" in str(err)
    assert err.trace.labels(model.ir) == ["worker_increment"] * 3


def test_used_out_of_domain_read_raises_and_a_guarded_one_does_not():
    err = assert_same(UnguardedRead().ir)
    assert isinstance(err, ModelRuntimeError) and "reads `up[node]` with node = none" in str(err)
    result = assert_same(GuardedRead().ir)
    assert (result.distinct_states, result.total_states) == (2, 3)


Slots = PointerBase.Slots


class _Pointing(PointerBase):
    """A pointer that may be NONE, a counter that sequences the tests' failures."""

    n = Var(Int(0, 4), init=0)                   # a step counter

    @action
    def user_count(self, s):
        require(s.n < 4)
        s.n = s.n + 1


class UndefinedGuard(_Pointing):
    @action
    def user_mark(self, s):
        require((s.n >= 2) & (s.mark[s.ptr] < 2))
        s.mark[s.ptr] = s.mark[s.ptr] + 1


class UndefinedWriteIndex(_Pointing):
    @action
    def user_mark(self, s):
        require(s.n >= 3)
        s.mark[s.ptr] = 1


class UndefinedValue(_Pointing):
    @action
    def user_copy(self, s):
        require(s.n == 2)
        s.n = s.mark[s.ptr] + 1


class DoubleWrite(_Pointing):
    @action(k=Slots)
    def user_mark(self, s, k):
        require((s.ptr != NONE) & (s.n == 1))
        s.mark[s.ptr] = 1
        s.mark[k] = 2


class OutOfRangeAtAComputedIndex(_Pointing):
    @action
    def user_bump(self, s):
        require(s.ptr != NONE)
        s.mark[s.ptr] = s.mark[s.ptr] + s.n


class UndefinedInvariant(_Pointing):
    @always
    def marked_pointer(self, s):
        return (s.n < 3) | (s.mark[s.ptr] == 0)


class UndefinedGoal(_Pointing):
    @sometimes
    def pointer_marked(self, s):
        return (s.n > 2) & (s.mark[s.ptr] == 1)


class UndefinedStepProperty(_Pointing):
    @step_invariant
    def pointer_stable(self, pre, post):
        return (pre.n < 2) | (post.mark[post.ptr] >= 0)


class UndefinedConstraint(_Pointing):
    @constraint
    def small(self, s):
        return (s.n < 2) | (s.mark[s.ptr] == 0)


class _TwoInitial(Model):
    ptr = Var(Option(Slots), init=one_of(0, NONE))   # two initial states
    mark = Var(Array(Slots, Int(0, 2)), init=0)      # marks per slot

    @action
    def user_mark(self, s):
        s.mark[0] = 1


class UndefinedInitialCondition(_TwoInitial):
    @initially
    def starts_unmarked(self, s):
        return s.mark[s.ptr] == 0


class UndefinedInitialInvariant(_TwoInitial):
    @always
    def unmarked(self, s):
        return s.mark[s.ptr] == 0


class UndefinedInitialConstraint(_TwoInitial):
    @constraint
    def unmarked(self, s):
        return s.mark[s.ptr] == 0


ERRORS = [UndefinedGuard, UndefinedWriteIndex, UndefinedValue, DoubleWrite, OutOfRangeAtAComputedIndex,
          UndefinedInvariant, UndefinedGoal, UndefinedStepProperty, UndefinedConstraint, UndefinedInitialCondition,
          UndefinedInitialInvariant, UndefinedInitialConstraint]


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("options", [Options(), Options(first=True), Options(properties=()), Options(max_states=3)],
                         ids=["default", "first", "no-properties", "max-states"])
def test_runtime_errors_at_every_site(cls, options):
    assert_same(cls().ir, options)


@pytest.mark.parametrize("cls", [UndefinedGuard, DoubleWrite, UndefinedStepProperty], ids=lambda c: c.__name__)
def test_runtime_errors_in_a_later_chunk(monkeypatch, cls):
    monkeypatch.setattr(vector_engine, "CHUNK", 2)
    err = assert_same(cls().ir)
    assert isinstance(err, ModelRuntimeError) and err.trace is not None


# ---- what the engine refuses, and what it reports --------------------------------------------

def test_unsupported_construct_is_refused_before_exploring():
    ir = Registers().ir
    by = Expr("acting", ("writer",), (), Bool, 0, 1)     # step.by(...) in an invariant: no step to ask
    bad = Property("writer_acted", "always", (by,), "spec.py:1")
    ir = dataclasses.replace(ir, properties=ir.properties + (bad,))
    with pytest.raises(vector.VectorUnsupported) as e:
        vector.explore(ir)
    assert isinstance(e.value, KubecheckError)
    assert "writer_acted" in str(e.value) and "step.by" in str(e.value)


def test_extra_reports_memory_and_fingerprint_collisions():
    result = vector.explore(_model("replicaset-anchor", {}).ir)
    extra = result.extra
    assert extra["fingerprint"] == "pack" and extra["collision_probability"] == 0.0
    assert 0 < extra["bytes_per_state"] < 100
    wide = vector.explore(_model("endpoints", {"pod_slots": 1}).ir)
    n = wide.distinct_states
    assert wide.extra["fingerprint"] == "tabulation"
    assert wide.extra["collision_probability"] == pytest.approx(n * (n - 1) / 2 / 2.0 ** 64)


def test_fingerprint_set_matches_a_python_set():
    rng = np.random.default_rng(7)
    fs = FingerprintSet(expected=16)
    seen: set[int] = set()
    for _ in range(30):
        batch = rng.integers(0, 1 << 12, size=500).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        batch[:3] = 0
        got = fs.contains(batch)
        assert got.tolist() == [int(k) in seen for k in batch]
        fresh = np.array(sorted({int(k) for k in batch} - seen), dtype=np.uint64)
        fs.add_new(fresh)
        seen |= {int(k) for k in fresh}
        assert len(fs) + fs.has_zero == len(seen)
    assert fs.contains(np.array(sorted(seen), dtype=np.uint64)).all()


# ---- the optional numba visited set: the same answers as the numpy one ----------------------

def _fresh(batch, seen):
    """The distinct keys of ``batch`` not in ``seen``, in order of first occurrence."""
    out, mine = [], set()
    for k in batch.tolist():
        if k not in seen and k not in mine:
            mine.add(k)
            out.append(k)
    return np.array(out, dtype=np.uint64)


def test_numba_fingerprint_set_answers_as_the_numpy_one():
    """Random batches (empty ones, repeats within a batch, the fingerprint 0, many growths, the switch from
    the numpy set): ``contains`` agrees with the numpy set and a Python set, and ``first_new`` returns each
    new key's least order, ascending, across both of its order ranges (guard-mask indices, then explicit
    orders)."""
    pytest.importorskip("numba")
    from kubecheck.vector.visited_numba import NumbaFingerprintSet
    rng = np.random.default_rng(11)
    ref = FingerprintSet(expected=16)
    fast = NumbaFingerprintSet(expected=16)
    seen: set[int] = set()
    npad, width = 1 << 7, 5
    for step in range(60):
        n = int(rng.integers(0, 3000))
        batch = rng.integers(0, 1 << int(rng.integers(4, 14)), size=n).astype(np.uint64)
        batch *= np.uint64(0x9E3779B97F4A7C15)
        if step % 10 == 9:             # a few keys many times over: partitions too large for the shared table
            batch = np.repeat(batch[:3], 2500)
            n = len(batch)
        batch[rng.random(n) < 0.01] = 0
        if step == 30:                 # the engine's switch: the compiled set adopts the numpy set's table
            fast = NumbaFingerprintSet.adopt(ref)
            ref = FingerprintSet(expected=16)
            ref.add_new(np.array(sorted(seen - {0}), dtype=np.uint64))
            ref.has_zero = 0 in seen
        expected = np.array([int(k) in seen for k in batch])
        assert ref.contains(batch).tolist() == expected.tolist()
        assert fast.contains(batch).tolist() == expected.tolist()
        # Distinct orders: guard-mask indices (parent = index % npad, instance = index // npad) for the
        # first part of the batch, explicit orders for the rest; first occurrences are not always first.
        nf = int(rng.integers(0, min(n, npad * width) + 1))
        flat = np.sort(rng.choice(npad * width, size=nf, replace=False)).astype(np.int64)
        extra = rng.permutation(n - nf).astype(np.int64) + npad * width
        order = np.concatenate([(flat % npad) * width + flat // npad, extra])
        wok, wpos = fast.first_new(batch, flat, npad, width, extra)
        least: dict[int, tuple[int, int]] = {}
        for i, (k, o) in enumerate(zip(batch.tolist(), order.tolist())):
            if k not in seen and (k not in least or o < least[k][0]):
                least[k] = (o, i)
        want = sorted(least.values())
        assert wok.tolist() == [o for o, _ in want]
        assert wpos.tolist() == [i for _, i in want]
        fresh = _fresh(batch, seen)
        ref.add_new(fresh)
        fast.add_new(fresh)
        seen |= set(fresh.tolist())
        assert len(fast) == len(ref) and fast.has_zero == ref.has_zero and fast.nbytes == ref.nbytes
    every = np.array(sorted(seen), dtype=np.uint64)
    assert fast.contains(every).all() and ref.contains(every).all()
    absent = every + np.uint64(1)
    assert fast.contains(absent).tolist() == ref.contains(absent).tolist()


def test_numba_fingerprint_set_grows_in_place():
    """Growth spreads the old table over the larger one in place; keys displaced past their new home's
    start, or whose probing wraps round, are set aside and inserted last. Many small tables, grown by one
    step or several at once, keep exactly their keys."""
    pytest.importorskip("numba")
    from kubecheck.vector.visited_numba import NumbaFingerprintSet
    rng = np.random.default_rng(5)
    for trial in range(400):
        keys = np.unique(rng.integers(1, 1 << 63, size=4000, dtype=np.uint64))
        rng.shuffle(keys)
        first, more = int(rng.integers(300, 512)), int(rng.choice([300, 3000]))   # beyond half of 1024 slots
        fs = NumbaFingerprintSet(expected=16)
        fs.add_new(keys[:first])
        bits = fs.bits
        fs.add_new(keys[first:first + more])
        assert fs.bits > bits and len(fs) == first + more
        assert fs.contains(keys[:first + more]).all()
        assert not fs.contains(keys[first + more:]).any()
        assert np.count_nonzero(fs.table) == first + more


def _both_paths(monkeypatch, ir, options=Options(), after=0):
    """The vector engine's result (or error) with the numpy visited set, and with the numba one from
    ``after`` states on (0: from the initial states); the same JSON, counterexamples and notes, or the
    same error and trace."""
    def run(after):
        monkeypatch.setattr(vector_engine, "NUMBA_AFTER", after)
        try:
            return vector.explore(ir, options)
        except KubecheckError as err:
            return err
    slow, fast = run(None), run(after)
    if isinstance(slow, KubecheckError):
        assert type(fast) is type(slow) and str(fast) == str(slow)
        assert getattr(fast, "trace", None) == getattr(slow, "trace", None)
        return slow
    assert "numba_load" in fast.extra["profile"] and "numba_load" not in slow.extra["profile"]
    assert _json(fast) == _json(slow)
    for name, p in slow.properties.items():
        assert fast.properties[name].counterexample == p.counterexample, name
        assert fast.properties[name].note == p.note, name
    assert fast.extra["processed"] == slow.extra["processed"]
    return slow


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_numba_visited_set_changes_nothing(monkeypatch, case):
    pytest.importorskip("numba")
    ir = _model(*case).ir
    full = _both_paths(monkeypatch, ir)
    for options in (Options(first=True), Options(max_states=max(1, full.distinct_states // 3)),
                    Options(max_depth=max(1, full.depth // 2))):
        _both_paths(monkeypatch, ir, options)
    if ir.symmetric:
        _both_paths(monkeypatch, ir, Options(symmetry=True))


@pytest.mark.parametrize("chunk", [7, 1 << 16])
def test_numba_visited_set_on_the_chunked_path_and_errors(monkeypatch, chunk):
    """Many chunks per level (duplicates across chunks, stops inside later ones), the switch in the middle of
    a run, parents that the evaluator decides (their transitions' orders come from the explicit list) and
    the tabulation scheme."""
    pytest.importorskip("numba")
    monkeypatch.setattr(vector_engine, "CHUNK", chunk)
    for ir in (_model("replicaset-anchor", {}).ir, HugeHashed().ir, Wide().ir):
        full = _both_paths(monkeypatch, ir)
        _both_paths(monkeypatch, ir, after=full.distinct_states // 4)     # adopting a grown table mid-level
        for k in (2, 5):
            _both_paths(monkeypatch, ir, Options(max_states=full.distinct_states // k, first=True))
    for cls in ERRORS:
        _both_paths(monkeypatch, cls().ir)
        _both_paths(monkeypatch, cls().ir, Options(properties=()))


# ---- the device path, on a host stand-in that keeps a GPU's rules -------------------------------

def _on_device(ir, options=Options()):
    from device_emulator import emulated_device
    expected = vector.explore(ir, options)
    result = vector.explore(ir, dataclasses.replace(options, device=emulated_device()))
    assert result.extra["device"] == "emulated" and "download" in result.extra["profile"]
    assert _json(result) == _json(expected)
    for name, p in expected.properties.items():
        assert result.properties[name].counterexample == p.counterexample, name
    return result


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_device_kernels_give_the_host_result(case):
    """Guards, writes and fingerprints computed on a device: every count, verdict and trace as on the
    host, with and without stops and symmetry reduction."""
    ir = _model(*case).ir
    full = _on_device(ir)
    for options in (Options(first=True), Options(max_states=max(1, full.distinct_states // 3))):
        _on_device(ir, options)
    if ir.symmetric:
        _on_device(ir, Options(symmetry=True))


def test_the_device_stand_in_keeps_a_gpus_rules():
    """The stand-in must refuse what a GPU refuses, or the test above could not fail."""
    from device_emulator import emulated_device
    dev = emulated_device()
    a = dev.upload(np.arange(5))
    refusals = {
        "a host operand": lambda: a + np.arange(5),
        "a numpy function": lambda: np.flatnonzero(a),
        "a host index": lambda: a[np.array([1])],
        "take's mode": lambda: a.take(dev.upload(np.array([1])), mode="wrap"),
    }
    for what, attempt in refusals.items():
        with pytest.raises(TypeError):
            attempt()
            pytest.fail(what)
    assert dev.download(a.take(dev.upload(np.array([7, -1])))).tolist() == [2, 4]
    b = dev.download(a)
    b[0] = 9
    assert dev.download(a)[0] == 0


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_same_liveness_verdicts_and_lassos(case):
    """With --liveness both engines record the same graph and give the same verdicts and lassos."""
    ir = _model(*case).ir
    result = assert_same(ir, Options(liveness=True))
    temporal = {n: r.verdict for n, r in result.properties.items() if r.kind in TEMPORAL_KINDS}
    assert all(v in ("holds", "violated") for v in temporal.values()), temporal
    _assert_fair_lassos(ir, result)
    if ir.symmetric:
        _assert_fair_lassos(ir, assert_same(ir, Options(liveness=True, symmetry=True)))


def _assert_fair_lassos(ir, result):
    """Every lasso is a real execution whose cycle closes and which starves no fair instance; a property left
    unknown (a lasso on the symmetry quotient fair per action only) says so in a warning."""
    for name, r in result.properties.items():
        if r.counterexample is not None and r.counterexample.loop is not None:
            replayed = replay(ir, r.counterexample)
            assert (replayed.ok, replayed.loop_closes, replayed.starved) == (True, True, ()), name
        warned = [w for w in result.warnings if w.startswith(f"property `{name}` is unknown: on the symmetry")]
        assert len(warned) == (r.verdict == "unknown" and r.kind in TEMPORAL_KINDS), name
