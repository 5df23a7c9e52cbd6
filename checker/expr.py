"""Expressions: a hash-consed DAG of typed, interval-annotated nodes.

Spec code builds expressions by running on symbolic values: ``s.cache[i] == Phase.RUNNING``
is a node, not a bool. Identical sub-expressions are the same node (hash-consing), so a
helper such as "cached active pods" is computed once however often it is used. Every node
carries its scalar type and its value interval ``lo..hi``, from which an engine picks a dtype.

Node kinds (``Expr.op``), with their payload:

=============  ==========================================  ================================
op             data                                        args
=============  ==========================================  ================================
``const``      the integer value                           ()
``read``       (leaf name, primed)                         index expressions, outermost first
``param``      parameter name                              ()
``bound``      binder level (0 = outermost quantifier)     ()
``add`` ...    None                                        operands (see ``ARITH``, ``COMPARE``, ``LOGIC``)
``ite``        None                                        (cond, then, else)
``reduce``     "all" | "any" | "count" | "sum"             (bound, body)
``acting``     tuple of component names (step properties)  ()
=============  ==========================================  ================================

Python's ``if``, ``and``, ``or``, ``not`` and chained comparisons cannot see inside a symbolic
value; using them raises a :class:`SpecError` that points to ``when``, ``&``, ``|``, ``~``.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

from .errors import SpecError, user_location
from .types import (Bool, BoolType, EnumType, IntType, OptionType, RefType, ScalarType,
                    _NoneValue, as_index, enum_type)

__all__ = [
    "Expr", "const", "lift", "when", "implies", "all_of", "any_of", "count", "sum_of",
    "minimum", "maximum", "a_", "APPLY", "ARITH", "COMPARE", "LOGIC", "tracing", "current_trace",
]

ARITH = ("add", "sub", "mul", "neg", "min", "max", "floordiv", "mod")
COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
LOGIC = ("and", "or", "not", "implies")


class _TraceContext:
    """What is being traced (for error messages) and the configuration (to bind templates)."""

    def __init__(self, where: str, values: dict[str, Any]) -> None:
        self.where = where
        self.values = values
        self.depth = 0


_CTX: list[_TraceContext] = []


class tracing:
    """Context manager: spec code runs symbolically inside it."""

    def __init__(self, where: str, values: dict[str, Any]) -> None:
        self.ctx = _TraceContext(where, values)

    def __enter__(self) -> _TraceContext:
        _CTX.append(self.ctx)
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        _CTX.pop()


def current_trace() -> _TraceContext | None:
    return _CTX[-1] if _CTX else None


def _where() -> str:
    ctx = current_trace()
    return f" in {ctx.where}" if ctx else ""


def spec_error(msg: str) -> SpecError:
    """A SpecError that names the spec line and what is being traced."""
    return SpecError(f"{user_location()}{_where()}: {msg}")


_TABLE: dict[tuple, "Expr"] = {}


class Expr:
    """A node of the expression DAG. Build with operators; never construct directly."""

    __slots__ = ("op", "data", "args", "type", "lo", "hi")

    op: str
    data: Any
    args: tuple["Expr", ...]
    type: ScalarType
    lo: int
    hi: int

    def __new__(cls, op: str, data: Any, args: tuple["Expr", ...], type: ScalarType, lo: int, hi: int) -> "Expr":
        key = (op, data, tuple(id(a) for a in args), type, lo, hi)
        node = _TABLE.get(key)
        if node is None:
            node = object.__new__(cls)
            object.__setattr__(node, "op", op)
            object.__setattr__(node, "data", data)
            object.__setattr__(node, "args", args)
            object.__setattr__(node, "type", type)
            object.__setattr__(node, "lo", lo)
            object.__setattr__(node, "hi", hi)
            _TABLE[key] = node
        return node

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("expressions are immutable")

    __hash__ = object.__hash__

    # ---- Python truthiness is the classic mistake ----
    def __bool__(self) -> bool:
        raise spec_error(
            "a symbolic value was used where Python needs a concrete True/False (an `if`, `and`, `or`, "
            "`not`, a chained comparison such as `a < b < c`, or `assert`). Spec code runs once on "
            "symbolic values, so write `when(cond, a, b)` for if-then-else, `&`, `|`, `~` for and, or, "
            "not, `require(cond)` for a guard, and split chained comparisons: `(a < b) & (b < c)`.")

    def __index__(self) -> int:
        raise spec_error("a symbolic value cannot be used as a Python index or count; index a state "
                         "variable (`s.arr[e]`) or use all_of/any_of/count/sum_of over a domain.")

    def __iter__(self) -> Any:
        raise spec_error("a symbolic value cannot be iterated; quantify over a domain with "
                         "all_of/any_of/count/sum_of.")

    # ---- arithmetic ----
    def __add__(self, o: Any) -> "Expr": return _arith("add", self, o)
    def __radd__(self, o: Any) -> "Expr": return _arith("add", o, self)
    def __sub__(self, o: Any) -> "Expr": return _arith("sub", self, o)
    def __rsub__(self, o: Any) -> "Expr": return _arith("sub", o, self)
    def __mul__(self, o: Any) -> "Expr": return _arith("mul", self, o)
    def __rmul__(self, o: Any) -> "Expr": return _arith("mul", o, self)
    def __floordiv__(self, o: Any) -> "Expr": return _arith("floordiv", self, o)
    def __mod__(self, o: Any) -> "Expr": return _arith("mod", self, o)
    def __neg__(self) -> "Expr": return _arith("neg", self)

    # ---- comparison ----
    def __eq__(self, o: Any) -> "Expr": return _compare("eq", self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> "Expr": return _compare("ne", self, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> "Expr": return _compare("lt", self, o)
    def __le__(self, o: Any) -> "Expr": return _compare("le", self, o)
    def __gt__(self, o: Any) -> "Expr": return _compare("gt", self, o)
    def __ge__(self, o: Any) -> "Expr": return _compare("ge", self, o)

    # ---- logic ----
    def __and__(self, o: Any) -> "Expr": return _logic("and", self, o)
    def __rand__(self, o: Any) -> "Expr": return _logic("and", o, self)
    def __or__(self, o: Any) -> "Expr": return _logic("or", self, o)
    def __ror__(self, o: Any) -> "Expr": return _logic("or", o, self)
    def __invert__(self) -> "Expr": return _logic("not", self)

    def implies(self, o: Any) -> "Expr":
        """``self => o``."""
        return _logic("implies", self, o)

    def isin(self, *values: Any) -> "Expr":
        """``self`` equals one of ``values``."""
        if not values:
            return const(False)
        out = self == values[0]
        for v in values[1:]:
            out = out | (self == v)
        return out

    def __repr__(self) -> str:
        return show(self)


# ---- construction helpers ---------------------------------------------------------------

def const(value: Any, type: ScalarType | None = None) -> Expr:
    """A constant node (``type`` defaults from the Python value)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        return Expr("const", int(value), (), Bool, int(value), int(value))
    if isinstance(value, enum.Enum):
        t = enum_type(value.__class__)   # `type` is a parameter here
        v = int(value.value)
        return Expr("const", v, (), t, v, v)
    if isinstance(value, _NoneValue):
        if type is None or not isinstance(type, OptionType):
            raise spec_error("NONE is only meaningful against an Option(...) value (compare or assign it "
                             "to one).")
        return Expr("const", -1, (), type, -1, -1)
    if isinstance(value, int):
        if type is not None and isinstance(type, (RefType, OptionType)):
            return Expr("const", value, (), type, value, value)
        return Expr("const", value, (), IntType(value, value), value, value)
    raise spec_error(f"{value!r} is not a value of the spec language (use bools, ints, IntEnum members, "
                     "NONE or expressions).")


