"""64-bit fingerprints of states that an action's few writes update incrementally.

A fingerprint is the XOR, over the state's positions, of a value ``Z(pos, v)``. So a
successor's fingerprint is its parent's, XOR ``Z(pos, old) ^ Z(pos, new)`` for each
position the action writes: a few table lookups per successor however wide the state is,
and no successor is built at all unless it proves new (about one in six on the anchor
model). Two choices of ``Z``:

- **exact** (``pack``), when every position's interval fits together in 63 bits:
  ``Z(pos, v) = (v - lo) << shift(pos)``, and the fingerprint *is* the state, bit-packed
  (with bit 63 set so that no state packs to 0, the empty slot of the visited set). No
  two states can collide.
- **tabulation** (Zobrist) hashing otherwise: ``Z(pos, v)`` is a fixed pseudo-random 64-bit
  word. Two different states differ at some position, whose word is independent of all
  the others, so they collide with probability exactly 2^-64; among n states, the
  probability that any two collide is at most n(n-1)/2 / 2^64, about n^2 / 2^65. This is
  TLC's trade-off, with the estimate reported in the result.

Tables are laid out per leaf, ``table[k, v mod R]`` for its k-th position and its R
values, so that ``take(v, mode="wrap")`` indexes a position's row with the stored value
itself (negative values of ``Option`` included) and never fails on a row that is about to
be discarded.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..ir import IR
from ..types import Leaf

__all__ = ["Fingerprinter", "MAX_TABLE"]

MAX_TABLE = 1 << 16
"""Leaves with more values per position than this get a computed ``Z`` instead of a table."""

_SEED = 0x6B7562656368656B   # fixed: runs are reproducible
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 with good avalanche."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class Fingerprinter:
    """The ``Z`` tables of one IR, the code that looks them up, and whole-state fingerprints."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.leaves = list(ir.leaves)
        ranges = [lf.elem.hi - lf.elem.lo + 1 for lf in self.leaves]
        bits = sum(lf.size * (r - 1).bit_length() for lf, r in zip(self.leaves, ranges))
        self.exact = bits <= 63
        self.bits = bits
        self.marker = (1 << 63) if self.exact else 0
        self.tables: dict[str, np.ndarray] = {}         # leaf name -> (size, R) uint64
        self._computed: dict[str, tuple[int, int, int]] = {}   # leaf name -> (R, shift of position 0, bits)
        self.ns: dict[str, Any] = {}
        rng = np.random.default_rng(_SEED)
        shift = 0
        for li, (lf, r) in enumerate(zip(self.leaves, ranges)):
            b = (r - 1).bit_length()
            if r > MAX_TABLE:
                self._computed[lf.name] = (r, shift, b)
                self.ns[f"ZF{li}"] = self._zfun(lf, shift, b, np)
            else:
                vals = np.arange(lf.elem.lo, lf.elem.hi + 1)
                slots = np.mod(vals, r)
                table = np.empty((lf.size, r), dtype=np.uint64)
                for k in range(lf.size):
                    if self.exact:
                        row = (vals - lf.elem.lo).astype(np.uint64) << np.uint64(shift + k * b)
                    else:
                        row = rng.integers(0, 1 << 64, size=r, dtype=np.uint64, endpoint=False)
                    table[k, slots] = row
                self.tables[lf.name] = table
                self.ns[f"ZL{li}"] = table.ravel()
                for k in range(lf.size):
                    self.ns[f"Z{lf.offset + k}"] = table[k]
            shift += lf.size * b
        self._index = {lf.name: li for li, lf in enumerate(self.leaves)}

    def _zfun(self, lf: Leaf, shift: int, b: int, xp: Any) -> Any:
        """``Z`` for a leaf too wide for a table (pos may be an int or an array of positions), over the
        arrays of the array module ``xp`` (numpy, or a device's)."""
        lo, offset, exact = lf.elem.lo, lf.offset, self.exact
        salt = np.uint64((zlib.crc32(lf.name.encode()) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)

        def z(pos: Any, v: Any) -> np.ndarray:
            p = xp.atleast_1d(xp.asarray(pos, dtype=np.int64)) - offset
            w = xp.atleast_1d(xp.asarray(v, dtype=np.int64)) - lo
            if exact:
                return (w.astype(np.uint64) << (p.astype(np.uint64) * np.uint64(b) + np.uint64(shift)))
            return _mix(w.astype(np.uint64) * _GOLD ^ (p.astype(np.uint64) + salt) * _M2)
        return z

    def namespace(self, xp: Any, upload: Any) -> dict[str, Any]:
        """The names the generated code uses, for kernels over the array module ``xp``: every table
        passed through ``upload`` (host to device), every computed ``Z`` rebuilt over ``xp``."""
        ns: dict[str, Any] = {}
        for li, lf in enumerate(self.leaves):
            computed = self._computed.get(lf.name)
            if computed is not None:
                r, shift, b = computed
                ns[f"ZF{li}"] = self._zfun(lf, shift, b, xp)
                continue
            table = self.tables[lf.name]
            ns[f"ZL{li}"] = upload(table.ravel())
            for k in range(lf.size):
                ns[f"Z{lf.offset + k}"] = upload(table[k])
        return ns

    # ---- values and code ----
    def leaf_of(self, pos: int) -> Leaf:
        for lf in self.leaves:
            if lf.offset <= pos < lf.offset + lf.size:
                return lf
        raise IndexError(pos)

    def z(self, pos: int, v: int) -> int:
        """``Z(pos, v)`` as a Python int."""
        lf = self.leaf_of(pos)
        table = self.tables.get(lf.name)
        if table is None:
            return int(self.ns[f"ZF{self._index[lf.name]}"](pos, v)[0])
        r = table.shape[1]
        return int(table[pos - lf.offset, v % r])

    def code(self, pos: int, value: str) -> str:
        """Source for ``Z(pos, value)`` over the rows (``value`` names an array)."""
        lf = self.leaf_of(pos)
        if lf.name in self.tables:
            return f"_wrap(Z{pos}, {value})"
        return f"ZF{self._index[lf.name]}({pos}, {value})"

    def code_dyn(self, lf: Leaf, positions: str, value: str | int) -> str:
        """Source for ``Z(positions, value)`` where the positions (an intp array) vary by row."""
        li = self._index[lf.name]
        if lf.name not in self.tables:
            return f"ZF{li}({positions}, {value})"
        r = self.tables[lf.name].shape[1]
        slot = str(value % r) if isinstance(value, int) else f"np.remainder({value}, {r}, dtype=np.intp)"
        return f"_wrap(ZL{li}, {positions} * {r} + {slot} - {lf.offset * r})"

    # ---- whole states ----
    def full(self, X: np.ndarray) -> np.ndarray:
        """Fingerprints of the states that are the columns of ``X`` (width, m)."""
        m = X.shape[1]
        out = np.full(m, self.marker, dtype=np.uint64)
        for lf in self.leaves:
            table = self.tables.get(lf.name)
            for k in range(lf.size):
                pos = lf.offset + k
                if table is None:
                    out ^= self.ns[f"ZF{self._index[lf.name]}"](pos, X[pos])
                else:
                    out ^= table[k].take(X[pos], mode="wrap")
        return out

    def of(self, state: tuple[int, ...]) -> int:
        """The fingerprint of one state."""
        X = np.array(state, dtype=np.int64).reshape(-1, 1)
        return int(self.full(X)[0])

    # ---- reporting ----
    @property
    def scheme(self) -> str:
        return "pack" if self.exact else "tabulation"

    def collision_probability(self, n: int) -> float:
        """An upper bound on the probability that two of ``n`` distinct states share a fingerprint
        (0 for exact packing): n(n-1)/2 pairs, each colliding with probability 2^-64."""
        if self.exact:
            return 0.0
        return min(1.0, n * (n - 1) / 2.0 / 2.0 ** 64)
