"""Compile an IR into the array kernels the vectorized BFS runs on each chunk of states.

Four kinds of generated functions, all over a column-major chunk ``X`` (one row per state
position, one column per state, in the narrowest integer dtype that holds every leaf):

- ``guards(X, Xf, n, R, nrow, G)`` writes every action instance's guard into row ``k`` of
  the mask ``G`` (instances in the IR's order, parameters unrolled), and returns the rows
  where some guard is undefined (or None). Sub-expressions shared between instances are
  computed once per chunk.
- ``trans_k(X, Xf, n, R, nrow, pfp, out, steps_on)``, one per instance that can fire, runs
  on the columns ``R`` where its guard holds. It computes the writes (a constant position
  or a per-row position array, and the value), the successors' fingerprints from the
  parents' ones (into ``out``), the rows where the reference semantics would raise (an
  undefined index or value, a value out of its type, a location written twice), and, when
  asked, every step property on each transition, specialised to the instance (its acting
  component is known and its unwritten primed reads are pre-state reads, so most fold
  away). Positions pinned by the guard (``require(status[pod] == ABSENT)``) are constants
  here, which makes most fingerprint deltas constants too.
- ``invariants``, ``goals``, ``constraints``: one function each over a chunk of new states,
  returning (value, undef mask) per expression, IR order.

A construct that cannot be compiled raises :class:`VectorUnsupported` naming it and the
action or property it is in, before any state is explored.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple

import numpy as np

from ..ir import IR, Action
from ..temporal import predicates, temporal_properties
from ..types import Leaf
from .device import Device
from .errors import VectorUnsupported
from .fingerprint import Fingerprinter
from .lower import HELPERS, Frame, Lowering, PostState, Source, Val, guard_facts, int_dtype

__all__ = ["CompiledModel", "DeviceKernels", "compile_model"]


class DeviceKernels(NamedTuple):
    """The kernels a device runs: ``guards`` and ``trans[k]``, with the signatures of :class:`CompiledModel`'s."""

    guards: Callable[..., Any]
    trans: list[Callable[..., Any] | None]