def lift(x: Any, hint: ScalarType | None = None) -> Expr:
    """``x`` as an expression; ``hint`` types literals such as NONE."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, int) and not isinstance(x, (bool, enum.Enum)) and isinstance(hint, (RefType, OptionType)):
        return const(x, hint)
    return const(x, hint if isinstance(x, _NoneValue) else None)


def _hint(x: Any) -> ScalarType | None:
    return x.type if isinstance(x, Expr) else None


def _lift2(a: Any, b: Any) -> tuple[Expr, Expr]:
    ea = lift(a, _hint(b))
    eb = lift(b, ea.type)
    return ea, eb


def a_(word: str) -> str:
    """``word`` with its indefinite article: "an Int", "a Bool"."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _a_kind(t: ScalarType) -> str:
    return a_(_kind(t))


def _kind(t: ScalarType) -> str:
    if isinstance(t, BoolType):
        return "Bool"
    if isinstance(t, IntType):
        return "Int"
    if isinstance(t, EnumType):
        return f"enum {t.enum.__name__}"
    if isinstance(t, (RefType, OptionType)):
        return f"reference to {t.domain.name}"
    return type(t).__name__


def _need_int(op: str, *xs: Expr) -> None:
    for x in xs:
        if not isinstance(x.type, IntType):
            raise spec_error(f"arithmetic `{op}` needs integers, but an operand is {_a_kind(x.type)} ({show(x)}).")


