"""Every counterexample of every model is a real execution, in ITF and back.

For each model of the engine cross-checks, each violated property's counterexample is
written as ITF, validated against the schema, read back identically, and replayed by the
reference evaluator, which must find the same violation at the last step.
"""

from __future__ import annotations

import pytest

from kubecheck.explicit import explore
from kubecheck.itf import dumps_itf, itf_to_trace, load_itf
from kubecheck.replay import replay
from kubecheck.result import DEADLOCK

from test_engines import CASES, _id, _model


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_counterexample_round_trips_and_replays(case, tmp_path):
    ir = _model(*case).ir
    result = explore(ir)
    for name, prop in result.properties.items():
        trace = prop.counterexample
        if trace is None:
            continue
        path = tmp_path / f"{name}.itf.json"
        path.write_text(dumps_itf(ir, trace))
        back = itf_to_trace(ir, load_itf(str(path)), str(path))
        assert back == trace
        assert dumps_itf(ir, back) == path.read_text()
        replayed = replay(ir, back)
        assert replayed.ok, replayed.error
        if name == DEADLOCK:
            assert replayed.deadlock
        else:
            assert replayed.violations[name] == trace.length


def test_the_cases_include_every_kind_of_counterexample():
    kinds = set()
    for case in CASES:
        result = explore(_model(*case).ir)
        kinds |= {p.kind for p in result.properties.values() if p.counterexample is not None}
    assert kinds == {"always", "step", "deadlock"}
