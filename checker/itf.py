"""Traces as ITF, the Informal Trace Format of Apalache (ADR-015) and Quint.

A :class:`~kubecheck.result.Trace` is written as one JSON object that Apalache, Quint's
tools and ITF viewers read::

    write_itf("no_over_provision.itf.json", ir, trace)
    trace = itf_to_trace(ir, load_itf("no_over_provision.itf.json"))

What is written, and why:

- integers are always ``{"#bigint": "..."}``, as Quint writes them; enum members are their
  names; references are labels (``"pod1"``);
- an array is a ``"#map"`` keyed by the index value, a set a ``"#set"``, both in the
  domain's order (``pod2`` before ``pod10``); an Option is Quint's ``Some``/``None`` variant;
  a record is a JSON object; a queue is a JSON list;
- ``vars`` holds the declared variables, then Quint's ``--mbt`` variables
  ``mbt::actionTaken`` (the action, ``"init"`` first) and ``mbt::nondetPicks`` (a record with
  every parameter name of the model: ``Some(value)`` for the action's parameters, ``None``
  for the others), so model-based-testing drivers written for Quint read it unchanged;
- each state's ``#meta`` repeats its index, action and parameters for a person reading it;
- the top-level ``#meta`` names the model, its configuration (not ``params``: constants
  are not state, and replay needs them before any state is read), the violated property
  and ``varTypes`` (which Apalache needs to read a trace back);
- nothing varies between runs (no timestamp), so one trace is always the same bytes.

Reading validates against the packaged JSON Schema (``itf.schema.json``) first; every
problem is a :class:`~kubecheck.errors.TraceError` naming the file and where in it.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import jsonschema

from .errors import TraceError
from .ir import IR, Action
from .result import Step, Trace
from .values import (NONE_VARIANT, MapValue, RecordValue, SeqValue, SetValue, Variant, decode_state, encode_scalar,
                     encode_state, scalar_value, type_string)

__all__ = ["LOOP_CLOSED_BY", "STUTTERING", "ACTION_TAKEN", "NONDET_PICKS", "FORMAT_DESCRIPTION", "trace_to_itf", "dumps_itf", "write_itf",
           "load_itf", "itf_to_trace", "itf_schema"]

LOOP_CLOSED_BY = "loopClosedBy"
"""The top-level ``#meta`` key of a lasso: the action (and parameters) that leads from the last state back to
``states[loop]``, or ``"stuttering"`` where the last state repeats forever."""
STUTTERING = "stuttering"
ACTION_TAKEN = "mbt::actionTaken"
NONDET_PICKS = "mbt::nondetPicks"
FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
_MBT = (ACTION_TAKEN, NONDET_PICKS)
_INIT = "init"


# ---- writing ------------------------------------------------------------------------------

def trace_to_itf(ir: IR, trace: Trace) -> dict[str, Any]:
    """The ITF document of ``trace`` (a JSON-ready dict, keys in a fixed order).

    For example ``trace_to_itf(ir, trace)["states"][1]["mbt::actionTaken"]`` is
    ``"controller_create_pod"``.
    """
    if trace.model != ir.model:
        raise TraceError(f"the trace is of model `{trace.model}`, but the IR is of model `{ir.model}`.")
    violation = trace.violation
    meta = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "source": ir.source,
        "description": f"kubecheck: {ir.model} violates {violation}" if violation
                       else f"kubecheck: trace of {ir.model}",
        "model": ir.model,
        "spec": f"{ir.source}:{ir.class_name}",
        "config": dict(ir.config),
        "violation": violation,
        "varTypes": {v.name: type_string(v.type) for v in ir.variables},
    }
    picks = _pick_names(ir)
    states = []
    for i, step in enumerate(trace.steps):
        params = _step_params(ir, step)
        state: dict[str, Any] = {"#meta": {"index": i, "action": step.action or _INIT,
                                           "params": {n: _to_json(v) for n, v in params.items()}}}
        for name, value in decode_state(ir, step.state).items():
            state[name] = _to_json(value)
        state[ACTION_TAKEN] = step.action or _INIT
        state[NONDET_PICKS] = {n: _to_json(Variant("Some", params[n]) if n in params else NONE_VARIANT)
                               for n in picks}
        states.append(state)
    doc: dict[str, Any] = {"#meta": meta, "vars": [v.name for v in ir.variables] + list(_MBT), "states": states}
    if trace.loop is not None:
        doc["loop"] = trace.loop
        closing = trace.closing
        if closing is not None:
            meta[LOOP_CLOSED_BY] = {"action": closing.action,
                                    "params": {n: _to_json(v) for n, v in _step_params(ir, closing).items()}}
        elif trace.stutters:
            meta[LOOP_CLOSED_BY] = STUTTERING
    return doc


def dumps_itf(ir: IR, trace: Trace) -> str:
    """The ITF text of ``trace``: indented JSON and a final newline, the same bytes every time."""
    return json.dumps(trace_to_itf(ir, trace), indent=2, ensure_ascii=False) + "\n"


def write_itf(path: str, ir: IR, trace: Trace) -> None:
    """Write ``trace`` to ``path`` (by convention ``<name>.itf.json``)."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(dumps_itf(ir, trace))