APPLY: dict[str, Callable[..., int]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "neg": lambda a: -a,
    "min": min, "max": max, "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "eq": lambda a, b: int(a == b), "ne": lambda a, b: int(a != b), "lt": lambda a, b: int(a < b),
    "le": lambda a, b: int(a <= b), "gt": lambda a, b: int(a > b), "ge": lambda a, b: int(a >= b),
}
"""The value of each arithmetic and comparison operator on integers (Bools are 0/1): the one
definition that constant folding, the reference evaluator and the compilers all use."""


def _arith(op: str, a: Any, b: Any = None) -> Expr:
    if op == "neg":
        x = lift(a)
        _need_int(op, x)
        if x.op == "const":
            return const(-x.data)
        return Expr("neg", None, (x,), IntType(-x.hi, -x.lo), -x.hi, -x.lo)
    x, y = lift(a), lift(b)
    _need_int(op, x, y)
    if x.op == "const" and y.op == "const":
        if op in ("floordiv", "mod") and y.data == 0:
            raise spec_error("division by the constant 0.")
        return const(APPLY[op](x.data, y.data))
    if op == "add":
        lo, hi = x.lo + y.lo, x.hi + y.hi
    elif op == "sub":
        lo, hi = x.lo - y.hi, x.hi - y.lo
    elif op == "mul":
        c = [x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi]
        lo, hi = min(c), max(c)
    elif op == "min":
        lo, hi = min(x.lo, y.lo), min(x.hi, y.hi)
    elif op == "max":
        lo, hi = max(x.lo, y.lo), max(x.hi, y.hi)
    else:  # floordiv, mod: only by a positive constant, so intervals stay exact and defined
        if y.op != "const" or y.data <= 0:
            raise spec_error(f"`{'//' if op == 'floordiv' else '%'}` is only supported by a positive constant.")
        if op == "floordiv":
            lo, hi = x.lo // y.data, x.hi // y.data
        else:
            lo, hi = 0, y.data - 1
    return Expr(op, None, (x, y), IntType(lo, hi), lo, hi)


def minimum(a: Any, b: Any) -> Expr:
    """The smaller of two integers."""
    return _arith("min", a, b)


def maximum(a: Any, b: Any) -> Expr:
    """The larger of two integers."""
    return _arith("max", a, b)


def _advice(tx: ScalarType, ty: ScalarType) -> str:
    """What to do instead, for the comparisons people get wrong most often."""
    for a, b in ((tx, ty), (ty, tx)):
        if isinstance(a, EnumType) and isinstance(b, IntType):
            name = a.enum.__name__
            return (f"; compare {a_(name)} with one of its members, for example `{name}.{a.enum(a.lo).name}`, "
                    "not with a number.")
        if isinstance(a, (RefType, OptionType)) and isinstance(b, IntType):
            return (f"; compare a reference with another reference of {a.domain.name} (a parameter, a variable "
                    "or NONE), not with a number.")
    return "."


