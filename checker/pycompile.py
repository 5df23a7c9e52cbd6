"""Compile the IR into Python source: one straight-line block per action instance.

The reference evaluator walks expression trees; this compiler turns each action
instance into plain Python with its parameters and quantifiers unrolled, so that almost
every read becomes ``st[<constant offset>]``. It is the explicit engine's default
successor function, tested against the evaluator on every model.

The fast code is two-valued. Anything that needs the exact three-valued semantics (a
read outside an array's domain, a value leaving its interval, a location written twice)
raises ``_Exact`` inside the fast block, and that one instance is recomputed by the
reference :class:`~kubecheck.evaluate.Evaluator`, which either agrees the read was not
used or raises the spec error with its message. So the fast path never decides anything
the evaluator would decide differently.

State-level sub-expressions that several instances share (a quantifier such as "cached
active pods") are computed once per state, when they cannot raise.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable

from .evaluate import Evaluator
from .expr import APPLY, Expr
from .ir import IR, Action, Property
from .types import BoolType, Leaf

__all__ = ["compile_successors", "CompiledModel"]


class _Exact(Exception):
    """Raised by fast code where the exact evaluator must decide."""


def _exact() -> Any:
    raise _Exact


_BINOP = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "mod": "%",
          "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


class _Gen:
    """Generates Python expressions for IR nodes under concrete parameter and binder values."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.leaves = {lf.name: lf for lf in ir.leaves}
        self.readers: dict[str, str] = {}
        self.reader_src: list[str] = []
        self.hoisted: dict[int, str] = {}
        self._free: dict[int, tuple[frozenset[str], frozenset[int]]] = {}
        # Specialising a step property to one action instance: the acting component is known,
        # and a primed read of a position the instance cannot write is a read of the pre-state.
        self.acting: str | None = None
        self.post_writes: frozenset[int] | None = None

    # ---- analysis ----
    def free(self, e: Expr) -> tuple[frozenset[str], frozenset[int]]:
        """The parameters and binder levels an expression depends on."""
        k = id(e)
        r = self._free.get(k)
        if r is not None:
            return r
        if e.op == "param":
            r = (frozenset([e.data]), frozenset())
        elif e.op == "bound":
            r = (frozenset(), frozenset([e.data]))
        else:
            ps: set[str] = set()
            bs: set[int] = set()
            for a in e.args:
                p, b = self.free(a)
                ps |= p
                bs |= b
            if e.op == "reduce":
                bs.discard(e.args[0].data)
            r = (frozenset(ps), frozenset(bs))
        self._free[k] = r
        return r

    # ---- code ----
    def gen(self, e: Expr, params: dict[str, int], bound: dict[int, int], src: str = "st") -> tuple[str, Any]:
        """(python source, constant value or None)."""
        op = e.op
        if op == "const":
            return str(e.data), e.data
        if op == "param":
            v = params[e.data]
            return str(v), v
        if op == "bound":
            v = bound[e.data]
            return str(v), v
        if op == "acting":
            if self.acting is not None:
                v = int(self.acting in e.data)
                return str(v), v
            return f"(acting in {e.data!r})", None
        if id(e) in self.hoisted and src == "st":
            return self.hoisted[id(e)], None
        if op == "read":
            name, primed = e.data
            s = "post" if primed else src
            leaf = self.leaves[name]
            parts = [self.gen(a, params, bound, src) for a in e.args]
            if primed and self.post_writes is not None and \
                    self.post_writes.isdisjoint(range(leaf.offset, leaf.offset + leaf.size)):
                s = src
            if all(v is not None for _, v in parts):
                pos = leaf.position(tuple(v for _, v in parts))
                if pos is None:
                    return "_exact()", None
                if primed and self.post_writes is not None and pos not in self.post_writes:
                    s = src
                return f"{s}[{pos}]", None
            return f"{self.reader(leaf)}({s}, {', '.join(c for c, _ in parts)})", None
        if op in _BINOP:
            (a, av), (b, bv) = (self.gen(x, params, bound, src) for x in e.args)
            if av is not None and bv is not None:
                v = _fold(op, av, bv)
                if v is not None:
                    return str(v), v
            if a == b and op in _REFLEXIVE and not _may_raise(a):
                # The same read on both sides (``post[p] != st[p]`` where p is not written).
                v = _REFLEXIVE[op]
                return str(v), v
            return f"({a} {_BINOP[op]} {b})", None
        if op == "neg":
            a, av = self.gen(e.args[0], params, bound, src)
            return (str(-av), -av) if av is not None else (f"(-{a})", None)
        if op in ("min", "max"):
            (a, av), (b, bv) = (self.gen(x, params, bound, src) for x in e.args)
            if av is not None and bv is not None:
                v = min(av, bv) if op == "min" else max(av, bv)
                return str(v), v
            return f"{op}({a}, {b})", None
        if op == "not":
            a, av = self.gen(e.args[0], params, bound, src)
            if av is not None:
                v = int(not av)
                return str(v), v
            return f"(not {a})", None
        if op in ("and", "or", "implies"):
            (a, av), (b, bv) = (self.gen(x, params, bound, src) for x in e.args)
            if op == "implies":
                if av is not None:
                    return (b, bv) if av else ("1", 1)
                if bv is not None and bv:
                    return "1", 1
                return f"((not {a}) or {b})", None
            if av is not None:
                if op == "and":
                    return (b, bv) if av else ("0", 0)
                return ("1", 1) if av else (b, bv)
            if bv is not None:
                if op == "and" and not bv:
                    return "0", 0
                if op == "or" and bv:
                    return "1", 1
                return a, None
            return f"({a} {op} {b})", None
        if op == "ite":
            c, cv = self.gen(e.args[0], params, bound, src)
            if cv is not None:
                return self.gen(e.args[1] if cv else e.args[2], params, bound, src)
            (a, _), (b, _) = (self.gen(x, params, bound, src) for x in e.args[1:])
            return f"({a} if {c} else {b})", None
        if op == "reduce":
            b, body = e.args
            parts = []
            for v in b.type.values():
                nb = dict(bound)
                nb[b.data] = v
                parts.append(self.gen(body, params, nb, src))
            kind = e.data
            consts = [pv for _, pv in parts if pv is not None]
            codes = [c for c, pv in parts if pv is None]
            if kind == "all":
                if any(not c for c in consts):
                    return "0", 0
                return (f"({' and '.join(codes)})", None) if codes else ("1", 1)
            if kind == "any":
                if any(c for c in consts):
                    return "1", 1
                return (f"({' or '.join(codes)})", None) if codes else ("0", 0)
            k = sum(int(bool(c)) for c in consts) if kind == "count" else sum(consts)
            terms = [str(k)] if k else []
            terms += codes
            if not codes:
                return str(k), k
            return f"({' + '.join(terms)})", None
        raise AssertionError(op)

    def reader(self, leaf: Leaf) -> str:
        """A checked reader for state-dependent indices into ``leaf``."""
        name = self.readers.get(leaf.name)
        if name is not None:
            return name
        name = f"_rd{len(self.readers)}"
        self.readers[leaf.name] = name
        args = ", ".join(f"i{k}" for k in range(len(leaf.dims)))
        checks = " and ".join(f"{d.lo} <= i{k} <= {d.hi}" for k, d in enumerate(leaf.dims))
        pos = " + ".join([str(leaf.offset)] + [f"(i{k} - {d.lo}) * {s}" if d.lo else f"i{k} * {s}"
                                               for k, (d, s) in enumerate(zip(leaf.dims, leaf.strides))])
        self.reader_src.append(f"def {name}(s, {args}):\n    if {checks}:\n        return s[{pos}]\n"
                               f"    raise _Exact\n")
        return name


