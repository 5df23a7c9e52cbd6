"""The visited set's optional numba accelerator: the same table, probed by compiled loops.

:class:`~kubecheck.vector.visited.FingerprintSet` probes with whole-batch numpy passes
(gather, compare, compact, again for the keys still pending), and the engine then sorts
every candidate to keep the first occurrence of each new state in a chunk. On a large run
that is most of the engine's time: on the anchor model with five pods (6.6 million states,
38.6 million transitions), about 2.2 s of 3.9 s go to lookups (0.8 s), that sort (0.6 s)
and insertion with growth (0.8 s). The compiled loops here take about 1.1 s for all three.

:class:`NumbaFingerprintSet` keeps exactly the numpy set's layout (a power-of-two
``uint64`` table, 0 marking an empty slot, the same multiplicative home slot, linear
probing, at most half full, the key 0 in a flag beside the table), so the engine adopts
the numpy set's table as it is once a run grows large (:meth:`NumbaFingerprintSet.adopt`),
and the answers cannot differ: only membership is observable, never where a key lies.

On top of ``contains`` and ``add_new`` it offers :meth:`NumbaFingerprintSet.first_new`, the
engine's step 3 in one call: which fingerprints of a chunk's transitions are new, and the
first transition (in discovery order) to each. A chunk's successors repeat (each new state
about three times over on the anchor model), so they are made distinct before the visited
table is read: (1) the keys are partitioned by the top bits of their hash (a counting sort)
into groups of about a thousand, (2) each group is made distinct in a small table that stays
in the L1 cache, keeping the least (order, index) of each key, (3) only the distinct keys
are looked up in the visited table.

Memory, not arithmetic, sets the pace. A probe that misses the cache waits some 70 ns on
its own, but a few ns when the processor overlaps it with others: so every probing loop
prefetches the home slot of the key ``_AHEAD`` places on, ends at its first slot almost
always (every table is at most half full), and uses what it found without a branch where
the outcome is a coin toss (new or not), so that its branches predict well. And a fresh page
costs a fault on first touch, most of a large table's growth, so growth was measured three
ways; copying the old table to the front of the new one and spreading its keys in place
(:func:`_spread`) was the quickest.

numba is an optional dependency (``pip install kubecheck[fast]``); importing this module
raises ImportError without it. The kernels are compiled with ``cache=True``: the first
process pays about 2 s of compiling, later ones load the machine code from ``__pycache__``
(or numba's user cache directory) in about 0.3 s, most of it numba's own start-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .visited import FingerprintSet

__all__ = ["NumbaFingerprintSet", "warm_up"]

_GOLD = np.uint64(0x9E3779B97F4A7C15)      # the numpy set's multiplier: the same home slots
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)     # an empty row of first_new's tables (real entries are < 2^63)
_LOW32 = np.uint64(0xFFFFFFFF)
_GROUP = 1024       # keys per partition in first_new: their table (16 bytes a row) stays in the L1 cache
_AHEAD = 32         # keys between a prefetch and its probe: about one memory latency of probing. Each
                    # kernel spells its prefetch loop out: moving it into inlined helpers cost 10% on C3.


@intrinsic
def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:
    """Ask the processor to fetch ``arr[idx]`` into the cache, without waiting for it (LLVM's
    ``llvm.prefetch``: a read, kept in every cache level). It never faults, wherever it points."""
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = llvm_ir.IntType(8).as_pointer()
        i32 = llvm_ir.IntType(32)
        fnty = llvm_ir.FunctionType(llvm_ir.VoidType(), [i8p, i32, i32, i32])
        # The name's pointer suffix follows llvmlite's pointer mode (p0i8 typed, p0 opaque).
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch." + i8p.intrinsic_name)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, inline="always")
def _held(table: np.ndarray, mask: int, sh: np.uint64, has_zero: bool, k: np.uint64) -> bool:
    """Whether the table holds ``k``: linear probing from its home slot to ``k`` or an empty slot (0 marks an
    empty slot, so the flag answers for the key 0)."""
    j = np.intp((k * _GOLD) >> sh)
    while True:
        t = table[j]
        if t == k or t == 0:
            break
        j = (j + 1) & mask
    return has_zero if k == 0 else t == k


@njit(cache=True)
def _contains(table: np.ndarray, bits: int, has_zero: bool, keys: np.ndarray, out: np.ndarray) -> None:
    """``out[i]``: whether ``keys[i]`` is in the table (or, for the key 0, whether ``has_zero``)."""
    sh = np.uint64(64 - bits)
    mask = table.size - 1
    n = keys.size
    for i in range(min(_AHEAD, n)):
        _prefetch(table, np.intp((keys[i] * _GOLD) >> sh))
    for i in range(n):
        if i + _AHEAD < n:
            _prefetch(table, np.intp((keys[i + _AHEAD] * _GOLD) >> sh))
        out[i] = _held(table, mask, sh, has_zero, keys[i])


@njit(cache=True)
def _insert(table: np.ndarray, bits: int, keys: np.ndarray) -> None:
    """Insert nonzero keys that are distinct and absent: each takes the first empty slot from its home."""
    sh = np.uint64(64 - bits)
    mask = table.size - 1
    n = keys.size
    for i in range(min(_AHEAD, n)):
        _prefetch(table, np.intp((keys[i] * _GOLD) >> sh))
    for i in range(n):
        if i + _AHEAD < n:
            _prefetch(table, np.intp((keys[i + _AHEAD] * _GOLD) >> sh))
        k = keys[i]
        j = np.intp((k * _GOLD) >> sh)
        while table[j] != 0:
            j = (j + 1) & mask
        table[j] = k


@njit(cache=True)
def _spread(table: np.ndarray, old: int, bits: int) -> None:
    """Turn ``table``, whose first ``old`` slots are the table before growth and the rest zeros, into the
    table of ``2^bits`` slots, in place.

    The old slots are taken from the top down, each cleared and its key placed at or after its new home,
    which is at or after the slot it came from (its old home with more bits; a key displaced further
    than its old home is high is set aside): so every slot above the one being read is already part of
    the new table, and nothing is written below it. Keys set aside (that, or whose probing would wrap
    round into the old slots) are inserted at the end, when the whole table is new.
    """
    size = table.size
    sh = np.uint64(64 - bits)
    mask = size - 1
    aside = np.empty(64, dtype=np.uint64)
    na = 0
    for i in range(old - 1, -1, -1):
        k = table[i]
        if k == 0:
            continue
        table[i] = 0
        j = np.intp((k * _GOLD) >> sh)
        if j >= i:
            while j < size and table[j] != 0:
                j += 1
            if j < size:
                table[j] = k
                continue
        if na == aside.size:                # (a loop, not a slice copy: much quicker to compile)
            more = np.empty(2 * na, dtype=np.uint64)
            for x in range(na):
                more[x] = aside[x]
            aside = more
        aside[na] = k
        na += 1
    for x in range(na):
        k = aside[x]
        j = np.intp((k * _GOLD) >> sh)
        while table[j] != 0:
            j = (j + 1) & mask
        table[j] = k


@njit(cache=True)
def _partition(keys: np.ndarray, flat: np.ndarray, low: int, shift: int, width: int, extra: np.ndarray,
               pkey: np.ndarray, pbest: np.ndarray) -> tuple[np.ndarray, int]:
    """``first_new``'s step 1: (key, order << 32 | index) of every key, partitioned by the top bits of
    the key's hash into ``pkey`` and ``pbest`` (a counting sort); (the partitions' bounds, their bits)."""
    n = keys.size
    nf = flat.size
    pb = 0
    while pb < 16 and (n >> pb) > _GROUP:
        pb += 1
    parts = 1 << pb
    psh = np.uint64(64 - pb)
    bounds = np.zeros(parts + 1, dtype=np.int64)
    if pb:
        for i in range(n):
            bounds[np.intp((keys[i] * _GOLD) >> psh) + 1] += 1
    else:
        bounds[1] = n
    for p in range(parts):
        bounds[p + 1] += bounds[p]
    fill = np.empty(parts, dtype=np.int64)
    for p in range(parts):
        fill[p] = bounds[p]
    for i in range(n):
        k = keys[i]
        if i < nf:
            f = flat[i]
            order = (f & low) * width + (f >> shift)
        else:
            order = extra[i - nf]
        p = np.intp((k * _GOLD) >> psh) if pb else 0
        w = fill[p]
        pkey[w] = k
        pbest[w] = (np.uint64(order) << np.uint64(32)) | np.uint64(i)
        fill[p] = w + 1
    return bounds, pb


@njit(cache=True)
def _distinct(pkey: np.ndarray, pbest: np.ndarray, bounds: np.ndarray, pb: int, local: np.ndarray,
              slots: np.ndarray) -> int:
    """``first_new``'s step 2: each partition's distinct keys with their least entry, written back over
    the front of ``pkey`` and ``pbest`` (a partition's own range is read before it is overwritten);
    how many.

    ``_EMPTY`` marks an empty row of ``local`` and is above every real entry, so one ``min`` both
    claims an empty row and keeps the least entry (the key 0 needs no special case here); ``slots``
    lists the rows claimed, so that only they are read back and reset.
    """
    d = 0
    for p in range(bounds.size - 1):
        a, e = bounds[p], bounds[p + 1]
        if a == e:
            continue
        cb = 1                              # this partition's table: at most half full
        while (1 << cb) < 2 * (e - a):
            cb += 1
        rows, claimed = local, slots
        if (1 << cb) > local.shape[0]:      # an uneven partition: tables of its own
            rows = np.empty((1 << cb, 2), dtype=np.uint64)
            for j in range(1 << cb):
                rows[j, 1] = _EMPTY
            claimed = np.empty(1 << cb, dtype=np.intp)
        csh = np.uint64(64 - cb)
        cmask = (1 << cb) - 1
        c = 0
        for x in range(a, e):
            k = pkey[x]
            j = np.intp(((k * _GOLD) << np.uint64(pb)) >> csh)    # the hash's bits below the partition's
            while True:
                cur = rows[j, 1]
                if cur == _EMPTY or rows[j, 0] == k:
                    break
                j = (j + 1) & cmask
            rows[j, 0] = k
            rows[j, 1] = min(pbest[x], cur)
            claimed[c] = j
            c += cur == _EMPTY
        for t in range(c):
            j = claimed[t]
            pkey[d] = rows[j, 0]
            pbest[d] = rows[j, 1]
            rows[j, 1] = _EMPTY
            d += 1
    return d


@njit(cache=True)
def _absent(table: np.ndarray, bits: int, has_zero: bool, pkey: np.ndarray, pbest: np.ndarray, d: int
            ) -> np.ndarray:
    """``first_new``'s step 3: the entries of the first ``d`` keys that the table does not hold."""
    sh = np.uint64(64 - bits)
    mask = table.size - 1
    out = np.empty(d + 1, dtype=np.uint64)
    m = 0
    for x in range(min(_AHEAD, d)):
        _prefetch(table, np.intp((pkey[x] * _GOLD) >> sh))
    for x in range(d):
        if x + _AHEAD < d:
            _prefetch(table, np.intp((pkey[x + _AHEAD] * _GOLD) >> sh))
        found = _held(table, mask, sh, has_zero, pkey[x])
        out[m] = pbest[x]                           # kept only if new: no branch to mispredict
        m += not found
    return out[:m]


class NumbaFingerprintSet(FingerprintSet):
    """:class:`FingerprintSet` with compiled probing (see the module docstring); same table, same answers."""

    @classmethod
    def adopt(cls, fs: FingerprintSet) -> NumbaFingerprintSet:
        """A compiled set over ``fs``'s table, taken over as it is (shared, not copied: ``fs`` must not be used
        afterwards)."""
        new = cls.__new__(cls)
        new.__dict__.update(fs.__dict__)
        new._scratch()
        return new

    def __init__(self, expected: int = 1 << 15, zero_possible: bool = True) -> None:
        super().__init__(expected, zero_possible)
        self._scratch()

    def _scratch(self) -> None:
        """``first_new``'s scratch space, kept across calls."""
        self._pkey = np.empty(0, dtype=np.uint64)
        self._pbest = np.empty(0, dtype=np.uint64)
        self._local = np.empty((4 * _GROUP, 2), dtype=np.uint64)     # room for uneven partitions
        self._local[:, 1] = _EMPTY
        self._slots = np.empty(4 * _GROUP, dtype=np.intp)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A bool mask: which of ``keys`` are in the set."""
        out = np.empty(len(keys), dtype=bool)
        _contains(self.table, self.bits, self.has_zero, np.ascontiguousarray(keys, dtype=np.uint64), out)
        return out

    def add_new(self, keys: np.ndarray) -> None:
        """Insert ``keys``: distinct, and none of them in the set already."""
        if not len(keys):
            return
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        if not np.all(keys):
            self.has_zero = True
            keys = keys[keys != 0]
        self._grow(len(keys))
        _insert(self.table, self.bits, keys)
        self.count += len(keys)

    def _grow(self, incoming: int) -> None:
        need = self.count + incoming
        if need <= self.MAX_LOAD * len(self.table):
            return
        bits = self.bits
        while need > self.MAX_LOAD * (1 << bits):     # the numpy set's sizes: the same memory per state
            bits += 1
        old = len(self.table)
        table = np.zeros(1 << bits, dtype=np.uint64)
        # The old table copied to the front, then spread over the whole: on the anchor model with five pods,
        # 0.15 to 0.3 s quicker in all than moving each key straight into the new table, or than realloc.
        table[:old] = self.table
        self.table = table
        self.bits = bits
        _spread(table, old, bits)

    def first_new(self, keys: np.ndarray, flat: np.ndarray, npad: int, width: int,
                  extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The new fingerprints among ``keys`` and the first transition of each, in discovery order:
        (orders ascending, their indices into ``keys``). Nothing is inserted.

        ``keys[i]``'s order is ``(flat[i] % npad) * width + flat[i] // npad`` for ``i < len(flat)`` (an
        index into the engine's (instances, npad) guard mask, read as parent * instances + instance),
        then ``extra[i - len(flat)]``. Orders must be distinct and below 2^31, and ``len(keys)`` below 2^32.
        """
        n = len(keys)
        if len(self._pkey) < n:       # scratch space, kept: fresh pages would cost a fault each
            self._pkey = np.empty(n, dtype=np.uint64)
            self._pbest = np.empty(n, dtype=np.uint64)
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        flat = np.ascontiguousarray(flat, dtype=np.int64)
        extra = np.ascontiguousarray(extra, dtype=np.int64)
        bounds, pb = _partition(keys, flat, npad - 1, npad.bit_length() - 1, width, extra, self._pkey, self._pbest)
        d = _distinct(self._pkey, self._pbest, bounds, pb, self._local, self._slots)
        best = _absent(self.table, self.bits, self.has_zero, self._pkey, self._pbest, d)
        best.sort()       # numpy's vectorized sort: far faster than a compiled quicksort
        return (best >> np.uint64(32)).view(np.int64), (best & _LOW32).view(np.int64)


def warm_up() -> None:
    """Compile (or load from the cache) every kernel, on tiny inputs."""
    fs = NumbaFingerprintSet(expected=4)
    keys = np.array([0, 1, 2, 3, 2], dtype=np.uint64)
    fs.first_new(keys, np.arange(4, dtype=np.int64), 4, 1, np.zeros(1, dtype=np.int64))
    fs.add_new(keys[:4])
    fs.add_new(np.arange(4, 1 << 10, dtype=np.uint64))      # past half of the 1024 slots: grows
    fs.contains(keys)