def _comparable(op: str, x: Expr, y: Expr) -> None:
    tx, ty = x.type, y.type
    ok = False
    if isinstance(tx, IntType) and isinstance(ty, IntType):
        ok = True
    elif isinstance(tx, BoolType) and isinstance(ty, BoolType):
        ok = op in ("eq", "ne")
    elif isinstance(tx, EnumType) and isinstance(ty, EnumType):
        ok = tx.enum is ty.enum
    elif isinstance(tx, (RefType, OptionType)) and isinstance(ty, (RefType, OptionType)):
        ok = tx.domain.name == ty.domain.name and op in ("eq", "ne")
    if not ok:
        what = "compare" if op in ("eq", "ne") else "order"
        raise spec_error(f"cannot {what} {_a_kind(tx)} ({show(x)}) with {_a_kind(ty)} ({show(y)}){_advice(tx, ty)}")


def _compare(op: str, a: Any, b: Any) -> Expr:
    x, y = _lift2(a, b)
    _comparable(op, x, y)
    if x.op == "const" and y.op == "const":
        return const(bool(APPLY[op](x.data, y.data)))
    return Expr(op, None, (x, y), Bool, 0, 1)


def _need_bool(op: str, *xs: Expr) -> None:
    for x in xs:
        if not isinstance(x.type, BoolType):
            sym = {"and": "&", "or": "|", "not": "~", "implies": "implies"}[op]
            raise spec_error(f"`{sym}` needs Bool operands, but one is {_a_kind(x.type)} ({show(x)}). "
                             "Note that `&` binds tighter than `==`: write `(a == b) & (c == d)`.")


def _logic(op: str, a: Any, b: Any = None) -> Expr:
    x = lift(a)
    if op == "not":
        _need_bool(op, x)
        if x.op == "const":
            return const(not x.data)
        if x.op == "not":
            return x.args[0]
        return Expr("not", None, (x,), Bool, 0, 1)
    y = lift(b)
    _need_bool(op, x, y)
    if op == "and":
        if x.op == "const":
            return y if x.data else const(False)
        if y.op == "const":
            return x if y.data else const(False)
    elif op == "or":
        if x.op == "const":
            return const(True) if x.data else y
        if y.op == "const":
            return const(True) if y.data else x
    elif op == "implies":
        if x.op == "const":
            return y if x.data else const(True)
        if y.op == "const" and y.data:
            return const(True)
    return Expr(op, None, (x, y), Bool, 0, 1)


def implies(a: Any, b: Any) -> Expr:
    """``a => b``."""
    return _logic("implies", a, b)


def _join_types(x: Expr, y: Expr) -> ScalarType:
    tx, ty = x.type, y.type
    if isinstance(tx, IntType) and isinstance(ty, IntType):
        return IntType(min(x.lo, y.lo), max(x.hi, y.hi))
    if isinstance(tx, BoolType) and isinstance(ty, BoolType):
        return Bool
    if isinstance(tx, EnumType) and isinstance(ty, EnumType) and tx.enum is ty.enum:
        return tx
    if isinstance(tx, (RefType, OptionType)) and isinstance(ty, (RefType, OptionType)) \
            and tx.domain.name == ty.domain.name:
        return tx if isinstance(tx, OptionType) else ty
    raise spec_error(f"the two branches of `when` have different types: {_a_kind(tx)} ({show(x)}) and "
                     f"{_a_kind(ty)} ({show(y)}).")


def when(cond: Any, then: Any, otherwise: Any) -> Expr:
    """If-then-else: ``then`` where ``cond`` holds, else ``otherwise``.

    Only the chosen branch's value is used, so ``when(i == NONE, 0, arr[i])`` is safe.
    """
    c = lift(cond)
    _need_bool_when(c)
    x, y = _lift2(then, otherwise)
    t = _join_types(x, y)
    if c.op == "const":
        return x if c.data else y
    if x is y:
        return x
    return Expr("ite", None, (c, x, y), t, min(x.lo, y.lo), max(x.hi, y.hi))


def _need_bool_when(c: Expr) -> None:
    if not isinstance(c.type, BoolType):
        raise spec_error(f"the condition of `when` must be Bool; got {_a_kind(c.type)} ({show(c)}).")


# ---- parameters, binders, reductions -------------------------------------------------

