"""The types of the spec language: finite, integer-encoded, with declared bounds.

Every state variable has a finite type. Scalars are integers with an interval:

- ``Bool`` (``bool``): 0..1;
- ``Int(lo, hi)``: lo..hi (bounds may be model constants);
- an ``IntEnum`` class: its members, which must be 0..n-1;
- ``Ref(D)`` (or just ``D``) for a :class:`Domain` ``D`` of n interchangeable objects: 0..n-1;
- ``Option(D)``: a reference or ``NONE`` (-1).

Composites are lowered to scalar *leaves* before any engine sees them:

- ``Array(I, T)``: one T per value of the index type I (a domain, an enum, an Int range);
- ``Set(I)`` = ``Array(I, Bool)``;
- ``Record(f=T, ...)``: one leaf per field;
- ``Queue(T, cap)``: a length ``Int(0, cap)`` and ``cap`` slots; vacated slots are reset to
  T's default so that no leftover value makes a spurious distinct state.

For example::

    class Phase(IntEnum):
        ABSENT = 0
        PENDING = 1

    Pods = Domain("pod", size=pods)
    status = Var(Array(Pods, Phase), init=Phase.ABSENT)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from .config import resolve
from .errors import SpecError, user_location

__all__ = [
    "Type", "EmptyTypeError", "ScalarType", "BoolType", "IntType", "EnumType", "RefType", "OptionType",
    "Domain", "ArrayType", "RecordType", "QueueType", "Leaf",
    "Bool", "Int", "Ref", "Option", "Array", "Set", "Record", "Queue", "NONE",
    "as_type", "as_index", "flatten",
]


class EmptyTypeError(SpecError):
    """A type that a configuration makes empty; the caller names the variable."""


class Type:
    """A type of the spec language (possibly sized by unresolved constants)."""

    def bind(self, values: Mapping[str, Any]) -> "Type":
        return self


class ScalarType(Type):
    """An integer-encoded scalar type with bounds ``lo..hi``."""

    lo: int
    hi: int

    def values(self) -> range:
        return range(self.lo, self.hi + 1)

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def default(self) -> int:
        return 0 if self.lo <= 0 <= self.hi else self.lo

    def show(self, v: int) -> str:
        return str(v)

    def describe(self) -> str:
        raise NotImplementedError

    def bind(self, values: Mapping[str, Any]) -> "ScalarType":
        return self


@dataclass(frozen=True)
class BoolType(ScalarType):
    lo: int = 0
    hi: int = 1

    def show(self, v: int) -> str:
        return "true" if v else "false"

    def describe(self) -> str:
        return "Bool"


@dataclass(frozen=True)
class IntType(ScalarType):
    lo: Any
    hi: Any

    def bind(self, values: Mapping[str, Any]) -> "IntType":
        lo, hi = resolve(self.lo, values), resolve(self.hi, values)
        if not isinstance(lo, int) or not isinstance(hi, int):
            raise SpecError(f"Int bounds must be integers or model constants; got Int({self.lo!r}, {self.hi!r}).")
        if lo > hi:
            raise EmptyTypeError(f"Int({self.lo!r}, {self.hi!r}), which is empty in this configuration "
                                 f"({lo} > {hi}); check the constants that size it.")
        return IntType(lo, hi)

    def describe(self) -> str:
        return f"Int({self.lo}, {self.hi})"


@dataclass(frozen=True)
class EnumType(ScalarType):
    enum: type
    lo: int = 0
    hi: int = 0

    def member(self, v: int) -> enum.Enum:
        return self.enum(v)

    def show(self, v: int) -> str:
        return self.enum(v).name

    def describe(self) -> str:
        return self.enum.__name__


@dataclass(frozen=True)
class Domain:
    """A finite set of interchangeable objects (pod slots, nodes), identified 0..size-1.

    ``size`` may be a model constant. Elements are shown as ``<name><i+1>`` (``pod1``).
    """

    name: str
    size: Any

    def bind(self, values: Mapping[str, Any]) -> "Domain":
        n = resolve(self.size, values)
        if not isinstance(n, int) or n < 0:
            raise SpecError(f"Domain {self.name!r} needs a non-negative integer size; got {n!r}.")
        return Domain(self.name, n)

    def label(self, i: int) -> str:
        return f"{self.name}{i + 1}"

    def __iter__(self) -> Iterator[int]:
        if not isinstance(self.size, int):
            raise SpecError(f"Domain {self.name!r} is sized by a constant; iterate over self.{self.name}... "
                            "inside an action, where the model's configuration is known.")
        return iter(range(self.size))

    def __len__(self) -> int:
        return int(self.size)


@dataclass(frozen=True)
class RefType(ScalarType):
    domain: Domain
    lo: int = 0
    hi: int = -1

    def bind(self, values: Mapping[str, Any]) -> "RefType":
        d = self.domain.bind(values)
        return RefType(d, 0, d.size - 1)

    def show(self, v: int) -> str:
        return self.domain.label(v)

    def default(self) -> int:
        return 0

    def describe(self) -> str:
        return f"Ref({self.domain.name})"


@dataclass(frozen=True)
class OptionType(ScalarType):
    domain: Domain
    lo: int = -1
    hi: int = -1

    def bind(self, values: Mapping[str, Any]) -> "OptionType":
        d = self.domain.bind(values)
        return OptionType(d, -1, d.size - 1)

    def show(self, v: int) -> str:
        return "none" if v < 0 else self.domain.label(v)

    def default(self) -> int:
        return -1

    def describe(self) -> str:
        return f"Option({self.domain.name})"


class _NoneValue:
    """The absent reference of an ``Option`` (encoded as -1)."""

    def __repr__(self) -> str:
        return "NONE"


NONE = _NoneValue()


@dataclass(frozen=True)
class ArrayType(Type):
    index: ScalarType
    elem: Type
    is_set: bool = False

    def bind(self, values: Mapping[str, Any]) -> "ArrayType":
        return ArrayType(self.index.bind(values), self.elem.bind(values), self.is_set)


@dataclass(frozen=True)
class RecordType(Type):
    fields: tuple[tuple[str, Type], ...]

    def bind(self, values: Mapping[str, Any]) -> "RecordType":
        return RecordType(tuple((n, t.bind(values)) for n, t in self.fields))


@dataclass(frozen=True)
class QueueType(Type):
    elem: Type
    capacity: Any

    def bind(self, values: Mapping[str, Any]) -> "QueueType":
        cap = resolve(self.capacity, values)
        if not isinstance(cap, int) or cap < 1:
            raise SpecError(f"Queue capacity must be a positive integer; got {cap!r}.")
        return QueueType(self.elem.bind(values), cap)


# ---- constructors (the names spec authors write) ---------------------------------------

Bool = BoolType()


def Int(lo: Any, hi: Any) -> IntType:
    """Integers lo..hi inclusive; either bound may be a model constant."""
    return IntType(lo, hi)


def Ref(domain: Domain) -> RefType:
    """A reference to one object of ``domain``."""
    if not isinstance(domain, Domain):
        raise SpecError(f"{user_location()}: Ref(...) takes a Domain; got {domain!r}.")
    return RefType(domain)


def Option(domain: Domain | RefType) -> OptionType:
    """A reference to one object of ``domain``, or ``NONE``."""
    if isinstance(domain, RefType):
        domain = domain.domain
    if not isinstance(domain, Domain):
        raise SpecError(f"{user_location()}: Option(...) takes a Domain or Ref(Domain); got {domain!r}.")
    return OptionType(domain)


def Array(index: Any, elem: Any) -> ArrayType:
    """One ``elem`` per value of ``index`` (a Domain, an IntEnum, an Int range or Bool)."""
    return ArrayType(as_index(index), as_type(elem))


def Set(index: Any) -> ArrayType:
    """A subset of ``index``: ``Array(index, Bool)``, shown as a set."""
    return ArrayType(as_index(index), Bool, is_set=True)


def Record(**fields: Any) -> RecordType:
    """A record with named fields, flattened into one leaf per field."""
    if not fields:
        raise SpecError(f"{user_location()}: Record() needs at least one field.")
    return RecordType(tuple((n, as_type(t)) for n, t in fields.items()))


def Queue(elem: Any, capacity: Any) -> QueueType:
    """A bounded FIFO queue of at most ``capacity`` items."""
    return QueueType(as_type(elem), capacity)


def as_type(x: Any) -> Type:
    """Normalise what a spec writes as a type (``bool``, an IntEnum class, a Domain)."""
    if isinstance(x, Type):
        return x
    if x is bool:
        return Bool
    if x is int:
        raise SpecError(f"{user_location()}: `int` has no bounds; every variable needs a finite type. "
                        "Write Int(lo, hi) with the smallest range the model needs.")
    if isinstance(x, Domain):
        return RefType(x)
    if isinstance(x, type) and issubclass(x, enum.Enum):
        return enum_type(x)
    raise SpecError(f"{user_location()}: {x!r} is not a type of the spec language; use Bool, Int(lo, hi), "
                    "an IntEnum class, a Domain, Option(D), Array, Set, Record or Queue.")


def as_index(x: Any) -> ScalarType:
    """Normalise an index or parameter domain into the scalar type it enumerates."""
    t = as_type(x)
    if isinstance(t, OptionType):
        raise SpecError(f"{user_location()}: Option(...) cannot index an array or bound a parameter; use the Domain.")
    if not isinstance(t, ScalarType):
        raise SpecError(f"{user_location()}: an index or parameter domain must be finite and scalar "
                        f"(a Domain, an IntEnum, Int(lo, hi) or Bool); got {x!r}.")
    return t


_ENUMS: dict[type, EnumType] = {}


def enum_type(cls: type) -> EnumType:
    if cls in _ENUMS:
        return _ENUMS[cls]
    values = sorted(int(m.value) for m in cls)  # type: ignore[attr-defined]
    if not issubclass(cls, int) or values != list(range(len(values))):
        raise SpecError(f"{user_location()}: enum {cls.__name__} must be an IntEnum whose values are 0, 1, ..., n-1 "
                        f"(got {values}); kubecheck encodes enums as small integers.")
    t = EnumType(cls, 0, len(values) - 1)
    _ENUMS[cls] = t
    return t


# ---- lowering to leaves ------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    """One flattened state variable: a scalar per point of ``dims`` (row-major)."""

    name: str                          # "status", "pods.phase", "queue.items"
    dims: tuple[ScalarType, ...]       # index types, outermost first
    elem: ScalarType                   # the scalar type of every element
    offset: int = 0                    # position of its first element in a state tuple
    strides: tuple[int, ...] = field(default=())

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d.size
        return n

    def position(self, index: tuple[int, ...]) -> int | None:
        """Offset in the state tuple of ``self[index]``; ``None`` if out of the domain."""
        p = self.offset
        for d, s, v in zip(self.dims, self.strides, index):
            k = v - d.lo
            if k < 0 or k >= d.size:
                return None
            p += k * s
        return p


def flatten(name: str, t: Type, dims: tuple[ScalarType, ...] = ()) -> list[Leaf]:
    """The leaves of a variable of (bound) type ``t``."""
    if isinstance(t, ScalarType):
        return [Leaf(name, dims, t)]
    if isinstance(t, ArrayType):
        return flatten(name, t.elem, dims + (t.index,))
    if isinstance(t, RecordType):
        out: list[Leaf] = []
        for fname, ft in t.fields:
            out += flatten(f"{name}.{fname}", ft, dims)
        return out
    if isinstance(t, QueueType):
        return [Leaf(f"{name}.len", dims, IntType(0, t.capacity))] + \
            flatten(f"{name}.items", t.elem, dims + (IntType(0, t.capacity - 1),))
    raise SpecError(f"cannot lower type {t!r}")
