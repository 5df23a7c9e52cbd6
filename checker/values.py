"""Typed values of a state: what the integers of a state tuple mean, and back.

An engine sees a state as a tuple of ints; a person, a trace file or a test sees the
values of the declared variables. :func:`decode_state` walks each variable's surface type:

==================  =====================================================================
type                value
==================  =====================================================================
``Bool``            ``bool``
``Int(lo, hi)``     ``int``
an ``IntEnum``      the member's name (``"RUNNING"``)
``Ref(D)``          the element's label (``"pod1"``)
``Option(D)``       ``Variant("None")`` or ``Variant("Some", "pod1")`` (Quint's Option)
``Array(I, T)``     :class:`MapValue`, keyed by the index value, in index order
``Set(I)``          :class:`SetValue` of its members, in index order (pod2 before pod10)
``Record(...)``     :class:`RecordValue` of its fields, in declaration order
``Queue(T, cap)``   :class:`SeqValue` of its first ``len`` items
==================  =====================================================================

The wrappers are small frozen classes, so that an encoder (ITF, a table) can tell a map
from a record, a set or a list. :func:`encode_state` is the inverse, and says exactly
which variable (and element) does not fit its type. For example::

    values = decode_state(ir, state)
    values["status"]             # MapValue((("pod1", "RUNNING"), ("pod2", "ABSENT")))
    format_value(values["up"])   # "{node1, node2}"
    encode_state(ir, values) == state
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .errors import TraceError
from .ir import IR
from .types import (ArrayType, BoolType, EnumType, IntType, OptionType, QueueType, RecordType, RefType,
                    ScalarType, Type)

__all__ = [
    "Variant", "MapValue", "SetValue", "RecordValue", "SeqValue", "NONE_VARIANT",
    "decode_state", "encode_state", "scalar_value", "encode_scalar", "format_value", "type_string",
]


# ---- the value wrappers -----------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """A tagged value (Quint's sum types): ``Variant("Some", "node1")``; a unit tag holds ``()``."""

    tag: str
    value: Any = ()


NONE_VARIANT = Variant("None")
"""The empty ``Option``."""


@dataclass(frozen=True)
class MapValue:
    """A function from keys to values (an ``Array``), as ordered ``(key, value)`` pairs."""

    items: tuple[tuple[Any, Any], ...]

    def __getitem__(self, key: Any) -> Any:
        return dict(self.items)[key]

    def keys(self) -> list[Any]:
        return [k for k, _ in self.items]


class _Items:
    """Iteration over ``items``, shared by sets and sequences."""

    items: tuple[Any, ...]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class SetValue(_Items):
    """A set (a ``Set(I)``), its members in a canonical order."""

    items: tuple[Any, ...]

    def __contains__(self, x: Any) -> bool:
        return x in self.items


@dataclass(frozen=True)
class RecordValue:
    """A record, as ordered ``(field, value)`` pairs."""

    fields: tuple[tuple[str, Any], ...]

    def __getitem__(self, name: str) -> Any:
        return dict(self.fields)[name]


@dataclass(frozen=True)
class SeqValue(_Items):
    """A finite sequence (a ``Queue``'s items, head first)."""

    items: tuple[Any, ...]

    def __getitem__(self, k: int) -> Any:
        return self.items[k]


# ---- scalars ----------------------------------------------------------------------------

def scalar_value(t: ScalarType, v: int) -> Any:
    """The typed value of the encoded scalar ``v`` of type ``t``.

    For example, ``scalar_value(t, -1)`` is ``Variant("None")`` for an ``Option(Nodes)``
    and ``scalar_value(t, 2)`` is ``"RUNNING"`` for the enum ``Phase``.
    """
    if isinstance(t, BoolType):
        return bool(v)
    if isinstance(t, EnumType):
        return t.enum(v).name
    if isinstance(t, RefType):
        return t.domain.label(v)
    if isinstance(t, OptionType):
        return NONE_VARIANT if v < 0 else Variant("Some", t.domain.label(v))
    return v


def _labels(t: RefType | OptionType) -> dict[str, int]:
    return {t.domain.label(i): i for i in range(t.domain.size)}


def _either(names: list[str]) -> str:
    if not names:
        return "there are none"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _label_range(t: RefType | OptionType) -> str:
    """``pod1..pod3``: a domain's labels are numbered, so a range is shorter than a list."""
    n = t.domain.size
    return _either([t.domain.label(i) for i in range(n)]) if n < 3 else f"{t.domain.label(0)}..{t.domain.label(n - 1)}"


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _expect_scalar(t: ScalarType) -> str:
    """What a value of ``t`` looks like, for messages."""
    if isinstance(t, BoolType):
        return "a boolean (true or false)"
    if isinstance(t, IntType):
        return f"an integer in {t.lo}..{t.hi}"
    if isinstance(t, EnumType):
        return f"{_a(t.enum.__name__)} ({_either([m.name for m in t.enum])})"
    if isinstance(t, RefType):
        return f"{_a(t.domain.name)} ({_label_range(t)})"
    if isinstance(t, OptionType):
        return f"None, or Some of {_a(t.domain.name)} ({_label_range(t)})"
    raise AssertionError(t)


def encode_scalar(t: ScalarType, x: Any, what: str) -> int:
    """The encoding of the value ``x`` of type ``t`` (the inverse of :func:`scalar_value`).

    Raises :class:`TraceError` ``"<what> expects <what t's values look like>; got <x>."``.
    """
    code = _scalar_code(t, x)
    if code is None:
        raise TraceError(f"{what} expects {_expect_scalar(t)}; got {_describe(x)}.")
    return code


def _scalar_code(t: ScalarType, x: Any) -> int | None:
    """The encoding of ``x`` as a value of ``t``, or None where it does not fit."""
    if isinstance(t, BoolType):
        return int(x) if isinstance(x, bool) else None
    if isinstance(t, EnumType):
        if isinstance(x, t.enum):
            return int(x.value)
        member = t.enum.__members__.get(x) if isinstance(x, str) else None
        return int(member.value) if member is not None else None
    if isinstance(t, RefType):
        return _labels(t).get(x) if isinstance(x, str) else None
    if isinstance(t, OptionType):
        if not isinstance(x, Variant):
            return None
        if x.tag == "None":
            return -1   # the unit payload is not checked: Quint has written both {"#tup": []} and {}
        return _labels(t).get(x.value) if x.tag == "Some" and isinstance(x.value, str) else None
    if isinstance(x, bool) or isinstance(x, enum.Enum) or not isinstance(x, int):
        return None
    return x if t.lo <= x <= t.hi else None


# ---- decoding ---------------------------------------------------------------------------

def decode_state(ir: IR, state: tuple[int, ...]) -> dict[str, Any]:
    """The value of every declared variable in ``state``, in declaration order.

    For example::

        decode_state(ir, state)["up"]        # SetValue(("node1", "node2"))
    """
    return {v.name: _decode(ir, v.type, v.name, (), state) for v in ir.variables}


def _decode(ir: IR, t: Type, path: str, index: tuple[int, ...], state: tuple[int, ...]) -> Any:
    if isinstance(t, ScalarType):
        pos = ir.leaf(path).position(index)
        assert pos is not None
        return scalar_value(t, state[pos])
    if isinstance(t, ArrayType):
        items = [(scalar_value(t.index, i), _decode(ir, t.elem, path, index + (i,), state))
                 for i in t.index.values()]
        if t.is_set:
            return SetValue(tuple(k for k, member in items if member))
        return MapValue(tuple(items))
    if isinstance(t, RecordType):
        return RecordValue(tuple((f, _decode(ir, ft, f"{path}.{f}", index, state)) for f, ft in t.fields))
    if isinstance(t, QueueType):
        n = _decode(ir, IntType(0, t.capacity), f"{path}.len", index, state)
        return SeqValue(tuple(_decode(ir, t.elem, f"{path}.items", index + (k,), state) for k in range(n)))
    raise AssertionError(t)


# ---- encoding ---------------------------------------------------------------------------

def encode_state(ir: IR, values: Mapping[str, Any]) -> tuple[int, ...]:
    """The state tuple whose variables have ``values`` (the inverse of :func:`decode_state`).

    Raises :class:`TraceError` naming the variable (and element) that does not fit its type,
    for example ``variable `status` at [pod2] expects a Phase (ABSENT, PENDING, RUNNING or
    TERMINATING); got the string "RUNING".``
    """
    names = [v.name for v in ir.variables]
    for name in values:
        if name not in names:
            raise TraceError(f"`{name}` is not a variable of model `{ir.model}` (its variables are "
                             f"{', '.join(names)}).")
    out = [0] * ir.width
    for v in ir.variables:
        if v.name not in values:
            raise TraceError(f"variable `{v.name}` has no value.")
        _Encoder(ir, v.name, out).put(v.type, v.name, (), "", values[v.name])
    return tuple(out)


class _Encoder:
    """Writes one variable's value into a state list; ``where`` is the element's surface path."""

    def __init__(self, ir: IR, var: str, out: list[int]) -> None:
        self.ir, self.var, self.out = ir, var, out

    def subject(self, where: str) -> str:
        return f"variable `{self.var}`" + (f" at {where}" if where else "")

    def fail(self, where: str, what: str) -> TraceError:
        return TraceError(f"{self.subject(where)} {what}.")

    def put(self, t: Type, path: str, index: tuple[int, ...], where: str, x: Any) -> None:
        if isinstance(t, ScalarType):
            pos = self.ir.leaf(path).position(index)
            assert pos is not None
            self.out[pos] = encode_scalar(t, x, self.subject(where))
        elif isinstance(t, ArrayType) and t.is_set:
            self.put_set(t, path, index, where, x)
        elif isinstance(t, ArrayType):
            self.put_map(t, path, index, where, x)
        elif isinstance(t, RecordType):
            self.put_record(t, path, index, where, x)
        elif isinstance(t, QueueType):
            self.put_queue(t, path, index, where, x)
        else:
            raise AssertionError(t)

    def expect(self, ok: bool, t: Type, kind: str, where: str, x: Any) -> None:
        if not ok:
            raise self.fail(where, f"expects {kind} of type {type_string(t)}; got {_describe(x)}")

    def put_set(self, t: ArrayType, path: str, index: tuple[int, ...], where: str, x: Any) -> None:
        self.expect(isinstance(x, SetValue), t, "a set", where, x)
        members = set()
        for m in x.items:
            code = _scalar_code(t.index, m)
            if code is None:
                raise self.fail(where, f"has the member {_describe(m, article=False)}, but its members must "
                                       f"each be {_expect_scalar(t.index)}")
            members.add(code)
        for i in t.index.values():
            self.put(t.elem, path, index + (i,), where, i in members)

    def put_map(self, t: ArrayType, path: str, index: tuple[int, ...], where: str, x: Any) -> None:
        self.expect(isinstance(x, MapValue), t, "a map", where, x)
        entries: dict[int, Any] = {}
        for k, v in x.items:
            code = _scalar_code(t.index, k)
            if code is None:
                raise self.fail(where, f"has an entry for {_describe(k, article=False)}, but its keys must each "
                                       f"be {_expect_scalar(t.index)}")
            if code in entries:
                raise self.fail(where, f"has two entries for {format_value(k)}")
            entries[code] = v
        for i in t.index.values():
            key = format_value(scalar_value(t.index, i))
            if i not in entries:
                raise self.fail(where, f"has no entry for {key}")
            self.put(t.elem, path, index + (i,), f"{where}[{key}]", entries[i])

    def put_record(self, t: RecordType, path: str, index: tuple[int, ...], where: str, x: Any) -> None:
        names = [f for f, _ in t.fields]
        if isinstance(x, Variant) and sorted(names) == ["tag", "value"]:
            x = RecordValue((("tag", x.tag), ("value", x.value)))   # ITF cannot tell this record from a variant
        self.expect(isinstance(x, RecordValue), t, "a record", where, x)
        given = dict(x.fields)
        for f in given:
            if f not in names:
                raise self.fail(where, f"has the field `{f}`, which its type lacks (fields: {', '.join(names)})")
        for f, ft in t.fields:
            if f not in given:
                raise self.fail(where, f"has no field `{f}`")
            self.put(ft, f"{path}.{f}", index, f"{where}.{f}", given[f])

    def put_queue(self, t: QueueType, path: str, index: tuple[int, ...], where: str, x: Any) -> None:
        self.expect(isinstance(x, SeqValue), t, "a list", where, x)
        if len(x.items) > t.capacity:
            raise self.fail(where, f"holds {len(x.items)} items, more than its capacity {t.capacity}")
        self.put(IntType(0, t.capacity), f"{path}.len", index, where, len(x.items))
        for k in range(t.capacity):
            if k < len(x.items):
                self.put(t.elem, f"{path}.items", index + (k,), f"{where}[{k}]", x.items[k])
            else:
                self.put_default(t.elem, f"{path}.items", index + (k,))

    def put_default(self, t: Type, path: str, index: tuple[int, ...]) -> None:
        """Slots past a queue's length hold the default, as every engine keeps them (canonical form)."""
        if isinstance(t, RecordType):
            for f, ft in t.fields:
                self.put_default(ft, f"{path}.{f}", index)
            return
        assert isinstance(t, ScalarType)
        pos = self.ir.leaf(path).position(index)
        assert pos is not None
        self.out[pos] = t.default()


def _describe(x: Any, article: bool = True) -> str:
    """A value as a message names it: ``the string "RUNING"``, ``a map``."""
    if isinstance(x, bool):
        return f"the boolean {format_value(x)}" if article else format_value(x)
    if isinstance(x, int) and not isinstance(x, enum.Enum):
        return f"the integer {x}" if article else str(x)
    if isinstance(x, str):
        q = json.dumps(x, ensure_ascii=False)
        return f"the string {q}" if article else q
    kinds = {MapValue: "a map", SetValue: "a set", RecordValue: "a record", SeqValue: "a list", tuple: "a tuple"}
    if type(x) in kinds:
        return kinds[type(x)]
    if isinstance(x, Variant):
        return f"the variant {format_value(x)}"
    return repr(x)


# ---- rendering ----------------------------------------------------------------------------

def format_value(x: Any) -> str:
    """A short human rendering, for terminal tables.

    For example ``{pod1: RUNNING, pod2: ABSENT}`` (a map), ``{node1, node2}`` (a set),
    ``none`` and ``node1`` (Options), ``[{kind: ADD, item: item1}]`` (a queue of records).
    """
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, Variant):
        if x.tag == "None" and x.value == ():
            return "none"
        if x.tag == "Some":
            return format_value(x.value)
        return x.tag if x.value == () else f"{x.tag}({format_value(x.value)})"
    if isinstance(x, MapValue):
        return "{" + ", ".join(f"{format_value(k)}: {format_value(v)}" for k, v in x.items) + "}"
    if isinstance(x, SetValue):
        return "{" + ", ".join(format_value(m) for m in x.items) + "}"
    if isinstance(x, RecordValue):
        return "{" + ", ".join(f"{f}: {format_value(v)}" for f, v in x.fields) + "}"
    if isinstance(x, SeqValue):
        return "[" + ", ".join(format_value(m) for m in x.items) + "]"
    if isinstance(x, tuple):
        return "(" + ", ".join(format_value(m) for m in x) + ")"
    return str(x)