_REFLEXIVE = {"eq": 1, "le": 1, "ge": 1, "ne": 0, "lt": 0, "gt": 0}


def _may_raise(code: str) -> bool:
    return "_exact(" in code or "_rd" in code or "//" in code or "%" in code


def _fold(op: str, a: int, b: int) -> int | None:
    """``APPLY[op](a, b)``, or None where it is undefined (division by zero is left to run time)."""
    if op in ("floordiv", "mod") and b == 0:
        return None
    return APPLY[op](a, b)


class CompiledModel:
    """Successors and property checks of one IR, as compiled Python functions.

    ``instances``: (action index, parameter values) per instance id, in the IR's order.
    ``generate(state)``: [(instance id, successor)] for every enabled instance.
    ``holds(prop, state, post=None)``: a property's value (compiled, exact).
    """

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.ev = Evaluator(ir)
        self.instances: list[tuple[int, tuple[int, ...]]] = [(ai, vals) for ai, _, vals in self.ev.instances()]
        # Positions each instance may write (None: not known statically); absent: the instance never fires.
        self._writes: dict[int, frozenset[int] | None] = {}
        gen = _Gen(ir)
        self._hoist(gen)
        body: list[str] = ["def generate(st):", "    out = []", "    append = out.append"]
        for node_id, name in gen.hoisted.items():
            body.append(f"    {name} = {self._hoist_src[node_id]}")
        for k, (ai, vals) in enumerate(self.instances):
            body += self._instance(gen, k, ir.actions[ai], vals)
        body.append("    return out")
        props_src, self._prop_names = self._properties(gen)
        checks_src = self._checks(gen)
        src = "\n".join(gen.reader_src) + "\n" + "\n".join(body) + "\n" + props_src + "\n" + checks_src
        self.source = src
        ns: dict[str, Any] = {"_Exact": _Exact, "_exact": _exact, "_slow": self._slow, "_holds": self._holds_exact}
        exec(compile(src, f"<kubecheck compiled {ir.model}>", "exec"), ns)
        self.generate: Callable[[tuple[int, ...]], list[tuple[int, tuple[int, ...]]]] = ns["generate"]
        self._prop_fns: dict[str, Callable[..., bool]] = {n: ns[f] for n, f in self._prop_names.items()}
        self.failing_invariants: Callable[[tuple[int, ...]], tuple[int, ...]] = ns["failing_invariants"]
        self.reached_goals: Callable[[tuple[int, ...]], tuple[int, ...]] = ns["reached_goals"]
        self.step_checks: list[Callable[[tuple[int, ...], tuple[int, ...]], tuple[int, ...]] | None] = [
            ns.get(f"failing_steps_{k}") for k in range(len(self.instances))]

    def _hoist(self, gen: _Gen) -> None:
        """Share state-level quantifiers used by more than one instance."""
        uses: dict[int, int] = {}
        nodes: dict[int, Expr] = {}

        def visit(e: Expr, seen: set[int]) -> None:
            if id(e) in seen:
                return
            seen.add(id(e))
            if e.op == "reduce" and gen.free(e) == (frozenset(), frozenset()):
                uses[id(e)] = uses.get(id(e), 0) + 1
                nodes[id(e)] = e
                return
            for a in e.args:
                visit(a, seen)

        for a in self.ir.actions:
            n = 1
            for p in a.params:
                n *= p.type.size
            seen: set[int] = set()
            visit(a.guard, seen)
            for u in a.updates:
                visit(u.value, seen)
            for k in list(seen):
                if k in uses:
                    uses[k] += n - 1
        self._hoist_src: dict[int, str] = {}
        for k, c in uses.items():
            if c >= 2:
                code, v = gen.gen(nodes[k], {}, {})
                # Hoisted code runs for every state, so it must not be able to raise.
                if v is None and not _may_raise(code):
                    name = f"_h{len(gen.hoisted)}"
                    self._hoist_src[k] = code
                    gen.hoisted[k] = name

    def _instance(self, gen: _Gen, k: int, a: Action, vals: tuple[int, ...]) -> list[str]:
        params = dict(zip(a.param_names(), vals))
        guard, gv = gen.gen(a.guard, params, {})
        if gv is not None and not gv:
            return []
        lines = [f"    # {self.ev.label(a, vals)}", "    try:"]
        ind = "        "
        if gv is None:
            lines.append(f"{ind}if {guard}:")
            ind += "    "
        writes: list[tuple[str, Any, str, bool]] = []   # (position code, const position, value code, needs range)
        for u in a.updates:
            leaf = gen.leaves[u.leaf]
            binders = u.binders
            for combo in itertools.product(*(b.type.values() for b in binders)):
                bound = {b.data: v for b, v in zip(binders, combo)}
                idx = [gen.gen(ix, params, bound) for ix in u.index]
                value, vv = gen.gen(u.value, params, bound)
                if isinstance(leaf.elem, BoolType) and vv is None and u.value.op not in ("read", "const"):
                    value = f"(1 if {value} else 0)"
                needs_range = not (leaf.elem.lo <= u.value.lo and u.value.hi <= leaf.elem.hi)
                if vv is not None:
                    needs_range = not (leaf.elem.lo <= vv <= leaf.elem.hi)
                if all(v is not None for _, v in idx):
                    pos = leaf.position(tuple(v for _, v in idx))
                    if pos is None:
                        writes.append(("_exact()", None, value, needs_range))
                    else:
                        writes.append((str(pos), pos, value, needs_range))
                else:
                    pcode = f"{gen.reader(leaf).replace('_rd', '_wp')}({', '.join(c for c, _ in idx)})"
                    self._ensure_writer(gen, leaf)
                    writes.append((pcode, None, value, needs_range))
        const_pos = [p for _, p, _, _ in writes if p is not None]
        dynamic = any(p is None for _, p, _, _ in writes)
        self._writes[k] = self._written(a, params, writes)
        if len(set(const_pos)) != len(const_pos):
            lines.append(f"{ind}_exact()")
        else:
            vnames = []
            for j, (pcode, pos, value, needs_range) in enumerate(writes):
                if needs_range:
                    lf = self._leaf_of_pos(pos) if pos is not None else None
                    lo, hi = (lf.elem.lo, lf.elem.hi) if lf else (None, None)
                    lines.append(f"{ind}v{j} = {value}")
                    if lf is None:
                        lines.append(f"{ind}_exact()")  # dynamic position with a range check: be exact
                    else:
                        lines.append(f"{ind}if not ({lo} <= v{j} <= {hi}): _exact()")
                    vnames.append(f"v{j}")
                else:
                    vnames.append(value)
            if dynamic:
                lines.append(f"{ind}ps = [{', '.join(p for p, _, _, _ in writes)}]")
                lines.append(f"{ind}if len(set(ps)) != {len(writes)}: _exact()")
            if writes:
                # Evaluate every value before writing: updates read the pre-state.
                lines.append(f"{ind}t = list(st)")
                for j, ((pcode, pos, _, _), v) in enumerate(zip(writes, vnames)):
                    target = f"ps[{j}]" if dynamic else pcode
                    lines.append(f"{ind}t[{target}] = {v}")
                lines.append(f"{ind}append(({k}, tuple(t)))")
            else:
                lines.append(f"{ind}append(({k}, st))")
        lines.append("    except _Exact:")
        lines.append(f"        _slow({k}, st, out)")
        return lines

    def _written(self, a: Action, params: dict[str, int], writes: list[tuple[str, Any, str, bool]]
                 ) -> frozenset[int] | None:
        """Every position the instance may write: constant ones, and whole leaves where an index depends on
        the state."""
        if any(pcode == "_exact()" for pcode, _, _, _ in writes):
            return None
        out = {pos for _, pos, _, _ in writes if pos is not None}
        if any(pos is None for _, pos, _, _ in writes):
            for u in a.updates:
                lf = self.ir.leaf(u.leaf)
                out.update(range(lf.offset, lf.offset + lf.size))
        return frozenset(out)

    def _leaf_of_pos(self, pos: int) -> Leaf:
        for lf in self.ir.leaves:
            if lf.offset <= pos < lf.offset + lf.size:
                return lf
        raise IndexError(pos)

    @staticmethod
    def _ensure_writer(gen: _Gen, leaf: Leaf) -> None:
        name = gen.reader(leaf).replace("_rd", "_wp")
        if any(s.startswith(f"def {name}(") for s in gen.reader_src):
            return
        args = ", ".join(f"i{k}" for k in range(len(leaf.dims)))
        checks = " and ".join(f"{d.lo} <= i{k} <= {d.hi}" for k, d in enumerate(leaf.dims))
        pos = " + ".join([str(leaf.offset)] + [f"(i{k} - {d.lo}) * {s}" for k, (d, s) in
                                               enumerate(zip(leaf.dims, leaf.strides))])
        gen.reader_src.append(f"def {name}({args}):\n    if {checks}:\n        return {pos}\n    raise _Exact\n")

    def _properties(self, gen: _Gen) -> tuple[str, dict[str, str]]:
        out, names = [], {}
        for i, p in enumerate(self.ir.properties):
            if p.kind not in ("always", "sometimes", "step"):
                continue
            hoisted, gen.hoisted = gen.hoisted, {}
            code, _ = gen.gen(p.exprs[0], {}, {})
            gen.hoisted = hoisted
            fname = f"prop{i}"
            names[p.name] = fname
            out.append(f"def {fname}(st, post=None, acting=None):\n    return bool({code})\n")
        return "\n".join(out), names

    def _checks(self, gen: _Gen) -> str:
        """Every invariant (or goal) of the IR in one function per state, and every step property specialised
        to each action instance: its acting component is known, and what it cannot write is unchanged, so
        that most step properties fold to ``True`` and cost nothing on that instance's transitions.

        ``failing_invariants(st)`` and ``reached_goals(st)`` return IR property indices;
        ``failing_steps_<k>(st, post)`` exists only for instances whose check did not fold to ``True``.
        Anything the fast code cannot decide is asked of the evaluator (``_holds``).
        """
        hoisted, gen.hoisted = gen.hoisted, {}
        out: list[str] = []
        for fname, kind, want in (("failing_invariants", "always", False), ("reached_goals", "sometimes", True)):
            lines = [f"def {fname}(st):", "    out = ()"]
            for i, p in enumerate(self.ir.properties):
                if p.kind != kind:
                    continue
                code, v = gen.gen(p.exprs[0], {}, {})
                if v is not None:
                    if bool(v) == want:
                        lines.append(f"    out += ({i},)")
                    continue
                test = code if want else f"not {code}"
                lines += ["    try:", f"        if {test}: out += ({i},)", "    except _Exact:",
                          f"        if _holds({i}, st) == {want}: out += ({i},)"]
            lines.append("    return out")
            out.append("\n".join(lines))
        steps = [(i, p) for i, p in enumerate(self.ir.properties) if p.kind == "step"]
        for k, (ai, vals) in enumerate(self.instances):
            if k not in self._writes:
                continue
            a = self.ir.actions[ai]
            gen.acting, gen.post_writes = a.component, self._writes[k]
            lines = []
            for i, p in steps:
                code, v = gen.gen(p.exprs[0], {}, {})
                if (v is not None and v) or (v is None and self._valid(code)):
                    continue
                lines += ["    try:", f"        if not {code}: out += ({i},)", "    except _Exact:",
                          f"        if not _holds({i}, st, post, {a.component!r}): out += ({i},)"]
            if lines:
                out.append("\n".join([f"def failing_steps_{k}(st, post):", "    out = ()"] + lines
                                     + ["    return out"]))
        gen.acting, gen.post_writes, gen.hoisted = None, None, hoisted
        return "\n".join(out) + "\n"

    def _valid(self, code: str, limit: int = 4096) -> bool:
        """Whether ``code`` holds on every value of the few pre-state positions it reads (a tautology such as
        ``not (x == 4) or (x == 4 or x == 0)``, left once unwritten primed reads became pre-state reads)."""
        if _may_raise(code) or "post" in code or "acting" in code or "_h" in code:
            return False
        positions = sorted({int(m) for m in re.findall(r"\bst\[(\d+)\]", code)})
        domains = [self.ir.scalar_type_at(pos).values() for pos in positions]
        size = 1
        for d in domains:
            size *= len(d)
        if size > limit:
            return False
        fn = eval(f"lambda st: {code}", {})
        for combo in itertools.product(*domains):
            if not fn(dict(zip(positions, combo))):
                return False
        return True

    def _holds_exact(self, i: int, st: tuple[int, ...], post: tuple[int, ...] | None = None,
                     acting: str | None = None) -> bool:
        return self.ev.holds(self.ir.properties[i], st, post, 0, acting)

    def _slow(self, k: int, st: tuple[int, ...], out: list[tuple[int, tuple[int, ...]]]) -> None:
        ai, vals = self.instances[k]
        t = self.ev.successor(self.ir.actions[ai], st, vals)
        if t is not None:
            out.append((k, t))

    def holds(self, p: Property, st: tuple[int, ...], post: tuple[int, ...] | None = None, which: int = 0,
              acting: str | None = None) -> bool:
        fn = self._prop_fns.get(p.name)
        if fn is None or which:
            return self.ev.holds(p, st, post, which, acting)
        try:
            return fn(st, post, acting)
        except _Exact:
            return self.ev.holds(p, st, post, which, acting)


def compile_successors(ir: IR) -> CompiledModel:
    """Compile ``ir`` for the explicit engine."""
    return CompiledModel(ir)
