"""The reference semantics: evaluate IR expressions and actions on concrete states.

This module is the definition every engine is tested against. It is deliberately a
plain tree walk. Its three-valued logic makes "an out-of-domain read is an error only if
its value is used" independent of operand order: a read outside an array's domain yields
``UNDEF``; ``&`` with a false operand is false, ``|`` with a true operand is true, ``=>``
with a false antecedent is true, ``when`` uses only the chosen branch; anything else that
touches ``UNDEF`` is ``UNDEF``. A guard, update or property that ends ``UNDEF`` is a spec
error in that state.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from .errors import ModelRuntimeError
from .expr import APPLY, Expr, show
from .ir import IR, Action, Property
from .types import OptionType

__all__ = ["UNDEF", "Evaluator"]


class _Undef:
    def __repr__(self) -> str:
        return "UNDEF"


UNDEF: Any = _Undef()


class Evaluator:
    """Evaluates expressions, guards, successors and properties of one IR."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.leaves = {lf.name: lf for lf in ir.leaves}
        self._acting: str | None = None     # the component of the step a step property judges

    # ---- expressions ----
    def eval(self, e: Expr, state: Sequence[int], params: dict[str, int] | None = None,
             post: Sequence[int] | None = None, bound: list[int] | None = None) -> Any:
        return self._ev(e, state, post, params or {}, bound if bound is not None else [])

    def _ev(self, e: Expr, st: Sequence[int], post: Sequence[int] | None, params: dict[str, int],
            bound: list[int]) -> Any:
        op = e.op
        if op == "const":
            return e.data
        if op == "read":
            name, primed = e.data
            idx = []
            for a in e.args:
                v = self._ev(a, st, post, params, bound)
                if v is UNDEF:
                    return UNDEF
                idx.append(v)
            pos = self.leaves[name].position(tuple(idx))
            if pos is None:
                return UNDEF
            src = post if primed else st
            assert src is not None, "a primed read outside a step property"
            return src[pos]
        if op == "param":
            return params[e.data]
        if op == "bound":
            return bound[e.data]
        if op == "acting":
            assert self._acting is not None, "step.by(...) outside a step property"
            return int(self._acting in e.data)
        if op == "and":
            a = self._ev(e.args[0], st, post, params, bound)
            if a == 0 and a is not UNDEF:
                return 0
            b = self._ev(e.args[1], st, post, params, bound)
            if b is not UNDEF and b == 0:
                return 0
            return UNDEF if (a is UNDEF or b is UNDEF) else 1
        if op == "or":
            a = self._ev(e.args[0], st, post, params, bound)
            if a is not UNDEF and a == 1:
                return 1
            b = self._ev(e.args[1], st, post, params, bound)
            if b is not UNDEF and b == 1:
                return 1
            return UNDEF if (a is UNDEF or b is UNDEF) else 0
        if op == "implies":
            a = self._ev(e.args[0], st, post, params, bound)
            if a is not UNDEF and a == 0:
                return 1
            b = self._ev(e.args[1], st, post, params, bound)
            if b is not UNDEF and b == 1:
                return 1
            return UNDEF if (a is UNDEF or b is UNDEF) else 0
        if op == "not":
            a = self._ev(e.args[0], st, post, params, bound)
            return UNDEF if a is UNDEF else 1 - a
        if op == "ite":
            c = self._ev(e.args[0], st, post, params, bound)
            if c is UNDEF:
                return UNDEF
            return self._ev(e.args[1] if c else e.args[2], st, post, params, bound)
        if op == "reduce":
            return self._reduce(e, st, post, params, bound)
        vals = []
        for a in e.args:
            v = self._ev(a, st, post, params, bound)
            if v is UNDEF:
                return UNDEF
            vals.append(v)
        return APPLY[op](*vals)

    def _reduce(self, e: Expr, st: Sequence[int], post: Sequence[int] | None, params: dict[str, int],
                bound: list[int]) -> Any:
        b, body = e.args
        level = b.data
        kind = e.data
        undef = False
        total = 0
        saved = list(bound)
        for v in b.type.values():
            env = saved[:level] + [0] * max(0, level - len(saved))
            env.append(v)
            x = self._ev(body, st, post, params, env)
            if x is UNDEF:
                undef = True
                continue
            if kind == "all" and x == 0:
                return 0
            if kind == "any" and x == 1:
                return 1
            total += x
        if undef:
            return UNDEF
        if kind == "all":
            return 1
        if kind == "any":
            return 0
        return total

    # ---- actions ----
    def instances(self) -> Iterator[tuple[int, Action, tuple[int, ...]]]:
        """Every (action index, action, parameter values), in the documented order."""
        for ai, a in enumerate(self.ir.actions):
            for vals in a.instances():
                yield ai, a, vals

    def params(self, a: Action, vals: tuple[int, ...]) -> dict[str, int]:
        return dict(zip(a.param_names(), vals))

    def enabled(self, a: Action, state: Sequence[int], vals: tuple[int, ...]) -> bool:
        params = self.params(a, vals)
        g = self.eval(a.guard, state, params)
        if g is UNDEF:
            # Name the require(...) whose value is undefined, and the read that makes it so.
            for cond, source in a.requires or ((a.guard, a.source),):
                if self.eval(cond, state, params) is UNDEF:
                    raise ModelRuntimeError(self._undef_msg(a, vals, "its guard uses", cond, source, state))
        return bool(g)

    def successor(self, a: Action, state: Sequence[int], vals: tuple[int, ...]) -> tuple[int, ...] | None:
        """The state after ``a(vals)``, or None where it is disabled."""
        if not self.enabled(a, state, vals):
            return None
        return self.apply(a, state, vals)

    def apply(self, a: Action, state: Sequence[int], vals: tuple[int, ...]) -> tuple[int, ...]:
        """Apply the updates of an enabled action instance (every read sees the pre-state)."""
        params = self.params(a, vals)
        out = list(state)
        written: dict[int, str] = {}
        for u in a.updates:
            leaf = self.leaves[u.leaf]
            for env in self._bindings(u.binders):
                idx = []
                for ix in u.index:
                    v = self._ev(ix, state, None, params, env)
                    if v is UNDEF:
                        raise ModelRuntimeError(self._undef_msg(
                            a, vals, f"the index of its write to `{u.leaf}` uses", ix, u.source, state, env))
                    idx.append(v)
                pos = leaf.position(tuple(idx))
                if pos is None:
                    raise ModelRuntimeError(
                        f"{u.source}: action `{self.label(a, vals)}` writes `{u.leaf}` at "
                        f"[{', '.join(leaf.dims[k].show(i) for k, i in enumerate(idx))}], outside its domain "
                        f"({', '.join(d.describe() for d in leaf.dims)}); guard the write with require(...).")
                value = self._ev(u.value, state, None, params, env)
                if value is UNDEF:
                    raise ModelRuntimeError(self._undef_msg(
                        a, vals, f"the value it writes to `{u.leaf}` uses", u.value, u.source, state, env))
                t = leaf.elem
                if not (t.lo <= value <= t.hi):
                    raise ModelRuntimeError(
                        f"{u.source}: action `{self.label(a, vals)}` sets `{self.location(pos)}` to {value}, "
                        f"outside its type {t.describe()}. Guard the action so the value stays in range "
                        "(counters that grow forever must be abstracted, never wrapped), or widen the type.")
                if pos in written:
                    raise ModelRuntimeError(
                        f"{u.source}: action `{self.label(a, vals)}` writes `{self.location(pos)}` twice in one "
                        f"step (also at {written[pos]}); updates are simultaneous, so write each location once.")
                written[pos] = u.source
                out[pos] = value
        return tuple(out)

    def _bindings(self, binders: tuple[Expr, ...]) -> Iterator[list[int]]:
        if not binders:
            yield []
            return
        import itertools
        levels = [b.data for b in binders]
        for combo in itertools.product(*(b.type.values() for b in binders)):
            env = [0] * (max(levels) + 1)
            for lv, v in zip(levels, combo):
                env[lv] = v
            yield env

    # ---- properties ----
    def holds(self, p: Property, state: Sequence[int], post: Sequence[int] | None = None, which: int = 0,
              acting: str | None = None) -> bool:
        """Whether ``p`` holds in ``state`` (for a step property: on the step to ``post``, taken by an
        action of component ``acting``)."""
        self._acting = acting
        v = self.eval(p.exprs[which], state, None, post)
        if v is UNDEF:
            raise ModelRuntimeError(f"{p.source}: property `{p.name}` "
                                    + self._undef_read(p.exprs[which], state, {}, [], post) + " and uses the value. "
                                    + self._undef_advice(p.exprs[which], state, {}, [], post))
        return bool(v)

    def satisfies(self, e: Expr, state: Sequence[int]) -> bool:
        v = self.eval(e, state)
        if v is UNDEF:
            raise ModelRuntimeError(f"a state constraint or initial condition {self._undef_read(e, state, {}, [])} "
                                    f"and uses the value. {self._undef_advice(e, state, {}, [])}")
        return bool(v)

    def initial_states(self) -> list[tuple[int, ...]]:
        import itertools
        out = []
        for st in itertools.product(*self.ir.init_choices):
            if all(self.satisfies(c, st) for c in self.ir.init_conditions):
                out.append(tuple(st))
        return out

    # ---- names ----
    def label(self, a: Action, vals: tuple[int, ...]) -> str:
        if not a.params:
            return a.name
        args = ", ".join(f"{p.data}={p.type.show(v)}" for p, v in zip(a.params, vals))
        return f"{a.name}({args})"

    def location(self, pos: int) -> str:
        for lf in self.ir.leaves:
            if lf.offset <= pos < lf.offset + lf.size:
                rel = pos - lf.offset
                idx = []
                for d, s in zip(lf.dims, lf.strides):
                    idx.append(d.show(d.lo + rel // s))
                    rel %= s
                return lf.name + "".join(f"[{i}]" for i in idx)
        raise IndexError(pos)

    def _undef_msg(self, a: Action, vals: tuple[int, ...], what: str, e: Expr, source: str,
                   state: Sequence[int], bound: list[int] | None = None) -> str:
        params = self.params(a, vals)
        env = bound or []
        return (f"{source}: action `{self.label(a, vals)}` {self._undef_read(e, state, params, env)}, and {what} "
                f"the value. {self._undef_advice(e, state, params, env)}")

    def _out_of_domain(self, e: Expr, st: Sequence[int], params: dict[str, int], bound: list[int],
                       post: Sequence[int] | None = None) -> tuple[Expr, int, int] | None:
        """The innermost read in ``e`` whose own index is out of its domain: (read, index position, value)."""
        for a in e.args:
            if e.op == "reduce":
                b, body = e.args
                for v in b.type.values():
                    env = bound[:b.data] + [0] * max(0, b.data - len(bound)) + [v]
                    hit = self._out_of_domain(body, st, params, env, post)
                    if hit is not None:
                        return hit
                return None
            hit = self._out_of_domain(a, st, params, bound, post)
            if hit is not None:
                return hit
        if e.op == "read":
            leaf = self.leaves[e.data[0]]
            for k, (ix, d) in enumerate(zip(e.args, leaf.dims)):
                v = self._ev(ix, st, post, params, bound)
                if v is not UNDEF and not (d.lo <= v <= d.hi):
                    return e, k, v
        return None

    def _undef_read(self, e: Expr, st: Sequence[int], params: dict[str, int], bound: list[int],
                    post: Sequence[int] | None = None) -> str:
        hit = self._out_of_domain(e, st, params, bound, post)
        if hit is None:
            return f"reads an array outside its domain ({show(e)})"
        read, k, v = hit
        leaf = self.leaves[read.data[0]]
        ix = read.args[k]
        return (f"reads `{show(read)}` with {show(ix)} = {ix.type.show(v)}, outside the domain of "
                f"`{leaf.name}` ({_domain_text(leaf.dims[k])})")

    def _undef_advice(self, e: Expr, st: Sequence[int], params: dict[str, int], bound: list[int],
                      post: Sequence[int] | None = None) -> str:
        hit = self._out_of_domain(e, st, params, bound, post)
        if hit is not None:
            read, k, _ = hit
            ix = read.args[k]
            if isinstance(ix.type, OptionType):
                return (f"Guard the read so that it is used only in range, for example "
                        f"`({show(ix)} != NONE).implies({show(read)})` or "
                        f"`when({show(ix)} == NONE, default, {show(read)})`.")
        return "Guard the read so that it is used only in range, with `.implies(...)` or `when(...)`."


def _domain_text(t: Any) -> str:
    return f"{t.show(t.lo)}..{t.show(t.hi)}"