def type_string(t: Type) -> str:
    """The type in the style of Apalache's ADR-002 (for ITF's ``#meta.varTypes``).

    For example ``pod -> PHASE`` (an array of an enum), ``Set(node)``, ``Int``,
    ``pod -> (None(UNIT) | Some(node))``, ``{ kind: KIND, item: item }``, ``Seq(Int)``.
    """
    if isinstance(t, BoolType):
        return "Bool"
    if isinstance(t, IntType):
        return "Int"
    if isinstance(t, EnumType):
        return t.enum.__name__.upper()   # an uninterpreted type, ADR-002 style; its values are the names
    if isinstance(t, RefType):
        return t.domain.name
    if isinstance(t, OptionType):
        return f"None(UNIT) | Some({t.domain.name})"
    if isinstance(t, ArrayType):
        if t.is_set:
            return f"Set({type_string(t.index)})"
        return f"{type_string(t.index)} -> {_nested(t.elem)}"
    if isinstance(t, RecordType):
        return "{ " + ", ".join(f"{f}: {type_string(ft)}" for f, ft in t.fields) + " }"
    if isinstance(t, QueueType):
        return f"Seq({type_string(t.elem)})"
    raise AssertionError(t)


def _nested(t: Type) -> str:
    """A function's range, parenthesised where ``->`` or ``|`` would be ambiguous."""
    s = type_string(t)
    return f"({s})" if isinstance(t, OptionType) or (isinstance(t, ArrayType) and not t.is_set) else s
