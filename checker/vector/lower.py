"""Lowering IR expressions to straight-line numpy code over a batch of states.

The reference evaluator walks an expression once per state; here one walk emits source
code that evaluates the expression for a whole batch of states at once. Parameters and
quantifiers are unrolled (as :mod:`kubecheck.pycompile` does), so a read with constant
indices is a whole row ``X[pos]`` of the column-major batch (or ``X[pos].take(R)`` on the
batch's subset ``R``), and only reads whose index depends on the state need a gather.

Exactness. Every value carries an optional *undef mask*: the rows where the reference
evaluator would give ``UNDEF`` (a read outside an array's domain, and whatever uses it).
The three-valued rules of :mod:`kubecheck.evaluate` are applied row by row: ``&`` with a
defined false operand is false, ``|`` with a defined true one is true, ``when`` uses the
chosen branch only, anything else propagates. A mask is only emitted where an index's
interval really leaves its domain, so most models never pay for it. Out-of-domain reads
are clipped before the gather, so every intermediate value stays inside the interval of
its node and the dtype picked from that interval never overflows.

Sharing. The expression DAG is hash-consed; a lowered value is cached by (node, the
values of the parameters and binders it depends on), so a state-level sub-expression used
by many action instances (a count of active pods) is computed once per batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..expr import APPLY, Expr, show
from ..types import BoolType, Leaf
from .errors import VectorUnsupported

__all__ = ["Val", "Source", "Frame", "PostState", "Lowering", "int_dtype", "free_vars", "static_value",
           "guard_facts", "HELPERS"]

_INTS = ("int8", "int16", "int32", "int64")


def int_dtype(lo: int, hi: int) -> str:
    """The narrowest signed integer dtype that holds ``lo..hi``."""
    for name in _INTS:
        info = np.iinfo(name)
        if info.min <= lo and hi <= info.max:
            return name
    raise VectorUnsupported(f"a value interval {lo}..{hi} does not fit in 64 bits")


def _fits(value: int, dtype: str) -> bool:
    info = np.iinfo(dtype)
    return info.min <= value <= info.max


class Val:
    """A lowered value: a Python int (``const``, always defined) or the name of an array over the rows
    (``code``), with the name of its undef mask (``undef``, None where it is never undefined) and its
    ``kind`` ("bool" or an integer dtype name)."""

    __slots__ = ("code", "const", "undef", "kind")

    def __init__(self, code: str, const: int | None = None, undef: str | None = None,
                 kind: str | None = None) -> None:
        self.code = code
        self.const = const
        self.undef = undef
        self.kind = kind

    @staticmethod
    def c(value: int) -> "Val":
        v = int(value)
        return Val(repr(v), const=v)

    def __repr__(self) -> str:
        return f"Val({self.code}, undef={self.undef})"


# ---- three-valued helpers, used only where an undef mask exists ---------------------------

def _and3(a: Any, au: Any, b: Any, bu: Any) -> tuple[Any, Any]:
    f = (~a if au is None else ~(a | au)) | (~b if bu is None else ~(b | bu))     # defined false
    u = au if bu is None else (bu if au is None else au | bu)
    return ~f, u & ~f


def _or3(a: Any, au: Any, b: Any, bu: Any) -> tuple[Any, Any]:
    t = (a if au is None else a & ~au) | (b if bu is None else b & ~bu)         # defined true
    u = au if bu is None else (bu if au is None else au | bu)
    return t, u & ~t


def _imp3(a: Any, au: Any, b: Any, bu: Any) -> tuple[Any, Any]:
    return _or3(~a, au, b, bu)


def _all3(vals: tuple[Any, ...], undefs: tuple[Any, ...]) -> tuple[Any, Any]:
    f = None
    u = None
    for v, vu in zip(vals, undefs):
        vf = ~v if vu is None else ~(v | vu)
        f = vf if f is None else f | vf
        if vu is not None:
            u = vu if u is None else u | vu
    assert f is not None and u is not None
    return ~f, u & ~f


def _any3(vals: tuple[Any, ...], undefs: tuple[Any, ...]) -> tuple[Any, Any]:
    t = None
    u = None
    for v, vu in zip(vals, undefs):
        vt = v if vu is None else v & ~vu
        t = vt if t is None else t | vt
        if vu is not None:
            u = vu if u is None else u | vu
    assert t is not None and u is not None
    return t, u & ~t


def _wrap(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index mod len(table)]``: a ``Z`` table lookup, where a value's slot is its residue."""
    return table.take(index, mode="wrap")