def _pick_names(ir: IR) -> list[str]:
    """Every parameter name of the model, in action order (Quint lists every nondet name)."""
    names: dict[str, None] = {}
    for a in ir.actions:
        names.update(dict.fromkeys(a.param_names()))
    return list(names)


def _step_params(ir: IR, step: Step) -> dict[str, Any]:
    """A step's parameters as typed values (``{"pod": "pod1"}``), in declaration order."""
    if step.action is None:
        return {}
    given = dict(step.params)
    return {p.data: scalar_value(p.type, given[p.data]) for p in ir.action(step.action).params}


def _to_json(x: Any) -> Any:
    """A typed value (see :mod:`kubecheck.values`) as an ITF expression."""
    if isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return {"#bigint": str(x)}
    if isinstance(x, Variant):
        return {"tag": x.tag, "value": _to_json(x.value)}
    if isinstance(x, MapValue):
        return {"#map": [[_to_json(k), _to_json(v)] for k, v in x.items]}
    if isinstance(x, SetValue):
        return {"#set": [_to_json(m) for m in x.items]}
    if isinstance(x, RecordValue):
        return {f: _to_json(v) for f, v in x.fields}
    if isinstance(x, SeqValue):
        return [_to_json(m) for m in x.items]
    if isinstance(x, tuple):
        return {"#tup": [_to_json(m) for m in x]}
    raise AssertionError(x)