class CompiledModel:
    """The kernels of one IR (see the module docstring), and what the engine needs to run them.

    ``instances``: (action index, parameter values) per instance id, in the IR's order.
    ``trans[k]``: the transition kernel of instance ``k``, None where its guard is constant false.
    ``step_props`` / ``invariant_props`` / ``goal_props``: IR property indices, in IR order, that the
    step kernels / ``invariants`` / ``goals`` return results for.
    """

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.leaves = {lf.name: lf for lf in ir.leaves}
        lo = min([lf.elem.lo for lf in ir.leaves] + [0])
        hi = max([lf.elem.hi for lf in ir.leaves] + [1])
        self.storage = int_dtype(lo, hi)
        self.dtype = np.dtype(self.storage)
        self.width = ir.width
        self.instances: list[tuple[int, tuple[int, ...]]] = [
            (ai, vals) for ai, a in enumerate(ir.actions) for vals in a.instances()]
        self.fingerprints = Fingerprinter(ir)
        self.step_props = [i for i, p in enumerate(ir.properties) if p.kind == "step"]
        self.invariant_props = [i for i, p in enumerate(ir.properties) if p.kind == "always"]
        self.goal_props = [i for i, p in enumerate(ir.properties) if p.kind == "sometimes"]
        self._memo: dict[int, Any] = {}
        self.ns: dict[str, Any] = dict(HELPERS)
        self.ns.update(self.fingerprints.ns)
        sources = [self._guards()]
        self._trans_names: list[str | None] = []
        for k, (ai, vals) in enumerate(self.instances):
            if self._never[k]:
                self._trans_names.append(None)
                continue
            a = ir.actions[ai]
            sources.append(_located(f"action `{a.name}` ({a.source})" if a.source else f"action `{a.name}`",
                                    lambda: self._trans(k, a, vals)))
            self._trans_names.append(f"trans_{k}")
        sources.append(self._checks("invariants", [ir.properties[i] for i in self.invariant_props]))
        sources.append(self._checks("goals", [ir.properties[i] for i in self.goal_props]))
        sources.append(self._checks("constraints", list(ir.constraints)))
        # Every expression a temporal property names, per state, for the liveness check (IR order).
        self.temporal_exprs = predicates(temporal_properties(ir.properties))
        sources.append(self._checks("temporal", [p.exprs[w] for p, w in self.temporal_exprs]))
        self.source = "\n".join(sources)
        exec(compile(self.source, f"<kubecheck vector {ir.model}>", "exec"), self.ns)
        self.guards: Callable[..., Any] = self.ns["guards"]
        self.trans: list[Callable[..., Any] | None] = [self.ns[n] if n else None for n in self._trans_names]
        self.invariants: Callable[..., Any] = self.ns["invariants"]
        self.goals: Callable[..., Any] = self.ns["goals"]
        self.constraints: Callable[..., Any] = self.ns["constraints"]
        self.temporal: Callable[..., Any] = self.ns["temporal"]

    def on(self, device: Device) -> "DeviceKernels":
        """The guard and transition kernels again, executed over ``device``'s array module: the same
        source, with numpy's name bound to that module and every table uploaded once."""
        ns: dict[str, Any] = {}
        for name, value in self.ns.items():
            if name == "__builtins__":
                continue
            ns[name] = device.upload(value) if isinstance(value, np.ndarray) else value
        ns.update(self.fingerprints.namespace(device.xp, device.upload))
        ns.update(np=device.xp, _wrap=device.wrap)
        exec(compile(self.source, f"<kubecheck vector {self.ir.model} on {device.name}>", "exec"), ns)
        return DeviceKernels(ns["guards"], [ns[n] if n else None for n in self._trans_names])

    def lowering(self, src: Source, frame: Frame) -> Lowering:
        return Lowering(self.leaves, src, frame, self.storage, self._memo)

    # ---- guards ----
    def _guards(self) -> str:
        src = Source("guards", "X, Xf, n, R, nrow, G", self.ns)
        low = self.lowering(src, Frame(subset=False))
        flags: list[str] = []
        self._never: list[bool] = []
        for k, (ai, vals) in enumerate(self.instances):
            a = self.ir.actions[ai]
            params = dict(zip(a.param_names(), vals))
            v = _located(f"the guard of action `{a.name}` ({a.source})", lambda: low.val(a.guard, params, {}))
            self._never.append(v.const == 0)
            if v.const is not None:
                if v.const:
                    src.line(f"G[{k}, :n] = True")
            elif v.undef is None:
                src.line(f"G[{k}, :n] = {v.code}")
            else:
                src.line(f"np.logical_and({v.code}, np.logical_not({v.undef}), out=G[{k}, :n])")
                flags.append(v.undef)
        src.line(f"return {low.union(flags) if flags else None}")
        return src.text()

    # ---- one instance's transitions ----
    def _trans(self, k: int, a: Action, vals: tuple[int, ...]) -> str:
        params = dict(zip(a.param_names(), vals))
        facts = guard_facts(a.guard, params, self.leaves)
        src = Source(f"trans_{k}", "X, Xf, n, R, nrow, pfp, out, steps_on", self.ns)
        low = self.lowering(src, Frame(subset=True, facts=facts))
        writes: list[tuple[Leaf, int | str, Val]] = []
        issues: list[str] = []
        always_bad = False
        for u in a.updates:
            leaf = self.leaves[u.leaf]
            for combo in itertools.product(*(b.type.values() for b in u.binders)):
                bound = {b.data: v for b, v in zip(u.binders, combo)}
                idx = [low.val(ix, params, bound) for ix in u.index]
                pos, undefs = low.position(leaf, u.index, idx)
                if pos is None:
                    always_bad = True          # a constant index outside the domain
                    continue
                issues += undefs
                v = low.val(u.value, params, bound)
                if v.undef:
                    issues.append(v.undef)
                t = leaf.elem
                if v.const is not None:
                    if not t.lo <= v.const <= t.hi:
                        always_bad = True
                elif v.kind != "bool" and (u.value.lo < t.lo or u.value.hi > t.hi):
                    parts = ([f"({v.code} < {t.lo})"] if u.value.lo < t.lo else []) + \
                        ([f"({v.code} > {t.hi})"] if u.value.hi > t.hi else [])
                    issues.append(src.emit(" | ".join(parts), "u"))
                writes.append((leaf, pos, v))
        const_pos = [p for _, p, _ in writes if isinstance(p, int)]
        if len(set(const_pos)) != len(const_pos):
            always_bad = True                  # one location written twice
        dyn = [(lf, p) for lf, p, _ in writes if isinstance(p, str)]
        for i, (lf, p) in enumerate(dyn):
            for q in const_pos:
                if lf.offset <= q < lf.offset + lf.size:
                    issues.append(src.emit(f"{p} == {q}", "u"))
            for lf2, p2 in dyn[i + 1:]:
                if lf2 is lf:
                    issues.append(src.emit(f"{p} == {p2}", "u"))
        iss = "np.ones(nrow, dtype=np.bool_)" if always_bad else low.union(issues)
        if always_bad:
            iss = src.emit(iss, "u")

        # Fingerprints: the parent's, XOR Z(pos, old) ^ Z(pos, new) per write.
        fp = self.fingerprints
        dconst = 0
        terms: list[str] = []
        for leaf, pos, v in writes:
            if isinstance(pos, int):
                old = low.column(pos, leaf)
                for x in (old, v):
                    if x.const is not None:
                        dconst ^= fp.z(pos, x.const)
                    else:
                        terms.append(fp.code(pos, x.code))
            else:
                g = src.emit(f"np.multiply({pos}, n)", "g")
                src.line(f"{g} += R")
                old_code = src.emit(f"Xf.take({g})")
                terms.append(fp.code_dyn(leaf, pos, old_code))
                terms.append(fp.code_dyn(leaf, pos, v.const if v.const is not None else v.code))
        src.line("np.take(pfp, R, out=out)")
        for t in terms:
            src.line(f"out ^= {t}")
        if dconst:
            src.line(f"out ^= {src.const(dconst, 'uint64')}")

        # Step properties, specialised to this instance.
        src.line("steps = None")
        if self.step_props:
            src.line("if steps_on:")
            src.indent += 1
            low.frame.post = PostState({p: v for _, p, v in writes if isinstance(p, int)}, {})
            for leaf, p, v in writes:
                if isinstance(p, str):
                    low.frame.post.dyn_writes.setdefault(leaf.name, []).append((p, v))
            low.frame.acting = a.component
            results = []
            for i in self.step_props:
                prop = self.ir.properties[i]
                pv = _located(f"property `{prop.name}` ({prop.source})", lambda: low.val(prop.exprs[0], {}, {}))
                if pv.const is not None:
                    results.append("None" if pv.const else "(np.ones(nrow, dtype=np.bool_), None)")
                    continue
                bad = f"np.logical_not({pv.code})" if pv.undef is None else f"~({pv.code} | {pv.undef})"
                results.append(f"({src.emit(bad, 's')}, {pv.undef})")
            src.line(f"steps = ({', '.join(results)},)")
            src.indent -= 1
        wr = ", ".join(f"({p}, {v.code})" for _, p, v in writes)
        src.line(f"return ({wr}{',' if len(writes) == 1 else ''}), {iss}, steps")
        return src.text()

    # ---- state checks ----
    def _checks(self, name: str, items: list[Any]) -> str:
        src = Source(name, "X, Xf, n, R, nrow", self.ns)
        low = self.lowering(src, Frame(subset=False))
        out = []
        for item in items:
            if hasattr(item, "exprs"):
                e = item.exprs[0]
                where = f"property `{item.name}` ({item.source})"
            else:
                e = item
                where = "a state constraint" if name == "constraints" else "a temporal property"
            v = _located(where, lambda: low.val(e, {}, {}))
            out.append(f"({v.code}, {v.undef})")
        src.line(f"return ({', '.join(out)}{',' if len(out) == 1 else ''})")
        return src.text()


def _located(where: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a VectorUnsupported it raises names ``where``."""
    try:
        return fn()
    except VectorUnsupported as err:
        msg = str(err)
        if msg.startswith("the vectorized engine"):
            raise
        raise VectorUnsupported(f"the vectorized engine cannot compile {msg}, in {where}; use the explicit "
                                "engine for this model.") from None


def compile_model(ir: IR) -> CompiledModel:
    """Compile ``ir`` for the vectorized engine (raises :class:`VectorUnsupported`)."""
    return CompiledModel(ir)