HELPERS: dict[str, Any] = {"np": np, "_wrap": _wrap, "_and3": _and3, "_or3": _or3, "_imp3": _imp3, "_all3": _all3,
                           "_any3": _any3, "_TRUE": np.True_, "_FALSE": np.False_}
"""Names every generated function may use."""

_ARITH = {"add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "min": "np.minimum",
          "max": "np.maximum", "floordiv": "np.floor_divide", "mod": "np.remainder", "neg": "np.negative"}
_COMPARE = {"eq": "np.equal", "ne": "np.not_equal", "lt": "np.less", "le": "np.less_equal",
            "gt": "np.greater", "ge": "np.greater_equal"}
_REFLEXIVE = {"eq": 1, "le": 1, "ge": 1, "ne": 0, "lt": 0, "gt": 0}


# ---- generated source ---------------------------------------------------------------------

_NAME = re.compile(r"\b_[a-z]\d+\b")


class Source:
    """One generated function: its lines, with typed constants and tables kept in ``ns``.

    Temporaries are named ``_<letter><number>``; :meth:`text` deletes each one after its last
    use, so that a kernel over thousands of instances keeps only live arrays in memory.
    """

    def __init__(self, name: str, params: str, ns: dict[str, Any]) -> None:
        self.name = name
        self.params = params
        self.ns = ns
        self.lines: list[tuple[int, str]] = []
        self.indent = 1
        self._count = 0

    def line(self, code: str) -> None:
        self.lines.append((self.indent, code))

    def emit(self, code: str, prefix: str = "t") -> str:
        self._count += 1
        name = f"_{prefix}{self._count}"
        self.line(f"{name} = {code}")
        return name

    def const(self, value: int, dtype: str) -> str:
        """The name of a typed numpy scalar constant."""
        if dtype == "bool":
            return "_TRUE" if value else "_FALSE"
        name = f"_k_{dtype}_{value}".replace("-", "m")
        if name not in self.ns:
            self.ns[name] = np.dtype(dtype).type(value)
        return name

    def text(self) -> str:
        self._eliminate_dead()
        last: dict[str, int] = {}
        for i, (_, code) in enumerate(self.lines):
            for m in _NAME.findall(code):
                last[m] = i
        out = [f"def {self.name}({self.params}):"]
        for i, (ind, code) in enumerate(self.lines):
            out.append("    " * ind + code)
            if code.startswith("return"):
                continue
            dead = sorted(n for n in set(_NAME.findall(code)) if last.get(n) == i and not code.startswith(f"{n} ="))
            dead += [n for n in _defined(code) if last.get(n) == i]
            if dead:
                out.append("    " * ind + "del " + ", ".join(sorted(set(dead))))
        if not self.lines or not self.lines[-1][1].startswith("return"):
            out.append("    return None")
        return "\n".join(out) + "\n"

    def _eliminate_dead(self) -> None:
        """Drop assignments to temporaries nobody reads (a comparison that folded to a constant after its
        operands were emitted, say), and in-place updates of such temporaries; every other line has an
        effect (a guard row, the fingerprints, the return value) and stays."""
        live: set[str] = set()
        kept: list[tuple[int, str]] = []
        for ind, code in reversed(self.lines):
            defined = _defined(code)
            targets = defined or _modified(code)
            if targets and not any(t in live for t in targets):
                continue
            used = set(_NAME.findall(code)) - set(defined)
            live |= used
            kept.append((ind, code))
        kept.reverse()
        self.lines = kept


