"""The visited set: a vectorized open-addressing hash table of 64-bit fingerprints.

A Python set costs about 100 bytes and a hash call per state; here the whole batch of a
chunk's successors is looked up with a few numpy passes. The table is a power-of-two
``uint64`` array, 0 marking an empty slot, with linear probing, kept at most half full
(a fuller table needs about twice the probing rounds). Each round gathers the slot of
every key still pending; a key that meets itself is present, one that meets an empty
slot is absent, the others step to the next slot.

Insertion takes keys that are known to be distinct and absent (the engine removes
duplicates within a chunk itself, keeping the first occurrence in discovery order, which
a table cannot see). Keys that meet an empty slot claim it with one scatter; where two
claim the same slot one of them wins, found by reading the slot back, and the losers step
on. The fingerprint 0 (possible, with probability 2^-64, for tabulation hashing) is kept
in a flag beside the table. Growth doubles the table and places the old keys in the order
of their new home slots, which needs no probing at all (see :meth:`FingerprintSet._place`).
:mod:`.visited_numba` keeps the same table, probed by compiled loops, for large runs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FingerprintSet"]

_GOLD = np.uint64(0x9E3779B97F4A7C15)


class FingerprintSet:
    """A set of uint64 fingerprints with batch ``contains`` and ``add_new``."""

    MAX_LOAD = 0.5

    def __init__(self, expected: int = 1 << 15, zero_possible: bool = True) -> None:
        self.zero_possible = zero_possible     # False for packed fingerprints (bit 63 is always set)
        self.bits = max(10, int(expected / self.MAX_LOAD).bit_length())
        self.table = np.zeros(1 << self.bits, dtype=np.uint64)
        self.count = 0
        self.has_zero = False
        self.rounds = 0       # probing rounds, for profiles

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        return self.table.nbytes

    def _slots(self, keys: np.ndarray, bits: int | None = None) -> np.ndarray:
        # Multiplicative hashing: packed (exact) fingerprints are far from uniform in their low bits.
        h = keys * _GOLD
        h >>= np.uint64(64 - (bits or self.bits))
        return h.view(np.intp)       # < 2^bits: the same bits as a signed index

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A bool mask: which of ``keys`` are in the set."""
        zero = None
        if self.zero_possible and len(keys) and not np.all(keys):
            zero = keys == 0           # 0 would meet an empty slot and look present
        out = np.zeros(len(keys), dtype=bool)
        if self.count == 0 or not len(keys):
            if zero is not None:
                out[zero] = self.has_zero
            return out
        table = self.table
        mask = len(table) - 1
        pos = self._slots(keys)
        k = keys
        act: np.ndarray | None = None          # None: every key is still pending
        while True:
            self.rounds += 1
            cur = table.take(pos)
            hit = cur == k
            if act is None:
                out |= hit
            else:
                out[act[hit]] = True
            pending = cur != 0         # an empty slot ends the search: absent
            pending &= ~hit
            nxt = np.flatnonzero(pending)
            if not len(nxt):
                break
            act = nxt if act is None else act[nxt]
            k = k[nxt]
            pos = pos[nxt]
            pos += 1
            pos &= mask
        if zero is not None:
            out[zero] = self.has_zero
        return out

    def add_new(self, keys: np.ndarray) -> None:
        """Insert ``keys``: distinct, and none of them in the set already."""
        if not len(keys):
            return
        if not np.all(keys):
            self.has_zero = True
            keys = keys[keys != 0]
        self._grow(len(keys))
        self._insert(keys)

    def _insert(self, keys: np.ndarray) -> None:
        table = self.table
        mask = len(table) - 1
        pos = self._slots(keys)
        k = keys
        self.count += len(keys)
        while len(k):
            self.rounds += 1
            cur = table.take(pos)
            empty = np.flatnonzero(cur == 0)
            placed = np.zeros(len(k), dtype=bool)
            if len(empty):
                ep = pos[empty]
                ek = k[empty]
                table[ep] = ek                      # where two keys claim one slot, one wins
                won = table.take(ep) == ek
                placed[empty[won]] = True
            rest = np.flatnonzero(~placed)
            k = k[rest]
            pos = pos[rest]
            pos += 1                                 # occupied (by another key): step on
            pos &= mask

    def _grow(self, incoming: int) -> None:
        need = self.count + incoming
        if need <= self.MAX_LOAD * len(self.table):
            return
        bits = self.bits
        while need > self.MAX_LOAD * (1 << bits):
            bits += 1
        keys = self.table[self.table != 0]
        self.bits = bits
        self.table = np.zeros(1 << bits, dtype=np.uint64)
        self.count = 0
        self._place(keys)

    def _place(self, keys: np.ndarray) -> None:
        """Insert distinct keys into an empty table without probing rounds.

        Inserted one by one in the order of their home slots, each key lands one past the previous
        one or at its own home, whichever is later: ``pos[i] = max(home[i], pos[i-1] + 1)``, that is
        ``i + max_{j<=i}(home[j] - j)``, a cumulative maximum. Keys pushed past the end of the table
        wrap round, as linear probing does; they are few and go through the ordinary insertion.
        """
        if not len(keys):
            return
        home = self._slots(keys)
        order = np.argsort(home, kind="stable")     # keys from the old table come nearly sorted
        home = home[order]
        idx = np.arange(len(home))
        home -= idx
        pos = np.maximum.accumulate(home)
        pos += idx
        inside = pos < len(self.table)
        if inside.all():
            self.table[pos] = keys[order]
            self.count += len(keys)
            return
        n_in = int(np.count_nonzero(inside))        # pos is increasing: the first n_in fit
        self.table[pos[:n_in]] = keys[order[:n_in]]
        self.count += n_in
        self._insert(keys[order[n_in:]])