def param(name: str, type: ScalarType) -> Expr:
    return Expr("param", name, (), type, type.lo, type.hi)


def bind_domain(domain: Any) -> ScalarType:
    """The concrete scalar type a domain enumerates, in the configuration being traced."""
    t = as_index(domain)
    ctx = current_trace()
    if ctx is not None:
        t = t.bind(ctx.values)
    if isinstance(t, RefType) and not isinstance(t.domain.size, int):
        raise spec_error(f"domain {t.domain.name!r} is not sized in this configuration.")
    return t


def _reduce(kind: str, domain: Any, fn: Callable[[Expr], Any]) -> Expr:
    t = bind_domain(domain)
    ctx = current_trace()
    level = ctx.depth if ctx is not None else 0
    b = Expr("bound", level, (), t, t.lo, t.hi)
    if ctx is not None:
        ctx.depth += 1
    try:
        body = lift(fn(b))
    finally:
        if ctx is not None:
            ctx.depth -= 1
    n = t.size
    if kind in ("all", "any", "count"):
        if not isinstance(body.type, BoolType):
            raise spec_error(f"the body of a `{kind}` quantifier must be Bool; got {_a_kind(body.type)} ({show(body)}).")
        if body.op == "const":
            if kind == "all":
                return const(bool(body.data) or n == 0)
            if kind == "any":
                return const(bool(body.data) and n > 0)
            return const(n if body.data else 0)
        if kind == "count":
            return Expr("reduce", kind, (b, body), IntType(0, n), 0, n)
        return Expr("reduce", kind, (b, body), Bool, 0, 1)
    if not isinstance(body.type, IntType):
        raise spec_error(f"the body of `sum_of` must be an integer; got {_a_kind(body.type)} ({show(body)}).")
    lo, hi = (n * body.lo, n * body.hi) if n else (0, 0)
    return Expr("reduce", "sum", (b, body), IntType(lo, hi), lo, hi)


def all_of(domain: Any, fn: Callable[[Expr], Any]) -> Expr:
    """``fn(x)`` holds for every ``x`` in ``domain`` (true on an empty domain)."""
    return _reduce("all", domain, fn)


def any_of(domain: Any, fn: Callable[[Expr], Any]) -> Expr:
    """``fn(x)`` holds for some ``x`` in ``domain``."""
    return _reduce("any", domain, fn)


def count(domain: Any, fn: Callable[[Expr], Any]) -> Expr:
    """How many ``x`` in ``domain`` satisfy ``fn(x)``."""
    return _reduce("count", domain, fn)


def sum_of(domain: Any, fn: Callable[[Expr], Any]) -> Expr:
    """The sum of ``fn(x)`` over ``domain``."""
    return _reduce("sum", domain, fn)


# ---- printing ---------------------------------------------------------------------------

_SYM = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "mod": "%", "eq": "==", "ne": "!=",
        "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "and": "&", "or": "|", "implies": "=>"}


def show(e: Expr) -> str:
    """A readable rendering of an expression (for messages and docs)."""
    op = e.op
    if op == "const":
        return e.type.show(e.data) if not isinstance(e.type, IntType) else str(e.data)
    if op == "read":
        name, primed = e.data
        idx = "".join(f"[{show(a)}]" for a in e.args)
        return f"{name}{idx}{chr(39) if primed else ''}"
    if op == "param":
        return str(e.data)
    if op == "bound":
        return f"x{e.data}"
    if op == "acting":
        return f"step.by({', '.join(repr(c) for c in e.data)})"
    if op == "neg":
        return f"-{show(e.args[0])}"
    if op == "not":
        return f"~{show(e.args[0])}"
    if op in ("min", "max"):
        return f"{op}({show(e.args[0])}, {show(e.args[1])})"
    if op == "ite":
        return f"when({show(e.args[0])}, {show(e.args[1])}, {show(e.args[2])})"
    if op == "reduce":
        b, body = e.args
        dom = b.type.domain.name if isinstance(b.type, RefType) else b.type.describe()
        return f"{e.data}(x{b.data} in {dom}: {show(body)})"
    return f"({show(e.args[0])} {_SYM[op]} {show(e.args[1])})"