_INPLACE = re.compile(r"^(_[a-z]\d+) [-+*^|&]?= ")
_OUT = re.compile(r"^np\.\w+\(.*out=(_[a-z]\d+)\)$")


def _modified(code: str) -> list[str]:
    """The temporary a line updates in place (``_q4 += 1``, ``np.add(_t3, x, out=_t3)``), if any."""
    m = _INPLACE.match(code) or _OUT.match(code)
    return [m.group(1)] if m else []


def _defined(code: str) -> list[str]:
    """Names a line assigns (``_t1 = ...`` or ``_t1, _u1 = ...``)."""
    m = re.match(r"^(_[a-z]\d+)(?:, (_[a-z]\d+))? = ", code)
    return [g for g in (m.groups() if m else ()) if g]


# ---- where values come from -------------------------------------------------------------

@dataclass
class PostState:
    """The post-state of one action instance, for step properties: the value each constant-position
    write stores, and per leaf the (flat position, value) of its state-dependent writes. A primed read
    of any other position is a read of the pre-state."""

    const_writes: dict[int, Val]
    dyn_writes: dict[str, list[tuple[str, Val]]]


@dataclass
class Frame:
    """The rows a generated function computes over, and what is known about them.

    ``subset``: False where the rows are every column of ``X``; True where they are the columns ``R``.
    ``facts``: positions whose pre-state value is known on these rows (pinned by the guard).
    """

    subset: bool
    facts: dict[int, int] = field(default_factory=dict)
    post: PostState | None = None
    acting: str | None = None


def free_vars(e: Expr, memo: dict[int, tuple[tuple[str, ...], tuple[int, ...]]]) -> tuple[tuple[str, ...],
                                                                                           tuple[int, ...]]:
    """The parameters and binder levels ``e`` depends on (sorted), memoised by node."""
    k = id(e)
    r = memo.get(k)
    if r is not None:
        return r
    if e.op == "param":
        r = ((e.data,), ())
    elif e.op == "bound":
        r = ((), (e.data,))
    else:
        ps: set[str] = set()
        bs: set[int] = set()
        for a in e.args:
            p, b = free_vars(a, memo)
            ps.update(p)
            bs.update(b)
        if e.op == "reduce":
            bs.discard(e.args[0].data)
        r = (tuple(sorted(ps)), tuple(sorted(bs)))
    memo[k] = r
    return r


def static_value(e: Expr, params: dict[str, int], bound: dict[int, int]) -> int | None:
    """The value of ``e`` where it depends on no state (parameters, binders, constants), else None."""
    op = e.op
    if op == "const":
        return e.data
    if op == "param":
        return params.get(e.data)
    if op == "bound":
        return bound.get(e.data)
    if op in _ARITH:
        vals = [static_value(a, params, bound) for a in e.args]
        if any(v is None for v in vals):
            return None
        if op in ("floordiv", "mod") and vals[1] == 0:
            return None
        if op == "neg":
            return -vals[0]  # type: ignore[operator]
        if op in ("min", "max"):
            return min(vals) if op == "min" else max(vals)  # type: ignore[type-var]
        return APPLY[op](*vals)
    return None


def guard_facts(guard: Expr, params: dict[str, int], leaves: dict[str, Leaf]) -> dict[int, int]:
    """Positions whose value a guard pins: conjuncts ``x[c] == k``, ``b[c]`` and ``~b[c]``.

    On the rows where the guard is (defined and) true, every conjunct is true, so reads of
    these positions are constants there: the write ``status[pod] := PENDING`` under
    ``require(status[pod] == ABSENT)`` changes the fingerprint by a constant.
    """
    out: dict[int, int] = {}

    def position(r: Expr) -> int | None:
        if r.op != "read" or r.data[1]:
            return None
        idx = [static_value(a, params, {}) for a in r.args]
        if any(i is None for i in idx):
            return None
        return leaves[r.data[0]].position(tuple(idx))  # type: ignore[arg-type]

    stack = [guard]
    while stack:
        e = stack.pop()
        if e.op == "and":
            stack.extend(e.args)
        elif e.op == "eq":
            for r, c in ((e.args[0], e.args[1]), (e.args[1], e.args[0])):
                pos = position(r)
                v = static_value(c, params, {})
                if pos is not None and v is not None:
                    out[pos] = v
                    break
        elif e.op == "read" and isinstance(leaves[e.data[0]].elem, BoolType):
            pos = position(e)
            if pos is not None:
                out[pos] = 1
        elif e.op == "not" and e.args[0].op == "read" and isinstance(leaves[e.args[0].data[0]].elem, BoolType):
            pos = position(e.args[0])
            if pos is not None:
                out[pos] = 0
    return out


