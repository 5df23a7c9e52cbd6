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
from .expr import Expr, show
from .ir import IR, Action, Property

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
        return _APPLY[op](*vals)

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
        g = self.eval(a.guard, state, self.params(a, vals))
        if g is UNDEF:
            raise ModelRuntimeError(self._undef_msg(a, vals, "its guard", a.guard, a.source))
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
                        raise ModelRuntimeError(self._undef_msg(a, vals, f"the index of its write to `{u.leaf}`",
                                                                ix, u.source))
                    idx.append(v)
                pos = leaf.position(tuple(idx))
                if pos is None:
                    raise ModelRuntimeError(
                        f"{u.source}: action `{self.label(a, vals)}` writes `{u.leaf}` at "
                        f"[{', '.join(leaf.dims[k].show(i) for k, i in enumerate(idx))}], outside its domain "
                        f"({', '.join(d.describe() for d in leaf.dims)}); guard the write with require(...).")
                value = self._ev(u.value, state, None, params, env)
                if value is UNDEF:
                    raise ModelRuntimeError(self._undef_msg(a, vals, f"the value it writes to `{u.leaf}`",
                                                            u.value, u.source))
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
    def holds(self, p: Property, state: Sequence[int], post: Sequence[int] | None = None, which: int = 0) -> bool:
        v = self.eval(p.exprs[which], state, None, post)
        if v is UNDEF:
            raise ModelRuntimeError(f"{p.source}: property `{p.name}` reads an array outside its domain and "
                                    f"uses the value ({show(p.exprs[which])}); guard the read, e.g. "
                                    "`(x != NONE).implies(arr[x])`.")
        return bool(v)

    def satisfies(self, e: Expr, state: Sequence[int]) -> bool:
        v = self.eval(e, state)
        if v is UNDEF:
            raise ModelRuntimeError(f"a state constraint or initial condition reads out of an array's domain "
                                    f"and uses the value ({show(e)}).")
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

    def _undef_msg(self, a: Action, vals: tuple[int, ...], what: str, e: Expr, source: str) -> str:
        return (f"{source}: action `{self.label(a, vals)}` reads an array outside its domain in {what} and uses "
                f"the value ({show(e)}). Guard the read so it is only used in range, for example "
                "`(x != NONE).implies(arr[x])` or `when(x == NONE, default, arr[x])`.")


_APPLY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "neg": lambda a: -a,
    "min": min, "max": max, "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "eq": lambda a, b: int(a == b), "ne": lambda a, b: int(a != b), "lt": lambda a, b: int(a < b),
    "le": lambda a, b: int(a <= b), "gt": lambda a, b: int(a > b), "ge": lambda a, b: int(a >= b),
}