# ---- reading ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def itf_schema() -> dict[str, Any]:
    """The packaged JSON Schema (draft 2020-12) of ITF."""
    text = resources.files("kubecheck").joinpath("itf.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.lru_cache(maxsize=None)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(itf_schema())


def load_itf(path: str) -> dict[str, Any]:
    """Read and validate the ITF file at ``path``; any problem is one :class:`TraceError`.

    For example, a file cut short reads ``t.itf.json: invalid JSON at line 40, column 5:
    ...``; a bad value reads ``t.itf.json: states[3].failures["#bigint"] is "1x"; expected
    a decimal integer as a string ...``.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise TraceError(f"{path}: cannot read the trace file ({reason}).") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise TraceError(f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}. An ITF trace "
                         "is one JSON object (Apalache ADR-015); check that the file is complete.") from None
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        raise TraceError(f"{path}: {_schema_message(error)}") from None
    assert isinstance(doc, dict)
    return doc


def _schema_message(error: jsonschema.exceptions.ValidationError) -> str:
    """Where the document breaks the schema, and what the schema expects there."""
    where = _json_path(list(error.absolute_path))
    obj = where or "the top-level object"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "propertyNames" in error.relative_schema_path:
        return f"{obj} has the key {json.dumps(error.instance, ensure_ascii=False)}; expected {schema['description']}."
    if error.validator == "required":
        missing = [k for k in schema["required"] if k not in error.instance][0]
        desc = schema.get("properties", {}).get(missing, {}).get("description")
        return f"{obj} has no {json.dumps(missing)}" + (f" ({desc})." if desc else ".")
    if error.validator == "additionalProperties" and schema.get("additionalProperties") is False:
        extra = sorted(k for k in error.instance if k not in schema["properties"])[0]
        allowed = ", ".join(json.dumps(k) for k in schema["properties"])
        return f"{obj} has the key {json.dumps(extra, ensure_ascii=False)}; ITF allows only {allowed}."
    expected = schema.get("description", error.message)
    return f"{where or 'the document'} is {_short_json(error.instance)}; expected {expected}."


def _json_path(parts: list[Any]) -> str:
    """``states[3].status["#bigint"]``: indices in brackets, identifiers after dots."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            out += f".{p}" if out else p
        else:
            out += f"[{json.dumps(p, ensure_ascii=False)}]" if out else p
    return out


def _short_json(x: Any, limit: int = 60) -> str:
    text = json.dumps(x, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Unserializable(Exception):
    """An ``{"#unserializable": ...}`` value, which no model variable can hold."""


def _from_json(x: Any) -> Any:
    """A (schema-valid) ITF expression as a typed value (see :mod:`kubecheck.values`)."""
    if isinstance(x, (bool, str)):
        return x
    if isinstance(x, (int, float)):
        return int(x)   # the schema admits only integral numbers; JSON may still spell one 3.0
    if isinstance(x, list):
        return SeqValue(tuple(_from_json(m) for m in x))
    if "#bigint" in x:
        return int(x["#bigint"])
    if "#tup" in x:
        return tuple(_from_json(m) for m in x["#tup"])
    if "#set" in x:
        return SetValue(tuple(_from_json(m) for m in x["#set"]))
    if "#map" in x:
        return MapValue(tuple((_from_json(k), _from_json(v)) for k, v in x["#map"]))
    if "#unserializable" in x:
        raise _Unserializable(x["#unserializable"])
    if set(x) == {"tag", "value"}:
        return Variant(x["tag"], _from_json(x["value"]))
    return RecordValue(tuple((f, _from_json(v)) for f, v in x.items()))


def itf_to_trace(ir: IR, doc: dict[str, Any], path: str = "<trace>") -> Trace:
    """The :class:`Trace` of a validated ITF document (from :func:`load_itf`) for model ``ir``.

    The action of each state is read from ``mbt::actionTaken`` and ``mbt::nondetPicks``
    when the file has them, else from the state's ``#meta`` (``action``, ``params``). For
    example, a string where an integer belongs reads ``t.itf.json: state 3: variable
    `failures` expects an integer in 0..1; got the string "one".``
    """
    meta = doc.get("#meta", {})
    _check_meta(ir, meta, path)
    names = [v.name for v in ir.variables]
    listed = list(dict.fromkeys(doc["vars"]))   # Quint may list a variable twice
    for name in listed:
        if name not in names and name not in _MBT:
            raise TraceError(f"{path}: \"vars\" names `{name}`, which is not a variable of model `{ir.model}` (its "
                             f"variables are {', '.join(names)}).")
    for name in names:
        if name not in listed:
            raise TraceError(f"{path}: \"vars\" lacks `{name}`, a variable of model `{ir.model}`; a trace gives "
                             "every variable in every state.")
    mbt = all(n in listed for n in _MBT)
    ignored = set(doc.get("params", ())) | {"#meta"}
    if not doc["states"]:
        raise TraceError(f"{path}: the trace has no states.")
    steps = []
    for i, raw in enumerate(doc["states"]):
        for key in raw:
            if key not in listed and key not in ignored:
                raise TraceError(f"{path}: state {i} has `{key}`, which \"vars\" does not list.")
        for name in listed:
            if name not in raw:
                raise TraceError(f"{path}: state {i} has no value for variable `{name}`; ITF requires every "
                                 "state to give every variable in \"vars\".")
        values = {}
        for name in names:
            try:
                values[name] = _from_json(raw[name])
            except _Unserializable as err:
                raise TraceError(f"{path}: state {i}: variable `{name}` holds an unserializable value "
                                 f"({err.args[0]}), which no variable of model `{ir.model}` can hold.") from None
        try:
            state = encode_state(ir, values)
        except TraceError as err:
            raise TraceError(f"{path}: state {i}: {err}") from None
        action, params = _read_action(ir, raw, i, mbt, path)
        steps.append(Step(action, params, state))
    loop = doc.get("loop")
    if loop is not None and loop >= len(steps):
        raise TraceError(f"{path}: \"loop\" is {loop}, but the last state is {len(steps) - 1}; the loop must start "
                         "at a state of the trace.")
    violation = meta.get("violation")
    closing = None if loop is None else _read_closing(ir, meta.get(LOOP_CLOSED_BY), steps, loop, path)
    return Trace(ir.model, dict(ir.config), tuple(steps), violation if isinstance(violation, str) else None, loop,
                 closing)


def _read_closing(ir: IR, given: Any, steps: list[Step], loop: int, path: str) -> Step | None:
    """The step that closes a lasso's cycle, as ``#meta.loopClosedBy`` names it (None where the file does not say,
    or the lasso stutters)."""
    at = f"{path}: \"#meta\".{LOOP_CLOSED_BY}"
    if given is None:
        return None
    if given == STUTTERING:
        if loop != len(steps) - 1:
            raise TraceError(f"{at} says the lasso stutters, but its loop starts at state {loop}, not at the last "
                             f"state ({len(steps) - 1}); a stuttering lasso repeats its last state.")
        return None
    if not isinstance(given, dict) or not isinstance(given.get("action"), str):
        raise TraceError(f"{at} is {_short_json(given)}; expected \"{STUTTERING}\" or an object with the "
                         "\"action\" (a name) and \"params\" that lead from the last state back to the loop's first.")
    try:
        action = ir.action(given["action"])
    except KeyError:
        raise TraceError(f"{at}: `{given['action']}` is not an action of model `{ir.model}`.") from None
    params = given.get("params", {})
    params = {n: _from_json(v) for n, v in params.items()} if isinstance(params, dict) else params
    return Step(action.name, _encode_params(action, params, at), steps[loop].state)


def _check_meta(ir: IR, meta: dict[str, Any], path: str) -> None:
    """A trace made for another model or configuration would decode to nonsense: refuse it."""
    model = meta.get("model")
    if model is not None and model != ir.model:
        raise TraceError(f"{path}: the trace is of model `{model}`, not `{ir.model}`.")
    config = meta.get("config")
    if config is not None and config != dict(ir.config):
        raise TraceError(f"{path}: the trace was made with the configuration {_short_json(config, 200)}, but the "
                         f"model is configured with {_short_json(dict(ir.config), 200)}; replay it with the "
                         "trace's configuration.")


def _read_action(ir: IR, raw: dict[str, Any], i: int, mbt: bool,
                 path: str) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    """The action and parameters that led to state ``i`` (None and () for the initial state)."""
    if i == 0:
        return None, ()   # whatever the file calls its initial step (Quint: the init action's name)
    at = f"{path}: state {i}"
    if mbt:
        name = raw[ACTION_TAKEN]
        picks = _from_json(raw[NONDET_PICKS])
        if not isinstance(picks, RecordValue):
            raise TraceError(f"{at}: `{NONDET_PICKS}` should be a record of parameter name -> Some(value) or None.")
        given = {}
        for n, v in picks.fields:
            if not (isinstance(v, Variant) and v.tag in ("Some", "None")):
                raise TraceError(f"{at}: `{NONDET_PICKS}` gives `{n}` as {_short_json(raw[NONDET_PICKS][n])}; "
                                 "expected Quint's Some(value) or None variant.")
            if v.tag == "Some":
                given[n] = v.value
        where = f"`{ACTION_TAKEN}`"
    else:
        meta = raw.get("#meta", {})
        name = meta.get("action")
        if name is None:
            raise TraceError(f"{at} does not say which action led to it: it has neither `{ACTION_TAKEN}` nor "
                             "\"#meta\".action.")
        params = meta.get("params", {})
        given = {n: _from_json(v) for n, v in params.items()} if isinstance(params, dict) else params
        where = "\"#meta\".action"
    if not isinstance(name, str):
        raise TraceError(f"{at}: {where} is {_short_json(name)}; expected an action name (a string).")
    try:
        action = ir.action(name)
    except KeyError:
        raise TraceError(f"{at}: `{name}` is not an action of model `{ir.model}` (its actions are "
                         f"{', '.join(a.name for a in ir.actions)}).") from None
    return name, _encode_params(action, given, at)


def _encode_params(action: Action, given: Any, at: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(given, dict) or set(given) != set(action.param_names()):
        got = ", ".join(sorted(given)) if isinstance(given, dict) else _short_json(given)
        want = ", ".join(action.param_names()) or "none"
        raise TraceError(f"{at}: action `{action.name}` takes the parameters {want}; the trace gives "
                         f"{got or 'none'}.")
    return tuple((p.data, encode_scalar(p.type, given[p.data], f"{at}: parameter `{p.data}` of action `{action.name}`"))
                 for p in action.params)