# ---- the lowering ------------------------------------------------------------------------

class Lowering:
    """Lowers expressions into one :class:`Source`, over the rows its :class:`Frame` describes.

    The generated function's parameters are ``X`` (the (width, n) batch), ``Xf`` (its flat view),
    ``n`` (its number of columns), ``R`` (the row subset, or ``arange(n)``) and ``nrow`` (the number
    of rows computed).
    """

    def __init__(self, leaves: dict[str, Leaf], src: Source, frame: Frame, storage: str,
                 memo: dict[int, Any]) -> None:
        self.leaves = leaves
        self.src = src
        self.frame = frame
        self.storage = storage
        self.memo = memo
        self.cache: dict[tuple, Val] = {}
        self.cols: dict[int, Val] = {}
        self.post_cols: dict[int, Val] = {}
        self._ones: str | None = None
        self._zeros: dict[str, str] = {}
        self._arange: str | None = None

    # ---- entry point ----
    def val(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        ps, bs = free_vars(e, self.memo)
        key = (id(e), tuple(params[p] for p in ps), tuple(bound[b] for b in bs))
        v = self.cache.get(key)
        if v is None:
            v = self._lower(e, params, bound)
            self.cache[key] = v
        return v

    # ---- small emitters ----
    def ones(self) -> str:
        if self._ones is None:
            self._ones = self.src.emit("np.ones(nrow, dtype=np.bool_)", "u")
        return self._ones

    def zeros(self, kind: str) -> str:
        name = self._zeros.get(kind)
        if name is None:
            name = self._zeros[kind] = self.src.emit(f"np.zeros(nrow, dtype=np.{'bool_' if kind == 'bool' else kind})",
                                                     "z")
        return name

    def arange(self) -> str:
        if self._arange is None:
            self._arange = self.src.emit("np.arange(nrow)", "a")
        return self._arange

    def union(self, masks: list[str]) -> str | None:
        masks = list(dict.fromkeys(m for m in masks if m))
        if not masks:
            return None
        if len(masks) == 1:
            return masks[0]
        return self.src.emit(" | ".join(masks), "u")

    def kind_of(self, leaf: Leaf) -> str:
        return "bool" if isinstance(leaf.elem, BoolType) else self.storage

    def undefined(self, kind: str) -> Val:
        """A value the evaluator calls UNDEF on every row (a read at a constant out-of-domain index)."""
        return Val(self.zeros(kind), undef=self.ones(), kind=kind)

    def as_bool_view(self, code: str) -> str:
        return f"{code}.view(np.bool_)" if self.storage == "int8" else f"({code} != 0)"

    def typed(self, v: Val, dtype: str) -> str:
        """``v`` as an operand of dtype ``dtype`` (a typed constant, or the array cast where needed)."""
        if v.const is not None:
            return self.src.const(v.const, dtype)
        if v.kind == dtype:
            return v.code
        if dtype == "bool":
            return f"({v.code} != 0)"
        return f"{v.code}.astype(np.{dtype})"

    # ---- columns ----
    def column(self, pos: int, leaf: Leaf) -> Val:
        """The pre-state value at a constant position, over the rows."""
        if pos in self.frame.facts:
            return Val.c(self.frame.facts[pos])
        v = self.cols.get(pos)
        if v is None:
            code = f"X[{pos}].take(R)" if self.frame.subset else f"X[{pos}]"
            kind = self.kind_of(leaf)
            if kind == "bool":
                code = self.as_bool_view(code)
            v = self.cols[pos] = Val(self.src.emit(code, "c"), kind=kind)
        return v

    def post_column(self, pos: int, leaf: Leaf) -> Val:
        """The post-state value at a constant position (step properties only)."""
        post = self.frame.post
        if post is None:
            raise VectorUnsupported("a primed (post-state) read outside a step property")
        v = post.const_writes.get(pos)
        if v is not None:
            return v
        dyn = post.dyn_writes.get(leaf.name)
        if not dyn:
            return self.column(pos, leaf)
        v = self.post_cols.get(pos)
        if v is None:
            kind = self.kind_of(leaf)
            cur = self.column(pos, leaf)
            code = self.typed(cur, kind) if cur.const is None else f"np.full(nrow, {self.typed(cur, kind)})"
            for p, w in dyn:
                code = self.src.emit(f"np.where({p} == {pos}, {self.typed(w, kind)}, {code})", "p")
            v = self.post_cols[pos] = Val(code, kind=kind)
        return v

    def position(self, leaf: Leaf, args: tuple[Expr, ...], idx: list[Val]) -> tuple[int | str | None, list[str]]:
        """The flat state position of ``leaf[idx]``: an int, or the name of an intp array over the rows,
        with the masks of the rows where the index is undefined or out of the domain. None: the index is
        a constant outside the domain."""
        undefs = [i.undef for i in idx if i.undef]
        base = leaf.offset
        terms: list[tuple[str, int]] = []
        for a, i, d, s in zip(args, idx, leaf.dims, leaf.strides):
            if i.const is not None:
                if not d.lo <= i.const <= d.hi:
                    return None, []
                base += (i.const - d.lo) * s
                continue
            code = i.code
            below, above = a.lo < d.lo, a.hi > d.hi
            if below or above:
                parts = ([f"({code} < {d.lo})"] if below else []) + ([f"({code} > {d.hi})"] if above else [])
                undefs.append(self.src.emit(" | ".join(parts), "u"))
                code = self.src.emit(f"np.clip({code}, {d.lo}, {d.hi})")
            base -= d.lo * s
            terms.append((code, s))
        if not terms:
            return base, undefs
        code, s = terms[0]
        p = self.src.emit(f"np.multiply({code}, {s}, dtype=np.intp)", "q")
        for code, s in terms[1:]:
            self.src.line(f"{p} += {code}" if s == 1 else f"{p} += np.multiply({code}, {s}, dtype=np.intp)")
        if base:
            self.src.line(f"{p} += {base}")
        return p, undefs

    # ---- the cases ----
    def _lower(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        op = e.op
        if op == "const":
            return Val.c(e.data)
        if op == "param":
            return Val.c(params[e.data])
        if op == "bound":
            return Val.c(bound[e.data])
        if op == "acting":
            if self.frame.acting is None:
                raise VectorUnsupported(f"`{show(e)}` outside a step property")
            return Val.c(int(self.frame.acting in e.data))
        if op == "read":
            return self._read(e, params, bound)
        if op in _ARITH:
            return self._arith(e, params, bound)
        if op in _COMPARE:
            return self._compare(e, params, bound)
        if op == "not":
            a = self.val(e.args[0], params, bound)
            if a.const is not None:
                return Val.c(1 - a.const)
            return Val(self.src.emit(f"np.logical_not({a.code})"), undef=a.undef, kind="bool")
        if op in ("and", "or", "implies"):
            return self._logic(e, params, bound)
        if op == "ite":
            return self._ite(e, params, bound)
        if op == "reduce":
            return self._reduce(e, params, bound)
        raise VectorUnsupported(f"the expression kind `{op}` ({show(e)})")

    def _read(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        name, primed = e.data
        leaf = self.leaves[name]
        idx = [self.val(a, params, bound) for a in e.args]
        pos, undefs = self.position(leaf, e.args, idx)
        kind = self.kind_of(leaf)
        if pos is None:
            return self.undefined(kind)
        if isinstance(pos, int):      # every index is a constant inside the domain
            return self.post_column(pos, leaf) if primed else self.column(pos, leaf)
        if primed:
            code = self._post_gather(leaf, pos)
        else:
            g = self.src.emit(f"np.multiply({pos}, n)", "g")
            self.src.line(f"{g} += R")
            code = f"Xf.take({g})"
            if kind == "bool":
                code = self.as_bool_view(code)
        return Val(self.src.emit(code), undef=self.union(undefs), kind=kind)

    def _post_gather(self, leaf: Leaf, pos: str) -> str:
        """A primed read at a state-dependent position: gather from the post-state of the whole leaf."""
        kind = self.kind_of(leaf)
        m = self.src.emit(f"np.empty(({leaf.size}, nrow), dtype=np.{'bool_' if kind == 'bool' else kind})", "m")
        for k in range(leaf.size):
            v = self.post_column(leaf.offset + k, leaf)
            self.src.line(f"{m}[{k}] = {self.typed(v, kind) if v.const is not None else v.code}")
        g = self.src.emit(f"np.multiply({pos}, nrow)", "g")
        self.src.line(f"{g} += {self.arange()} - {leaf.offset} * nrow")
        return f"{m}.ravel().take({g})"

    def _arith(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        args = [self.val(a, params, bound) for a in e.args]
        if all(a.const is not None for a in args):
            consts = [a.const for a in args]
            if e.op == "neg":
                return Val.c(-consts[0])  # type: ignore[operator]
            if e.op in ("floordiv", "mod") and consts[1] == 0:
                raise VectorUnsupported(f"division by zero in {show(e)}")
            return Val.c(APPLY[e.op](*consts))
        lo = min([e.lo] + [a.lo for a in e.args])
        hi = max([e.hi] + [a.hi for a in e.args])
        dt = int_dtype(lo, hi)
        operands = ", ".join(a.code for a in args)
        code = self.src.emit(f"{_ARITH[e.op]}({operands}, dtype=np.{dt})")
        return Val(code, undef=self.union([a.undef for a in args if a.undef]), kind=dt)

    def _compare(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        a, b = (self.val(x, params, bound) for x in e.args)
        op = e.op
        if a.const is not None and b.const is not None:
            return Val.c(APPLY[op](a.const, b.const))
        undef = self.union([x.undef for x in (a, b) if x.undef])
        if a is b and undef is None:
            return Val.c(_REFLEXIVE[op])
        for x, y in ((a, b), (b, a)):
            if x.kind == "bool" and y.const is not None and op in ("eq", "ne"):
                if y.const not in (0, 1):   # a Bool against another number: never equal
                    value = int(op == "ne")
                    if undef is None:
                        return Val.c(value)
                    return Val(self.src.emit(f"np.full(nrow, {bool(value)})"), undef=undef, kind="bool")
                if (y.const == 1) == (op == "eq"):
                    return x if x.undef == undef else Val(x.code, undef=undef, kind="bool")
                return Val(self.src.emit(f"np.logical_not({x.code})"), undef=undef, kind="bool")
        ca, cb = a.code, b.code
        for x, y, which in ((a, b, 0), (b, a, 1)):
            if x.const is not None and y.kind not in (None, "bool") and not _fits(x.const, y.kind):
                cast = f"{y.code}.astype(np.int64)"
                if which == 0:
                    cb = cast
                else:
                    ca = cast
        return Val(self.src.emit(f"{_COMPARE[op]}({ca}, {cb})"), undef=undef, kind="bool")

    def _logic(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        op = e.op
        a = self.val(e.args[0], params, bound)
        b = self.val(e.args[1], params, bound)
        if op == "and":
            if a.const is not None:
                return b if a.const else Val.c(0)
            if b.const is not None:
                return a if b.const else Val.c(0)
        elif op == "or":
            if a.const is not None:
                return Val.c(1) if a.const else b
            if b.const is not None:
                return Val.c(1) if b.const else a
        else:  # implies
            if a.const is not None:
                return b if a.const else Val.c(1)
            if b.const is not None:
                if b.const:
                    return Val.c(1)
                return Val(self.src.emit(f"np.logical_not({a.code})"), undef=a.undef, kind="bool")
        if a.undef is None and b.undef is None:
            code = {"and": f"np.logical_and({a.code}, {b.code})", "or": f"np.logical_or({a.code}, {b.code})",
                    "implies": f"np.logical_or(np.logical_not({a.code}), {b.code})"}[op]
            return Val(self.src.emit(code), kind="bool")
        fn = {"and": "_and3", "or": "_or3", "implies": "_imp3"}[op]
        self.src._count += 1
        v, u = f"_t{self.src._count}", f"_u{self.src._count}"
        self.src.line(f"{v}, {u} = {fn}({a.code}, {a.undef}, {b.code}, {b.undef})")
        return Val(v, undef=u, kind="bool")

    def _ite(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        c = self.val(e.args[0], params, bound)
        if c.const is not None:
            return self.val(e.args[1] if c.const else e.args[2], params, bound)
        a = self.val(e.args[1], params, bound)
        b = self.val(e.args[2], params, bound)
        if isinstance(e.type, BoolType):
            kind = "bool"
        else:
            kind = int_dtype(min(e.lo, e.args[1].lo, e.args[2].lo), max(e.hi, e.args[1].hi, e.args[2].hi))
        code = self.src.emit(f"np.where({c.code}, {self.typed(a, kind)}, {self.typed(b, kind)})")
        if a.undef and b.undef:
            branch = self.src.emit(f"np.where({c.code}, {a.undef}, {b.undef})", "u")
        elif a.undef:
            branch = self.src.emit(f"{c.code} & {a.undef}", "u")
        elif b.undef:
            branch = self.src.emit(f"~{c.code} & {b.undef}", "u")
        else:
            branch = None
        return Val(code, undef=self.union([x for x in (c.undef, branch) if x]), kind=kind)

    def _reduce(self, e: Expr, params: dict[str, int], bound: dict[int, int]) -> Val:
        b, body = e.args
        parts = []
        for v in b.type.values():
            env = dict(bound)
            env[b.data] = v
            parts.append(self.val(body, params, env))
        kind = e.data
        arrs = [p for p in parts if p.const is None]
        if kind in ("all", "any"):
            absorbing = 0 if kind == "all" else 1
            if any(p.const == absorbing for p in parts if p.const is not None):
                return Val.c(absorbing)
            if not arrs:
                return Val.c(1 - absorbing)
            if len(arrs) == 1:
                return arrs[0]
            if all(p.undef is None for p in arrs):
                fn = "np.logical_and" if kind == "all" else "np.logical_or"
                acc = self.src.emit(f"{fn}({arrs[0].code}, {arrs[1].code})")
                for p in arrs[2:]:
                    self.src.line(f"{fn}({acc}, {p.code}, out={acc})")
                return Val(acc, kind="bool")
            self.src._count += 1
            v, u = f"_t{self.src._count}", f"_u{self.src._count}"
            vals = ", ".join(p.code for p in arrs)
            undefs = ", ".join(str(p.undef) for p in arrs)
            self.src.line(f"{v}, {u} = {'_all3' if kind == 'all' else '_any3'}(({vals},), ({undefs},))")
            return Val(v, undef=u, kind="bool")
        k = sum(p.const for p in parts if p.const is not None)  # type: ignore[misc]
        if not arrs:
            return Val.c(k)
        lo = min(0, e.lo, body.lo)
        hi = max(0, e.hi, body.hi)
        dt = int_dtype(lo, hi)
        if len(arrs) == 1:
            acc = self.src.emit(f"np.add({arrs[0].code}, {k}, dtype=np.{dt})")
        else:
            acc = self.src.emit(f"np.add({arrs[0].code}, {arrs[1].code}, dtype=np.{dt})")
            for p in arrs[2:]:
                self.src.line(f"np.add({acc}, {p.code}, out={acc})")
            if k:
                self.src.line(f"np.add({acc}, {k}, out={acc})")
        return Val(acc, undef=self.union([p.undef for p in arrs if p.undef]), kind=dt)
